//! The versioned store: the mirror document, its version, the patch log
//! and the snapshot cache.
//!
//! The store is the single place where the document changes. Its one
//! contract: every successful [`Store::commit`] applies a non-empty patch
//! atomically, advances the version by exactly one, serialises the patch
//! message once and logs it. A failed commit changes nothing, not even the
//! version.
//!
//! The calling order is free: commit, read the document, take a
//! [`Snapshot`] for a joining client, or ask for the messages
//! [`since`](Store::since) a version for a resuming one.
//!
//! A store can also hold a replica whose versions come from elsewhere (see
//! [`Replica`](crate::Replica)): [`Store::commit_message`] takes a patch
//! message serialised by the primary as the next version, and
//! [`Store::rebase`] starts over from a snapshot at any version.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::protocol::{snapshot_text, ServerMessage};
use crate::{apply, PatchError, PatchLog, PatchMeta, PatchOp, Since, Start};

/// Bounds of a [`Store`].
///
/// ```
/// use lab_link_core::StoreConfig;
///
/// let config = StoreConfig::default().log_messages(256).log_bytes(1 << 20);
/// assert_eq!(config.max_log_messages(), 256);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    log_messages: usize,
    log_bytes: usize,
}

impl Default for StoreConfig {
    /// 1024 messages and 8 MiB of patch log.
    fn default() -> Self {
        Self {
            log_messages: 1024,
            log_bytes: 8 << 20,
        }
    }
}

impl StoreConfig {
    /// The most patch messages the log keeps for resuming clients
    /// (default 1024).
    #[must_use]
    pub fn log_messages(mut self, max: usize) -> Self {
        self.log_messages = max;
        self
    }

    /// The most bytes of patch messages the log keeps (default 8 MiB).
    #[must_use]
    pub fn log_bytes(mut self, max: usize) -> Self {
        self.log_bytes = max;
        self
    }

    /// The configured message bound.
    pub fn max_log_messages(&self) -> usize {
        self.log_messages
    }

    /// The configured byte bound.
    pub fn max_log_bytes(&self) -> usize {
        self.log_bytes
    }
}

/// The mirror document with its version, patch log and snapshot cache.
///
/// ```
/// use lab_link_core::{PatchMeta, PatchOp, Since, Store};
/// use serde_json::json;
///
/// let mut store = Store::new(json!({"enabled": false}));
/// assert_eq!(store.version(), 0);
///
/// let ops = vec![PatchOp::Replace { path: "/enabled".parse()?, value: json!(true) }];
/// let committed = store.commit(ops, &PatchMeta::default())?.expect("non-empty patch");
/// assert_eq!(committed.version(), 1);
/// assert_eq!(
///     committed.message(),
///     r#"{"type":"patch","patch":[{"op":"replace","path":"/enabled","value":true}],"version":1}"#
/// );
///
/// // A joining client gets the cached snapshot of version 1.
/// let snapshot = store.snapshot();
/// assert_eq!((snapshot.version(), snapshot.document_json()), (1, r#"{"enabled":true}"#));
///
/// // A client that saw version 0 resumes with exactly the missed message.
/// assert_eq!(store.since(0), Since::Patches(vec![committed.message_shared()]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Store {
    document: Value,
    version: u64,
    patch_log: PatchLog,
    /// The serialised document of `version`, filled by the first joiner
    /// after each commit and replaced (emptied) by the next commit.
    snapshot_cache: OnceLock<Arc<str>>,
}

/// The result of a successful [`Store::commit`]: one patch message.
///
/// Or, from a [`Replica`](crate::Replica) that started over from a
/// snapshot ([`Store::rebase`]), a `snapshot` message without `clientId`:
/// see [`is_snapshot`](Committed::is_snapshot).
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    version: u64,
    message: Arc<str>,
    ops: Arc<[PatchOp]>,
    meta: PatchMeta,
    snapshot: bool,
}

