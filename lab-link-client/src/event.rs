//! [`Event`]: what the server sent, as the client's subscribers see it.

use lab_link_core::PatchOp;
use serde_json::Value;

/// One server message, delivered to every
/// [`Client::subscribe`](crate::Client::subscribe) receiver after the
/// replica has taken it into account.
///
/// Events are a broadcast: a receiver that falls more than 1024 events
/// behind gets `RecvError::Lagged` and misses the oldest ones; the replica
/// itself never misses anything.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A snapshot replaced the replica (on connect, after a resync, after
    /// reconnecting when the server could not resume).
    Snapshot {
        /// The snapshot's version.
        version: u64,
    },
    /// After a reconnect the server resumed from the replica's version:
    /// the missed patches follow.
    Resumed {
        /// The replica's version the server resumes from.
        version: u64,
    },
    /// A patch was applied to the replica.
    Patch {
        /// The replica's version after the patch.
        version: u64,
        /// The RFC 6902 operations.
        ops: Vec<PatchOp>,
        /// The request id of the command that caused it, if one did.
        request_id: Option<String>,
        /// The name of that command.
        command: Option<String>,
        /// The `clientId` of the connection that sent the command: equal to
        /// [`Client::client_id`](crate::Client::client_id) for this client's
        /// own commands.
        origin_client_id: Option<String>,
    },
    /// A `stream_append` message, as sent (streams get typed support
    /// later).
    StreamAppend(Value),
    /// A `stream_replace` message, as sent.
    StreamReplace(Value),
    /// A `stream_delta` message, as sent.
    StreamDelta(Value),
    /// A `stream_snapshot` message, as sent.
    StreamSnapshot(Value),
    /// A level-2 `error` message (a `bad_message` answer, say).
    Error {
        /// The error's code.
        code: String,
        /// The readable message.
        message: String,
    },
    /// The client was closed (by [`Client::close`](crate::Client::close),
    /// or for good because reconnecting is off): no more events follow.
    Closed,
}
