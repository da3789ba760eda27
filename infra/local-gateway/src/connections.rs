//! The open WebSocket connections of this gateway, by connection id: what the Management
//! API and the in-process pusher write to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chatting_shared::clock::{now_ms, rfc3339_ms};
use chatting_shared::domain::ConnectionId;
use chatting_shared::push::{PushError, Pusher};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// A frame on its way to one client.
#[derive(Debug)]
pub enum Outbound {
    Text(String),
}

pub struct Connection {
    outbound: mpsc::Sender<Outbound>,
    /// Tells the connection's loop to close (DELETE, overflow, shutdown).
    pub close: Notify,
    closing: AtomicBool,
    /// The close was caused by a full outbound queue (close code 1008, not 1000).
    overflowed: AtomicBool,
    pub connected_at_ms: i64,
    last_active_ms: AtomicI64,
    /// Bytes of the frames queued and not yet written to the socket; shared with the
    /// connection's writer, which must not hold the connection itself (its queue would
    /// then never close).
    queued_bytes: Arc<AtomicUsize>,
    pub source_ip: String,
    pub user_agent: String,
}

impl Connection {
    pub fn new(outbound: mpsc::Sender<Outbound>, source_ip: String, user_agent: String) -> Self {
        let now = now_ms();
        Self {
            outbound,
            close: Notify::new(),
            closing: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
            connected_at_ms: now,
            last_active_ms: AtomicI64::new(now),
            queued_bytes: Arc::default(),
            source_ip,
            user_agent,
        }
    }

