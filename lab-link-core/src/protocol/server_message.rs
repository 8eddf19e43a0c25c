//! [`ServerMessage`]: what the server sends, and [`snapshot_text`], the
//! `snapshot` built around a document serialised already.

use std::borrow::Cow;
use std::collections::VecDeque;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{ControlLock, PresenceEntry, RunningCommand};
use super::{PatchMeta, ProtocolError};
use crate::command::{CommandError, Progress};
use crate::PatchOp;

/// A message from the server to a client, as one JSON text frame with a
/// `type` (PROTOCOL.md). Binary stream frames are [`BinaryFrame`]s.
///
/// The fields borrow where the server holds the value already (the
/// operations of a commit, a command's name), so serialising copies
/// nothing first; a parsed message owns its fields (`ServerMessage<'static>`).
///
/// ```
/// use lab_link_core::protocol::ServerMessage;
/// use lab_link_core::PatchOp;
///
/// let text = r#"{"type":"patch","patch":[{"op":"replace","path":"/enabled","value":true}],"version":42,"requestId":"r7"}"#;
/// let ServerMessage::Patch { patch, version, meta } = ServerMessage::parse(text)? else {
///     panic!("a patch");
/// };
/// assert_eq!(version, 42);
/// assert!(matches!(patch[0], PatchOp::Replace { .. }));
/// assert_eq!(meta.request_id.as_deref(), Some("r7"));
/// # Ok::<(), lab_link_core::protocol::ProtocolError>(())
/// ```
///
/// [`BinaryFrame`]: super::BinaryFrame
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    /// The whole document at `version`: the first message of every
    /// connection (unless it resumes) and the answer to a resync. Clients
    /// treat a later snapshot as a full reset. The server builds it with
    /// [`snapshot_text`](super::snapshot_text).
    Snapshot {
        /// The document.
        data: Value,
        /// Its version; patches follow from `version + 1`.
        version: u64,
        /// Level 2: this connection's id, the `originClientId` of its
        /// commands' patches.
        #[serde(rename = "clientId", default, skip_serializing_if = "Option::is_none")]
        client_id: Option<Cow<'a, str>>,
        /// Level 2, part 2 (opted in): the `schemaHash` of
        /// `GET {prefix}/schema`, so a client can tell whether the schema
        /// it holds is current.
        #[serde(
            rename = "schemaHash",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        schema_hash: Option<Cow<'a, str>>,
    },
    /// One committed change: RFC 6902 operations, `version` one more than
    /// the previous message's. The command metadata is present only when a
    /// command caused it.
    Patch {
        /// The operations.
        patch: Cow<'a, [PatchOp]>,
        /// The version after the patch.
        version: u64,
        /// `originClientId`, `requestId`, `command`.
        #[serde(flatten)]
        meta: Cow<'a, PatchMeta>,
    },
    /// A command succeeded; sent after every patch it caused.
    CommandAck {
        /// The command's name.
        command: Cow<'a, str>,
        /// The `requestId` as the client sent it.
        #[serde(rename = "requestId")]
        request_id: Cow<'a, Value>,
        /// The document version when the ack was sent.
        version: u64,
        /// What the handler returned; absent when it returned nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
    },
    /// A command failed: structured and display-ready.
    CommandError {
        /// The command's name.
        command: Cow<'a, str>,
        /// The `requestId` as the client sent it.
        #[serde(rename = "requestId")]
        request_id: Cow<'a, Value>,
        /// `code`, `message`, `detail`, `severity`, `display`, `path`,
        /// `recoverable`.
        #[serde(flatten)]
        error: Cow<'a, CommandError>,
        /// The id of the connection that sent the command.
        #[serde(
            rename = "originClientId",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        origin_client_id: Option<Cow<'a, str>>,
        /// The document version when the error was sent.
        version: u64,
    },
    /// Level 2, part 2: how far a running command is, to the client that
    /// sent it; always before its ack or error.
    CommandProgress {
        /// The `requestId` as the client sent it.
        #[serde(rename = "requestId")]
        request_id: Cow<'a, Value>,
        /// `fraction`, `message`, `current`, `target`, `unit`, `eta_s`.
        #[serde(flatten)]
        progress: Cow<'a, Progress>,
    },
    /// Level 2, part 2: every command running now, to a client that opted
    /// in, right after its snapshot; `running_*` deltas follow.
    RunningCommands {
        /// The running commands, oldest first.
        commands: Cow<'a, [RunningCommand]>,
    },
    /// Level 2, part 2: a command started running (it awaited).
    RunningStarted {
        /// The new entry.
        #[serde(flatten)]
        running: Cow<'a, RunningCommand>,
    },
    /// Level 2, part 2: a running command's latest progress.
    RunningProgress {
        /// The entry's `id`.
        id: u64,
        /// Its progress report.
        progress: Cow<'a, Progress>,
    },
    /// Level 2, part 2: a running command ended.
    RunningFinished {
        /// The entry's `id`.
        id: u64,
        /// `ok`, or the error's `code` (`cancelled`, `timeout`, …).
        outcome: Cow<'a, str>,
    },
    /// Level 2, presence (with `ServerConfig::presence`): every connected
    /// client and the control lock, to a client that opted in and may
    /// `read_state`, right after its running commands; `presence_*` and
    /// `control_lock` deltas follow.
    Presence {
        /// The connected clients, oldest connection first.
        clients: Cow<'a, [PresenceEntry]>,
        /// The control lock, `null` when nobody holds it.
        lock: Option<Cow<'a, ControlLock>>,
    },
    /// Level 2, presence: a client connected.
    PresenceJoined {
        /// The new entry.
        client: Cow<'a, PresenceEntry>,
    },
    /// Level 2, presence: a client's entry changed (its `hello`, a
    /// command): the whole entry, replacing the one of its `clientId`.
    PresenceUpdated {
        /// The changed entry.
        client: Cow<'a, PresenceEntry>,
    },
    /// Level 2, presence: a client disconnected.
    PresenceLeft {
        /// Its `clientId`.
        #[serde(rename = "clientId")]
        client_id: Cow<'a, str>,
    },
    /// Level 2, presence: the control lock was claimed, released, broken
    /// or ended.
    ControlLock {
        /// The lock now, `null` when nobody holds it.
        lock: Option<Cow<'a, ControlLock>>,
    },
    /// Level 2: a frame the server could not take (`bad_message`); the
    /// connection stays open.
    Error {
        /// Stable machine-readable code.
        code: Cow<'a, str>,
        /// What was wrong, for people.
        message: Cow<'a, str>,
    },
    /// Level 2: the answer to `?since=N` when the server still holds every
    /// patch after `N`; those patches follow.
    Resume {
        /// The version the client holds.
        version: u64,
    },
    /// A stream's whole content, with the seq of the latest update in it.
    StreamSnapshot {
        /// The stream's id.
        id: Cow<'a, str>,
        /// The buffer, the array, or the bins.
        data: StreamData<'a>,
        /// The seq of the latest update it contains.
        seq: u64,
    },
    /// Values appended to an append stream.
    StreamAppend {
        /// The stream's id.
        id: Cow<'a, str>,
        /// The new values, oldest first.
        data: StreamData<'a>,
        /// The stream's seq after this update.
        seq: u64,
    },
    /// A replace stream's new array (JSON samples).
    StreamReplace {
        /// The stream's id.
        id: Cow<'a, str>,
        /// The whole new array.
        data: StreamData<'a>,
        /// The stream's seq after this update.
        seq: u64,
    },
    /// `[bin, delta]` pairs added to an int_delta stream's bins.
    StreamDelta {
        /// The stream's id.
        id: Cow<'a, str>,
        /// The non-zero deltas, by bin.
        deltas: Cow<'a, [(usize, i64)]>,
        /// The stream's seq after this update.
        seq: u64,
    },
}

