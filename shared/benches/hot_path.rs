//! Micro-benchmarks of the per-message CPU work: frame parsing and dispatch, access-token
//! verification and the fan-out loop. `cargo bench -p chatting-shared --features memory,sqlite`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chatting_shared::auth::TokenKeys;
use chatting_shared::config::Config;
use chatting_shared::domain::{ConnectionId, Nick, Secret, UserId};
use chatting_shared::presence::Profile;
use chatting_shared::protocol::{self, Command, Event};
use chatting_shared::push::{PushError, Pusher};
use chatting_shared::service::{Chat, Delivery};
use chatting_shared::startup;
use criterion::{Criterion, criterion_group, criterion_main};

const CHAT_SEND: &str = r#"{"action":"chat.send","requestId":"r-42","data":{"type":"all","text":"hello, how is everyone doing today?","clientMsgId":"c-42"}}"#;

/// Counts pushes and drops them: the loop's own cost, without any transport.
#[derive(Default)]
struct Discard(AtomicU64);

#[async_trait]
impl Pusher for Discard {
    async fn push(&self, _: &ConnectionId, frame: &str) -> Result<(), PushError> {
        self.0.fetch_add(frame.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

fn chat(rt: &tokio::runtime::Runtime) -> Chat {
    let dir = std::env::temp_dir().join(format!("chatting-bench-{}", std::process::id()));
    rt.block_on(async {
        let config = Config::from_local_env(&dir).expect("config");
        let store = startup::open_store(&config).await.expect("store");
        let presence = startup::open_presence(&config).await.expect("presence");
        startup::chat(&config, store, presence, Arc::new(Discard::default()))
    })
}

fn parsing(c: &mut Criterion) {
    c.bench_function("parse chat.send frame", |b| {
        b.iter(|| {
            let frame = protocol::parse_frame(std::hint::black_box(CHAT_SEND)).expect("a frame");
            Command::parse(&frame.action, frame.data).expect("a command")
        })
    });
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let chat = chat(&rt);
    let connection = ConnectionId::new("bench-connection");
    let user = UserId::parse("bench_user").expect("a user id");
    let profile = Profile { nick: Nick::parse("Bench").expect("a nick"), group: None };
    rt.block_on(chat.presence.connect(&connection, &user, &profile)).expect("connected");
    let ping = r#"{"action":"ping","requestId":"p"}"#;
    c.bench_function("dispatch ping (parse, presence lookup, reply)", |b| {
        b.iter(|| rt.block_on(chat.handle_frame(&connection, std::hint::black_box(ping))))
    });
}

fn tokens(c: &mut Criterion) {
    let keys = TokenKeys::new(&Secret::from_config("a-benchmark-secret-of-32-bytes!!"), Duration::from_secs(900));
    let token = keys.issue(&UserId::parse("bench_user").expect("a user id")).expect("a token").token;
    c.bench_function("verify access token (HS256)", |b| {
        b.iter(|| keys.verify(std::hint::black_box(&token)).expect("valid"))
    });
}

fn fan_out(c: &mut Criterion) {
    let rt = runtime();
    let chat = chat(&rt);
    for recipients in [10usize, 100, 500] {
        let to: Vec<ConnectionId> = (0..recipients).map(|i| ConnectionId::new(format!("c{i}"))).collect();
        let event = Event::SystemError { code: protocol::Code::Invalid, message: "x".repeat(200) };
        c.bench_function(&format!("fan-out to {recipients}"), |b| {
            b.iter(|| rt.block_on(chat.deliver(vec![Delivery { event: event.clone(), to: to.clone() }])))
        });
    }
}

criterion_group!(benches, parsing, dispatch, tokens, fan_out);
criterion_main!(benches);
