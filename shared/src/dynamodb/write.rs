//! Conditional writes: one [`Write`] describes a put, update or delete with its condition, and
//! runs alone ([`Table::write`], [`Table::try_write`]) or with others in one
//! `TransactWriteItems` ([`Table::transact`]). A refused condition or a cancelled transaction
//! is an answer the caller decides on (usually: someone else got there first), not an error.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use super::DynamoError;
use super::codec::Item;
use super::expression::Expression;
use super::table::{Quiet, Table};

#[derive(Clone, Debug)]
enum Kind {
    Put(Item),
    Update { key: Item, expression: String },
    Delete(Item),
}

/// One write, with its condition and the values its expressions use.
#[derive(Clone, Debug)]
#[must_use]
pub struct Write<'a> {
    kind: Kind,
    condition: Option<String>,
    values: Vec<(&'a str, AttributeValue)>,
    old_on_failure: bool,
    returning: Option<ReturnValue>,
}

impl<'a> Write<'a> {
    fn new(kind: Kind) -> Self {
        Self { kind, condition: None, values: Vec::new(), old_on_failure: false, returning: None }
    }

    /// Writes the whole item (its key included).
    pub fn put(item: Item) -> Self {
        Self::new(Kind::Put(item))
    }

    /// Applies an update expression to the item at `key`, creating it unless the condition
    /// says it must exist.
    pub fn update(key: Item, expression: impl Into<String>) -> Self {
        Self::new(Kind::Update { key, expression: expression.into() })
    }

    pub fn delete(key: Item) -> Self {
        Self::new(Kind::Delete(key))
    }

    pub fn condition(self, condition: impl Into<String>) -> Self {
        Self { condition: Some(condition.into()), ..self }
    }

    /// Values for the `:placeholders`; those the expressions do not use are left out.
    pub fn values(mut self, values: &[(&'a str, AttributeValue)]) -> Self {
        self.values.extend(values.iter().cloned());
        self
    }

    /// A failed condition hands back the item as it was, so the next attempt need not read it.
    pub fn old_on_failure(self) -> Self {
        Self { old_on_failure: true, ..self }
    }

    /// The item's attributes to answer with (a write alone only).
    pub fn returning(self, returning: ReturnValue) -> Self {
        Self { returning: Some(returning), ..self }
    }

    fn expression(&self) -> Expression {
        let update = match &self.kind {
            Kind::Update { expression, .. } => Some(expression.as_str()),
            _ => None,
        };
        Expression::new([update, self.condition.as_deref()].into_iter().flatten(), &self.values)
    }

    fn on_failure(&self) -> Option<ReturnValuesOnConditionCheckFailure> {
        self.old_on_failure.then_some(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    fn transact_item(self, table: &str) -> Result<TransactWriteItem, DynamoError> {
        let Expression { names, values } = self.expression();
        let on_failure = self.on_failure();
        let build_error = |err| DynamoError::request("TransactWriteItems", err);
        let item = TransactWriteItem::builder();
        Ok(match self.kind {
            Kind::Put(item_value) => item.put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item_value))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(build_error)?,
            ),
            Kind::Update { key, expression } => item.update(
                Update::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .update_expression(expression)
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(build_error)?,
            ),
            Kind::Delete(key) => item.delete(
                Delete::builder()
                    .table_name(table)
                    .set_key(Some(key))
                    .set_condition_expression(self.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(build_error)?,
            ),
        }
        .build())
    }
}

/// Why a write alone did not happen; either way the service's own message is kept, for a
/// caller that did not expect it.
#[derive(Debug)]
pub enum Refused {
    /// Its condition did not hold.
    Condition(DynamoError),
    /// A transaction on the same item was committing.
    Conflict(DynamoError),
}

impl From<Refused> for DynamoError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Condition(err) | Refused::Conflict(err) => err,
        }
    }
}

/// A transaction that did not commit: one reason per write, in order, each with the item as
/// it was when a condition asked for it failed.
#[derive(Debug)]
pub struct Cancelled {
    pub reasons: Vec<CancellationReason>,
}

impl Cancelled {
    /// The write at `index` failed its condition.
    pub fn failed(&self, index: usize) -> bool {
        self.code(index) == Some("ConditionalCheckFailed")
    }

    /// The code of the write at `index`; `"None"` for a write that was fine.
    pub fn code(&self, index: usize) -> Option<&str> {
        self.reasons.get(index).and_then(CancellationReason::code)
    }

    pub fn codes(&self) -> Vec<&str> {
        self.reasons.iter().map(|reason| reason.code().unwrap_or("None")).collect()
    }

    /// Every reason is one a retry can get past: a condition, a concurrent transaction or
    /// throttling, rather than a malformed request.
    pub fn lost_race(&self) -> bool {
        self.reasons.iter().all(|reason| {
            matches!(
                reason.code(),
                None | Some("None" | "ConditionalCheckFailed" | "TransactionConflict" | "ThrottlingError")
            )
        })
    }

