//! Rooms: their ids, titles, sizes and passwords.

use std::fmt;

use super::{Invalid, Secret, char_count_between, trimmed_text};

string_newtype!(
    /// 1–50 characters after trimming, no control characters.
    RoomTitle
);

impl RoomTitle {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        trimmed_text("title", raw, 50).map(Self)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
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