impl Committed {
    /// Whether this is a replica's start-over: [`message`](Committed::message)
    /// is then a `snapshot` message of the whole document at
    /// [`version`](Committed::version) (which need not follow the
    /// previous one), and [`ops`](Committed::ops) is empty. A transport
    /// sends it like a patch: every client takes a later snapshot as a
    /// reset. Always `false` for a [`LabSync`](crate::LabSync).
    pub fn is_snapshot(&self) -> bool {
        self.snapshot
    }

    /// The operations of the patch.
    pub fn ops(&self) -> &[PatchOp] {
        &self.ops
    }

    /// What caused the patch (empty for server-side changes).
    pub fn meta(&self) -> &PatchMeta {
        &self.meta
    }

    /// The version the commit produced.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The serialised `patch` message, the same text for every client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The serialised message as a shared handle (a reference-count bump,
    /// no copy).
    pub fn message_shared(&self) -> Arc<str> {
        self.message.clone()
    }
}

/// The serialised document at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    version: u64,
    document_json: Arc<str>,
}

impl Snapshot {
    /// The version of the document.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The document serialised as JSON (what `GET {prefix}/state` serves).
    pub fn document_json(&self) -> &str {
        &self.document_json
    }

    /// The serialised document as a shared handle.
    pub fn document_shared(&self) -> Arc<str> {
        self.document_json.clone()
    }

    /// The `snapshot` wire message for one client: with its `clientId`,
    /// and the `schemaHash` for a client that opted in to level 2.
    ///
    /// ```
    /// # use lab_link_core::Store;
    /// # use serde_json::json;
    /// let store = Store::new(json!({"a": 1}));
    /// assert_eq!(
    ///     store.snapshot().message(Some("c1"), None),
    ///     r#"{"type":"snapshot","data":{"a":1},"version":0,"clientId":"c1"}"#
    /// );
    /// ```
    pub fn message(&self, client_id: Option<&str>, schema_hash: Option<&str>) -> String {
        snapshot_text(&self.document_json, self.version, client_id, schema_hash)
    }
}

impl Store {
    /// A store holding `document` at version 0, with default bounds.
    pub fn new(document: Value) -> Self {
        Self::with_config(document, StoreConfig::default())
    }

    /// A store holding `document` at version 0.
    pub fn with_config(document: Value, config: StoreConfig) -> Self {
        Self {
            document,
            version: 0,
            patch_log: PatchLog::new(config.log_messages, config.log_bytes),
            snapshot_cache: OnceLock::new(),
        }
    }

    /// Applies `ops` atomically as the next version.
    ///
    /// Returns `Ok(None)` for an empty patch (nothing is sent, the version
    /// stays). Otherwise the message is serialised once, the operations are
    /// applied to the document, the version grows by one and the message is
    /// logged. The operations are kept (shared) in the returned
    /// [`Committed`] for subscribers that want them as values.
    ///
    /// # Errors
    ///
    /// When an operation fails, returns its [`PatchError`]; the document,
    /// version, log and snapshot are unchanged.
    pub fn commit(
        &mut self,
        ops: Vec<PatchOp>,
        meta: &PatchMeta,
    ) -> Result<Option<Committed>, PatchError> {
        if ops.is_empty() {
            return Ok(None);
        }
        apply(&mut self.document, &ops)?;
        let message: Arc<str> = ServerMessage::Patch {
            patch: ops.as_slice().into(),
            version: self.version + 1,
            meta: Cow::Borrowed(meta),
        }
        .to_text()
        .into();
        Ok(Some(self.advance(message, ops, meta.clone())))
    }

