//! DynamoDB only: a transaction whose answer is lost on the way back is sent again by the SDK;
//! the message it stored must be stored once. DynamoDB itself answers such a retry by its
//! request token; the emulator does not, so the store must see its own write for what it is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chatting_shared::domain::{Bounds, MessageKind, RoomId};
use chatting_shared::dynamodb::{self, Table};
use chatting_shared::store::dynamodb::DynamoStore;
use chatting_shared::store::{HistoryScope, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::store_conformance::{room_message, user, with_users};

/// A proxy in front of the emulator that, once armed, forwards the next `TransactWriteItems`
/// and drops its answer: the emulator has applied it, the client sees the connection close.
struct LosesOneAnswer {
    endpoint: String,
    armed: Arc<AtomicBool>,
}

impl LosesOneAnswer {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let armed = Arc::new(AtomicBool::new(false));
        let trigger = armed.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone(), trigger.clone()));
            }
        });
        Self { endpoint, armed }
    }
}

/// One request and its answer (the emulator closes every connection after one answer).
async fn relay(mut client: TcpStream, upstream: String, armed: Arc<AtomicBool>) {
    let Ok(request) = chatting_harness::raw_http::read_request(&mut client).await else { return };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let transaction = matches!(parsed.parse(&request), Ok(httparse::Status::Complete(_)))
        && parsed
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("x-amz-target") && h.value.ends_with(b".TransactWriteItems"));
    let lose = transaction && armed.swap(false, Ordering::SeqCst);
    let host = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut server = TcpStream::connect(host).await.unwrap();
    server.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await.unwrap();
    if !lose {
        let _ = client.write_all(&answer).await;
    }
}

async fn store_behind(proxy: &LosesOneAnswer, table: &Table) -> DynamoStore {
    let settings = chatting_shared::aws::AwsSettings::from_env();
    let sdk = settings.sdk_config(Some(&proxy.endpoint)).await.unwrap();
    DynamoStore::new(Table { client: dynamodb::client(&sdk), name: table.name.clone() })
}

#[tokio::test]
async fn a_message_whose_answer_was_lost_is_stored_once() {
    let table = chatting_e2e::fresh_dynamodb_table().await.unwrap();
    let proxy = LosesOneAnswer::start(chatting_e2e::dynamodb_endpoint()).await;
    let store = store_behind(&proxy, &table).await;
    with_users(&store, &["ann", "bob"]).await;

    proxy.armed.store(true, Ordering::SeqCst);
    let first = store.append_message(&room_message(RoomId::LOBBY, "ann", "said once")).await.unwrap();
    assert!(!proxy.armed.load(Ordering::SeqCst), "the answer to the lobby message was lost");
    let second = store.append_message(&room_message(RoomId::LOBBY, "ann", "said next")).await.unwrap();
    assert_eq!((first.seq, second.seq), (Some(1), Some(2)), "the retried transaction took no second seq");
    let lobby = store.history(&HistoryScope::Room(RoomId::LOBBY), Bounds::default(), 10).await.unwrap();
    let texts: Vec<Option<&str>> = lobby.messages.iter().map(|m| m.text.as_ref().map(|t| t.as_str())).collect();
    assert_eq!(texts, [Some("said once"), Some("said next")]);

    proxy.armed.store(true, Ordering::SeqCst);
    let mut whisper = room_message(RoomId::LOBBY, "ann", "whispered once");
    (whisper.kind, whisper.room_id, whisper.recipient) = (MessageKind::Whisper, None, Some(user("bob")));
    let stored = store.append_message(&whisper).await.unwrap();
    assert!(!proxy.armed.load(Ordering::SeqCst), "the answer to the whisper was lost");
    let whispers =
        store.history(&HistoryScope::Whisper(user("ann"), user("bob")), Bounds::default(), 10).await.unwrap();
    let ids: Vec<_> = whispers.messages.iter().map(|m| m.message_id).collect();
    assert_eq!(ids, [stored.message_id], "one whisper, under the id its sender was told");
}
