//! Who is connected, as every level-2 client that may `read_state` sees
//! it (with [`ServerConfig::presence`](crate::ServerConfig::presence)):
//! the `presence` list each one gets after its running commands, and the
//! `presence_joined`, `presence_updated` and `presence_left` deltas.
//!
//! Like the running commands, presence is off the versioned state: it
//! never bumps the version and level-1 clients never see it. A socket's
//! list and the deltas are queued under the list's lock, so a client
//! misses no delta after its list and gets none twice. Labels come from
//! the socket's principal, never from what the client says of itself.

use std::borrow::Cow;
use std::sync::Mutex;

use lab_link_core::protocol::{PresenceEntry, ServerMessage};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::control::Held;
use crate::shared::{lock, Feed, Shared};

/// The connected clients of one [`Routes`](crate::Routes), and the
/// control lock, under one lock so that a list shows both as of one
/// instant.
#[derive(Debug, Default)]
pub(crate) struct Presence {
    pub(crate) inner: Mutex<PresenceState>,
}

/// What the presence lock guards.
#[derive(Debug, Default)]
pub(crate) struct PresenceState {
    /// Oldest connection first.
    pub(crate) clients: Vec<PresenceEntry>,
    /// Who holds the control lock, if anyone.
    pub(crate) lock: Option<Held>,
}

impl Presence {
    /// Calls `queue` with the `presence` message, holding the list's lock
    /// so that no delta is broadcast meanwhile.
    pub(crate) fn with_list(&self, queue: impl FnOnce(Utf8Bytes)) {
        let state = lock(&self.inner);
        let text = ServerMessage::Presence {
            clients: Cow::Borrowed(&state.clients),
            lock: state.lock.as_ref().map(|held| Cow::Borrowed(&held.wire)),
        }
        .to_text();
        queue(Utf8Bytes::from(text));
    }
}

impl Shared {
    /// Lists a client that connected and tells the others.
    pub(crate) fn presence_joined(&self, entry: PresenceEntry) {
        if !self.config.presence {
            return;
        }
        let mut state = lock(&self.presence.inner);
        let text = ServerMessage::PresenceJoined {
            client: Cow::Borrowed(&entry),
        }
        .to_text();
        state.clients.push(entry);
        self.broadcast(Feed::Presence, text);
    }

    /// Changes a client's entry with `change` and broadcasts the whole
    /// entry.
    pub(crate) fn presence_updated(
        &self,
        client_id: &str,
        change: impl FnOnce(&mut PresenceEntry),
    ) {
        if !self.config.presence {
            return;
        }
        let mut state = lock(&self.presence.inner);
        let Some(entry) = state
            .clients
            .iter_mut()
            .find(|entry| entry.client_id == client_id)
        else {
            return;
        };
        change(entry);
        let text = ServerMessage::PresenceUpdated {
            client: Cow::Borrowed(entry),
        }
        .to_text();
        self.broadcast(Feed::Presence, text);
    }

    /// Removes a client that left and tells the others.
    pub(crate) fn presence_left(&self, client_id: &str) {
        if !self.config.presence {
            return;
        }
        let mut state = lock(&self.presence.inner);
        let before = state.clients.len();
        state.clients.retain(|entry| entry.client_id != client_id);
        if state.clients.len() == before {
            return;
        }
        let text = ServerMessage::PresenceLeft {
            client_id: Cow::Borrowed(client_id),
        }
        .to_text();
        self.broadcast(Feed::Presence, text);
    }
}
