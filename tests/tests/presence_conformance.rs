//! One suite, written once, that every `Presence` implementation must pass: in-process
//! memory (the embedded default) and Redis (production), each test under its own key prefix.

use std::sync::Arc;
use std::time::Duration;

use chatting_e2e::{REDIS_URL, unique};
use chatting_shared::domain::{ConnectionId, RoomId, UserId};
use chatting_shared::presence::memory::MemoryPresence;
use chatting_shared::presence::redis::RedisPresence;
use chatting_shared::domain::{GroupId, Nick};
use chatting_shared::presence::{Connected, Departure, MoveOutcome, Moved, Presence, Profile};

async fn memory() -> (Arc<dyn Presence>, Option<String>) {
    (Arc::new(MemoryPresence::default()), None)
}

async fn redis() -> (Arc<dyn Presence>, Option<String>) {
    let prefix = unique("pt");
    (Arc::new(RedisPresence::connect(REDIS_URL, &prefix).await.unwrap()), Some(prefix))
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn face(name: &str) -> Profile {
    Profile { nick: Nick::parse(name).unwrap(), group: None }
}

fn conn(id: &str) -> ConnectionId {
    ConnectionId::new(id)
}

fn room(id: i64) -> RoomId {
    RoomId::from_stored(id)
}

fn moved(outcome: MoveOutcome) -> Moved {
    match outcome {
        MoveOutcome::Moved(moved) => moved,
        other => panic!("expected a move, got {other:?}"),
    }
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

async fn connections_count_users_once(presence: Arc<dyn Presence>, _: Option<String>) {
    let first = presence.connect(&conn("a1"), &user("ann"), &face("ann")).await.unwrap();
    assert_eq!(first, Connected { came_online: true, entered_lobby: true });
    let second = presence.connect(&conn("a2"), &user("ann"), &face("ann")).await.unwrap();
    assert_eq!(second, Connected { came_online: false, entered_lobby: false });
    presence.connect(&conn("b1"), &user("bob"), &face("bob")).await.unwrap();

    assert_eq!(presence.room_users(RoomId::LOBBY).await.unwrap(), [user("ann"), user("bob")]);
    assert_eq!(presence.room_counts(&[RoomId::LOBBY]).await.unwrap(), [2]);
    assert_eq!(sorted(presence.room_connections(RoomId::LOBBY).await.unwrap()), [conn("a1"), conn("a2"), conn("b1")]);
    assert_eq!(sorted(presence.user_connections(&user("ann")).await.unwrap()), [conn("a1"), conn("a2")]);
    assert_eq!(presence.online(&[user("ann"), user("cat"), user("bob")]).await.unwrap(), [user("ann"), user("bob")]);
    let info = presence.connection(&conn("a2")).await.unwrap().unwrap();
    assert_eq!((info.user, info.room), (user("ann"), RoomId::LOBBY));
    assert!(presence.connection(&conn("zz")).await.unwrap().is_none());

    let gone = presence.disconnect(&conn("a1")).await.unwrap().unwrap();
    assert_eq!((gone.from.user_left, gone.went_offline), (false, false));
    let gone = presence.disconnect(&conn("a2")).await.unwrap().unwrap();
    assert_eq!(gone.from, Departure { room: RoomId::LOBBY, user_left: true, room_closed: false });
    assert!(gone.went_offline);
    assert!(presence.disconnect(&conn("a2")).await.unwrap().is_none(), "a second disconnect is a no-op");
    assert_eq!(presence.online(&[user("ann")]).await.unwrap(), Vec::<UserId>::new());
}

async fn moves_enforce_capacity_and_close_empty_rooms(presence: Arc<dyn Presence>, _: Option<String>) {
    for (c, u) in [("a", "ann"), ("b", "bob"), ("c", "cat"), ("a2", "ann")] {
        presence.connect(&conn(c), &user(u), &face(u)).await.unwrap();
    }
    let first = moved(presence.move_to(&conn("a"), room(7), 2).await.unwrap());
    assert_eq!(first.from, Departure { room: RoomId::LOBBY, user_left: false, room_closed: false });
    assert!(first.user_entered);
    moved(presence.move_to(&conn("b"), room(7), 2).await.unwrap());
    assert_eq!(presence.move_to(&conn("c"), room(7), 2).await.unwrap(), MoveOutcome::Full);
    let second_tab = moved(presence.move_to(&conn("a2"), room(7), 2).await.unwrap());
    assert!(!second_tab.user_entered, "capacity counts users, and ann is inside already");
    assert!(second_tab.from.user_left, "ann's last lobby connection left the lobby");
    assert_eq!(presence.move_to(&conn("a"), room(7), 2).await.unwrap(), MoveOutcome::AlreadyThere);
    assert_eq!(presence.move_to(&conn("nope"), room(7), 2).await.unwrap(), MoveOutcome::UnknownConnection);
    assert_eq!(presence.room_users(room(7)).await.unwrap(), [user("ann"), user("bob")]);
    assert_eq!(presence.user_rooms(&user("ann")).await.unwrap(), [room(7)]);

    let left = moved(presence.move_to(&conn("a"), RoomId::LOBBY, 0).await.unwrap());
    assert_eq!(left.from, Departure { room: room(7), user_left: false, room_closed: false });
    assert_eq!(presence.user_rooms(&user("ann")).await.unwrap(), [RoomId::LOBBY, room(7)]);
    let left = moved(presence.move_to(&conn("a2"), RoomId::LOBBY, 0).await.unwrap());
    assert_eq!(left.from, Departure { room: room(7), user_left: true, room_closed: false });
    assert_eq!(presence.room_users(room(7)).await.unwrap(), [user("bob")], "bob is now the longest present");

    let gone = presence.disconnect(&conn("b")).await.unwrap().unwrap();
    assert_eq!(gone.from, Departure { room: room(7), user_left: true, room_closed: true });
    assert_eq!(presence.move_to(&conn("c"), room(7), 2).await.unwrap(), MoveOutcome::Closed);
    assert_eq!(presence.room_counts(&[room(7), RoomId::LOBBY]).await.unwrap(), [0, 2]);
}

async fn concurrent_joins_never_exceed_capacity(presence: Arc<dyn Presence>, _: Option<String>) {
    for i in 0..30 {
        presence.connect(&conn(&format!("c{i}")), &user(&format!("user{i}")), &face(&format!("user{i}"))).await.unwrap();
    }
    let joins = (0..30).map(|i| {
        let presence = presence.clone();
        async move { presence.move_to(&conn(&format!("c{i}")), room(3), 10).await.unwrap() }
    });
    let outcomes = futures::future::join_all(joins).await;
    assert_eq!(outcomes.iter().filter(|o| matches!(o, MoveOutcome::Moved(_))).count(), 10);
    assert_eq!(outcomes.iter().filter(|o| **o == MoveOutcome::Full).count(), 20);
    assert_eq!(presence.room_counts(&[room(3)]).await.unwrap(), [10]);
}

async fn rate_limit_counts_every_attempt_in_a_sliding_window(presence: Arc<dyn Presence>, _: Option<String>) {
    let window = Duration::from_millis(1500);
    for attempt in 1..=3 {
        assert_eq!(presence.hit_rate_limit("k", 3, window).await.unwrap(), None, "attempt {attempt}");
    }
    let wait = presence.hit_rate_limit("k", 3, window).await.unwrap().expect("the 4th is over the limit");
    assert!(wait > Duration::ZERO && wait <= window, "{wait:?}");
    assert!(presence.hit_rate_limit("k", 3, window).await.unwrap().is_some(), "refused attempts count too");
    assert_eq!(presence.hit_rate_limit("other", 3, window).await.unwrap(), None);
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    assert_eq!(presence.hit_rate_limit("k", 3, window).await.unwrap(), None, "the window slid past");
}

async fn nothing_is_left_behind_after_everyone_disconnects(presence: Arc<dyn Presence>, prefix: Option<String>) {
    for i in 0..50 {
        let c = conn(&format!("c{i}"));
        let name = format!("user{}", i % 20);
        presence.connect(&c, &user(&name), &face(&name)).await.unwrap();
        if i % 3 == 0 {
            let _ = presence.move_to(&c, room(1 + i % 4), 10).await.unwrap();
        }
    }
    for i in 0..50 {
        presence.disconnect(&conn(&format!("c{i}"))).await.unwrap().unwrap();
    }
    assert_eq!(presence.room_connections(RoomId::LOBBY).await.unwrap(), Vec::<ConnectionId>::new());
    let everyone: Vec<UserId> = (0..20).map(|i| user(&format!("user{i}"))).collect();
    assert!(presence.online(&everyone).await.unwrap().is_empty());
    if let Some(prefix) = prefix {
        // Only the closed-room marks may stay, and they expire.
        let client = redis::Client::open(REDIS_URL).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut connection).await.unwrap();
        for key in &keys {
            assert!(key.ends_with(":closed"), "left behind: {key}");
            let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut connection).await.unwrap();
            assert!(ttl > 0, "{key} never expires");
        }
        assert_eq!(keys.len(), 4, "rooms 1–4 closed: {keys:?}");
    }
}

