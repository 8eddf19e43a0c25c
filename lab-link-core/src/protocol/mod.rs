//! The wire protocol: every message the server sends and every message a
//! client sends, typed, with their one serialisation and their parsing.
//!
//! Field names and shapes follow PROTOCOL.md: level 1 is byte-compatible
//! with lab-link 0.5.0 (its Python client and its browser runtime), level 2
//! adds what a level-1 client ignores (`clientId` in the snapshot,
//! `resume`, `error`, `resync`, binary tag `0x02`), and the messages of
//! level 2, part 2, which the server sends only to a client that opted in
//! with `?level=2` or a `hello` (`schemaHash` in the snapshot,
//! `command_progress`, `running_commands`, `running_started`,
//! `running_progress`, `running_finished`; presence: `presence`,
//! `presence_joined`, `presence_updated`, `presence_left`, `control_lock`;
//! the client's `cancel`). The book's chapter
//! "Wire protocol" describes each message and the ordering guarantees; this
//! module is where they are defined, for the server, the Rust client and
//! the tests alike, so no crate builds or matches a message by hand.
//!
//! - [`ServerMessage`]: server to client, text frames. Serialised once per
//!   message ([`ServerMessage::to_text`]); a `patch` is serialised once per
//!   version by the store and the same text goes to every client. The
//!   `snapshot` wraps a document that is already serialised (once per
//!   version), so it has its own builder, [`snapshot_text`], which copies
//!   the document text in instead of serialising it again.
//! - [`ClientMessage`]: client to server. [`ClientMessage::parse`] is
//!   strict and says what is wrong with a malformed frame (the server
//!   answers it with a `bad_message` error).
//! - [`binary_frame`] and [`decode_binary_frame`]: the binary frames of
//!   float replace streams (tag `0x01` float32, `0x02` float64).
//!
//! The two enums are exhaustive on purpose: a new message is a new
//! variant, and the compiler then points at every place in the server and
//! the client that must handle it.
//!
//! ```
//! use std::borrow::Cow;
//! use lab_link_core::protocol::{ClientMessage, ServerMessage};
//!
//! let ack = ServerMessage::CommandAck {
//!     command: "set_channel".into(),
//!     request_id: Cow::Owned(serde_json::json!("r7")),
//!     version: 43,
//!     result: None,
//! };
//! let text = ack.to_text();
//! assert_eq!(text, r#"{"type":"command_ack","command":"set_channel","requestId":"r7","version":43}"#);
//! assert_eq!(ServerMessage::parse(&text)?, ack);
//!
//! let resync = ClientMessage::parse(r#"{"type":"resync"}"#)?;
//! assert_eq!(resync, ClientMessage::Resync);
//! # Ok::<(), lab_link_core::protocol::ProtocolError>(())
//! ```

mod binary;
mod client_message;
mod presence;
mod running;
mod server_message;

pub use binary::{binary_frame, decode_binary_frame, BinaryFrame, TAG_F32, TAG_F64};
pub use client_message::ClientMessage;
pub use presence::{ControlLock, PresenceEntry};
pub use running::{ClientInfo, RunningCommand};
pub use server_message::{snapshot_text, ServerMessage, StreamData};

use serde::{Deserialize, Serialize};

/// What caused a patch: the command that was running when its mutations
/// were recorded. All fields absent means the patch came from the server
/// itself (an updater, `load_state`, …).
///
/// ```
/// use lab_link_core::PatchMeta;
///
/// let meta = PatchMeta {
///     origin_client_id: Some("3f0c".into()),
///     request_id: Some("r7".into()),
///     command: Some("set_enabled".into()),
/// };
/// assert!(!meta.is_empty());
/// assert!(PatchMeta::default().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PatchMeta {
    /// The id of the connection whose command caused the patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_client_id: Option<String>,
    /// The `requestId` of that command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The command's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

impl PatchMeta {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.origin_client_id.is_none() && self.request_id.is_none() && self.command.is_none()
    }
}

/// A frame that is not a well-formed message.
///
/// The [`message`](ProtocolError::message) says what is wrong, for people
/// (the server sends it as a `bad_message` error's text);
/// [`is_unknown_type`](ProtocolError::is_unknown_type) tells a message of a
/// type this version does not know (which a client may ignore) from a
/// broken one.
///
/// ```
/// use lab_link_core::protocol::ClientMessage;
///
/// let error = ClientMessage::parse(r#"{"type":"greet"}"#).unwrap_err();
/// assert!(error.is_unknown_type());
/// assert_eq!(error.message(), r#"unknown message type "greet""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProtocolError {
    message: String,
    unknown_type: bool,
    command: Option<Box<RejectedCommand>>,
}

/// A `command` frame that names its command but whose `params` is not an
/// object: still a command, which the server answers with an
/// `invalid_params` `command_error` echoing its `requestId` (so the client
/// waiting for it learns why at once), in turn with the connection's other
/// commands. See [`ProtocolError::rejected_command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedCommand {
    /// The command's name.
    pub command: String,
    /// The `requestId` as sent (`None` as for [`ClientMessage::Command`]).
    pub request_id: Option<serde_json::Value>,
}

impl ProtocolError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unknown_type: false,
            command: None,
        }
    }

    pub(crate) fn rejected(message: String, command: RejectedCommand) -> Self {
        Self {
            command: Some(Box::new(command)),
            ..Self::new(message)
        }
    }

    pub(crate) fn unknown_type(kind: &str) -> Self {
        Self {
            message: format!("unknown message type {kind:?}"),
            unknown_type: true,
            command: None,
        }
    }

    /// What is wrong with the frame.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the frame is a well-formed object whose `type` is unknown.
    pub fn is_unknown_type(&self) -> bool {
        self.unknown_type
    }

    /// The command of a `command` frame whose `params` is not an object:
    /// the error's [`message`](ProtocolError::message) is then the
    /// `invalid_params` text.
    ///
    /// ```
    /// use lab_link_core::protocol::ClientMessage;
    ///
    /// let error = ClientMessage::parse(r#"{"type":"command","command":"x","params":[1],"requestId":"r1"}"#)
    ///     .unwrap_err();
    /// let rejected = error.rejected_command().expect("still a command");
    /// assert_eq!(rejected.request_id, Some("r1".into()));
    /// assert_eq!(error.message(), r#""params" must be an object of named parameters, not an array"#);
    /// ```
    pub fn rejected_command(&self) -> Option<&RejectedCommand> {
        self.command.as_deref()
    }
}

/// The JSON kind of a value, for error messages.
fn kind_of(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
