//! The commands running now, as every level-2 client sees them: the
//! `running_commands` list each one gets after its snapshot, and the
//! `running_started`, `running_progress` and `running_finished` deltas.
//!
//! The list is off the versioned state: it never bumps the version and
//! level-1 clients never see it. Only commands that awaited are listed
//! (one that finishes in its first step never shows). A socket's list
//! message and the deltas are queued under the list's lock, so a client
//! misses no delta after its list and gets none twice.

use std::borrow::Cow;
use std::sync::Mutex;

use lab_link_core::command::Progress;
use lab_link_core::protocol::{ClientInfo, RunningCommand, ServerMessage};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::shared::{lock, unix_millis, Feed, Shared};

/// The running commands of one [`Routes`](crate::Routes).
#[derive(Debug, Default)]
pub(crate) struct Running {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// Oldest first.
    commands: Vec<RunningCommand>,
}

/// Who started a running command.
pub(crate) struct Starter<'a> {
    pub(crate) command: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) request_id: Option<&'a Value>,
    pub(crate) client: Option<ClientInfo>,
}

impl Running {
    /// Calls `queue` with the `running_commands` message, holding the
    /// list's lock so that no delta is broadcast meanwhile.
    pub(crate) fn with_list(&self, queue: impl FnOnce(Utf8Bytes)) {
        let inner = lock(&self.inner);
        let text = ServerMessage::RunningCommands {
            commands: Cow::Borrowed(&inner.commands),
        }
        .to_text();
        queue(Utf8Bytes::from(text));
    }
}

impl Shared {
    /// Lists a command that started running; returns its entry's id.
    pub(crate) fn running_started(&self, starter: Starter<'_>) -> u64 {
        let mut inner = lock(&self.running.inner);
        inner.next_id += 1;
        let running = RunningCommand {
            id: inner.next_id,
            command: starter.command.to_owned(),
            client_id: starter.client_id.to_owned(),
            request_id: starter.request_id.cloned(),
            client: starter.client,
            started_at: unix_millis(),
            progress: None,
        };
        let text = ServerMessage::RunningStarted {
            running: Cow::Borrowed(&running),
        }
        .to_text();
        let id = running.id;
        inner.commands.push(running);
        self.broadcast(Feed::Running, text);
        id
    }

    /// Records and broadcasts a running command's latest progress.
    pub(crate) fn running_progress(&self, id: u64, progress: &Progress) {
        let mut inner = lock(&self.running.inner);
        let Some(entry) = inner.commands.iter_mut().find(|entry| entry.id == id) else {
            return;
        };
        entry.progress = Some(progress.clone());
        let text = ServerMessage::RunningProgress {
            id,
            progress: Cow::Borrowed(progress),
        }
        .to_text();
        self.broadcast(Feed::Running, text);
    }

    /// Removes a command that ended, with its outcome (`ok` or the
    /// error's code).
    pub(crate) fn running_finished(&self, id: u64, outcome: &str) {
        let mut inner = lock(&self.running.inner);
        inner.commands.retain(|entry| entry.id != id);
        let text = ServerMessage::RunningFinished {
            id,
            outcome: Cow::Borrowed(outcome),
        }
        .to_text();
        self.broadcast(Feed::Running, text);
    }
}