impl ServerMessage<'_> {
    /// The message's one serialisation: the text frame.
    ///
    /// ```
    /// use lab_link_core::protocol::ServerMessage;
    ///
    /// let resume = ServerMessage::Resume { version: 4 };
    /// assert_eq!(resume.to_text(), r#"{"type":"resume","version":4}"#);
    /// ```
    pub fn to_text(&self) -> String {
        // Invariant: messages hold strings, integers, booleans, JSON
        // values and floats, which always serialise (serde_json writes a
        // non-finite float as `null`).
        serde_json::to_string(self).expect("a server message always serialises")
    }
}

impl ServerMessage<'static> {
    /// Parses one text frame.
    ///
    /// # Errors
    ///
    /// A frame that is not JSON, not a message of a known `type`
    /// ([`ProtocolError::is_unknown_type`]), or whose fields do not fit.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        serde_json::from_str(text).map_err(|e| {
            /// Only the `type`, read again to tell an unknown type from a
            /// broken message (on the error path only).
            #[derive(Deserialize)]
            struct Tag<'a> {
                #[serde(rename = "type", borrow)]
                kind: Cow<'a, str>,
            }
            match serde_json::from_str::<Tag<'_>>(text) {
                Ok(tag) if !KNOWN_TYPES.contains(&&*tag.kind) => {
                    ProtocolError::unknown_type(&tag.kind)
                }
                _ => ProtocolError::new(format!("a malformed server message: {e}")),
            }
        })
    }
}

