//! Frame dispatch: any text frame from a registered connection, through
//! `Chat::handle_frame` with the embedded backends (a SQLite file, in-process presence).
//! Every frame gets exactly one JSON answer: a reply for a frame that is a JSON object, a
//! `system.error` event otherwise, and never the `error` code (the backends cannot fail
//! here, so an `error` would be a bug). State carries over between inputs (rooms, groups,
//! nicks), so sequences of actions are explored too.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chatting_shared::config::Config;
use chatting_shared::domain::{ConnectionId, Nick, UserId};
use chatting_shared::protocol::{FrameError, parse_frame};
use chatting_shared::push::{PushError, Pusher};
use chatting_shared::service::Chat;
use chatting_shared::startup;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Events are not what is fuzzed here: they go nowhere.
struct Discard;

#[async_trait]
impl Pusher for Discard {
    async fn push(&self, _: &ConnectionId, _: &str) -> Result<(), PushError> {
        Ok(())
    }
}

struct World {
    runtime: tokio::runtime::Runtime,
    chat: Chat,
    connection: ConnectionId,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let dir = std::env::temp_dir().join(format!("chatting-fuzz-{}", std::process::id()));
        let chat = runtime.block_on(async {
            let mut config = Config::from_local_env(&dir).expect("a config");
            config.store = chatting_shared::config::StoreProfile::sql(format!(
                "sqlite://{}?mode=rwc",
                dir.join("fuzz.db").display()
            ));
            // Sends are limited per 10 s; the fuzzer sends thousands a second.
            config.chat_sends_per_10s = u32::MAX;
            let store = startup::open_store(&config).await.expect("the store");
            config.redis = None;
            let presence = startup::open_presence(&config).await.expect("presence");
            let chat = startup::chat(&config, store, presence, Arc::new(Discard));
            for name in ["alice", "bob_2", "carol"] {
                let user = UserId::parse(name).expect("a user id");
                chat.store
                    .create_user(&user, &Nick::parse(name).expect("a nick"), "no login here")
                    .await
                    .expect("a user");
            }
            // Bob and Carol are online, so that whispers and user.info find someone.
            for (name, id) in [("bob_2", "fuzz-bob"), ("carol", "fuzz-carol"), ("alice", "fuzz-alice")] {
                let token = chat.keys.issue(&UserId::parse(name).expect("a user id")).expect("a token").token;
                chat.connect(&ConnectionId::new(id), Some(&token), None).await.expect("connected");
            }
            chat
        });
        World { runtime, chat, connection: ConnectionId::new("fuzz-alice") }
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let world = world();
    let answer = world.runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), world.chat.handle_frame(&world.connection, &text)).await
    });
    let answer = answer.expect("a frame is answered within 5 s");
    let frame: Value = serde_json::from_str(&answer).expect("the answer is JSON");
    let is_object = !matches!(parse_frame(&text), Err(FrameError::NotAnObject(_) | FrameError::TooLarge(_)));
    if is_object {
        assert_eq!(frame["type"], "reply", "{answer}");
        assert!(frame["ok"].is_boolean(), "{answer}");
        assert_ne!(frame["code"], "error", "an internal error for {text:?}: {answer}");
        assert!(frame["requestId"].is_null() || frame["requestId"].as_str().is_some_and(|id| id.chars().count() <= 64));
    } else {
        assert_eq!(
            (frame["type"].as_str(), frame["event"].as_str()),
            (Some("event"), Some("system.error")),
            "{answer}"
        );
    }
});
