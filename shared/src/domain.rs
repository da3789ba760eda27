//! Ids and bounded strings that only exist once they have been checked.
//!
//! Handlers and stores take these types, never raw `String`s, so a value that reaches the
//! store or the wire has already passed the limits of PROTOCOL.md.

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

string_newtype!(
    /// 3–30 characters of `[a-z0-9_]`.
    UserId
);
string_newtype!(
    /// 1–20 characters after trimming, no control characters.
    Nick
);
string_newtype!(
    /// 1–50 characters after trimming, no control characters.
    RoomTitle
);
string_newtype!(
    /// 1–30 characters of `[A-Za-z0-9_-]`.
    GroupId
);
string_newtype!(
    /// 1–2000 characters of chat text.
    MessageText
);
string_newtype!(
    /// The client's own id for a `chat.send`, 1–64 characters; makes retries idempotent.
    ClientMsgId
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

impl RoomTitle {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        trimmed_text("title", raw, 50).map(Self)
    }
}

impl GroupId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        char_count_between("groupId", raw, 1, 30)?;
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(Invalid::new("groupId", "may only contain A-Z, a-z, 0-9, _ and -"));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl MessageText {
    /// Newlines and tabs are text; every other control character is refused: each one is
    /// several bytes of JSON escape on the wire (a NUL is six), for nothing anyone reads.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let text = Self::from_stored(raw)?;
        if raw.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(Invalid::new("text", "must not contain control characters other than newline and tab"));
        }
        Ok(text)
    }

    /// A text as stored, checked by the rules it was accepted under: earlier versions let
    /// control characters through, and such a message must still show in history.
    pub fn from_stored(raw: &str) -> Result<Self, Invalid> {
        char_count_between("text", raw, 1, 2000)?;
        if raw.trim().is_empty() {
            return Err(Invalid::new("text", "must not be blank"));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl ClientMsgId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        char_count_between("clientMsgId", raw, 1, 64).map(|()| Self(raw.to_owned()))
    }
}

impl ConnectionId {
    /// Connection ids come from the gateway, never from a client frame.
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }
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

/// A room password: 0–30 characters; empty means the room is open.
#[derive(Clone, Debug)]
pub struct RoomPassword(Secret);

