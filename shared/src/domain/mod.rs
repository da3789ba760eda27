//! The domain: ids and bounded strings that only exist once they have been checked, and the
//! few plain values (message kinds, history bounds) the use cases and the stores share.
//!
//! Handlers and stores take these types, never raw `String`s, so a value that reaches the
//! store or the wire has already passed the limits of PROTOCOL.md.
//!
//! - `users`: `UserId`, `Nick`, `Password`, `ConnectionId`.
//! - `rooms`: `RoomId`, `RoomTitle`, `Capacity`, `RoomPassword`.
//! - `groups`: `GroupId`.
//! - `messages`: `MessageId`, `MessageText`, `ClientMsgId`, `MessageKind`, `Bounds`.

use std::fmt;

/// Why a value was refused; becomes an `invalid` reply with this text as the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self { field, reason: reason.into() }
    }
}

fn char_count_between(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let count = value.chars().count();
    if count < min || count > max {
        return Err(Invalid::new(field, format!("must be {min}–{max} characters")));
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

fn trimmed_text(field: &'static str, raw: &str, max: usize) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    char_count_between(field, trimmed, 1, max)?;
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// Unicode's invisible format characters (general category Cf) that change how the text
/// around them shows: bidirectional overrides, isolates and marks (a name that reads
/// backwards), zero-width spaces and joiners (two names that look the same), the soft
/// hyphen, invisible operators and tag characters.
fn is_format_character(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

/// A secret typed by a person: never printed, never serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret read from configuration (e.g. the JWT signing key).
    pub fn from_config(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

// Declared after `string_newtype!` and the helpers, which they use.
mod groups;
mod messages;
mod reactions;
mod rooms;
mod users;

pub use groups::GroupId;
pub use messages::{
    Bounds, ClientMsgId, ConversationKey, MAX_MENTIONS, MessageId, MessageKind, MessageText, mention_candidates,
};
pub use reactions::{Emoji, MAX_DISTINCT_EMOJI, REACTION_USERS_SHOWN, Reaction};
pub use rooms::{Capacity, RoomId, RoomPassword, RoomTitle};
pub use users::{ConnectionId, Nick, Password, UserId};

/// Properties the checked types share over generated input: trimming and bounds of the
/// person-typed names, parsing is idempotent, and what is accepted comes back unchanged.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn nicks_and_titles_are_trimmed_bounded_and_idempotent(raw in "\\PC{0,60}|\\s{0,3}.{0,25}\\s{0,3}") {
            let nick = |s: &str| Nick::parse(s).map(|n| n.as_str().to_owned());
            let title = |s: &str| RoomTitle::parse(s).map(|t| t.as_str().to_owned());
            type Parser<'a> = &'a dyn Fn(&str) -> Result<String, Invalid>;
            // Nicks also refuse invisible formatting characters; titles do not.
            let parsers: [(Parser, usize, bool); 2] = [(&nick, 20, true), (&title, 50, false)];
            for (parse, max, refuses_format) in parsers {
                let trimmed = raw.trim();
                let allowed = (1..=max).contains(&trimmed.chars().count())
                    && !trimmed.chars().any(char::is_control)
                    && !(refuses_format && trimmed.chars().any(is_format_character));
                match parse(&raw) {
                    Ok(value) => {
                        prop_assert!(allowed);
                        prop_assert_eq!(value.as_str(), trimmed);
                        // What was accepted is accepted again, unchanged.
                        prop_assert_eq!(parse(&value).ok(), Some(value.clone()));
                    }
                    Err(_) => prop_assert!(!allowed),
                }
            }
        }
    }
}
