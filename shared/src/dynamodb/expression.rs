//! Expression placeholders. `#attr` always stands for the attribute `attr` (many, like `ttl`,
//! `owner` and `users`, are reserved words), so the names map is derived from the expressions
//! themselves; and since DynamoDB rejects a request that defines a placeholder its expressions
//! do not use, only the values they use are sent.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

/// The names and values maps of one request's expressions; `None` when empty, as the SDK
/// wants them.
#[derive(Clone, Debug, Default)]
pub struct Expression {
    pub names: Option<HashMap<String, String>>,
    pub values: Option<HashMap<String, AttributeValue>>,
}

impl Expression {
    /// The placeholders of `expressions`, with those of `values` they use.
    pub fn new<'a>(expressions: impl IntoIterator<Item = &'a str> + Clone, values: &[(&str, AttributeValue)]) -> Self {
        let names: HashMap<String, String> = placeholders(expressions.clone(), '#')
            .into_iter()
            .map(|placeholder| {
                let attribute = placeholder[1..].to_owned();
                (placeholder, attribute)
            })
            .collect();
        let used = placeholders(expressions, ':');
        let values: HashMap<String, AttributeValue> =
            values.iter().filter(|(name, _)| used.contains(*name)).map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        Self { names: (!names.is_empty()).then_some(names), values: (!values.is_empty()).then_some(values) }
    }
}

/// The `#name` or `:value` placeholders the expressions use, each once.
fn placeholders<'a>(expressions: impl IntoIterator<Item = &'a str>, sigil: char) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for expression in expressions {
        let mut rest = expression;
        while let Some(at) = rest.find(sigil) {
            let tail = &rest[at + 1..];
            let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
            found.insert(format!("{sigil}{}", &tail[..end]));
            rest = &tail[end..];
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::codec::n;
    use super::*;

    #[test]
    fn placeholders_are_found_once_each() {
        let names = placeholders(["SET #a = :x, #b_2 = :y", "#a > :x AND size(#conns) = :one"], '#');
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["#a", "#b_2", "#conns"]);
        let values = placeholders(["SET #a = :x, #b_2 = :y", "#a > :x"], ':');
        assert_eq!(values.into_iter().collect::<Vec<_>>(), [":x", ":y"]);
    }

    #[test]
    fn unused_values_are_left_out() {
        let expression = Expression::new(["SET #ttl = :ttl"], &[(":ttl", n(1)), (":other", n(2))]);
        assert_eq!(expression.values.map(|v| v.len()), Some(1));
        assert_eq!(expression.names, Some(HashMap::from([("#ttl".to_owned(), "ttl".to_owned())])));
    }

    #[test]
    fn no_placeholders_means_no_maps() {
        let expression = Expression::new(["attribute_not_exists(pk)"], &[(":unused", n(1))]);
        assert!(expression.names.is_none() && expression.values.is_none());
    }
}