async fn sender_context_reads_everything_a_send_needs_at_once(presence: Arc<dyn Presence>, _: Option<String>) {
    presence.connect(&conn("a"), &user("ann"), &face("Ann")).await.unwrap();
    presence.connect(&conn("b"), &user("bob"), &face("Bob")).await.unwrap();
    moved(presence.move_to(&conn("a"), room(5), 10).await.unwrap());
    moved(presence.move_to(&conn("b"), room(5), 10).await.unwrap());
    let window = Duration::from_secs(10);
    let context = presence.sender_context(&conn("a"), "send:a", 2, window).await.unwrap().unwrap();
    assert_eq!((context.info.user.clone(), context.info.room), (user("ann"), room(5)));
    assert_eq!(context.profile, Some(face("Ann")));
    assert_eq!(context.retry_after, None);
    assert_eq!(sorted(context.room_connections), [conn("a"), conn("b")]);

    let renamed = Profile { nick: Nick::parse("Annie").unwrap(), group: Some(GroupId::parse("red").unwrap()) };
    presence.set_profile(&user("ann"), &renamed).await.unwrap();
    let context = presence.sender_context(&conn("a"), "send:a", 2, window).await.unwrap().unwrap();
    assert_eq!(context.profile, Some(renamed));
    let over = presence.sender_context(&conn("a"), "send:a", 2, window).await.unwrap().unwrap();
    assert!(over.retry_after.is_some_and(|wait| wait > Duration::ZERO && wait <= window), "{over:?}");
    assert!(presence.sender_context(&conn("nope"), "send:nope", 2, window).await.unwrap().is_none());

    presence.disconnect(&conn("a")).await.unwrap();
    presence.set_profile(&user("ann"), &face("Ghost")).await.unwrap();
    presence.connect(&conn("a2"), &user("ann"), &face("Ann")).await.unwrap();
    let context = presence.sender_context(&conn("a2"), "send:a2", 2, window).await.unwrap().unwrap();
    assert_eq!(context.profile, Some(face("Ann")), "an offline user's profile is not kept");
}

