//! [`Replica`]: a document whose versions come from elsewhere (a primary),
//! served to clients exactly like a [`LabSync`](super::LabSync).
//!
//! A relay keeps one per instrument. It takes the primary's `patch`
//! messages as they are: each is applied at exactly the next version and
//! logged with its text unchanged (metadata included), so the replica's
//! versions, epoch and resume log are the primary's, and a client can
//! carry `?since=` from one relay to another. A message that is not the
//! next version is refused ([`ReplicaError::Gap`]); the caller then starts
//! over from a snapshot ([`Replica::rebase`]), which reaches every
//! subscriber as a `snapshot` message.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde_json::{Map, Value};

use super::listeners::Listeners;
use super::lock::SharedOps;
use super::source::{start_with_streams, stream_snapshot, Start, SyncSource};
use super::{LoadError, Subscription};
use crate::command::{CommandContext, CommandError, CommandFuture, CommandInfo};
use crate::protocol::ServerMessage;
use crate::stream::{StreamHub, StreamMessage, StreamSubscription};
use crate::updater::Updater;
use crate::{Committed, Epoch, PatchError, Snapshot, Store, StoreConfig};

/// Runs a command elsewhere (the primary): see [`Replica::with_commands`].
type Forward = Box<dyn Fn(CommandContext, Map<String, Value>) -> CommandFuture + Send + Sync>;

/// Why [`Replica::apply`] refused a message. The replica is unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    /// The text is not a `patch` message.
    #[error("not a patch message: {0}")]
    NotAPatch(String),
    /// The patch is not the next version: one was missed, or it was
    /// already applied. Start over from a snapshot.
    #[error("a patch of version {got} where {expected} was next: start over from a snapshot")]
    Gap {
        /// The version that should have come.
        expected: u64,
        /// The version of the message.
        got: u64,
    },
    /// An operation does not apply: the replica's document is not the one
    /// the primary patched. Start over from a snapshot.
    #[error(transparent)]
    Patch(#[from] PatchError),
}

/// A replica of a primary's document, with the primary's versions and
/// epoch, that a transport serves through [`SyncSource`] like a
/// [`LabSync`](super::LabSync).
///
/// ```
/// use lab_link_core::{Epoch, Replica, ReplicaError, Since};
/// use serde_json::json;
///
/// let primary = Epoch::new("primary-1")?;
/// let replica = Replica::new(primary.clone(), 41, json!({"bias": 0.0}));
/// let (_, patches) = replica.subscribe_channel();
///
/// // The primary's version 42, with its metadata, exactly as it sent it.
/// let text = r#"{"type":"patch","patch":[{"op":"replace","path":"/bias","value":1.5}],"version":42,"requestId":"r1","command":"set_bias"}"#;
/// assert_eq!(replica.apply(text.into())?, 42);
/// assert_eq!(patches.try_recv()?.message(), text);
/// assert_eq!(replica.since(41), Since::Patches(vec![text.into()]));
///
/// // Version 44 is not next: refused, and nothing changed.
/// let gap = r#"{"type":"patch","patch":[],"version":44}"#;
/// assert_eq!(replica.apply(gap.into()), Err(ReplicaError::Gap { expected: 43, got: 44 }));
///
/// // Start over from the primary's snapshot: subscribers get a `snapshot`.
/// replica.rebase(primary, 44, json!({"bias": 2.0}));
/// assert!(patches.try_recv()?.is_snapshot());
/// assert_eq!(replica.snapshot().document_json(), r#"{"bias":2.0}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Replica {
    shared: Arc<ReplicaShared>,
}

struct ReplicaShared {
    inner: Mutex<ReplicaInner>,
    /// No streams yet: an empty hub, so that subscribing works as on a
    /// `LabSync`.
    streams: Arc<StreamHub>,
    forward: OnceLock<Forward>,
}

struct ReplicaInner {
    store: Store,
    epoch: Epoch,
    listeners: Listeners,
    /// The primary's schema document, served as the replica's.
    schema: Option<Value>,
}

impl Replica {
    /// A replica of the primary `epoch`, holding `document` at `version`,
    /// with the default log bounds.
    pub fn new(epoch: Epoch, version: u64, document: Value) -> Self {
        Self::with_config(epoch, version, document, StoreConfig::default())
    }

