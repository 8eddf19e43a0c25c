//! The level-2 types of presence: [`PresenceEntry`] (one connected
//! client, as every level-2 client with `read_state` sees it) and
//! [`ControlLock`] (who holds the control lock, and since when).

use serde::{Deserialize, Serialize};

/// One connected client, as `presence`, `presence_joined` and
/// `presence_updated` carry it. The `principal` label comes from access
/// control (the session's device name, the token's label, or `local`
/// without access control), never from the client: its `hello` only
/// supplies `kind` and `name`.
///
/// ```
/// use lab_link_core::protocol::PresenceEntry;
///
/// let entry = PresenceEntry {
///     client_id: "3f0c".into(),
///     principal: "bench laptop".into(),
///     kind: Some("browser".into()),
///     name: None,
///     connected_at: 1_700_000_000_000,
///     last_command_at: None,
/// };
/// assert_eq!(
///     serde_json::to_value(&entry)?,
///     serde_json::json!({"clientId": "3f0c", "principal": "bench laptop", "kind": "browser",
///                        "connectedAt": 1_700_000_000_000_u64}),
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEntry {
    /// The connection's id, its snapshot's `clientId`.
    pub client_id: String,
    /// The label of the connection's principal.
    pub principal: String,
    /// The kind the client gave in its `hello` (`browser`, `python`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The name the client gave in its `hello`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it connected, in milliseconds since the Unix epoch.
    pub connected_at: u64,
    /// When it last sent a command, in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_command_at: Option<u64>,
}

/// The control lock, as `presence` and `control_lock` carry it: while it
/// is held, commands that need `control` from anyone but its holder are
/// refused with `locked`.
///
/// ```
/// use lab_link_core::protocol::ControlLock;
///
/// let lock = ControlLock {
///     holder: "bench laptop".into(),
///     client_id: "3f0c".into(),
///     since: 1_700_000_000_000,
/// };
/// assert_eq!(
///     serde_json::to_value(&lock)?,
///     serde_json::json!({"holder": "bench laptop", "clientId": "3f0c", "since": 1_700_000_000_000_u64}),
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlLock {
    /// The label of the principal holding it.
    pub holder: String,
    /// The connection that claimed it.
    pub client_id: String,
    /// When it was claimed, in milliseconds since the Unix epoch.
    pub since: u64,
}
