//! Commands: the only way clients change the state.
//!
//! A command is a named handler the server runs on a client's request.
//! `#[command]` (in the facade) turns a plain `fn` or `async fn` into a
//! [`Command`]: its parameters (except the special ones, [`CommandContext`]
//! and `LabSync<S>`) become a params struct with a JSON Schema, and its
//! doc comment the description. [`LabSync::command`](crate::LabSync::command)
//! registers it; [`SyncSource::dispatch`](crate::SyncSource::dispatch) runs it with
//! the command's metadata in scope, so every patch its mutations commit
//! carries `originClientId`, `requestId` and `command`.

mod context;
mod control;
mod error;
mod exclusive;
mod scope;
#[doc(hidden)]
pub mod support;

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};

pub use context::{CommandContext, Principal};
pub use control::{CancelReason, CommandControl, CommandPolicy, Progress};
pub use error::{CommandError, DisplayHint, Severity};
pub(crate) use exclusive::{group_name, Acquired, ExclusiveGroups};
pub(crate) use scope::current_meta;
pub use scope::{scope_sync, with_meta, WithMeta};

use crate::LabSync;

/// The future of a running command: its `result` (`None` to send none) or
/// its error.
pub type CommandFuture = Pin<Box<dyn Future<Output = Result<Option<Value>, CommandError>> + Send>>;

/// A command handler, as `#[command]` generates it. You do not implement
/// it by hand (you can, for handlers built at run time).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a lab-link command",
    label = "expected a function marked `#[command]`",
    note = "put `#[lab_link::command]` on the handler function"
)]
pub trait Command<S>: Send + Sync + 'static {
    /// The command's name, schemas and requirements.
    fn info(&self) -> CommandInfo;

    /// Runs the command with raw JSON params (validated against the params
    /// struct first: a mismatch is an `invalid_params` error naming the
    /// field).
    fn call(
        &self,
        sync: LabSync<S>,
        ctx: CommandContext,
        params: Map<String, Value>,
    ) -> CommandFuture;

    /// How the command runs beside others: its exclusive group, timeout
    /// and whether its client's disconnect cancels it (the
    /// `#[command(...)]` options; none by default).
    fn policy(&self) -> CommandPolicy {
        CommandPolicy::default()
    }
}

/// What clients can discover about a command.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CommandInfo {
    /// The wire name.
    pub name: String,
    /// The handler's doc comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The capabilities a principal needs to run it: `["control"]` unless
    /// the command declares its own; empty: any principal.
    pub requires: Vec<String>,
    /// JSON Schema of the params object.
    pub params: Value,
    /// JSON Schema of the result.
    pub result: Value,
    /// The state fields the command sets, each bound to the param that
    /// carries the new value (`#[command(edits = "…", value = …)]`); empty
    /// when it declares none.
    pub edits: Vec<Edit>,
    /// How it runs beside others (its exclusive group, queueing, timeout,
    /// cancel on disconnect): [`Command::policy`]. In the schema as the
    /// fields `exclusive`, `queue`, `timeoutMs` and `cancelOnDisconnect`,
    /// each only when set.
    #[serde(flatten)]
    pub policy: CommandPolicy,
}

/// A command's declaration that it sets one state field: a generated UI
/// makes the field editable through the command.
///
/// ```
/// use lab_link_core::command::Edit;
///
/// let edit = Edit::new("/channels/{channel}/bias_voltage", "value");
/// assert_eq!(
///     serde_json::to_value(&edit)?,
///     serde_json::json!({"path": "/channels/{channel}/bias_voltage", "value": "value"}),
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Edit {
    /// The field's JSON Pointer, with `{param}` where a param of the
    /// command fills in an index or a key.
    pub path: String,
    /// The param whose value the field is set to.
    pub value: String,
}

/// The names of the server's built-in commands (`claim_control`,
/// `release_control`: the control lock), which no registered command may
/// take.
///
/// ```
/// use lab_link_core::command::RESERVED_COMMANDS;
///
/// assert!(RESERVED_COMMANDS.contains(&"claim_control"));
/// ```
pub const RESERVED_COMMANDS: [&str; 2] = ["claim_control", "release_control"];

/// Why [`LabSync::try_command`](crate::LabSync::try_command) refused a
/// command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// A command of this name is already registered.
    #[error("a command named {0:?} is already registered")]
    Duplicate(String),
    /// The name is one of the server's built-in commands
    /// ([`RESERVED_COMMANDS`]).
    #[error("{0:?} is the name of a built-in command of the server: rename the command")]
    Reserved(String),
    /// An `edits` path does not exist in the state type.
    #[error("command {command:?} edits {path:?}, which is not a field of the state: {reason}")]
    UnknownPath {
        /// The command's name.
        command: String,
        /// The path template as declared.
        path: String,
        /// Where and why the path leaves the state type.
        reason: String,
    },
    /// Two commands edit the same field.
    #[error(
        "commands {other:?} and {command:?} both edit the same field ({other_path:?} and \
         {path:?}): a field has one editing command; drop one `edits` binding"
    )]
    SameField {
        /// The command being registered.
        command: String,
        /// Its path template.
        path: String,
        /// The command registered earlier that edits the field.
        other: String,
        /// That command's path template.
        other_path: String,
    },
}