    /// As [`new`](Replica::new), with the bounds of the resume log.
    pub fn with_config(epoch: Epoch, version: u64, document: Value, config: StoreConfig) -> Self {
        let mut store = Store::with_config(Value::Null, config);
        // Nobody subscribed yet: the start-over's message goes nowhere.
        let _ = store.rebase(document, version);
        Self {
            shared: Arc::new(ReplicaShared {
                inner: Mutex::new(ReplicaInner {
                    store,
                    epoch,
                    listeners: Listeners::default(),
                    schema: None,
                }),
                streams: Arc::default(),
                forward: OnceLock::new(),
            }),
        }
    }

    /// Runs clients' commands with `forward` (which sends them to the
    /// primary) instead of answering `unknown_command`.
    ///
    /// The future `forward` returns is what [`SyncSource::dispatch`]
    /// returns: for the ordering guarantee (an ack follows the command's
    /// patches), it must complete only once this replica has applied the
    /// version the primary acknowledged at. Set once; a second call is
    /// ignored.
    #[must_use]
    pub fn with_commands(
        self,
        forward: impl Fn(CommandContext, Map<String, Value>) -> CommandFuture + Send + Sync + 'static,
    ) -> Self {
        if self.shared.forward.set(Box::new(forward)).is_err() {
            tracing::warn!("Replica::with_commands called twice: the first forwarder is kept");
        }
        self
    }

    /// Applies the primary's `patch` message `message` if it is the next
    /// version, logs it and hands it to every subscriber, its text
    /// unchanged. Returns the new version.
    ///
    /// # Errors
    ///
    /// [`ReplicaError`]: not a patch message, not the next version, or an
    /// operation that does not apply. Nothing changed.
    pub fn apply(&self, message: Arc<str>) -> Result<u64, ReplicaError> {
        let (ops, version, meta) = match ServerMessage::parse(&message) {
            Ok(ServerMessage::Patch {
                patch,
                version,
                meta,
            }) => (patch.into_owned(), version, meta.into_owned()),
            Ok(other) => return Err(ReplicaError::NotAPatch(format!("a {other:?}"))),
            Err(e) => return Err(ReplicaError::NotAPatch(e.to_string())),
        };
        let mut inner = self.lock();
        let expected = inner.store.version() + 1;
        if version != expected {
            return Err(ReplicaError::Gap {
                expected,
                got: version,
            });
        }
        let committed = inner.store.commit_message(message, ops, meta)?;
        inner.listeners.notify(&committed);
        Ok(version)
    }

    /// Starts over from the primary's snapshot: `document` at `version` of
    /// the primary `epoch` (after a gap, or a restarted primary). The log
    /// is emptied, and every subscriber is handed a `snapshot` message
    /// ([`Committed::is_snapshot`]), which clients take as a reset.
    pub fn rebase(&self, epoch: Epoch, version: u64, document: Value) {
        let mut inner = self.lock();
        inner.epoch = epoch;
        let reset = inner.store.rebase(document, version);
        inner.listeners.notify(&reset);
    }

