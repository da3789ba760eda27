//! Chat messages: their ids, text and kinds, and the bounds a history page is read within.

use std::fmt;

use super::{GroupId, Invalid, RoomId, UserId, char_count_between};

string_newtype!(
    /// 1–2000 characters of chat text.
    MessageText
);
string_newtype!(
    /// The client's own id for a `chat.send`, 1–64 characters; makes retries idempotent.
    ClientMsgId
);

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

/// Who a message goes to: everyone in the sender's room (or the lobby), the sender's
/// group, or one user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MessageKind {
    All,
    Group,
    Whisper,
}

impl MessageKind {
    /// What a stored message is, from the conversation it was stored under: a room (or the
    /// lobby), else a group, else a whisper.
    pub fn of_stored(in_room: bool, in_group: bool) -> Self {
        if in_room {
            MessageKind::All
        } else if in_group {
            MessageKind::Group
        } else {
            MessageKind::Whisper
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::All => "all",
            MessageKind::Group => "group",
            MessageKind::Whisper => "whisper",
        }
    }
}

/// A conversation's key: exactly one of `{"roomId"}` (a room or the lobby), `{"groupId"}`
/// or `{"with"}` (a whisper pair, named by its other side).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(untagged)]
pub enum ConversationKey {
    Room {
        #[serde(rename = "roomId")]
        room_id: RoomId,
    },
    Group {
        #[serde(rename = "groupId")]
        group_id: GroupId,
    },
    Whisper {
        with: UserId,
    },
}

/// A message mentions at most this many users; the rest of its `@`s are plain text.
pub const MAX_MENTIONS: usize = 50;

/// The user ids `text` mentions as `@userId`, first mention first, each once: an `@` at the
/// start or after a character that cannot be part of a user id, followed by one. Whether
/// such users exist is for the caller to find out.
pub fn mention_candidates(text: &str) -> Vec<UserId> {
    let id_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    let mut found: Vec<UserId> = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let boundary = previous.is_none_or(|p| !(p.is_alphanumeric() || p == '_'));
        previous = Some(c);
        if c != '@' || !boundary {
            continue;
        }
        let rest = &text[at + 1..];
        let end = rest.find(|c: char| !id_char(c)).unwrap_or(rest.len());
        if let Ok(user) = UserId::parse(&rest[..end])
            && !found.contains(&user)
        {
            found.push(user);
            if found.len() == MAX_MENTIONS {
                break;
            }
        }
    }
    found
}

/// Page bounds: `seq` for rooms, message ids for whispers and groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bounds {
    pub before: Option<i64>,
    pub after: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn message_text_bounds() {
        assert!(MessageText::parse("hi").is_ok());
        assert!(MessageText::parse(&"字".repeat(2000)).is_ok());
        for bad in ["", "   ", &"x".repeat(2001)] {
            assert!(MessageText::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn mentions_need_a_boundary_before_the_at_and_a_user_id_after_it() {
        let ids = |text: &str| mention_candidates(text).iter().map(|u| u.as_str().to_owned()).collect::<Vec<_>>();
        assert_eq!(ids("@bob hi @carol_2, and @bob again"), ["bob", "carol_2"]);
        assert_eq!(ids("(@bob) @ann: hey"), ["bob", "ann"]);
        assert!(ids("mail ann@bob.com or x_@bob").is_empty(), "an @ inside a word is not a mention");
        assert!(ids("@Bob @al @ @").is_empty(), "not a user id after the @");
        assert_eq!(ids("@bob's"), ["bob"]);
        let many: String = (0..60).map(|n| format!("@user{n:02} ")).collect();
        assert_eq!(mention_candidates(&many).len(), MAX_MENTIONS);
    }

    #[test]
    fn client_msg_id_bounds() {
        assert!(ClientMsgId::parse("m-1").is_ok());
        assert!(ClientMsgId::parse(&"m".repeat(64)).is_ok());
        assert!(ClientMsgId::parse("").is_err());
        assert!(ClientMsgId::parse(&"m".repeat(65)).is_err());
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

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
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

    }
}