    pub fn touch(&self) {
        self.last_active_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub fn start_closing(&self) {
        self.closing.store(true, Ordering::Relaxed);
        self.close.notify_one();
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// A queued frame of `bytes` has been written to the socket.
    pub fn written(&self, bytes: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// The counter the writer lowers as frames go out.
    pub fn queued_bytes(&self) -> Arc<AtomicUsize> {
        self.queued_bytes.clone()
    }

    /// The Management API's `GetConnection` answer.
    pub fn describe(&self) -> Value {
        json!({
            "connectedAt": rfc3339_ms(self.connected_at_ms),
            "lastActiveAt": rfc3339_ms(self.last_active_ms.load(Ordering::Relaxed)),
            "identity": { "sourceIp": self.source_ip, "userAgent": self.user_agent },
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Queued,
    /// No such connection, or it is closing.
    Gone,
    /// The client stopped reading and its queue is full: the connection is being closed.
    Overflow,
}

/// How many `$disconnect`s run at once. A burst of lost connections (a network blip, a
/// proxy restart) would otherwise start hundreds at once; they then wait so long for the
/// store's pool that its acquire timeout fails some of them after presence has already
/// forgotten the connection, and their room closing, owner handover and `left` events
/// are lost. Queued here, each runs with the pool to itself.
const CONCURRENT_DISCONNECTS: usize = 4;

pub struct Registry {
    connections: Mutex<HashMap<String, Arc<Connection>>>,
    disconnects: tokio::sync::Semaphore,
    /// Bytes queued for one connection before it counts as stalled.
    outbound_bytes: usize,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new(1024 * 1024)
    }
}

impl Registry {
    pub fn new(outbound_bytes: usize) -> Self {
        Self {
            connections: Mutex::default(),
            disconnects: tokio::sync::Semaphore::new(CONCURRENT_DISCONNECTS),
            outbound_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Connection>>> {
        // A panic while holding this lock cannot leave the map half-changed: recover it.
        self.connections.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn insert(&self, id: &str, connection: Arc<Connection>) {
        self.lock().insert(id.to_owned(), connection);
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Connection>> {
        self.lock().remove(id)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.lock().get(id).cloned()
    }

    /// The ids of the open connections, in no particular order.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A turn to run `$disconnect`; see [`CONCURRENT_DISCONNECTS`].
    pub async fn disconnect_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed, so this only fails if that changes: run unqueued then.
        self.disconnects.acquire().await.ok()
    }

    /// Queues a frame without waiting: a client that does not read must not slow the sender.
    pub fn send(&self, id: &str, text: String) -> SendOutcome {
        let Some(connection) = self.get(id) else { return SendOutcome::Gone };
        if connection.closing.load(Ordering::Relaxed) {
            return SendOutcome::Gone;
        }
        let bytes = text.len();
        let queued = connection.queued_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
        let overflow = |why: &str| {
            connection.written(bytes);
            tracing::warn!(connection = id, why, "client not reading; closing the connection");
            connection.overflowed.store(true, Ordering::Relaxed);
            connection.start_closing();
            SendOutcome::Overflow
        };
        if queued > self.outbound_bytes {
            return overflow("outbound bytes over budget");
        }
        match connection.outbound.try_send(Outbound::Text(text)) {
            Ok(()) => SendOutcome::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => overflow("outbound queue full"),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                connection.written(bytes);
                SendOutcome::Gone
            }
        }
    }

    /// Asks a connection to close; false when there is none.
    pub fn close(&self, id: &str) -> bool {
        match self.get(id) {
            Some(connection) => {
                connection.start_closing();
                true
            }
            None => false,
        }
    }
}

/// Pushes straight into the registry, skipping HTTP and signing (`CHATTING_PUSH=direct`).
pub struct DirectPusher(pub Arc<Registry>);

#[async_trait]
impl Pusher for DirectPusher {
    async fn push(&self, connection: &ConnectionId, frame: &str) -> Result<(), PushError> {
        chatting_shared::metrics::DIRECT_PUSHES.add(1);
        match self.0.send(connection.as_str(), frame.to_owned()) {
            SendOutcome::Queued => Ok(()),
            SendOutcome::Gone | SendOutcome::Overflow => Err(PushError::Gone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_closes_the_connection_as_an_overflow() {
        let registry = Registry::default();
        let (outbound, _unread) = mpsc::channel(2);
        let connection = Arc::new(Connection::new(outbound, "127.0.0.1".into(), "test".into()));
        registry.insert("c1", connection.clone());
        assert_eq!(registry.send("c1", "one".into()), SendOutcome::Queued);
        assert_eq!(registry.send("c1", "two".into()), SendOutcome::Queued);
        assert!(!connection.overflowed());
        assert_eq!(registry.send("c1", "three".into()), SendOutcome::Overflow);
        assert!(connection.overflowed(), "closed with 1008, not as a normal close");
        assert_eq!(registry.send("c1", "four".into()), SendOutcome::Gone, "nothing more is queued once closing");
    }

    #[test]
    fn a_queue_over_its_byte_budget_closes_the_connection_as_an_overflow() {
        let registry = Registry::new(1000);
        let (outbound, _unread) = mpsc::channel(100);
        let connection = Arc::new(Connection::new(outbound, "127.0.0.1".into(), "test".into()));
        registry.insert("c1", connection.clone());
        assert_eq!(registry.send("c1", "x".repeat(600)), SendOutcome::Queued);
        connection.written(600);
        assert_eq!(registry.send("c1", "x".repeat(600)), SendOutcome::Queued, "written frames leave the budget");
        assert!(!connection.overflowed());
        assert_eq!(
            registry.send("c1", "x".repeat(600)),
            SendOutcome::Overflow,
            "two unread frames are over 1000 bytes"
        );
        assert!(connection.overflowed());
    }

    #[test]
    fn a_close_asked_by_the_service_is_not_an_overflow() {
        let registry = Registry::default();
        let (outbound, _unread) = mpsc::channel(2);
        let connection = Arc::new(Connection::new(outbound, "127.0.0.1".into(), "test".into()));
        registry.insert("c1", connection.clone());
        assert!(registry.close("c1"));
        assert!(!connection.overflowed());
        assert_eq!(registry.send("c1", "late".into()), SendOutcome::Gone);
        assert!(!registry.close("unknown"));
    }
}
