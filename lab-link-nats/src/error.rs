//! [`Error`]: what can go wrong talking to JetStream, opaque with
//! predicates.

use std::fmt;

/// A failure of a [`Publisher`](crate::Publisher) or a
/// [`Follower`](crate::Follower).
///
/// Opaque on purpose: ask it with the `is_*` predicates. Its display text
/// says what happened, for logs; its wording is not stable.
///
/// ```
/// use lab_link_nats::Instrument;
///
/// let error = Instrument::new("beamline 7").unwrap_err();
/// assert!(error.is_invalid_name());
/// assert!(!error.is_fenced());
/// ```
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An instrument name NATS cannot carry.
    InvalidName,
    /// Another primary appended to the instrument's stream or wrote its
    /// snapshot: this one must not go on.
    Fenced,
    /// The NATS server did not answer, or refused a JetStream request.
    Unavailable,
    /// No snapshot of the instrument in the bucket: no primary has
    /// published it yet.
    NotPublished,
    /// The publisher's task is gone (dropped, or stopped after a fence).
    Stopped,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An error from the NATS client, with what was being done.
    pub(crate) fn unavailable(doing: &str, error: impl fmt::Display) -> Self {
        Self::new(Kind::Unavailable, format!("{doing}: {error}"))
    }

    /// The instrument name is not 1 to 64 ASCII letters, digits, `-` or `_`.
    pub fn is_invalid_name(&self) -> bool {
        self.kind == Kind::InvalidName
    }

    /// Another primary took the instrument over: this publisher stopped
    /// and appends nothing more.
    pub fn is_fenced(&self) -> bool {
        self.kind == Kind::Fenced
    }

    /// The NATS server is unreachable or refused the request (no
    /// JetStream, a stream or bucket configured otherwise, a time-out).
    pub fn is_unavailable(&self) -> bool {
        self.kind == Kind::Unavailable
    }

    /// The instrument has no snapshot yet: start its publisher first.
    pub fn is_not_published(&self) -> bool {
        self.kind == Kind::NotPublished
    }

    /// The publisher is no longer running.
    pub fn is_stopped(&self) -> bool {
        self.kind == Kind::Stopped
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