    /// Applies `ops` atomically as the next version, with `message` (the
    /// `patch` message of `ops`, `meta` and the next version, serialised
    /// elsewhere: a primary's) kept and logged as it is, not serialised
    /// again. Unlike [`commit`](Store::commit), an empty patch counts: the
    /// version is the primary's.
    ///
    /// The caller vouches that `message` is that message (a
    /// [`Replica`](crate::Replica) parsed `ops`, `meta` and the version
    /// from it).
    ///
    /// ```
    /// use lab_link_core::protocol::ServerMessage;
    /// use lab_link_core::Store;
    /// use serde_json::json;
    /// use std::sync::Arc;
    ///
    /// let text = r#"{"type":"patch","patch":[{"op":"add","path":"/on","value":true}],"version":1,"command":"start"}"#;
    /// let ServerMessage::Patch { patch, meta, .. } = ServerMessage::parse(text)? else { unreachable!() };
    /// let mut store = Store::new(json!({}));
    /// let committed = store.commit_message(Arc::from(text), patch.into_owned(), meta.into_owned())?;
    /// assert_eq!((committed.version(), committed.message()), (1, text));
    /// assert_eq!(store.document(), &json!({"on": true}));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When an operation fails, its [`PatchError`]; the store is unchanged.
    pub fn commit_message(
        &mut self,
        message: Arc<str>,
        ops: Vec<PatchOp>,
        meta: PatchMeta,
    ) -> Result<Committed, PatchError> {
        apply(&mut self.document, &ops)?;
        Ok(self.advance(message, ops, meta))
    }

    /// Records an applied patch as the next version.
    fn advance(&mut self, message: Arc<str>, ops: Vec<PatchOp>, meta: PatchMeta) -> Committed {
        self.version += 1;
        self.snapshot_cache = OnceLock::new();
        self.patch_log.push(self.version, message.clone());
        Committed {
            version: self.version,
            message,
            ops: ops.into(),
            meta,
            snapshot: false,
        }
    }

    /// Starts over from `document` at `version` (a primary's snapshot):
    /// the log is emptied, as its messages lead to the old document, so a
    /// client resumes only from `version` on. Returns the `snapshot`
    /// message without `clientId` for the subscribers
    /// ([`Committed::is_snapshot`]).
    ///
    /// ```
    /// use lab_link_core::{Since, Store};
    /// use serde_json::json;
    ///
    /// let mut store = Store::new(json!({"n": 1}));
    /// let reset = store.rebase(json!({"n": 40}), 40);
    /// assert!(reset.is_snapshot());
    /// assert_eq!(reset.message(), r#"{"type":"snapshot","data":{"n":40},"version":40}"#);
    /// assert_eq!(store.since(39), Since::SnapshotNeeded);
    /// assert_eq!(store.since(40), Since::Patches(Vec::new()));
    /// ```
    pub fn rebase(&mut self, document: Value, version: u64) -> Committed {
        self.document = document;
        self.version = version;
        self.snapshot_cache = OnceLock::new();
        self.patch_log.clear();
        let snapshot = self.snapshot();
        Committed {
            version,
            message: snapshot.message(None, None).into(),
            ops: Arc::new([]),
            meta: PatchMeta::default(),
            snapshot: true,
        }
    }

    /// Where a subscriber that holds `since` starts: the patches after it
    /// when the log still has them all (at most `max_resume` of them),
    /// else a snapshot.
    pub fn start(&self, since: Option<u64>, max_resume: usize) -> Start {
        match since.map(|version| (version, self.since(version))) {
            Some((version, Since::Patches(patches))) if patches.len() <= max_resume => {
                Start::Resume { version, patches }
            }
            _ => Start::Snapshot(self.snapshot()),
        }
    }

    /// The current document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The current version: 0 at creation, one more per commit.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The current document serialised, cached per version: any number of
    /// joiners between two commits cost one serialisation.
    pub fn snapshot(&self) -> Snapshot {
        let document_json = self
            .snapshot_cache
            .get_or_init(|| {
                // Invariant: a `serde_json::Value` always serialises.
                serde_json::to_string(&self.document)
                    .expect("a JSON value always serialises")
                    .into()
            })
            .clone();
        Snapshot {
            version: self.version,
            document_json,
        }
    }