/// The `type`s of [`ServerMessage`].
const KNOWN_TYPES: [&str; 20] = [
    "snapshot",
    "patch",
    "command_ack",
    "command_error",
    "command_progress",
    "running_commands",
    "running_started",
    "running_progress",
    "running_finished",
    "presence",
    "presence_joined",
    "presence_updated",
    "presence_left",
    "control_lock",
    "error",
    "resume",
    "stream_snapshot",
    "stream_append",
    "stream_replace",
    "stream_delta",
];

/// The `data` of a stream message: always a JSON array on the wire.
///
/// The server serialises from the stream's own buffer (nothing is
/// converted first); a parsed message holds [`StreamData::Values`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamData<'a> {
    /// JSON values: what a parsed message holds.
    Values(Cow<'a, [Value]>),
    /// An append stream's ring buffer, oldest first.
    Ring(&'a VecDeque<Value>),
    /// Float32 samples, each written as the `f64` it widens to: JSON
    /// readers parse numbers as 64-bit floats, and float32's own shortest
    /// text (`1.7543111`) is not the float32 value the binary frame carries
    /// (`1.7543110847473145`); the widened text reads back exactly (see
    /// [`crate::stream`], "Float samples in JSON").
    F32(&'a [f32]),
    /// Float64 samples.
    F64(&'a [f64]),
    /// Integer bins.
    Ints(&'a [i64]),
}

impl Serialize for StreamData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Values(values) => values.serialize(serializer),
            Self::Ring(values) => values.serialize(serializer),
            Self::F32(samples) => {
                serializer.collect_seq(samples.iter().map(|&sample| f64::from(sample)))
            }
            Self::F64(samples) => samples.serialize(serializer),
            Self::Ints(bins) => bins.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for StreamData<'_> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Value>::deserialize(deserializer).map(|values| Self::Values(values.into()))
    }
}

/// Builds the `snapshot` message around a document serialised already
/// (the store's per-version snapshot), without serialising it again: the
/// bytes of [`ServerMessage::Snapshot`]'s serialisation.
///
/// `client_id` is the level-2 `clientId`; level-1 clients ignore it.
/// `schema_hash` is the `schemaHash` of level 2, part 2: only for a
/// client that opted in.
///
/// ```
/// use lab_link_core::protocol::snapshot_text;
///
/// assert_eq!(
///     snapshot_text(r#"{"enabled":false}"#, 41, Some("3f0c"), None),
///     r#"{"type":"snapshot","data":{"enabled":false},"version":41,"clientId":"3f0c"}"#
/// );
/// assert_eq!(snapshot_text("[]", 0, None, None), r#"{"type":"snapshot","data":[],"version":0}"#);
/// assert_eq!(
///     snapshot_text("[]", 0, Some("c"), Some("sha256:00")),
///     r#"{"type":"snapshot","data":[],"version":0,"clientId":"c","schemaHash":"sha256:00"}"#
/// );
/// ```
pub fn snapshot_text(
    document_json: &str,
    version: u64,
    client_id: Option<&str>,
    schema_hash: Option<&str>,
) -> String {
    let mut message = String::with_capacity(document_json.len() + 96);
    message.push_str(r#"{"type":"snapshot","data":"#);
    message.push_str(document_json);
    message.push_str(r#","version":"#);
    message.push_str(&version.to_string());
    if let Some(client_id) = client_id {
        message.push_str(r#","clientId":"#);
        // Invariant: a string always serialises.
        message.push_str(&serde_json::to_string(client_id).expect("a string always serialises"));
    }
    if let Some(schema_hash) = schema_hash {
        message.push_str(r#","schemaHash":"#);
        // Invariant: a string always serialises.
        message.push_str(&serde_json::to_string(schema_hash).expect("a string always serialises"));
    }
    message.push('}');
    message
}