async fn connections_of_answers_for_each_user_in_order(presence: Arc<dyn Presence>, _: Option<String>) {
    presence.connect(&conn("a1"), &user("ann"), &face("Ann")).await.unwrap();
    presence.connect(&conn("a2"), &user("ann"), &face("Ann")).await.unwrap();
    presence.connect(&conn("b1"), &user("bob"), &face("Bob")).await.unwrap();
    let mut each = presence.connections_of(&[user("bob"), user("nobody"), user("ann")]).await.unwrap();
    each[2].sort();
    assert_eq!(each, vec![vec![conn("b1")], vec![], vec![conn("a1"), conn("a2")]]);
    presence.disconnect(&conn("b1")).await.unwrap();
    let each = presence.connections_of(&[user("bob")]).await.unwrap();
    assert_eq!(each, vec![Vec::<ConnectionId>::new()], "gone once disconnected");
    assert!(presence.connections_of(&[]).await.unwrap().is_empty());
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod on_memory {
            $(#[tokio::test] async fn $test() { let (p, prefix) = super::memory().await; super::$test(p, prefix).await })*
        }
        mod on_redis {
            $(#[tokio::test] async fn $test() { let (p, prefix) = super::redis().await; super::$test(p, prefix).await })*
        }
    };
}

conformance!(
    connections_count_users_once,
    moves_enforce_capacity_and_close_empty_rooms,
    concurrent_joins_never_exceed_capacity,
    rate_limit_counts_every_attempt_in_a_sliding_window,
    nothing_is_left_behind_after_everyone_disconnects,
    sender_context_reads_everything_a_send_needs_at_once,
    connections_of_answers_for_each_user_in_order,
);
