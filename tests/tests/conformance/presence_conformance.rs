//! One suite, written once, that every `Presence` implementation must pass: in-process
//! memory (the embedded default), Redis (production) under its own key prefix per test, and
//! DynamoDB (the no-VPC profile) on a fresh table per test in the emulator that
//! scripts/dynamodb-emulator starts.

use std::sync::Arc;
use std::time::Duration;

use chatting_e2e::{REDIS_URL, fresh_dynamodb_table, unique};
use chatting_shared::domain::{ConnectionId, RoomId, UserId};
use chatting_shared::domain::{GroupId, Nick};
use chatting_shared::dynamodb::Table;
use chatting_shared::presence::dynamodb::DynamoPresence;
use chatting_shared::presence::memory::MemoryPresence;
use chatting_shared::presence::redis::RedisPresence;
use chatting_shared::presence::{Connected, Departure, MoveOutcome, Moved, Presence, Profile, Whereabouts};

/// What a test may look at behind the trait, to see what is left behind.
enum Raw {
    Memory,
    Redis(String),
    Dynamo(Table),
}

async fn memory() -> (Arc<dyn Presence>, Raw) {
    (Arc::new(MemoryPresence::default()), Raw::Memory)
}

async fn redis() -> (Arc<dyn Presence>, Raw) {
    let prefix = unique("pt");
    (Arc::new(RedisPresence::connect(REDIS_URL, &prefix).await.unwrap()), Raw::Redis(prefix))
}