    /// The patch messages after `version`, or [`Since::SnapshotNeeded`]
    /// when the log no longer holds all of them.
    pub fn since(&self, version: u64) -> Since {
        self.patch_log.since(version, self.version)
    }

    /// The patch log.
    pub fn patch_log(&self) -> &PatchLog {
        &self.patch_log
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replace(path: &str, value: Value) -> PatchOp {
        PatchOp::Replace {
            path: path.parse().unwrap(),
            value,
        }
    }

    #[test]
    fn versions_are_contiguous_and_empty_patches_do_not_count() {
        let mut store = Store::new(json!({"n": 0}));
        let mut versions = Vec::new();
        for n in 1..=5 {
            if let Some(committed) = store
                .commit(vec![replace("/n", json!(n))], &PatchMeta::default())
                .unwrap()
            {
                versions.push(committed.version());
            }
            assert_eq!(
                store.commit(Vec::new(), &PatchMeta::default()).unwrap(),
                None
            );
        }
        assert_eq!(versions, [1, 2, 3, 4, 5]);
        assert_eq!(store.version(), 5);
        assert_eq!(store.document(), &json!({"n": 5}));
    }

    #[test]
    fn failed_commit_changes_nothing() {
        let mut store = Store::new(json!({"a": 1, "b": [1, 2]}));
        store
            .commit(vec![replace("/a", json!(2))], &PatchMeta::default())
            .unwrap();
        let snapshot = store.snapshot();
        let err = store
            .commit(
                vec![replace("/a", json!(3)), replace("/b/2", json!(0))],
                &PatchMeta::default(),
            )
            .unwrap_err();
        assert_eq!(err.index(), 1);
        assert_eq!(store.version(), 1);
        assert_eq!(store.snapshot(), snapshot);
        assert_eq!(store.patch_log().len(), 1);
        assert_eq!(
            serde_json::to_string(store.document()).unwrap(),
            r#"{"a":2,"b":[1,2]}"#
        );
    }

    #[test]
    fn snapshot_is_serialised_once_per_version() {
        let mut store = Store::new(json!({"a": 1}));
        let first = store.snapshot();
        let second = store.snapshot();
        assert!(Arc::ptr_eq(
            &first.document_shared(),
            &second.document_shared()
        ));
        store
            .commit(vec![replace("/a", json!(2))], &PatchMeta::default())
            .unwrap();
        let third = store.snapshot();
        assert!(!Arc::ptr_eq(
            &first.document_shared(),
            &third.document_shared()
        ));
        assert_eq!((third.version(), third.document_json()), (1, r#"{"a":2}"#));
    }

    #[test]
    fn since_beyond_the_log_needs_a_snapshot() {
        let mut store = Store::with_config(json!({"n": 0}), StoreConfig::default().log_messages(3));
        let mut messages = Vec::new();
        for n in 1..=6 {
            let committed = store
                .commit(vec![replace("/n", json!(n))], &PatchMeta::default())
                .unwrap()
                .unwrap();
            messages.push(committed.message_shared());
        }
        assert_eq!(store.since(6), Since::Patches(Vec::new()));
        assert_eq!(store.since(3), Since::Patches(messages[3..].to_vec()));
        assert_eq!(store.since(2), Since::SnapshotNeeded);
        assert_eq!(store.since(7), Since::SnapshotNeeded);
    }

    #[test]
    fn metadata_goes_into_the_message() {
        let mut store = Store::new(json!({"a": 1}));
        let meta = PatchMeta {
            origin_client_id: Some("c1".into()),
            request_id: Some("r1".into()),
            command: Some("set_a".into()),
        };
        let committed = store
            .commit(vec![replace("/a", json!(2))], &meta)
            .unwrap()
            .unwrap();
        let message: Value = serde_json::from_str(committed.message()).unwrap();
        assert_eq!(message["originClientId"], "c1");
        assert_eq!(message["requestId"], "r1");
        assert_eq!(message["command"], "set_a");
        assert_eq!(message["version"], 1);
    }
}
