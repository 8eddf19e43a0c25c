//! [`Instrument`]: an instrument's name and the NATS names derived from it.

use std::fmt;

use lab_link_core::{Epoch, MAX_EPOCH_LEN};

use crate::error::{Error, Kind};

/// The KV bucket holding every instrument's latest snapshot, one key per
/// instrument.
pub const SNAPSHOT_BUCKET: &str = "lab-link-snapshots";

/// The queue group a primary answers commands in: when two run by
/// mistake, each command runs on one of them only.
pub const COMMAND_QUEUE_GROUP: &str = "lab-link-primary";

/// The header carrying the primary's epoch on every patch message.
pub const EPOCH_HEADER: &str = "Lab-Link-Epoch";

/// An instrument's name, checked so that every NATS name made from it is
/// valid: 1 to 64 ASCII letters, digits, `-` or `_`.
///
/// | what | name |
/// | --- | --- |
/// | JetStream stream | `LAB_LINK_<name>` |
/// | patch subject | `lab-link.<name>.patch` |
/// | command subject | `lab-link.<name>.command` |
/// | snapshot | key `<name>` in the KV bucket `lab-link-snapshots` |
///
/// ```
/// use lab_link_nats::Instrument;
///
/// let supply = Instrument::new("supply-7")?;
/// assert_eq!(supply.stream_name(), "LAB_LINK_supply-7");
/// assert_eq!(supply.patch_subject(), "lab-link.supply-7.patch");
/// assert_eq!(supply.command_subject(), "lab-link.supply-7.command");
/// assert_eq!(supply.snapshot_key(), "supply-7");
/// assert!(Instrument::new("a.b").is_err());
/// # Ok::<(), lab_link_nats::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Instrument {
    name: String,
}

impl Instrument {
    /// Checks `name` and takes it.
    ///
    /// # Errors
    ///
    /// [`Error::is_invalid_name`] when it is empty, longer than 64 bytes, or
    /// has a character other than an ASCII letter, digit, `-` or `_`
    /// (`.`, `*` and `>` are NATS subject syntax).
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        // The alphabet and length of an epoch, which for the same reason
        // (it goes into NATS names and headers as it is) is checked alike.
        let valid = Epoch::new(name.as_str()).is_ok();
        if valid {
            Ok(Self { name })
        } else {
            Err(Error::new(
                Kind::InvalidName,
                format!(
                    "an instrument name is 1 to {MAX_EPOCH_LEN} ASCII letters, digits, '-' or \
                     '_', not {name:?}"
                ),
            ))
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The JetStream stream of its patch messages.
    pub fn stream_name(&self) -> String {
        format!("LAB_LINK_{}", self.name)
    }

    /// The subject its patch messages are published on.
    pub fn patch_subject(&self) -> String {
        format!("lab-link.{}.patch", self.name)
    }

    /// The subject its primary answers commands on (NATS request/reply,
    /// in the queue group [`COMMAND_QUEUE_GROUP`]).
    pub fn command_subject(&self) -> String {
        format!("lab-link.{}.command", self.name)
    }

    /// Its key in the [`SNAPSHOT_BUCKET`].
    pub fn snapshot_key(&self) -> &str {
        &self.name
    }

    /// The key of its schema document (`GET {prefix}/schema` of the
    /// primary) in the [`SNAPSHOT_BUCKET`]: `<name>.schema`, which no
    /// instrument's snapshot key can be (a name has no `.`).
    ///
    /// ```
    /// use lab_link_nats::Instrument;
    ///
    /// assert_eq!(Instrument::new("supply-7")?.schema_key(), "supply-7.schema");
    /// # Ok::<(), lab_link_nats::Error>(())
    /// ```
    pub fn schema_key(&self) -> String {
        format!("{}.schema", self.name)
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::Instrument;

    #[track_caller]
    fn check(name: &str, valid: bool) {
        assert_eq!(Instrument::new(name).is_ok(), valid, "{name:?}");
    }

    #[test]
    fn takes_only_names_every_nats_name_can_carry() {
        check("supply", true);
        check("Beamline_7-a", true);
        check(&"x".repeat(64), true);
        check("", false);
        check(&"x".repeat(65), false);
        check("a.b", false);
        check("a*", false);
        check("a>", false);
        check("a b", false);
        check("ä", false);
    }
}
