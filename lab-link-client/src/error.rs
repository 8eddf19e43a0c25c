//! What can go wrong: [`ClientError`], and [`CommandFailure`], the
//! server's structured `command_error`.

use std::fmt;

use lab_link_core::command::{CommandError, DisplayHint, Severity};

/// Why a [`Client`](crate::Client) call failed.
///
/// Match on the variants or ask the `is_*` predicates; the `Display` text
/// is meant for people and is not part of the stable API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server ran the command and answered with a `command_error`.
    #[error("the command failed: {0}")]
    Command(CommandFailure),
    /// No `command_ack` or `command_error` arrived within the command
    /// timeout. The command may still run on the server.
    #[error("no answer to the command within {0:?}")]
    Timeout(std::time::Duration),
    /// The connection was lost (or was being re-established) before the
    /// command was answered; whether it ran is unknown.
    #[error("the connection to the server was lost")]
    Disconnected,
    /// [`Client::close`](crate::Client::close) was called.
    #[error("the client is closed")]
    Closed,
    /// The connection could not be opened: refused, a bad URL, a failed
    /// WebSocket handshake (an HTTP 403 for a bad token, say).
    #[error("could not connect: {0}")]
    Connect(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    /// The connection was not opened, or the server sent no snapshot,
    /// within the connect timeout.
    #[error("the server did not answer within {0:?}")]
    ConnectTimeout(std::time::Duration),
    /// The server broke the protocol while connecting (its first message
    /// was not a `snapshot`, or the socket closed before one).
    #[error("protocol violation: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Whether the server answered the command with a `command_error`
    /// ([`command_failure`](Self::command_failure) has the details).
    pub fn is_command(&self) -> bool {
        matches!(self, Self::Command(_))
    }

    /// Whether the command was not answered in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::ConnectTimeout(_))
    }

    /// Whether the connection was lost before an answer came.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Self::Disconnected)
    }

    /// Whether the client was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }

    /// Whether connecting failed.
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            Self::Connect(_) | Self::ConnectTimeout(_) | Self::Protocol(_)
        )
    }

    /// The server's `command_error`, when it sent one.
    pub fn command_failure(&self) -> Option<&CommandFailure> {
        match self {
            Self::Command(failure) => Some(failure),
            _ => None,
        }
    }
}

/// A `command_error` from the server: structured and display-ready
/// (PROTOCOL.md, "Command failure").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandFailure {
    /// Stable machine-readable code: `unknown_command`, `forbidden`,
    /// `invalid_params`, `command_failed`, or the application's own.
    pub code: String,
    /// Readable message for a person.
    pub message: String,
    /// Technical detail, when the server sent one.
    pub detail: Option<String>,
    /// `info`, `warning` or `error`.
    pub severity: String,
    /// `toast`, `banner` or `inline`.
    pub display: String,
    /// The JSON Pointer of the offending value, when there is one.
    pub path: Option<String>,
    /// Whether trying again may succeed.
    pub recoverable: bool,
}

impl CommandFailure {
    /// The failure a `command_error` message carries.
    pub(crate) fn from_error(error: &CommandError) -> Self {
        Self {
            code: error.code().to_owned(),
            message: error.message().to_owned(),
            detail: error.detail_text().map(str::to_owned),
            severity: match error.severity_level() {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Error => "error",
            }
            .to_owned(),
            display: match error.display_hint() {
                DisplayHint::Toast => "toast",
                DisplayHint::Banner => "banner",
                DisplayHint::Inline => "inline",
            }
            .to_owned(),
            path: error.path_str().map(str::to_owned),
            recoverable: error.is_recoverable(),
        }
    }

    /// A failure the client finds itself, before sending: what the server
    /// would answer.
    pub(crate) fn invalid_params(problem: String) -> Self {
        Self::from_error(&CommandError::invalid_params("", problem))
    }
}

impl fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}
