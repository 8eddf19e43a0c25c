//! `CommandError`: the structured, display-ready failure of a command.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::MutationError;

/// How serious a command error is, for the client's styling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Something to look at.
    Warning,
    /// The command failed (the default).
    #[default]
    Error,
}

/// Where a client should show a command error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisplayHint {
    /// A transient notification (the default).
    #[default]
    Toast,
    /// A persistent banner.
    Banner,
    /// Next to the field that `path` points at.
    Inline,
}

/// The failure of a command, sent to the client that sent it as a
/// `command_error` message.
///
/// Built with [`CommandError::new`] and the chained setters; the codes the
/// server itself emits have their own constructors.
///
/// ```
/// use lab_link_core::command::{CommandError, DisplayHint};
///
/// let err = CommandError::new("hardware_timeout", "The voltage source did not respond before the timeout.")
///     .detail("UDP timeout after 5.0 s")
///     .display(DisplayHint::Banner);
/// assert_eq!(err.code(), "hardware_timeout");
/// assert!(err.is_recoverable());
/// ```
///
/// Its serde form is the error's fields of the `command_error` message
/// ([`ServerMessage::CommandError`](crate::protocol::ServerMessage::CommandError));
/// reading one, absent fields take the protocol's defaults, so that even
/// a sparse message still fails its command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandError {
    #[serde(default = "default_code")]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(default)]
    severity: Severity,
    #[serde(default)]
    display: DisplayHint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default)]
    recoverable: bool,
}

fn default_code() -> String {
    "command_failed".to_owned()
}

impl CommandError {
    /// An error with a stable machine-readable `code` and a message for
    /// people: severity `error`, display `toast`, recoverable.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            detail: None,
            severity: Severity::Error,
            display: DisplayHint::Toast,
            path: None,
            recoverable: true,
        }
    }

    /// `unknown_command`: no command of that name is registered.
    pub fn unknown_command(command: &str) -> Self {
        Self::new("unknown_command", format!("Unknown command: '{command}'")).recoverable(false)
    }

    /// `forbidden`: the credential may not run the command.
    pub fn forbidden() -> Self {
        Self::new(
            "forbidden",
            "This credential is not permitted to run that command.",
        )
        .recoverable(false)
    }

    /// `invalid_params`: the params do not fit the command's schema; shown
    /// inline. `field` names the offending parameter.
    pub fn invalid_params(field: &str, message: impl fmt::Display) -> Self {
        let text = if field.is_empty() {
            format!("invalid params: {message}")
        } else {
            format!("invalid parameter `{field}`: {message}")
        };
        let error = Self::new("invalid_params", text).display(DisplayHint::Inline);
        if field.is_empty() {
            error
        } else {
            error.path(format!("/{}", crate::pointer::escape(field)))
        }
    }

    /// `command_failed`: the handler failed unexpectedly (panicked, or
    /// returned an error that is not a `CommandError`).
    pub fn command_failed(message: impl Into<String>) -> Self {
        Self::new("command_failed", message)
    }

    /// `cancelled`: the command was asked to stop (by its client's
    /// `cancel`, or because its client disconnected) and stopped; the
    /// patches it committed before stay.
    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new("cancelled", message).severity(Severity::Warning)
    }

    /// `timeout`: the command ran past its `#[command(timeout = …)]` and
    /// was cancelled.
    pub fn timeout(limit: std::time::Duration) -> Self {
        Self::new(
            "timeout",
            format!("The command did not finish within its timeout of {limit:?}."),
        )
    }

    /// `busy`: a command of the same exclusive group is running; the
    /// message names it (its command, `requestId` and client).
    ///
    /// ```
    /// use lab_link_core::command::CommandError;
    ///
    /// let error = CommandError::busy("ch0", "ramp_channel", Some("r3"), "client-2");
    /// assert_eq!(error.code(), "busy");
    /// assert_eq!(
    ///     error.message(),
    ///     "Busy: ramp_channel (requestId r3, client client-2) is running in the exclusive group \"ch0\"."
    /// );
    /// ```
    pub fn busy(group: &str, command: &str, request_id: Option<&str>, client_id: &str) -> Self {
        let running = describe_command(command, request_id, client_id);
        Self::new(
            "busy",
            format!("Busy: {running} is running in the exclusive group {group:?}."),
        )
        .detail(format!("exclusive group {group:?}"))
    }

    /// `locked`: another principal (or client) holds the control lock;
    /// the message names the holder and since when (`since`, RFC 3339
    /// or any text the server chose).
    ///
    /// ```
    /// use lab_link_core::command::CommandError;
    ///
    /// let error = CommandError::locked("bench laptop", "2026-12-03T17:00:00Z");
    /// assert_eq!(error.code(), "locked");
    /// assert_eq!(
    ///     error.message(),
    ///     "Locked: \"bench laptop\" holds control since 2026-12-03T17:00:00Z."
    /// );
    /// ```
    pub fn locked(holder: &str, since: &str) -> Self {
        Self::new(
            "locked",
            format!("Locked: {holder:?} holds control since {since}."),
        )
        .detail(format!("control lock held by {holder:?} since {since}"))
        .severity(Severity::Warning)
    }

    /// A longer, technical explanation.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// How serious it is (default `error`).
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Where to show it (default `toast`).
    #[must_use]
    pub fn display(mut self, display: DisplayHint) -> Self {
        self.display = display;
        self
    }

    /// The JSON Pointer of the state field (or parameter) it concerns.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Whether retrying can succeed (default `true`).
    #[must_use]
    pub fn recoverable(mut self, recoverable: bool) -> Self {
        self.recoverable = recoverable;
        self
    }

    /// The stable code (`"invalid_params"`, `"hardware_timeout"`, …).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The detail, if any.
    pub fn detail_text(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The path, if any.
    pub fn path_str(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The severity.
    pub fn severity_level(&self) -> Severity {
        self.severity
    }

    /// The display hint.
    pub fn display_hint(&self) -> DisplayHint {
        self.display
    }

    /// Whether retrying can succeed.
    pub fn is_recoverable(&self) -> bool {
        self.recoverable
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CommandError {}

/// A refused write becomes `invalid_value`, shown inline at the field's
/// path.
impl From<MutationError> for CommandError {
    fn from(error: MutationError) -> Self {
        CommandError::new("invalid_value", error.kind().to_string())
            .display(DisplayHint::Inline)
            .path(error.path())
    }
}

/// A running command for people: `ramp (requestId r1, client c1)`.
pub(crate) fn describe_command(command: &str, request_id: Option<&str>, client_id: &str) -> String {
    let request = request_id.map_or_else(String::new, |id| format!("requestId {id}, "));
    format!("{command} ({request}client {client_id})")
}
