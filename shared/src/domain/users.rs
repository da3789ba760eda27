//! Who talks: accounts, their names and passwords, and their connections.

use std::fmt;

use super::{Invalid, Secret, char_count_between, is_format_character, trimmed_text};

string_newtype!(
    /// 3–30 characters of `[a-z0-9_]`.
    UserId
);
string_newtype!(
    /// 1–20 characters after trimming, no control characters.
    Nick
);
string_newtype!(
    /// API Gateway's id of one WebSocket connection.
    ConnectionId
);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        char_count_between("userId", raw, 3, 30)?;
        if !raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(Invalid::new("userId", "may only contain a-z, 0-9 and _"));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl Nick {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let nick = trimmed_text("nick", raw, 20)?;
        if nick.chars().any(is_format_character) {
            return Err(Invalid::new(
                "nick",
                "must not contain invisible formatting characters (direction overrides, zero-width characters)",
            ));
        }
        Ok(Self(nick))
    }

    /// A nick as stored, checked by the rules it was accepted under: earlier versions let
    /// formatting characters through, and such a user must still load.
    pub fn from_stored(raw: &str) -> Result<Self, Invalid> {
        trimmed_text("nick", raw, 20).map(Self)
    }
}

impl ConnectionId {
    /// Connection ids come from the gateway, never from a client frame.
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }
}

/// An account password: 8–128 characters.
#[derive(Clone, Debug)]
pub struct Password(Secret);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        char_count_between("password", raw, 8, 128)?;
        Ok(Self(Secret(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_accepts_lowercase_digits_underscore() {
        for ok in ["abc", "a_1", "user_name_123", &"x".repeat(30)] {
            assert_eq!(UserId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn user_id_rejects_bad_length_and_characters() {
        for bad in ["", "ab", &"x".repeat(31), "Abc", "a-b", "a b", "ünï", "abc!"] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn nicks_refuse_direction_overrides_and_invisible_characters() {
        for bad in [
            "adm\u{202E}nimda",
            "ann\u{200B}",
            "\u{2066}bob\u{2069}",
            "soft\u{00AD}hyphen",
            "zw\u{200D}j",
            "\u{FEFF}bom",
            "tag\u{E0041}",
        ] {
            assert!(Nick::parse(bad).is_err(), "{bad:?} should be refused");
            assert!(Nick::from_stored(bad).is_ok(), "{bad:?} stored by an earlier version still loads");
        }
        for ok in ["Zoë", "مریم", "李雷", "🦀 crab"] {
            assert_eq!(Nick::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn nick_is_trimmed_and_bounded() {
        assert_eq!(Nick::parse("  Ann ").unwrap().as_str(), "Ann");
        assert_eq!(Nick::parse(&"é".repeat(20)).unwrap().as_str().chars().count(), 20);
        for bad in ["", "   ", &"n".repeat(21), "a\u{7}b", "line\nbreak"] {
            assert!(Nick::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn password_bounds_count_code_points() {
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"ü".repeat(128)).is_ok());
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse(&"p".repeat(129)).is_err());
    }

    #[test]
    fn password_never_prints() {
        let password = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}

/// Properties over generated input: each accepts exactly what PROTOCOL.md allows.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::domain::RoomPassword;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn user_ids_are_exactly_the_documented_ones(raw in ".{0,40}|[a-z0-9_]{0,32}") {
            let allowed = (3..=30).contains(&raw.chars().count())
                && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            match UserId::parse(&raw) {
                Ok(id) => {
                    prop_assert!(allowed);
                    prop_assert_eq!(id.as_str(), raw.as_str());
                    prop_assert_eq!(serde_json::to_string(&id).ok(), serde_json::to_string(&raw).ok());
                }
                Err(err) => {
                    prop_assert!(!allowed);
                    prop_assert_eq!(err.field, "userId");
                }
            }
        }

        #[test]
        fn passwords_count_code_points_and_never_print(raw in "[a-z0-9]{0,140}|.{6,10}") {
            let count = raw.chars().count();
            prop_assert_eq!(Password::parse(&raw).is_ok(), (8..=128).contains(&count));
            prop_assert_eq!(RoomPassword::parse(&raw).is_ok(), count <= 30);
            if let Ok(password) = Password::parse(&raw) {
                prop_assert_eq!(password.expose(), raw.as_str());
                if raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
                    let printed = format!("{password:?}");
                    prop_assert!(!printed.contains(raw.as_str()));
                }
            }
        }
    }
}
