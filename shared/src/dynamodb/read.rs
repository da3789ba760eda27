//! Reads beyond one `GetItem` ([`Table::get_item`]): strongly consistent batch gets answered
//! in the order asked, and queries of one partition that follow pages. Every read is strongly
//! consistent: the store and presence both decide on what they read.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Select};

use super::backoff::backoff;
use super::codec::{Item, ItemExt, s};
use super::expression::Expression;
use super::table::{Quiet, Table};
use super::{DynamoError, PK, SK};

/// DynamoDB's limit on keys per `BatchGetItem`.
pub const BATCH_GET_MAX: usize = 100;
/// Requests for one batch's keys while DynamoDB keeps leaving some unprocessed (throughput),
/// before the read fails as contended.
const BATCH_GET_ATTEMPTS: u32 = 40;

impl Table {
    /// The items under these keys, in the order asked; `None` for the absent ones. The keys
    /// must be distinct: `BatchGetItem` refuses a request that names one twice.
    pub async fn get_many(&self, keys: Vec<Item>) -> Result<Vec<Option<Item>>, DynamoError> {
        fn id(item: &Item) -> (Option<String>, Option<String>) {
            (item.string(PK).map(str::to_owned), item.string(SK).map(str::to_owned))
        }
        let mut found: Vec<Item> = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(|err| DynamoError::request("BatchGetItem", err))?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                if attempt > 0 {
                    if attempt >= BATCH_GET_ATTEMPTS {
                        return Err(DynamoError::Contended { operation: "BatchGetItem", attempts: attempt });
                    }
                    backoff(attempt).await;
                }
                attempt += 1;
                let mut out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.name, request)
                    .send()
                    .quiet()
                    .await
                    .map_err(|err| DynamoError::request("BatchGetItem", err))?;
                if let Some(items) = out.responses.as_mut().and_then(|r| r.remove(&self.name)) {
                    found.extend(items);
                }
                // Keys DynamoDB did not get to (throughput, 16 MB) are asked again.
                pending =
                    out.unprocessed_keys.as_mut().and_then(|u| u.remove(&self.name)).filter(|k| !k.keys().is_empty());
            }
        }
        let mut by_key: HashMap<_, Item> = found.into_iter().map(|item| (id(&item), item)).collect();
        Ok(keys.iter().map(|k| by_key.remove(&id(k))).collect())
    }

    /// The items of partition `pk` whose sort keys match `sort`, in sort key order.
    pub fn query(&self, pk: impl Into<String>, sort: SortKey) -> Query<'_> {
        Query { table: self, pk: pk.into(), sort, forward: true, limit: None, filter: None, projection: None }
    }

    /// One page of a scan of the whole table, of the items `filter` keeps, from `start` (the
    /// previous page's end); with the key to go on from, `None` after the last page. For
    /// one-time upgrades only: every access pattern of the service is a key or a partition.
    pub async fn scan_page(
        &self,
        filter: &str,
        values: &[(&str, AttributeValue)],
        start: Option<Item>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<Item>), DynamoError> {
        let Expression { names, values } = Expression::new([filter], values);
        let out = self
            .client
            .scan()
            .table_name(&self.name)
            .filter_expression(filter)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .quiet()
            .await
            .map_err(|err| DynamoError::request("Scan", err))?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key.filter(|k| !k.is_empty())))
    }
}

/// Which sort keys of the partition a [`Query`] reads.
#[derive(Clone, Debug)]
pub enum SortKey {
    /// From the first to the second, both included.
    Between(String, String),
    BeginsWith(String),
    /// Below this one.
    Before(String),
    /// This one and above.
    From(String),
}

/// A query of one partition; see [`Table::query`].
#[must_use]
pub struct Query<'a> {
    table: &'a Table,
    pk: String,
    sort: SortKey,
    forward: bool,
    limit: Option<usize>,
    filter: Option<(String, Vec<(String, AttributeValue)>)>,
    projection: Option<String>,
}

impl Query<'_> {
    /// Highest sort key first.
    pub fn backward(self) -> Self {
        Self { forward: false, ..self }
    }

    /// At most this many items: pages are followed until there are that many.
    pub fn limit(self, limit: usize) -> Self {
        Self { limit: Some(limit), ..self }
    }

    /// Only the items `filter` keeps; a limit counts kept items, so pages are followed
    /// past the ones it drops.
    pub fn filter(self, filter: impl Into<String>, values: &[(&str, AttributeValue)]) -> Self {
        let values = values.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect();
        Self { filter: Some((filter.into(), values)), ..self }
    }

    /// Only these attributes of each item (a projection expression of `#names`).
    pub fn project(self, projection: impl Into<String>) -> Self {
        Self { projection: Some(projection.into()), ..self }
    }

    /// The matching items, following pages (a page ends at 1 MB) until the limit or the last.
    pub async fn items(self) -> Result<Vec<Item>, DynamoError> {
        Ok(self.pages(Select::AllAttributes).await?.0)
    }

    /// How many items match, counted across pages without reading them out.
    pub async fn count(self) -> Result<u32, DynamoError> {
        Ok(self.pages(Select::Count).await?.1)
    }

    async fn pages(&self, select: Select) -> Result<(Vec<Item>, u32), DynamoError> {
        let (condition, values) = match &self.sort {
            SortKey::Between(from, to) => {
                ("#pk = :pk AND #sk BETWEEN :from AND :to", vec![(":from", s(from)), (":to", s(to))])
            }
            SortKey::BeginsWith(prefix) => ("#pk = :pk AND begins_with(#sk, :prefix)", vec![(":prefix", s(prefix))]),
            SortKey::Before(before) => ("#pk = :pk AND #sk < :before", vec![(":before", s(before))]),
            SortKey::From(from) => ("#pk = :pk AND #sk >= :from", vec![(":from", s(from))]),
        };
        let mut values = values;
        values.push((":pk", s(&self.pk)));
        let (filter, filter_values) = match &self.filter {
            Some((filter, values)) => (Some(filter.as_str()), values.as_slice()),
            None => (None, &[][..]),
        };
        values.extend(filter_values.iter().map(|(name, value)| (name.as_str(), value.clone())));
        // A projection goes with `SpecificAttributes`; a count reads no attributes to project.
        let (select, projection) = match (&self.projection, select) {
            (Some(projection), Select::AllAttributes) => (Select::SpecificAttributes, Some(projection.clone())),
            (_, select) => (select, None),
        };
        let expressions = [Some(condition), filter, projection.as_deref()].into_iter().flatten();
        let Expression { names, values } = Expression::new(expressions, &values);
        let (mut items, mut count) = (Vec::new(), 0u32);
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .key_condition_expression(condition)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(values.clone())
                .select(select.clone())
                .consistent_read(true)
                .scan_index_forward(self.forward)
                .set_filter_expression(filter.map(str::to_owned))
                .set_projection_expression(projection.clone())
                .set_exclusive_start_key(start.take());
            if let Some(limit) = self.limit {
                request = request.limit(i32::try_from(limit - items.len()).unwrap_or(i32::MAX));
            }
            let out = request.send().quiet().await.map_err(|err| DynamoError::request("Query", err))?;
            count = count.saturating_add(u32::try_from(out.count).unwrap_or(0));
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() || self.limit.is_some_and(|limit| items.len() >= limit) {
                return Ok((items, count));
            }
        }
    }
}
