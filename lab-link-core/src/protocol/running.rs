//! The level-2 types of long-running commands that several messages
//! share: [`RunningCommand`] (one entry of the running-commands list) and
//! [`ClientInfo`] (what a client says of itself in its `hello`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::command::Progress;

/// A command that is running on the server, as every level-2 client sees
/// it in `running_commands` and `running_started`. Only commands that
/// awaited are listed: one that finished in its first step never shows.
///
/// ```
/// use lab_link_core::protocol::RunningCommand;
///
/// let running = RunningCommand {
///     id: 3,
///     command: "ramp_channel".into(),
///     client_id: "3f0c".into(),
///     request_id: Some(serde_json::json!("r7")),
///     client: None,
///     started_at: 1_700_000_000_000,
///     progress: None,
/// };
/// assert_eq!(
///     serde_json::to_value(&running)?,
///     serde_json::json!({"id": 3, "command": "ramp_channel", "clientId": "3f0c",
///                        "requestId": "r7", "startedAt": 1_700_000_000_000_u64}),
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunningCommand {
    /// The server's id of this run, named by `running_progress` and
    /// `running_finished`.
    pub id: u64,
    /// The command's name.
    pub command: String,
    /// The id of the connection that started it.
    pub client_id: String,
    /// Its `requestId` as the client sent it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Value>,
    /// What that client said of itself in its `hello`, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientInfo>,
    /// When it started, in milliseconds since the Unix epoch.
    pub started_at: u64,
    /// Its latest progress report, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// What a client says of itself in its `hello`: its kind (`browser`,
/// `script`, …) and a name for people. Never an identity: a principal's
/// label comes from access control, not from here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The kind of client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ClientInfo {
    /// The longest `kind` a hello may carry, in characters.
    pub const MAX_KIND: usize = 32;
    /// The longest `name` a hello may carry, in characters.
    pub const MAX_NAME: usize = 64;
}
