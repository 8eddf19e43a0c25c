//! The error of a refused write to the typed state.

use std::fmt;

/// A write to the typed state that the tracker refused.
///
/// Nothing changed: neither the typed state nor the mirror, and no
/// operation was recorded. [`path`](MutationError::path) names the JSON
/// Pointer of the value the write was aimed at, which is what a client
/// needs to show the error next to the right field.
///
/// ```
/// use lab_link_core::reactive::{MutationError, MutationErrorKind};
///
/// let err = MutationError::new("/channels/0/bias_voltage", MutationErrorKind::NonFinite);
/// assert_eq!(err.path(), "/channels/0/bias_voltage");
/// assert_eq!(
///     err.to_string(),
///     "refused write to \"/channels/0/bias_voltage\": NaN and infinite numbers have no JSON form"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct MutationError {
    path: String,
    kind: MutationErrorKind,
}

impl MutationError {
    /// A refused write at the escaped JSON Pointer `path`.
    pub fn new(path: impl Into<String>, kind: MutationErrorKind) -> Self {
        Self {
            path: path.into(),
            kind,
        }
    }

    /// The escaped JSON Pointer the write was aimed at.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Why the write was refused.
    pub fn kind(&self) -> &MutationErrorKind {
        &self.kind
    }
}

impl fmt::Display for MutationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused write to {:?}: {}", self.path, self.kind)
    }
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MutationErrorKind {
    /// The value holds a NaN or an infinite float.
    #[error("NaN and infinite numbers have no JSON form")]
    NonFinite,
    /// A number outside the field's declared range.
    #[error("{value} is outside the allowed range {range}")]
    OutOfRange {
        /// The refused value, as written.
        value: String,
        /// The declared range, as written in the attribute.
        range: String,
    },
    /// The field's validator refused the value.
    #[error("{message}")]
    Invalid {
        /// The validator's message.
        message: String,
    },
    /// An index at or past the end of a list.
    #[error("index {index} is out of range for a list of length {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The list's length.
        len: usize,
    },
    /// A key the map does not hold.
    #[error("no entry {key:?} in the map")]
    NoSuchKey {
        /// The key asked for.
        key: String,
    },
    /// An `Option` that is `None` where a value was needed.
    #[error("the value is None")]
    IsNone,
    /// The value does not serialise to JSON (for example a map with
    /// non-string keys).
    #[error("the value does not serialise to JSON: {message}")]
    Serialize {
        /// serde's message.
        message: String,
    },
}
