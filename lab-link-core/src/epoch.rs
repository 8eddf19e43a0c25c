//! [`Epoch`]: the identity of one instance of an authoritative state, so
//! that versions from two instances are never taken for one sequence.
//!
//! A version counts commits of one [`LabSync`](crate::LabSync) instance.
//! When the process that owns it restarts, the new instance counts again
//! (from 0, or from a restored document's version), and version 42 of the
//! new one is not version 42 of the old one. The epoch tells them apart: a
//! random one per instance by default, or one the application chooses
//! (say, from its deployment), fixed for the instance's life.
//!
//! Transports carry it next to versions: `lab-link-nats` publishes every
//! patch with the message id `<epoch>:<version>` and refuses to follow a
//! stream across epochs as if it were one.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The longest epoch [`Epoch::new`] takes, in bytes.
pub const MAX_EPOCH_LEN: usize = 64;

/// The identity of one instance of an authoritative state: 1 to 64 ASCII
/// letters, digits, `-` or `_` (so it goes into a NATS header, a message
/// id or a JSON string as it is).
///
/// ```
/// use lab_link_core::{Epoch, LabSync};
///
/// // A random epoch per instance...
/// let first = LabSync::new(vec![0_u8]);
/// let second = LabSync::new(vec![0_u8]);
/// assert_ne!(first.epoch(), second.epoch());
///
/// // ...or one the application chooses.
/// let chosen = Epoch::new("beamline-7-2026-12-03")?;
/// let sync = LabSync::new(vec![0_u8]).with_epoch(chosen.clone());
/// assert_eq!(sync.epoch(), chosen);
/// assert!(Epoch::new("has:colon").is_err());
/// # Ok::<(), lab_link_core::EpochError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Epoch(Arc<str>);

/// Why a text is not an [`Epoch`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an epoch is 1 to {MAX_EPOCH_LEN} ASCII letters, digits, '-' or '_', not {0:?}")]
pub struct EpochError(String);

impl Epoch {
    /// Checks `epoch` and takes it.
    ///
    /// # Errors
    ///
    /// When it is empty, longer than [`MAX_EPOCH_LEN`], or has a character
    /// other than an ASCII letter, digit, `-` or `_`.
    pub fn new(epoch: impl Into<String>) -> Result<Self, EpochError> {
        let epoch = epoch.into();
        let valid = (1..=MAX_EPOCH_LEN).contains(&epoch.len())
            && epoch
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(epoch.into()))
        } else {
            Err(EpochError(epoch))
        }
    }

    /// A new random epoch: 16 hexadecimal digits, different for every call
    /// in every process (from the standard library's per-process random
    /// hash keys, the time and a counter; not for cryptography).
    pub fn random() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u32(std::process::id());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        hasher.write_u128(nanos);
        Self(format!("{:016x}", hasher.finish()).into())
    }

    /// The epoch's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Epoch {
    type Error = EpochError;

    fn try_from(epoch: String) -> Result<Self, EpochError> {
        Self::new(epoch)
    }
}

impl From<Epoch> for String {
    fn from(epoch: Epoch) -> Self {
        epoch.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{Epoch, MAX_EPOCH_LEN};

    #[track_caller]
    fn check(text: &str, valid: bool) {
        assert_eq!(Epoch::new(text).is_ok(), valid, "{text:?}");
    }

    #[test]
    fn takes_only_header_safe_text() {
        check("a", true);
        check("run-7_B", true);
        check(&"x".repeat(MAX_EPOCH_LEN), true);
        check("", false);
        check(&"x".repeat(MAX_EPOCH_LEN + 1), false);
        check("a:b", false);
        check("a b", false);
        check("é", false);
        check("a.b", false);
    }

    #[test]
    fn random_epochs_differ_and_are_valid() {
        let epochs: std::collections::HashSet<Epoch> = (0..100).map(|_| Epoch::random()).collect();
        assert_eq!(epochs.len(), 100);
        for epoch in &epochs {
            assert_eq!(Epoch::new(epoch.as_str()).as_ref(), Ok(epoch));
            assert_eq!(epoch.as_str().len(), 16);
        }
    }

    #[test]
    fn serialises_as_its_text_and_checks_it_when_read() {
        let epoch = Epoch::new("e1").unwrap();
        assert_eq!(serde_json::to_string(&epoch).unwrap(), r#""e1""#);
        assert_eq!(serde_json::from_str::<Epoch>(r#""e1""#).unwrap(), epoch);
        assert!(serde_json::from_str::<Epoch>(r#""e:1""#).is_err());
    }
}
