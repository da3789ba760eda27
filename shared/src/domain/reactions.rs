//! Reactions: an emoji per user on a message, tallied for the wire.

use std::fmt;

use super::{Invalid, UserId, char_count_between};

string_newtype!(
    /// One reaction: 1–16 code points (flags, skin tones and joined emoji are several),
    /// without whitespace or control characters.
    Emoji
);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        char_count_between("emoji", raw, 1, 16)?;
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Invalid::new("emoji", "must not contain whitespace or control characters"));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// At most this many different emoji on one message: a reaction bar, not a guest book.
pub const MAX_DISTINCT_EMOJI: usize = 20;
/// A reaction names this many of its users (the oldest); `count` counts them all.
pub const REACTION_USERS_SHOWN: usize = 20;

/// `Reaction`: one emoji on one message, `{"emoji","count","users"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reaction {
    pub emoji: Emoji,
    pub count: u32,
    pub users: Vec<UserId>,
}

impl Reaction {
    /// Tallies `(emoji, user)` pairs given oldest first: emoji in the order of their first
    /// reaction, each with its first users.
    pub fn tally(pairs: impl IntoIterator<Item = (Emoji, UserId)>) -> Vec<Reaction> {
        let mut tallied: Vec<Reaction> = Vec::new();
        for (emoji, user) in pairs {
            let reaction = match tallied.iter().position(|r| r.emoji == emoji) {
                Some(at) => &mut tallied[at],
                None => {
                    tallied.push(Reaction { emoji, count: 0, users: Vec::new() });
                    tallied.last_mut().expect("just pushed")
                }
            };
            reaction.count += 1;
            if reaction.users.len() < REACTION_USERS_SHOWN {
                reaction.users.push(user);
            }
        }
        tallied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_are_short_and_without_spaces() {
        for good in ["👍", "🇫🇷", "👩\u{200D}💻", "+1", &"x".repeat(16)] {
            assert!(Emoji::parse(good).is_ok(), "{good:?}");
        }
        for bad in ["", "👍 👍", "a\tb", "nul\u{0}", &"x".repeat(17)] {
            assert!(Emoji::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_tally_keeps_first_reaction_order_and_names_the_oldest_users() {
        let user = |n: usize| UserId::parse(&format!("user{n:03}")).unwrap();
        let (up, heart) = (Emoji::parse("👍").unwrap(), Emoji::parse("❤️").unwrap());
        let mut pairs = vec![(heart.clone(), user(0))];
        pairs.extend((1..=25).map(|n| (up.clone(), user(n))));
        let tallied = Reaction::tally(pairs);
        assert_eq!(tallied.len(), 2);
        assert_eq!((tallied[0].emoji.clone(), tallied[0].count, tallied[0].users.clone()), (heart, 1, vec![user(0)]));
        assert_eq!(tallied[1].count, 25);
        assert_eq!(tallied[1].users, (1..=20).map(user).collect::<Vec<_>>());
    }
}
