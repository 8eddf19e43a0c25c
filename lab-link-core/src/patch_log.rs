//! The bounded log of recent patch messages, for client resume.
//!
//! The log keeps the serialised wire message of each recent version (the
//! very bytes every client was sent), bounded both in number of messages
//! and in bytes. [`PatchLog::since`] answers all the messages after a
//! version, or says that a snapshot is needed: never a partial list.

use std::collections::VecDeque;
use std::sync::Arc;

/// The bounded log of the most recent patch messages.
///
/// ```
/// use lab_link_core::{PatchLog, Since};
/// use std::sync::Arc;
///
/// let mut log = PatchLog::new(2, usize::MAX);
/// for version in 1..=3 {
///     log.push(version, Arc::from(format!("patch {version}")));
/// }
/// // Version 1 was evicted: a client at version 0 needs a snapshot.
/// assert_eq!(log.since(0, 3), Since::SnapshotNeeded);
/// match log.since(1, 3) {
///     Since::Patches(messages) => assert_eq!(messages.len(), 2),
///     Since::SnapshotNeeded => unreachable!(),
/// }
/// ```
#[derive(Debug, Clone)]
pub struct PatchLog {
    /// `(version, message)`, oldest first, versions contiguous.
    entries: VecDeque<(u64, Arc<str>)>,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
}

/// The answer to "which patch messages came after version N?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// Every message after the asked version, oldest first (empty when the
    /// client is up to date).
    Patches(Vec<Arc<str>>),
    /// The log no longer holds every message after that version (or the
    /// version is ahead of the store): send a fresh snapshot instead.
    SnapshotNeeded,
}

impl PatchLog {
    /// An empty log that keeps at most `max_messages` messages and at most
    /// `max_bytes` bytes of them.
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            max_messages,
            max_bytes,
        }
    }

    /// Appends the message of `version`, evicting the oldest messages
    /// while the log is over either bound. A single message larger than
    /// the byte bound is not kept at all.
    ///
    /// # Panics
    ///
    /// Panics when `version` does not directly follow the newest logged
    /// version: the log would otherwise answer with a gap.
    pub fn push(&mut self, version: u64, message: Arc<str>) {
        if let Some(&(last, _)) = self.entries.back() {
            assert_eq!(version, last + 1, "patch log versions must be contiguous");
        }
        self.bytes += message.len();
        self.entries.push_back((version, message));
        while self.entries.len() > self.max_messages || self.bytes > self.max_bytes {
            let Some((_, evicted)) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= evicted.len();
        }
    }

    /// Every message after `version`, given that the store is at `current`.
    pub fn since(&self, version: u64, current: u64) -> Since {
        if version > current {
            return Since::SnapshotNeeded;
        }
        if version == current {
            return Since::Patches(Vec::new());
        }
        match self.entries.front() {
            // The log holds versions first..=current; the client needs
            // version+1..=current.
            Some(&(first, _)) if first <= version + 1 => {
                let skip = usize::try_from(version + 1 - first).unwrap_or(usize::MAX);
                Since::Patches(
                    self.entries
                        .iter()
                        .skip(skip)
                        .map(|(_, m)| m.clone())
                        .collect(),
                )
            }
            _ => Since::SnapshotNeeded,
        }
    }

    /// Forgets every message: the next push may have any version.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// The number of logged messages.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The total size of the logged messages in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The oldest logged version, if any.
    pub fn oldest_version(&self) -> Option<u64> {
        self.entries.front().map(|&(version, _)| version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(versions: std::ops::RangeInclusive<u64>, max_messages: usize) -> PatchLog {
        let mut log = PatchLog::new(max_messages, usize::MAX);
        for version in versions {
            log.push(version, Arc::from(format!("m{version}")));
        }
        log
    }

    #[track_caller]
    fn check(log: &PatchLog, version: u64, current: u64, expect: Option<&[&str]>) {
        let got = match log.since(version, current) {
            Since::Patches(messages) => {
                Some(messages.iter().map(|m| m.to_string()).collect::<Vec<_>>())
            }
            Since::SnapshotNeeded => None,
        };
        assert_eq!(
            got,
            expect.map(|e| e.iter().map(|s| s.to_string()).collect())
        );
    }

    #[test]
    fn since_answers_all_or_snapshot() {
        let log = log_with(1..=10, 4); // keeps 7..=10
        assert_eq!(log.oldest_version(), Some(7));
        check(&log, 10, 10, Some(&[]));
        check(&log, 9, 10, Some(&["m10"]));
        check(&log, 6, 10, Some(&["m7", "m8", "m9", "m10"]));
        check(&log, 5, 10, None);
        check(&log, 0, 10, None);
        check(&log, 11, 10, None);
    }

    #[test]
    fn byte_bound_evicts_oldest() {
        let mut log = PatchLog::new(100, 10);
        log.push(1, Arc::from("aaaa"));
        log.push(2, Arc::from("bbbb"));
        assert_eq!((log.len(), log.bytes()), (2, 8));
        log.push(3, Arc::from("cccc"));
        assert_eq!(
            (log.len(), log.bytes(), log.oldest_version()),
            (2, 8, Some(2))
        );
        log.push(4, Arc::from("x".repeat(11)));
        assert!(log.is_empty());
        check(&log, 3, 4, None);
        check(&log, 4, 4, Some(&[]));
    }

    #[test]
    fn empty_log_needs_snapshot_unless_up_to_date() {
        let log = PatchLog::new(0, 0);
        check(&log, 0, 0, Some(&[]));
        check(&log, 0, 1, None);
    }
}