    /// Serves `schema`, the primary's schema document (its
    /// `GET {prefix}/schema`, `schemaHash` included), as the replica's
    /// own: its clients see the primary's commands, streams and state
    /// schema, and level-2 snapshots carry the primary's hash. `None`
    /// serves an empty schema (the default).
    ///
    /// ```
    /// use lab_link_core::{Epoch, Replica, SyncSource};
    /// use serde_json::json;
    ///
    /// let replica = Replica::new(Epoch::new("p1")?, 0, json!({}));
    /// assert_eq!(replica.schema()["commands"], json!({}));
    /// let primary = json!({"state": {"type": "object"}, "commands": {"go": {}}, "streams": [],
    ///                      "schemaHash": "sha256:0"});
    /// replica.set_schema(Some(primary.clone()));
    /// assert_eq!(replica.schema(), primary);
    /// assert_eq!(replica.state_schema(), Some(json!({"type": "object"})));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_schema(&self, schema: Option<Value>) {
        self.lock().schema = schema;
    }

    /// The primary's epoch whose versions the replica has.
    pub fn epoch(&self) -> Epoch {
        self.lock().epoch.clone()
    }

    /// The version of the replica's document (the primary's).
    pub fn version(&self) -> u64 {
        self.lock().store.version()
    }

    /// The serialised document and its version, cached per version.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().store.snapshot()
    }

    /// The logged patch messages after `version`, for a resuming client.
    pub fn since(&self, version: u64) -> crate::Since {
        self.lock().store.since(version)
    }

    /// Calls `read` with the document, under the lock: keep it short.
    pub fn read<R>(&self, read: impl FnOnce(&Value) -> R) -> R {
        read(self.lock().store.document())
    }

    /// Every message from now on (patches, and snapshots when the replica
    /// starts over) into an unbounded channel, after the returned
    /// snapshot: for tests and tools. The listener stays until the
    /// replica is dropped.
    pub fn subscribe_channel(&self) -> (Snapshot, std::sync::mpsc::Receiver<Committed>) {
        let (sender, receiver) = std::sync::mpsc::channel();
        let mut inner = self.lock();
        let snapshot = inner.store.snapshot();
        inner.listeners.add(Box::new(move |committed| {
            // A closed receiver is the subscriber leaving.
            let _ = sender.send(committed.clone());
        }));
        (snapshot, receiver)
    }

    /// Listeners run under this lock and must not call back into the
    /// replica (that would deadlock).
    fn lock(&self) -> MutexGuard<'_, ReplicaInner> {
        self.shared.lock()
    }
}

impl ReplicaShared {
    fn lock(&self) -> MutexGuard<'_, ReplicaInner> {
        // Listeners run inside catch_unwind and the store changes nothing
        // on a failed operation: a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SharedOps for ReplicaShared {
    fn unsubscribe(&self, id: u64) {
        self.lock().listeners.remove(&[id]);
    }

    fn end_batch(&self) {
        // A replica hands out no batches.
    }
}

impl fmt::Debug for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("Replica")
            .field("epoch", &inner.epoch)
            .field("version", &inner.store.version())
            .finish_non_exhaustive()
    }
}

impl SyncSource for Replica {
    fn subscribe_from(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start),
        listener: Box<dyn FnMut(&Committed) + Send>,
    ) -> Subscription {
        let mut inner = self.lock();
        on_start(inner.store.start(since, max_resume));
        self.listen(&mut inner, listener)
    }

    fn subscribe_with_streams(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start, Vec<StreamMessage>),
        listener: Box<dyn FnMut(&Committed) + Send>,
        stream_listener: Box<dyn FnMut(&StreamMessage) + Send>,
    ) -> (Subscription, StreamSubscription) {
        let mut inner = self.lock();
        let start = inner.store.start(since, max_resume);
        let streams = start_with_streams(&self.shared.streams, start, on_start, stream_listener);
        (self.listen(&mut inner, listener), streams)
    }

    fn with_stream_snapshot(&self, id: &str, on_snapshot: &mut dyn FnMut(StreamMessage)) -> bool {
        stream_snapshot(&self.shared.streams, id, on_snapshot)
    }

    fn snapshot(&self) -> Snapshot {
        Replica::snapshot(self)
    }

    fn version(&self) -> u64 {
        Replica::version(self)
    }

    fn epoch(&self) -> Epoch {
        Replica::epoch(self)
    }

    fn dispatch(&self, ctx: CommandContext, params: Map<String, Value>) -> CommandFuture {
        match self.shared.forward.get() {
            Some(forward) => forward(ctx, params),
            None => {
                let error = CommandError::unknown_command(ctx.command());
                Box::pin(std::future::ready(Err(error)))
            }
        }
    }

    fn command_infos(&self) -> Vec<CommandInfo> {
        Vec::new()
    }

    fn state_schema(&self) -> Option<Value> {
        self.lock()
            .schema
            .as_ref()
            .and_then(|schema| schema.get("state"))
            .filter(|state| !state.is_null())
            .cloned()
    }

    /// The primary's schema document when [set](Replica::set_schema),
    /// its `schemaHash` included: clients of a relay see the primary's.
    fn schema(&self) -> Value {
        match &self.lock().schema {
            Some(schema) => schema.clone(),
            None => crate::schema::document(None, Vec::new(), Vec::new()),
        }
    }

    fn stream_infos(&self) -> Vec<crate::stream::StreamInfo> {
        Vec::new()
    }

    fn updaters(&self) -> Vec<Updater> {
        Vec::new()
    }

    fn load_document(&self, _document: Value) -> Result<u64, LoadError> {
        Err(LoadError::Unsupported)
    }

    fn history_paths(&self) -> Vec<String> {
        // The relay records no history of its own.
        Vec::new()
    }
}