async fn dynamodb() -> (Arc<dyn Presence>, Raw) {
    let table = fresh_dynamodb_table().await.unwrap();
    (Arc::new(DynamoPresence::new(table.clone())), Raw::Dynamo(table))
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

async fn connections_count_users_once(presence: Arc<dyn Presence>, _: Raw) {
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

async fn moves_enforce_capacity_and_close_empty_rooms(presence: Arc<dyn Presence>, _: Raw) {
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

async fn concurrent_joins_never_exceed_capacity(presence: Arc<dyn Presence>, _: Raw) {
    for i in 0..30 {
        presence
            .connect(&conn(&format!("c{i}")), &user(&format!("user{i}")), &face(&format!("user{i}")))
            .await
            .unwrap();
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

async fn rate_limit_counts_every_attempt_in_a_sliding_window(presence: Arc<dyn Presence>, _: Raw) {
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

/// Limits that count only failures ask first and record after a failure.
async fn a_rate_limit_peek_counts_nothing(presence: Arc<dyn Presence>, _: Raw) {
    let window = Duration::from_millis(1500);
    for _ in 0..5 {
        assert_eq!(presence.rate_limit_wait("f", 2, window).await.unwrap(), None, "asking is not an attempt");
    }
    assert_eq!(presence.hit_rate_limit("f", 2, window).await.unwrap(), None);
    assert_eq!(presence.rate_limit_wait("f", 2, window).await.unwrap(), None, "one recorded, one more fits");
    assert_eq!(presence.hit_rate_limit("f", 2, window).await.unwrap(), None);
    let wait = presence.rate_limit_wait("f", 2, window).await.unwrap().expect("two recorded: a third is over");
    assert!(wait > Duration::ZERO && wait <= window, "{wait:?}");
    assert_eq!(presence.rate_limit_wait("g", 2, window).await.unwrap(), None, "other keys are apart");
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    assert_eq!(presence.rate_limit_wait("f", 2, window).await.unwrap(), None, "the window slid past");
}

async fn nothing_is_left_behind_after_everyone_disconnects(presence: Arc<dyn Presence>, raw: Raw) {
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
    match raw {
        Raw::Memory => {}
        Raw::Redis(prefix) => {
            // Only the closed-room marks may stay, and they expire.
            let client = redis::Client::open(REDIS_URL).unwrap();
            let mut connection = client.get_multiplexed_async_connection().await.unwrap();
            let keys: Vec<String> =
                redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut connection).await.unwrap();
            for key in &keys {
                assert!(key.ends_with(":closed"), "left behind: {key}");
                let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut connection).await.unwrap();
                assert!(ttl > 0, "{key} never expires");
            }
            assert_eq!(keys.len(), 4, "rooms 1–4 closed: {keys:?}");
        }
        Raw::Dynamo(table) => {
            // Only the closed-room marks may stay, and they expire.
            let scan = table.client.scan().table_name(&table.name).send().await.unwrap();
            let items = scan.items.unwrap_or_default();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
            for item in &items {
                let attr = |name: &str| item.get(name).map(|v| format!("{v:?}")).unwrap_or_default();
                assert!(
                    attr("pk").contains("PRESENCE#ROOM#") && attr("sk").contains("\"ROOM\""),
                    "left behind: {item:?}"
                );
                assert!(item.contains_key("closed"), "an open room's counter is left: {item:?}");
                let ttl: u64 = item.get("ttl").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
                assert!(ttl > now, "{item:?} never expires");
            }
            assert_eq!(items.len(), 4, "rooms 1–4 closed: {items:?}");
        }
    }
}

async fn sender_context_reads_everything_a_send_needs_at_once(presence: Arc<dyn Presence>, _: Raw) {
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

async fn connections_of_answers_for_each_user_in_order(presence: Arc<dyn Presence>, _: Raw) {
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

async fn one_user_connecting_at_once_comes_online_once(presence: Arc<dyn Presence>, _: Raw) {
    let connects = (0..10).map(|i| {
        let presence = presence.clone();
        async move { presence.connect(&conn(&format!("t{i}")), &user("ann"), &face("ann")).await.unwrap() }
    });
    let outcomes = futures::future::join_all(connects).await;
    assert_eq!(outcomes.iter().filter(|c| c.came_online).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|c| c.entered_lobby).count(), 1, "{outcomes:?}");
    assert_eq!(presence.user_connections(&user("ann")).await.unwrap().len(), 10);
    assert_eq!(presence.room_connections(RoomId::LOBBY).await.unwrap().len(), 10);
    assert_eq!(presence.room_users(RoomId::LOBBY).await.unwrap(), [user("ann")]);
}

async fn one_user_leaving_everywhere_at_once_goes_offline_once(presence: Arc<dyn Presence>, _: Raw) {
    // Five users with two connections each: one pair in the lobby, four pairs alone in a room.
    for u in 0..5 {
        for c in 0..2 {
            let id = conn(&format!("u{u}c{c}"));
            presence.connect(&id, &user(&format!("user{u}")), &face("x")).await.unwrap();
            if u > 0 {
                moved(presence.move_to(&id, room(u), 10).await.unwrap());
            }
        }
    }
    // Every connection disconnects twice, all at the same moment.
    let disconnects = (0..5).flat_map(|u| (0..2).flat_map(move |c| [(u, c), (u, c)])).map(|(u, c)| {
        let presence = presence.clone();
        async move { (u, presence.disconnect(&conn(&format!("u{u}c{c}"))).await.unwrap()) }
    });
    let outcomes = futures::future::join_all(disconnects).await;
    for u in 0..5 {
        let gone: Vec<_> = outcomes.iter().filter(|(of, _)| *of == u).filter_map(|(_, d)| d.as_ref()).collect();
        assert_eq!(gone.len(), 2, "each connection is forgotten exactly once: {gone:?}");
        assert_eq!(gone.iter().filter(|d| d.went_offline).count(), 1, "user{u}: {gone:?}");
        assert_eq!(gone.iter().filter(|d| d.from.user_left).count(), 1, "user{u}: {gone:?}");
        assert_eq!(gone.iter().filter(|d| d.from.room_closed).count(), usize::from(u > 0), "user{u}: {gone:?}");
    }
    presence.connect(&conn("late"), &user("late"), &face("late")).await.unwrap();
    for u in 1..5 {
        assert_eq!(presence.move_to(&conn("late"), room(u), 10).await.unwrap(), MoveOutcome::Closed);
    }
    let everyone: Vec<UserId> = (0..5).map(|u| user(&format!("user{u}"))).collect();
    assert!(presence.online(&everyone).await.unwrap().is_empty());
    assert_eq!(presence.room_users(RoomId::LOBBY).await.unwrap(), [user("late")]);
}

async fn twenty_users_with_two_tabs_race_for_five_places(presence: Arc<dyn Presence>, _: Raw) {
    for u in 0..20 {
        for c in 0..2 {
            presence.connect(&conn(&format!("u{u}c{c}")), &user(&format!("user{u}")), &face("x")).await.unwrap();
        }
    }
    let joins = (0..20).flat_map(|u| (0..2).map(move |c| (u, c))).map(|(u, c)| {
        let presence = presence.clone();
        async move { (u, presence.move_to(&conn(&format!("u{u}c{c}")), room(4), 5).await.unwrap()) }
    });
    let outcomes = futures::future::join_all(joins).await;
    let mut admitted = Vec::new();
    for u in 0..20 {
        let mine: Vec<_> = outcomes.iter().filter(|(of, _)| *of == u).map(|(_, o)| *o).collect();
        let inside = mine.iter().filter(|o| matches!(o, MoveOutcome::Moved(_))).count();
        // The room only fills up, so a user admitted once is never turned away after.
        assert!(inside == 0 || inside == 2, "user{u}: {mine:?}");
        if inside == 2 {
            let entered = mine.iter().filter(|o| matches!(o, MoveOutcome::Moved(m) if m.user_entered)).count();
            assert_eq!(entered, 1, "user{u} enters once: {mine:?}");
            admitted.push(user(&format!("user{u}")));
        }
    }
    assert_eq!(admitted.len(), 5, "{outcomes:?}");
    assert_eq!(presence.room_counts(&[room(4)]).await.unwrap(), [5]);
    assert_eq!(sorted(presence.room_users(room(4)).await.unwrap()), sorted(admitted));
    assert_eq!(presence.room_connections(room(4)).await.unwrap().len(), 10);
}

async fn a_join_racing_the_last_leave_either_closes_or_stays(presence: Arc<dyn Presence>, _: Raw) {
    let rounds = 8;
    for r in 1..=rounds {
        presence.connect(&conn(&format!("in{r}")), &user(&format!("inner{r}")), &face("x")).await.unwrap();
        presence.connect(&conn(&format!("out{r}")), &user(&format!("outer{r}")), &face("x")).await.unwrap();
        moved(presence.move_to(&conn(&format!("in{r}")), room(100 + r), 10).await.unwrap());
    }
    let races = (1..=rounds).map(|r| {
        let presence = presence.clone();
        async move {
            let (inner, outer) = (conn(&format!("in{r}")), conn(&format!("out{r}")));
            let leave = presence.move_to(&inner, RoomId::LOBBY, 0);
            let join = presence.move_to(&outer, room(100 + r), 10);
            let (leave, join) = futures::join!(leave, join);
            (r, moved(leave.unwrap()), join.unwrap())
        }
    });
    for (r, leave, join) in futures::future::join_all(races).await {
        assert!(leave.from.user_left);
        match join {
            MoveOutcome::Closed => {
                assert!(leave.from.room_closed, "room {r}: closed but nobody closed it");
                assert_eq!(presence.room_counts(&[room(100 + r)]).await.unwrap(), [0]);
            }
            MoveOutcome::Moved(m) => {
                assert!(!leave.from.room_closed, "room {r}: joined a closed room");
                assert!(m.user_entered);
                assert_eq!(presence.room_users(room(100 + r)).await.unwrap(), [user(&format!("outer{r}"))]);
            }
            other => panic!("room {r}: {other:?}"),
        }
    }
}

async fn a_profile_change_reaches_every_connection(presence: Arc<dyn Presence>, _: Raw) {
    presence.connect(&conn("a1"), &user("ann"), &face("Ann")).await.unwrap();
    presence.connect(&conn("a2"), &user("ann"), &face("Ann")).await.unwrap();
    presence.connect(&conn("b"), &user("bob"), &face("Bob")).await.unwrap();
    moved(presence.move_to(&conn("a2"), room(8), 10).await.unwrap());
    let renamed = Profile { nick: Nick::parse("Annie").unwrap(), group: Some(GroupId::parse("red").unwrap()) };
    presence.set_profile(&user("ann"), &renamed).await.unwrap();
    let window = Duration::from_secs(10);
    for c in ["a1", "a2"] {
        let context = presence.sender_context(&conn(c), &format!("send:{c}"), 5, window).await.unwrap().unwrap();
        assert_eq!(context.profile.as_ref(), Some(&renamed), "{c}");
    }
    let bob = presence.sender_context(&conn("b"), "send:b", 5, window).await.unwrap().unwrap();
    assert_eq!(bob.profile, Some(face("Bob")));
    // Leaving the group clears it everywhere.
    presence.set_profile(&user("ann"), &face("Annie")).await.unwrap();
    let context = presence.sender_context(&conn("a2"), "send:a2", 5, window).await.unwrap().unwrap();
    assert_eq!(context.profile, Some(face("Annie")));
}

/// Who is where, as `online_users` tells it: (user, rooms).
async fn places(presence: &dyn Presence) -> Vec<(UserId, Vec<RoomId>)> {
    presence.online_users().await.unwrap().into_iter().map(|w| (w.user, w.rooms)).collect()
}

async fn everyone_online_is_listed_once_by_user_id_with_every_room_they_are_in(presence: Arc<dyn Presence>, _: Raw) {
    assert_eq!(presence.online_users().await.unwrap(), [], "nobody yet");
    // Connected in an order unlike the ids', two of them with two tabs.
    for (c, u) in [("d1", "dan"), ("b", "bob"), ("a1", "ann"), ("c", "cat"), ("a2", "ann"), ("d2", "dan")] {
        presence.connect(&conn(c), &user(u), &face(u)).await.unwrap();
    }
    moved(presence.move_to(&conn("a2"), room(7), 10).await.unwrap());
    moved(presence.move_to(&conn("b"), room(7), 10).await.unwrap());
    moved(presence.move_to(&conn("d1"), room(9), 10).await.unwrap());
    moved(presence.move_to(&conn("d2"), room(7), 10).await.unwrap());
    let renamed = Profile { nick: Nick::parse("Annie").unwrap(), group: Some(GroupId::parse("red").unwrap()) };
    presence.set_profile(&user("ann"), &renamed).await.unwrap();

    let whereabouts = |u: &str, rooms: &[i64], profile: Profile| Whereabouts {
        user: user(u),
        rooms: rooms.iter().map(|r| room(*r)).collect(),
        profile: Some(profile),
    };
    assert_eq!(
        presence.online_users().await.unwrap(),
        [
            whereabouts("ann", &[0, 7], renamed),
            whereabouts("bob", &[7], face("bob")),
            whereabouts("cat", &[0], face("cat")),
            whereabouts("dan", &[7, 9], face("dan")),
        ]
    );

    // Cat goes, Ann's room tab comes back to the lobby, Dan closes his room 7 tab.
    presence.disconnect(&conn("c")).await.unwrap().unwrap();
    moved(presence.move_to(&conn("a2"), RoomId::LOBBY, 0).await.unwrap());
    presence.disconnect(&conn("d2")).await.unwrap().unwrap();
    assert_eq!(
        places(presence.as_ref()).await,
        [(user("ann"), vec![RoomId::LOBBY]), (user("bob"), vec![room(7)]), (user("dan"), vec![room(9)])]
    );
    for c in ["a1", "a2", "b", "d1"] {
        presence.disconnect(&conn(c)).await.unwrap().unwrap();
    }
    assert_eq!(presence.online_users().await.unwrap(), [], "everyone left");
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod on_memory {
            $(#[tokio::test] async fn $test() { let (p, raw) = super::memory().await; super::$test(p, raw).await })*
        }
        mod on_redis {
            $(#[tokio::test] async fn $test() { let (p, raw) = super::redis().await; super::$test(p, raw).await })*
        }
        mod on_dynamodb {
            $(#[tokio::test] async fn $test() { let (p, raw) = super::dynamodb().await; super::$test(p, raw).await })*
        }
    };
}

/// Room ids repeat when the database is made anew under a live presence store: a room the
/// store has just created is opened again in presence, whatever an older room of that id
/// left behind, and a live room is never touched by it.
async fn a_room_created_anew_is_not_refused_by_an_old_closed_mark(presence: Arc<dyn Presence>, _: Raw) {
    for (c, u) in [("a", "ann"), ("b", "bob")] {
        presence.connect(&conn(c), &user(u), &face(u)).await.unwrap();
    }
    moved(presence.move_to(&conn("a"), room(9), 10).await.unwrap());
    let left = moved(presence.move_to(&conn("a"), RoomId::LOBBY, 0).await.unwrap());
    assert!(left.from.room_closed);
    assert_eq!(
        presence.move_to(&conn("b"), room(9), 10).await.unwrap(),
        MoveOutcome::Closed,
        "closed rooms stay closed"
    );
    presence.room_created(room(9)).await.unwrap();
    let entered = moved(presence.move_to(&conn("b"), room(9), 10).await.unwrap());
    assert!(entered.user_entered);
    presence.room_created(room(9)).await.unwrap();
    assert_eq!(presence.room_users(room(9)).await.unwrap(), [user("bob")], "a live room is left as it is");
    moved(presence.move_to(&conn("a"), room(9), 10).await.unwrap());
    assert_eq!(presence.room_users(room(9)).await.unwrap(), [user("bob"), user("ann")]);
}

conformance!(
    a_room_created_anew_is_not_refused_by_an_old_closed_mark,
    connections_count_users_once,
    moves_enforce_capacity_and_close_empty_rooms,
    concurrent_joins_never_exceed_capacity,
    rate_limit_counts_every_attempt_in_a_sliding_window,
    a_rate_limit_peek_counts_nothing,
    nothing_is_left_behind_after_everyone_disconnects,
    sender_context_reads_everything_a_send_needs_at_once,
    connections_of_answers_for_each_user_in_order,
    one_user_connecting_at_once_comes_online_once,
    one_user_leaving_everywhere_at_once_goes_offline_once,
    twenty_users_with_two_tabs_race_for_five_places,
    a_join_racing_the_last_leave_either_closes_or_stays,
    a_profile_change_reaches_every_connection,
    everyone_online_is_listed_once_by_user_id_with_every_room_they_are_in,
);

/// What each DynamoDB operation costs, in requests (`DYNAMODB_REQUESTS` counts every one the
/// client sends; nextest runs each test in its own process, so no other test adds to it).
mod dynamodb_costs {
    use super::*;
    use chatting_shared::metrics::DYNAMODB_REQUESTS;

    async fn requests<T>(work: impl std::future::Future<Output = T>) -> (T, u64) {
        let before = DYNAMODB_REQUESTS.get();
        let out = work.await;
        (out, DYNAMODB_REQUESTS.get() - before)
    }

    #[tokio::test]
    async fn requests_per_operation() {
        let (presence, _) = super::dynamodb().await;
        let window = Duration::from_secs(10);
        assert_eq!(requests(presence.connect(&conn("a"), &user("ann"), &face("Ann"))).await.1, 1, "first connect");
        presence.connect(&conn("c1"), &user("cat"), &face("Cat")).await.unwrap();
        let (connected, cost) = requests(presence.connect(&conn("c2"), &user("cat"), &face("Cat"))).await;
        assert_eq!(
            (connected.unwrap(), cost),
            (Connected { came_online: false, entered_lobby: false }, 2),
            "second connect"
        );
        presence.connect(&conn("b"), &user("bob"), &face("Bob")).await.unwrap();
        let (outcome, cost) = requests(presence.move_to(&conn("a"), room(5), 10)).await;
        assert_eq!((moved(outcome.unwrap()).user_entered, cost), (true, 2), "move_to");
        assert_eq!(requests(presence.move_to(&conn("a"), room(5), 10)).await.1, 1, "move_to, already there");
        presence.move_to(&conn("b"), room(5), 10).await.unwrap();
        let (context, cost) = requests(presence.sender_context(&conn("a"), "send:a", 5, window)).await;
        assert_eq!(context.unwrap().unwrap().room_connections.len(), 2);
        assert_eq!(cost, 3, "sender_context: connection and rate limit, then the audience");
        assert_eq!(
            requests(presence.set_profile(&user("ann"), &face("Annie"))).await.1,
            2,
            "set_profile, one connection"
        );
        assert_eq!(requests(presence.hit_rate_limit("k", 5, window)).await.1, 1, "hit_rate_limit");
        assert_eq!(requests(presence.room_counts(&[room(5), room(6)])).await.1, 1, "room_counts");
        let (online, cost) = requests(presence.online_users()).await;
        assert_eq!(online.unwrap().len(), 3, "ann, bob and cat");
        assert_eq!(cost, 4 + 1, "online_users: a query per lease shard, then one batch of connection items");
        let (gone, cost) = requests(presence.disconnect(&conn("a"))).await;
        assert!(gone.unwrap().unwrap().went_offline);
        assert_eq!(cost, 2, "disconnect of an only connection, from a room others stay in");
        let (gone, cost) = requests(presence.disconnect(&conn("c1"))).await;
        assert!(!gone.unwrap().unwrap().went_offline);
        assert_eq!(cost, 3, "disconnect of one of two connections");
        assert_eq!(requests(presence.disconnect(&conn("a"))).await.1, 1, "disconnect, unknown");
        // Room 6 holds one user (capacity 1): the failed condition tells it is full.
        presence.connect(&conn("d"), &user("dan"), &face("Dan")).await.unwrap();
        moved(presence.move_to(&conn("d"), room(6), 1).await.unwrap());
        let (outcome, cost) = requests(presence.move_to(&conn("b"), room(6), 1)).await;
        assert_eq!((outcome.unwrap(), cost), (MoveOutcome::Full, 2), "move_to, full");
    }
}

/// What Redis operations cost, in round trips (`REDIS_ROUND_TRIPS` counts every one; nextest
/// runs each test in its own process, so no other test adds to it).
mod redis_costs {
    use super::*;
    use chatting_shared::metrics::REDIS_ROUND_TRIPS;

    #[tokio::test]
    async fn everyone_online_is_one_round_trip_however_many_there_are() {
        let (presence, _) = super::redis().await;
        for i in 0..60 {
            let c = conn(&format!("c{i}"));
            let name = format!("user{}", i % 40);
            presence.connect(&c, &user(&name), &face(&name)).await.unwrap();
            if i % 3 == 0 {
                moved(presence.move_to(&c, room(1 + i % 5), 100).await.unwrap());
            }
        }
        let before = REDIS_ROUND_TRIPS.get();
        let online = presence.online_users().await.unwrap();
        assert_eq!(REDIS_ROUND_TRIPS.get() - before, 1);
        assert_eq!(online.len(), 40);
        assert!(online.iter().all(|w| w.profile.is_some()), "every profile copy comes along");
    }
}

mod dynamodb_items;

/// A connection whose `$disconnect` never came (API Gateway lost it, an instance died)
/// outlives its lease: `expired_connections` names it, and disconnecting it, as the sweep
/// does, leaves no ghost in its room, in the online list or among its user's connections.
mod leases {
    use super::*;

    /// Long enough that the live connection's lease outlasts the checks by seconds even on
    /// a loaded machine with the emulator answering slowly.
    const LEASE: Duration = Duration::from_secs(4);

    async fn a_lost_connection_is_named_once_its_lease_ends_and_leaves_no_ghost(presence: Arc<dyn Presence>, raw: Raw) {
        presence.connect(&conn("lost"), &user("ann"), &face("Ann")).await.unwrap();
        moved(presence.move_to(&conn("lost"), room(7), 10).await.unwrap());
        tokio::time::sleep(LEASE / 2).await;
        presence.connect(&conn("live"), &user("bob"), &face("Bob")).await.unwrap();
        moved(presence.move_to(&conn("live"), room(7), 10).await.unwrap());
        assert_eq!(
            presence.expired_connections(10).await.unwrap(),
            Vec::<ConnectionId>::new(),
            "every lease is running"
        );
        assert_eq!(places(presence.as_ref()).await, [(user("ann"), vec![room(7)]), (user("bob"), vec![room(7)])]);

        tokio::time::sleep(LEASE / 2 + Duration::from_millis(500)).await;
        assert_eq!(
            presence.expired_connections(10).await.unwrap(),
            [conn("lost")],
            "only the lost one's lease has ended"
        );
        assert_eq!(presence.room_users(room(7)).await.unwrap(), [user("ann"), user("bob")], "a ghost until swept");
        assert_eq!(
            presence.online_users().await.unwrap().iter().map(|w| w.user.clone()).collect::<Vec<_>>(),
            [user("bob")],
            "but not listed online: its lease has ended"
        );

        let gone = presence.disconnect(&conn("lost")).await.unwrap().expect("its record outlives its lease");
        assert_eq!((gone.user.clone(), gone.went_offline), (user("ann"), true));
        assert_eq!(presence.room_users(room(7)).await.unwrap(), [user("bob")]);
        assert!(presence.online(&[user("ann")]).await.unwrap().is_empty(), "no longer listed online");
        assert!(presence.user_connections(&user("ann")).await.unwrap().is_empty());
        assert_eq!(presence.room_connections(room(7)).await.unwrap(), [conn("live")]);
        assert!(!presence.expired_connections(10).await.unwrap().contains(&conn("lost")), "swept once");
        if let Raw::Redis(prefix) = raw {
            let client = redis::Client::open(REDIS_URL).unwrap();
            let mut connection = client.get_multiplexed_async_connection().await.unwrap();
            let keys: Vec<String> =
                redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut connection).await.unwrap();
            assert!(keys.iter().all(|key| !key.contains("lost") && !key.contains("ann")), "left behind: {keys:?}");
        }
    }

    #[tokio::test]
    async fn on_memory() {
        a_lost_connection_is_named_once_its_lease_ends_and_leaves_no_ghost(
            Arc::new(MemoryPresence::with_lease(LEASE)),
            Raw::Memory,
        )
        .await
    }

    #[tokio::test]
    async fn on_redis() {
        let prefix = unique("pt");
        let presence = RedisPresence::connect(REDIS_URL, &prefix).await.unwrap().with_lease(LEASE);
        a_lost_connection_is_named_once_its_lease_ends_and_leaves_no_ghost(Arc::new(presence), Raw::Redis(prefix)).await
    }

    #[tokio::test]
    async fn on_dynamodb() {
        let table = fresh_dynamodb_table().await.unwrap();
        let presence = DynamoPresence::new(table.clone()).with_lease(LEASE);
        a_lost_connection_is_named_once_its_lease_ends_and_leaves_no_ghost(Arc::new(presence), Raw::Dynamo(table)).await
    }
}

/// `rediss://`: presence over TLS, the server's certificate checked against a CA file; a
/// server whose certificate chains to another CA, or a plain connection, is refused.
#[tokio::test]
async fn presence_speaks_tls_to_redis_and_checks_the_certificate() {
    use chatting_e2e::{REDIS_TLS_PORT, tls_dir};
    let ca = tls_dir().join("ca.crt");
    assert!(ca.exists(), "scripts/tls-services makes {} and starts Redis with TLS on {REDIS_TLS_PORT}", ca.display());
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("rediss://{host}:{REDIS_TLS_PORT}");
        let presence = RedisPresence::connect_with_ca(&url, &unique("tls"), Some(&ca)).await.unwrap();
        let connected = presence.connect(&conn("a"), &user("ann"), &face("Ann")).await.expect("over TLS");
        assert!(connected.came_online, "{url}");
        assert_eq!(presence.online(&[user("ann")]).await.unwrap(), [user("ann")]);
        presence.disconnect(&conn("a")).await.unwrap();
    }

    let url = format!("rediss://127.0.0.1:{REDIS_TLS_PORT}");
    let other_ca = tls_dir().join("other-ca.crt");
    let stranger = RedisPresence::connect_with_ca(&url, &unique("tls"), Some(&other_ca)).await.unwrap();
    let refused =
        stranger.connect(&conn("b"), &user("bob"), &face("Bob")).await.expect_err("another CA is refused").to_string();
    println!("another CA: {refused}");
    let plain = RedisPresence::connect(&format!("redis://127.0.0.1:{REDIS_TLS_PORT}"), &unique("tls")).await.unwrap();
    assert!(plain.connect(&conn("c"), &user("cat"), &face("Cat")).await.is_err(), "no plain text to a TLS port");
}
