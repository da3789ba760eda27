//! Which SQL database a URL names, and whether this build can open it; the statements that
//! differ between the two.

use crate::store::{StoreError, StoreResult};

/// The statements that differ between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    MySql,
}

impl Dialect {
    /// An `INSERT` that leaves an existing row with the same key as it is.
    pub(super) fn insert_ignore(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INSERT OR IGNORE",
            Dialect::MySql => "INSERT IGNORE",
        }
    }

    /// Whether this build carries the dialect's sqlx driver.
    fn built_in(self) -> bool {
        match self {
            Dialect::Sqlite => cfg!(feature = "sqlite"),
            Dialect::MySql => cfg!(feature = "mysql"),
        }
    }

    /// The dialect of `url` when this build carries its driver; else why not. Refused at
    /// start-up: sqlx would accept a URL without its driver and fail every call.
    pub fn built_for(url: &str) -> StoreResult<Dialect> {
        let dialect = Self::of_url(url).ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
        if !dialect.built_in() {
            return Err(StoreError::NotBuiltIn(redact_url(url)));
        }
        Ok(dialect)
    }

    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Some(Dialect::MySql)
        } else {
            None
        }
    }
}

/// A database URL without its password, for error messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***{}", &url[..scheme], &url[at..]),
        _ => url.split('?').next().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_dialect() {
        assert_eq!(Dialect::of_url("sqlite://data/chat.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("mysql://root@127.0.0.1/test"), Some(Dialect::MySql));
        assert_eq!(Dialect::of_url("postgres://x"), None);
    }

    #[test]
    fn redacted_urls_hide_passwords() {
        assert_eq!(redact_url("mysql://root:hunter2@db:3306/chat"), "mysql://***@db:3306/chat");
        assert!(!redact_url("mysql://u:p@h/d?x=1").contains(":p@"));
    }
}