impl Replica {
    /// Adds `listener` under the held lock.
    fn listen(
        &self,
        inner: &mut ReplicaInner,
        listener: Box<dyn FnMut(&Committed) + Send>,
    ) -> Subscription {
        let id = inner.listeners.add(listener);
        let shared: Arc<dyn SharedOps> = self.shared.clone();
        Subscription::new(Arc::downgrade(&shared), id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Since;
    use serde_json::json;

    fn epoch(name: &str) -> Epoch {
        Epoch::new(name).unwrap()
    }

    fn patch(version: u64, value: i64) -> Arc<str> {
        format!(
            r#"{{"type":"patch","patch":[{{"op":"replace","path":"/n","value":{value}}}],"version":{version}}}"#
        )
        .into()
    }

    /// The start a subscriber holding `since` gets, and what it sees next.
    fn subscribe(
        replica: &Replica,
        since: Option<u64>,
    ) -> (Start, Subscription, std::sync::mpsc::Receiver<Committed>) {
        let (sender, receiver) = std::sync::mpsc::channel();
        let mut start = None;
        let subscription = replica.subscribe_from(
            since,
            100,
            &mut |s| start = Some(s),
            Box::new(move |committed| {
                let _ = sender.send(committed.clone());
            }),
        );
        (start.unwrap(), subscription, receiver)
    }

    #[test]
    fn takes_the_primarys_versions_and_messages_as_they_are() {
        let replica = Replica::new(epoch("p1"), 10, json!({"n": 0}));
        assert_eq!((replica.version(), replica.epoch()), (10, epoch("p1")));
        let (start, _subscription, patches) = subscribe(&replica, None);
        assert!(matches!(start, Start::Snapshot(s) if s.version() == 10));

        let with_meta: Arc<str> = r#"{"type":"patch","patch":[{"op":"replace","path":"/n","value":1}],"version":11,"originClientId":"c1","requestId":"r1","command":"set_n"}"#.into();
        assert_eq!(replica.apply(with_meta.clone()), Ok(11));
        let committed = patches.try_recv().unwrap();
        assert!(Arc::ptr_eq(&committed.message_shared(), &with_meta));
        assert_eq!(committed.meta().request_id.as_deref(), Some("r1"));
        assert!(!committed.is_snapshot());
        assert_eq!(replica.apply(patch(12, 2)), Ok(12));
        assert_eq!(replica.read(Clone::clone), json!({"n": 2}));
        assert_eq!(
            replica.since(10),
            Since::Patches(vec![with_meta, patch(12, 2)])
        );
    }

    #[test]
    fn refuses_what_is_not_the_next_version_and_changes_nothing() {
        let replica = Replica::new(epoch("p1"), 3, json!({"n": 0}));
        let (_, _subscription, patches) = subscribe(&replica, None);
        let snapshot = replica.snapshot();
        for (message, expect) in [
            (
                patch(5, 1),
                ReplicaError::Gap {
                    expected: 4,
                    got: 5,
                },
            ),
            (
                patch(3, 1),
                ReplicaError::Gap {
                    expected: 4,
                    got: 3,
                },
            ),
        ] {
            assert_eq!(replica.apply(message), Err(expect));
        }
        let missing: Arc<str> =
            r#"{"type":"patch","patch":[{"op":"replace","path":"/x","value":1}],"version":4}"#
                .into();
        assert!(matches!(
            replica.apply(missing),
            Err(ReplicaError::Patch(_))
        ));
        for not_a_patch in [
            "nope",
            r#"{"type":"resume","version":4}"#,
            r#"{"type":"patch","version":4}"#,
        ] {
            assert!(
                matches!(
                    replica.apply(not_a_patch.into()),
                    Err(ReplicaError::NotAPatch(_))
                ),
                "{not_a_patch}"
            );
        }
        assert_eq!(replica.snapshot(), snapshot);
        assert_eq!(replica.since(3), Since::Patches(Vec::new()));
        assert!(patches.try_recv().is_err(), "subscribers saw nothing");
    }

    #[test]
    fn a_client_resumes_from_the_log_across_replicas_of_one_primary() {
        // Two replicas of one primary, started at different versions.
        let early = Replica::new(epoch("p1"), 0, json!({"n": 0}));
        let late = Replica::new(epoch("p1"), 2, json!({"n": 2}));
        for version in 1..=5 {
            early.apply(patch(version, version as i64)).unwrap();
            if version > 2 {
                late.apply(patch(version, version as i64)).unwrap();
            }
        }
        // A client of `early` at version 3 moves to `late`: the log has 4
        // and 5, the same messages.
        let (start, _s, _) = subscribe(&late, Some(3));
        assert_eq!(
            start,
            Start::Resume {
                version: 3,
                patches: vec![patch(4, 4), patch(5, 5)],
            }
        );
        // One from before `late` started needs a snapshot.
        let (start, _s, _) = subscribe(&late, Some(1));
        assert!(matches!(start, Start::Snapshot(s) if s.version() == 5));
    }

    #[test]
    fn a_rebase_reaches_subscribers_as_a_snapshot_and_empties_the_log() {
        let replica = Replica::new(epoch("p1"), 0, json!({"n": 0}));
        replica.apply(patch(1, 1)).unwrap();
        let (_, _subscription, messages) = subscribe(&replica, None);

        // The primary restarted: its new epoch counts from 0 again.
        replica.rebase(epoch("p2"), 0, json!({"n": 7}));
        let reset = messages.try_recv().unwrap();
        assert!(reset.is_snapshot());
        assert!(reset.ops().is_empty());
        assert_eq!(
            reset.message(),
            r#"{"type":"snapshot","data":{"n":7},"version":0}"#
        );
        assert_eq!(replica.epoch(), epoch("p2"));
        assert_eq!(replica.since(0), Since::Patches(Vec::new()));
        // A client that held version 1 of the old primary gets a snapshot.
        let (start, _s, _) = subscribe(&replica, Some(1));
        assert!(matches!(start, Start::Snapshot(s) if s.version() == 0));

        replica.apply(patch(1, 8)).unwrap();
        assert_eq!(messages.try_recv().unwrap().message(), &*patch(1, 8));
        assert_eq!(replica.since(0), Since::Patches(vec![patch(1, 8)]));
    }

    #[test]
    fn a_dropped_subscription_stops_its_listener() {
        let replica = Replica::new(epoch("p1"), 0, json!({"n": 0}));
        let (_, subscription, messages) = subscribe(&replica, None);
        drop(subscription);
        replica.apply(patch(1, 1)).unwrap();
        assert!(messages.try_recv().is_err());
    }

    #[test]
    fn commands_go_to_the_forwarder_or_are_unknown() {
        let ready = |future: CommandFuture| {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let mut future = future;
            match future.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(outcome) => outcome,
                std::task::Poll::Pending => panic!("a ready future"),
            }
        };
        let ctx = || CommandContext::new("c1", Some("r1".into()), "start");
        let plain = Replica::new(epoch("p1"), 0, json!({}));
        let error = ready(plain.dispatch(ctx(), Map::new())).unwrap_err();
        assert_eq!(error.code(), "unknown_command");

        let forwarding = plain.with_commands(|ctx, params| {
            let answer = json!({"ran": ctx.command(), "params": params});
            Box::pin(std::future::ready(Ok(Some(answer))))
        });
        let mut params = Map::new();
        params.insert("rate".into(), json!(5));
        assert_eq!(
            ready(forwarding.dispatch(ctx(), params)).unwrap(),
            Some(json!({"ran": "start", "params": {"rate": 5}}))
        );
    }
}
