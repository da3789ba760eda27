//! Groups of users, which share a message channel wherever their members are.

use std::fmt;

use super::{Invalid, char_count_between};

string_newtype!(
    /// 1–30 characters of `[A-Za-z0-9_-]`.
    GroupId
);

impl GroupId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        char_count_between("groupId", raw, 1, 30)?;
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(Invalid::new("groupId", "may only contain A-Z, a-z, 0-9, _ and -"));
        }
        Ok(Self(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_id_characters() {
        for ok in ["g", "Team-1_b", &"G".repeat(30)] {
            assert!(GroupId::parse(ok).is_ok(), "{ok:?} should pass");
        }
        for bad in ["", &"G".repeat(31), "a b", "ä", "x.y"] {
            assert!(GroupId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn group_ids_are_exactly_the_documented_ones(raw in ".{0,40}|[A-Za-z0-9_-]{0,32}") {
            let allowed = (1..=30).contains(&raw.chars().count())
                && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            prop_assert_eq!(GroupId::parse(&raw).is_ok(), allowed);
            if let Ok(id) = GroupId::parse(&raw) {
                prop_assert_eq!(id.as_str(), raw.as_str());
            }
        }
    }
}
