//! What many tests assert: no panic anywhere in the process, and who is in a list of users.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

static PANICS: AtomicU64 = AtomicU64::new(0);

/// Counts panics anywhere in this process (spawned server tasks included) from now on.
pub fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// Panics counted since [`count_panics`] was first called.
pub fn panics() -> u64 {
    PANICS.load(Ordering::SeqCst)
}

/// The `userId`s of a JSON array of `User`s.
pub fn user_ids(users: &Value) -> Vec<String> {
    users
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["userId"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
