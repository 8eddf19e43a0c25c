//! What the client handles and the background task share: the replica,
//! the event channel and the options.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::{ClientInfo, Event, Presence};

/// The options of a [`ClientBuilder`](crate::ClientBuilder), with their
/// defaults.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) bearer_token: Option<String>,
    pub(crate) command_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect: bool,
    /// Open the socket with `?level=2` (level 2, part 2).
    pub(crate) level2: bool,
    /// What the level-2 `hello` says of the client.
    pub(crate) hello: ClientInfo,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bearer_token: None,
            command_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            reconnect: true,
            level2: false,
            hello: ClientInfo {
                kind: Some("rust".to_owned()),
                name: None,
            },
        }
    }
}

/// What the client handles and the background task share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) replica: Mutex<Replica>,
    pub(crate) resyncs: AtomicU64,
    pub(crate) events: broadcast::Sender<Event>,
    /// Who is connected, from the level-2 presence messages.
    pub(crate) presence: Mutex<Presence>,
    pub(crate) next_request: AtomicU64,
    pub(crate) options: Options,
}

/// The replica: a copy of the server's document at `version`.
#[derive(Debug)]
pub(crate) struct Replica {
    pub(crate) document: Value,
    pub(crate) version: u64,
    pub(crate) client_id: Option<String>,
    /// Set while a resync is requested: patches are discarded until the
    /// fresh snapshot arrives.
    pub(crate) resyncing: bool,
}

impl Shared {
    pub(crate) fn presence(&self) -> std::sync::MutexGuard<'_, Presence> {
        // Replaced or changed by whole entries.
        self.presence
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Replica> {
        // The replica is only replaced or patched atomically; a panic
        // elsewhere cannot leave it half-updated.
        self.replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