    /// The item handed back for the write at `index`, if its condition failed and it asked.
    pub fn take_item(&mut self, index: usize) -> Option<Item> {
        self.reasons.get_mut(index).and_then(|reason| reason.item.take())
    }
}

/// The answer of one write alone: its returned attributes (if asked for), or the refusal.
macro_rules! answer {
    ($operation:literal, $sent:expr) => {
        match $sent {
            Ok(out) => Ok(Ok(out.attributes)),
            Err(err) => {
                let service = err.as_service_error();
                let condition = service.is_some_and(|e| e.is_conditional_check_failed_exception());
                let conflict = service.is_some_and(|e| e.is_transaction_conflict_exception());
                let err = DynamoError::request($operation, err);
                match (condition, conflict) {
                    (true, _) => Ok(Err(Refused::Condition(err))),
                    (_, true) => Ok(Err(Refused::Conflict(err))),
                    _ => Err(err),
                }
            }
        }
    };
}

impl Table {
    /// One write alone; a refusal is an error.
    pub async fn write(&self, write: Write<'_>) -> Result<Option<Item>, DynamoError> {
        Ok(self.try_write(write).await??)
    }

    /// One write alone: the attributes it was asked to return, or why it was refused.
    pub async fn try_write(&self, write: Write<'_>) -> Result<Result<Option<Item>, Refused>, DynamoError> {
        let Expression { names, values } = write.expression();
        let on_failure = write.on_failure();
        let client = &self.client;
        match write.kind {
            Kind::Put(item) => answer!(
                "PutItem",
                client
                    .put_item()
                    .table_name(&self.name)
                    .set_item(Some(item))
                    .set_condition_expression(write.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(on_failure)
                    .set_return_values(write.returning)
                    .send()
                    .quiet()
                    .await
            ),
            Kind::Update { key, expression } => answer!(
                "UpdateItem",
                client
                    .update_item()
                    .table_name(&self.name)
                    .set_key(Some(key))
                    .update_expression(expression)
                    .set_condition_expression(write.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(on_failure)
                    .set_return_values(write.returning)
                    .send()
                    .quiet()
                    .await
            ),
            Kind::Delete(key) => answer!(
                "DeleteItem",
                client
                    .delete_item()
                    .table_name(&self.name)
                    .set_key(Some(key))
                    .set_condition_expression(write.condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values_on_condition_check_failure(on_failure)
                    .set_return_values(write.returning)
                    .send()
                    .quiet()
                    .await
            ),
        }
    }

    /// The writes in one `TransactWriteItems`: all of them, or `Cancelled` with why not.
    pub async fn transact(&self, writes: Vec<Write<'_>>) -> Result<Result<(), Cancelled>, DynamoError> {
        let items = writes.into_iter().map(|write| write.transact_item(&self.name)).collect::<Result<Vec<_>, _>>()?;
        match self.client.transact_write_items().set_transact_items(Some(items)).send().quiet().await {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    Ok(Err(Cancelled { reasons: cancelled.cancellation_reasons().to_vec() }))
                }
                // Another transaction on the same items is in flight: as good as a conflict.
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => Ok(Err(Cancelled {
                    reasons: vec![CancellationReason::builder().code("TransactionConflict").build()],
                })),
                _ => Err(DynamoError::request("TransactWriteItems", err)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::{key, n};
    use super::*;

    #[test]
    fn a_cancellation_names_the_writes_that_failed() {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let mut cancelled = Cancelled {
            reasons: vec![
                reason("None"),
                CancellationReason::builder().code("ConditionalCheckFailed").item("seq", n(7)).build(),
            ],
        };
        assert!(!cancelled.failed(0) && cancelled.failed(1) && !cancelled.failed(2));
        assert!(cancelled.lost_race());
        assert_eq!(cancelled.codes(), ["None", "ConditionalCheckFailed"]);
        assert_eq!(cancelled.take_item(1).and_then(|item| item.get("seq").cloned()), Some(n(7)));
        assert!(!Cancelled { reasons: vec![reason("ValidationError")] }.lost_race());
    }

    #[test]
    fn a_transaction_write_carries_only_the_placeholders_it_uses() {
        let write = Write::update(key("ROOM#1", "META"), "SET #seq = :next")
            .condition("attribute_exists(#pk)")
            .values(&[(":next", n(2)), (":expected", n(1))])
            .transact_item("t")
            .unwrap();
        let update = write.update().unwrap();
        assert_eq!(update.expression_attribute_names().map(|names| names.len()), Some(2));
        assert_eq!(update.expression_attribute_values().map(|values| values.len()), Some(1));
        assert!(update.return_values_on_condition_check_failure().is_none());
    }
}
