//! What the DynamoDB implementation leaves in its table.

use super::*;

#[tokio::test]
async fn a_rate_window_holds_only_its_own_slots() {
    let (presence, raw) = super::dynamodb().await;
    let Raw::Dynamo(table) = raw else { unreachable!() };
    // A 1 s window counts in 100 ms slots; 2.5 s of attempts pass through 25 of them. Even
    // an emulator slowed to 5 answers a second by other tests makes more than 3 a window.
    let window = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let mut refused = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        if let Some(wait) = presence.hit_rate_limit("busy", 3, window).await.unwrap() {
            assert!(wait > Duration::ZERO && wait <= window, "{wait:?}");
            refused += 1;
        }
    }
    assert!(refused > 0, "2.5 s of back-to-back attempts must hit a limit of 3 per second");
    // The moment of the last attempt: the scan below may take a second on a busy emulator.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let items = table.client.scan().table_name(&table.name).send().await.unwrap().items.unwrap_or_default();
    assert_eq!(items.len(), 1, "{items:?}");
    let slots = items[0].keys().filter(|name| name.starts_with('w')).count();
    assert!((1..=11).contains(&slots), "{slots} slots kept: {:?}", items[0]);
    let ttl: u64 = items[0].get("ttl").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(ttl > now && ttl <= now + 2, "the window expires soon after its last attempt: {ttl} vs {now}");
    // After a quiet window the next attempt starts afresh.
    tokio::time::sleep(window + Duration::from_millis(50)).await;
    assert_eq!(presence.hit_rate_limit("busy", 3, window).await.unwrap(), None);
}

/// Many instances connecting, moving and disconnecting at random, then the table read
/// whole: every counter and set must agree with the connection items.
#[tokio::test]
async fn a_random_storm_leaves_every_counter_consistent() {
    use std::collections::{BTreeMap, BTreeSet};
    let (presence, raw) = super::dynamodb().await;
    let Raw::Dynamo(table) = raw else { unreachable!() };
    let instances = (0..8u64).map(|instance| {
        let presence = presence.clone();
        async move {
            // A small LCG: reproducible per instance, no dependency.
            let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ instance;
            let mut next = move |bound: u64| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (seed >> 33) % bound
            };
            // Each instance owns five connection ids; users and rooms are shared by all.
            let mut connected = [false; 5];
            for _ in 0..60 {
                let slot = next(5) as usize;
                let id = conn(&format!("i{instance}c{slot}"));
                if !connected[slot] {
                    let who = user(&format!("user{}", (instance * 5 + slot as u64) % 12));
                    presence.connect(&id, &who, &face("x")).await.unwrap();
                    connected[slot] = true;
                } else if next(4) == 0 {
                    assert!(presence.disconnect(&id).await.unwrap().is_some());
                    connected[slot] = false;
                } else {
                    // Back to the lobby often, so that rooms empty and close; rooms enough
                    // that some stay open till the end.
                    let to = if next(3) == 0 { RoomId::LOBBY } else { room(1 + next(12) as i64) };
                    presence.move_to(&id, to, 3).await.unwrap();
                }
            }
        }
    });
    futures::future::join_all(instances).await;

    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = table.client.scan().table_name(&table.name).set_exclusive_start_key(start).send().await.unwrap();
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    // What the connection items say, and what the other items say.
    let (mut by_user, mut by_member) = (BTreeMap::<String, BTreeSet<String>>::new(), BTreeMap::new());
    let (mut users, mut members, mut rooms) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for item in &items {
        let text = |name: &str| -> String {
            item.get(name).and_then(|v| v.as_s().ok().cloned().or_else(|| v.as_n().ok().cloned())).unwrap_or_default()
        };
        let set = || -> BTreeSet<String> {
            item.get("conns").and_then(|v| v.as_ss().ok()).into_iter().flatten().cloned().collect()
        };
        let (pk, sk) = (text("pk"), text("sk"));
        if let Some(cid) = pk.strip_prefix("PRESENCE#CONN#") {
            by_user.entry(text("uid")).or_default().insert(cid.to_owned());
            by_member.entry((text("rid"), text("uid"))).or_insert_with(BTreeSet::new).insert(cid.to_owned());
        } else if let Some(uid) = pk.strip_prefix("PRESENCE#USER#") {
            users.insert(uid.to_owned(), set());
        } else if let Some(rid) = pk.strip_prefix("PRESENCE#ROOM#") {
            match sk.strip_prefix("USER#") {
                Some(uid) => {
                    members.insert((rid.to_owned(), uid.to_owned()), set());
                }
                None => {
                    rooms.insert(rid.to_owned(), (text("users"), item.contains_key("closed")));
                }
            }
        }
    }
    assert!(!by_user.is_empty(), "the storm ends with some connections");
    assert_eq!(users, by_user, "each user's set is exactly their connections");
    assert_eq!(members, by_member, "each room member's set is exactly their connections there");
    for (rid, (count, closed)) in &rooms {
        let inside = members.keys().filter(|(r, _)| r == rid).count();
        if *closed {
            assert_eq!(inside, 0, "room {rid} is closed but not empty");
        } else {
            assert_eq!(count.parse::<usize>().unwrap(), inside, "room {rid}'s counter");
            assert!(inside > 0, "room {rid} emptied without closing");
            assert!(inside <= 3, "room {rid} over capacity");
        }
    }
    for (rid, _) in members.keys() {
        assert!(rid == "0" || rooms.contains_key(rid), "members in room {rid} without its counter");
    }
}