impl RoomPassword {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        char_count_between("password", raw, 0, 30)?;
        Ok(Self(Secret(raw.to_owned())))
    }

    pub fn is_empty(&self) -> bool {
        self.0.expose().is_empty()
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A room id; 0 is the lobby, rooms start at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RoomId(i64);

impl RoomId {
    pub const LOBBY: RoomId = RoomId(0);

    /// A room a client may name: 1 or more.
    pub fn parse_room(raw: i64) -> Result<Self, Invalid> {
        if raw < 1 {
            return Err(Invalid::new("roomId", "must be 1 or more (use room.leave for the lobby)"));
        }
        Ok(Self(raw))
    }

    /// Lobby or room, as read back from storage.
    pub fn from_stored(raw: i64) -> Self {
        Self(raw)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn is_lobby(self) -> bool {
        self == Self::LOBBY
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How many users a room holds: 2–100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Capacity(u32);

impl Capacity {
    pub const DEFAULT: Capacity = Capacity(10);

    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        if !(2..=100).contains(&raw) {
            return Err(Invalid::new("capacity", "must be 2–100"));
        }
        Ok(Self(raw as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Where a message sits in the store's total order; the wire shows it as a fixed-width
/// decimal string so that ids sort as strings in the order messages were stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(i64);

impl MessageId {
    const WIDTH: usize = 16;

    pub fn from_stored(raw: i64) -> Self {
        Self(raw)
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new("messageId", "is not a message id");
        if raw.is_empty() || raw.len() > Self::WIDTH || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        raw.parse().map(Self).map_err(|_| bad())
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}", self.0, width = Self::WIDTH)
    }
}

impl serde::Serialize for MessageId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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
    fn text_refuses_control_characters_but_newline_and_tab() {
        assert!(MessageText::parse("line one\nline two\tand a tab").is_ok());
        for bad in ["nul\u{0}", "bell\u{7}", "escape\u{1b}[31m", "cr\r", "del\u{7f}", "c1\u{85}"] {
            assert!(MessageText::parse(bad).is_err(), "{bad:?} should be refused");
            assert!(MessageText::from_stored(bad).is_ok(), "{bad:?} stored by an earlier version still loads");
        }
        // Right-to-left marks and joiners are part of how some languages and emoji are written.
        assert!(MessageText::parse("שלום\u{200F} 👩\u{200D}💻").is_ok());
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

    #[test]
    fn room_title_bounds() {
        assert_eq!(RoomTitle::parse(" Rust ").unwrap().as_str(), "Rust");
        assert!(RoomTitle::parse(&"t".repeat(50)).is_ok());
        for bad in ["", " ", &"t".repeat(51), "tab\there"] {
            assert!(RoomTitle::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn room_password_may_be_empty_but_bounded() {
        assert!(RoomPassword::parse("").unwrap().is_empty());
        assert!(RoomPassword::parse(&"p".repeat(30)).is_ok());
        assert!(RoomPassword::parse(&"p".repeat(31)).is_err());
    }

    #[test]
    fn group_id_characters() {
        for ok in ["g", "Team-1_b", &"G".repeat(30)] {
            assert!(GroupId::parse(ok).is_ok(), "{ok:?} should pass");
        }
        for bad in ["", &"G".repeat(31), "a b", "ä", "x.y"] {
            assert!(GroupId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn message_text_bounds() {
        assert!(MessageText::parse("hi").is_ok());
        assert!(MessageText::parse(&"字".repeat(2000)).is_ok());
        for bad in ["", "   ", &"x".repeat(2001)] {
            assert!(MessageText::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn client_msg_id_bounds() {
        assert!(ClientMsgId::parse("m-1").is_ok());
        assert!(ClientMsgId::parse(&"m".repeat(64)).is_ok());
        assert!(ClientMsgId::parse("").is_err());
        assert!(ClientMsgId::parse(&"m".repeat(65)).is_err());
    }

    #[test]
    fn room_ids_start_at_one() {
        assert_eq!(RoomId::parse_room(7).unwrap().get(), 7);
        assert!(RoomId::parse_room(0).is_err());
        assert!(RoomId::parse_room(-3).is_err());
        assert!(RoomId::LOBBY.is_lobby());
    }

    #[test]
    fn capacity_bounds() {
        assert_eq!(Capacity::parse(2).unwrap().get(), 2);
        assert_eq!(Capacity::parse(100).unwrap().get(), 100);
        assert!(Capacity::parse(1).is_err());
        assert!(Capacity::parse(101).is_err());
        assert_eq!(Capacity::DEFAULT.get(), 10);
    }

    #[test]
    fn message_ids_sort_as_strings_and_round_trip() {
        let small = MessageId::from_stored(9);
        let large = MessageId::from_stored(10);
        assert!(small.to_string() < large.to_string());
        assert_eq!(MessageId::parse(&large.to_string()).unwrap(), large);
        for bad in ["", "-1", "12a", "99999999999999999"] {
            assert!(MessageId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}

/// Properties of the checked types over generated input: each accepts exactly what
/// PROTOCOL.md allows, parsing is idempotent, and what is accepted comes back unchanged.
#[cfg(test)]
mod properties {
    use super::*;
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
        fn group_ids_are_exactly_the_documented_ones(raw in ".{0,40}|[A-Za-z0-9_-]{0,32}") {
            let allowed = (1..=30).contains(&raw.chars().count())
                && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            prop_assert_eq!(GroupId::parse(&raw).is_ok(), allowed);
            if let Ok(id) = GroupId::parse(&raw) {
                prop_assert_eq!(id.as_str(), raw.as_str());
            }
        }

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

        #[test]
        fn message_text_is_kept_exactly(raw in ".{0,10}|\\s{1,5}|.{1990,2010}") {
            let count = raw.chars().count();
            let allowed = (1..=2000).contains(&count)
                && !raw.trim().is_empty()
                && !raw.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
            match MessageText::parse(&raw) {
                Ok(text) => {
                    prop_assert!(allowed);
                    prop_assert_eq!(text.as_str(), raw.as_str());
                }
                Err(_) => prop_assert!(!allowed),
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

        #[test]
        fn message_ids_round_trip_and_sort_as_strings(a in 0i64..10_000_000_000_000_000, b in 0i64..10_000_000_000_000_000) {
            let (x, y) = (MessageId::from_stored(a), MessageId::from_stored(b));
            prop_assert_eq!(MessageId::parse(&x.to_string()).ok(), Some(x));
            prop_assert_eq!(x.to_string().len(), 16);
            prop_assert_eq!(x.to_string().cmp(&y.to_string()), a.cmp(&b));
            prop_assert_eq!(serde_json::to_string(&x).ok(), Some(format!("\"{x}\"")));
        }

        #[test]
        fn message_id_parsing_never_panics(raw in ".{0,20}|[0-9]{0,20}") {
            let digits = (1..=16).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit());
            match MessageId::parse(&raw) {
                Ok(id) => prop_assert_eq!(Some(id.get()), raw.parse::<i64>().ok().filter(|_| digits)),
                Err(_) => prop_assert!(!digits),
            }
        }

        #[test]
        fn capacities_and_room_ids(raw in any::<i64>(), small in -5i64..110) {
            for n in [raw, small] {
                prop_assert_eq!(Capacity::parse(n).is_ok(), (2..=100).contains(&n));
                prop_assert_eq!(Capacity::parse(n).map(|c| i64::from(c.get())).ok(), (2..=100).contains(&n).then_some(n));
                prop_assert_eq!(RoomId::parse_room(n).map(RoomId::get).ok(), (n >= 1).then_some(n));
            }
        }
    }
}
