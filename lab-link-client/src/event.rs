//! [`Event`]: what the server sent, as the client's subscribers see it;
//! [`CommandReply`]: a command's `command_ack`.

use lab_link_core::PatchOp;
use serde_json::Value;

/// One server message, delivered to every
/// [`Client::subscribe`](crate::Client::subscribe) receiver after the
/// replica has taken it into account.
///
/// Events are a broadcast: a receiver that falls more than 1024 events
/// behind gets `RecvError::Lagged` and misses the oldest ones; the replica
/// itself never misses anything. Command acks and errors are not events:
/// they are what [`Client::command`](crate::Client::command) returns.
///
/// ```
/// use lab_link::{LabSync, Server};
/// use lab_link_client::{Client, Event};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sync = LabSync::new(vec![0_i64]);
/// let server = Server::builder().bind(sync.clone(), "127.0.0.1:0").await?;
/// let url = format!("ws://{}/sync/ws", server.local_addr());
/// let routes = server.routes().clone();
/// tokio::spawn(server.run());
///
/// let client = Client::connect(&url).await?;
/// let mut events = client.subscribe();
/// sync.try_mutate(|v| v.set(0, 5))?;
/// match events.recv().await? {
///     // A change made by the server itself: no command caused it.
///     Event::Patch { version, command, .. } => {
///         assert_eq!(version, 1);
///         assert_eq!(command, None);
///     }
///     other => panic!("expected a patch, got {other:?}"),
/// }
/// assert_eq!(client.replica(), serde_json::json!([5]));
///
/// client.close().await;
/// routes.shutdown();
/// # Ok(())
/// # }
/// ```
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
    /// A `stream_append` message, as sent:
    /// `{"type":"stream_append","id":…,"data":[…],"seq":N}`, `data` the
    /// appended values (streams get typed support later).
    StreamAppend(Value),
    /// A `stream_replace` message, as sent:
    /// `{"type":"stream_replace","id":…,"data":[…],"seq":N}`, `data` the
    /// whole new array.
    StreamReplace(Value),
    /// A `stream_delta` message, as sent:
    /// `{"type":"stream_delta","id":…,"deltas":[[bin,delta],…],"seq":N}`.
    StreamDelta(Value),
    /// A `stream_snapshot` message, as sent:
    /// `{"type":"stream_snapshot","id":…,"data":[…],"seq":N}`, `data` the
    /// whole stream and `seq` that of the latest update it holds.
    StreamSnapshot(Value),
    /// A binary replace-stream frame, decoded: tag `0x01` (float32
    /// samples, widened to `f64` exactly) or `0x02` (float64).
    StreamFrame {
        /// The stream's id.
        id: String,
        /// The frame's seq (the wire carries its low 32 bits).
        seq: u32,
        /// The samples.
        samples: Vec<f64>,
    },
    /// A level-2 running-commands message, as sent (with
    /// [`ClientBuilder::level2`](crate::ClientBuilder::level2)):
    /// `running_commands` (the list, after each snapshot),
    /// `running_started`, `running_progress` or `running_finished`.
    Running(Value),
    /// A level-2 presence message, as sent, after
    /// [`Client::presence`](crate::Client::presence) has taken it into
    /// account: `presence` (the list and the lock, after each snapshot),
    /// `presence_joined`, `presence_updated`, `presence_left` or
    /// `control_lock`.
    Presence(Value),
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

/// The answer to a command: its `command_ack`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CommandReply {
    /// The server's version after the command; the replica holds at least
    /// this version when [`Client::command`] returns.
    pub version: u64,
    /// What the command returned, if anything.
    pub result: Option<Value>,
}
