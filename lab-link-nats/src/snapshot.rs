//! [`SnapshotRecord`]: the value of an instrument's key in the snapshot
//! bucket.
//!
//! `{"epoch":"…","version":N,"sequence":S,"document":{…}}`: the document
//! at `version` of the primary `epoch`, and the stream sequence `S` after
//! which every later patch of that epoch is in the stream (the last one
//! published when the snapshot was taken). A follower starts its consumer
//! at `S + 1` and skips what its snapshot already holds. The document is
//! the primary's serialised snapshot, copied in, not serialised again.

use lab_link_core::{Epoch, Snapshot};
use serde::Deserialize;
use serde_json::Value;

/// One instrument's snapshot as stored in the bucket.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct SnapshotRecord {
    pub(crate) epoch: Epoch,
    pub(crate) version: u64,
    pub(crate) sequence: u64,
    pub(crate) document: Value,
}

impl SnapshotRecord {
    /// The stored text of `snapshot` of the primary `epoch`, taken when
    /// `sequence` was the last stream sequence it had published.
    pub(crate) fn text(epoch: &Epoch, snapshot: &Snapshot, sequence: u64) -> String {
        // An epoch is letters, digits, `-` and `_`: no escaping needed.
        format!(
            r#"{{"epoch":"{epoch}","version":{},"sequence":{sequence},"document":{}}}"#,
            snapshot.version(),
            snapshot.document_json()
        )
    }

    /// Reads a stored value.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use lab_link_core::{Epoch, Store};
    use serde_json::json;

    use super::SnapshotRecord;

    #[test]
    fn reads_back_what_it_stores() {
        let epoch = Epoch::new("e1").unwrap();
        let snapshot = Store::new(json!({"on": true, "name": "a\"b"})).snapshot();
        let text = SnapshotRecord::text(&epoch, &snapshot, 7);
        let record = SnapshotRecord::parse(text.as_bytes()).unwrap();
        assert_eq!(
            record,
            SnapshotRecord {
                epoch,
                version: 0,
                sequence: 7,
                document: json!({"on": true, "name": "a\"b"}),
            }
        );
    }

    #[test]
    fn refuses_a_value_that_is_not_a_snapshot() {
        for bad in [
            &b"not json"[..],
            br#"{"epoch":"e:1","version":1,"sequence":0,"document":{}}"#,
            br#"{"epoch":"e1","version":-1,"sequence":0,"document":{}}"#,
            br#"{"epoch":"e1","sequence":0,"document":{}}"#,
        ] {
            assert!(SnapshotRecord::parse(bad).is_err(), "{bad:?}");
        }
    }
}
