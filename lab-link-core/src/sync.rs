//! `LabSync<S>`: the one authoritative typed state, its mirror document and
//! the stream of versioned patch messages.
//!
//! # The drive loop's one contract
//!
//! Every change of the state goes through [`LabSync::mutate`] (or
//! [`load_state`](LabSync::load_state), [`publish`](LabSync::publish)), and
//! every change is committed as one patch message whose operations turn the
//! mirror into `serde_json::to_value(&state)`: after every commit the mirror
//! equals the typed state's JSON form.
//!
//! 1. `mutate` takes the lock and hands the closure a tracked view of the
//!    state. The view's methods change the state and record operations.
//! 2. When the closure returns (or panics), the recorded operations are
//!    committed: applied to the mirror, the version grows by one, the patch
//!    message is serialised once.
//! 3. Still under the lock, every subscriber is handed the committed patch,
//!    in version order, so a subscriber that joined at version N (see
//!    [`subscribe`](LabSync::subscribe)) sees N+1, N+2, … with no gap and no
//!    repeat.
//!
//! Inside a [`batch`](LabSync::batch), step 2 waits until the batch ends, so
//! several `mutate` calls, across awaits, become one message.
//!
//! # Locking
//!
//! One `std::sync::Mutex` guards the state, the mirror and the recorder. It
//! is held only inside `mutate`, `read` and the other methods, never across
//! an `.await` (the guard of [`read`](LabSync::read) is not `Send`).
//! `LabSync` is cheap to clone and can be used from any thread or task,
//! blocking threads included. Calling back into the same `LabSync` from
//! inside a `mutate` closure or a subscriber would deadlock; it panics with a
//! message instead.

mod dynamic;

pub use dynamic::{DynamicError, Transaction};

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use serde::de::DeserializeOwned;
use serde_json::Value;

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde_json::Map;

use crate::command::{
    current_meta, with_meta, Command, CommandContext, CommandError, CommandFuture, CommandInfo,
    RegisterError,
};
use crate::reactive::{MutationError, Reactive, Recorder};
use crate::updater::{TypedUpdater, Updater};
use crate::{diff, Committed, PatchMeta, PatchOp, Since, Snapshot, Store, StoreConfig};

/// The authoritative state of an instrument, shared by the code that owns
/// the hardware and the transport that serves replicas.
///
/// ```
/// use lab_link_core::reactive::MutationError;
/// use lab_link_core::LabSync;
/// use serde_json::json;
///
/// // A leaf state, for brevity; real states derive `Reactive`.
/// let sync = LabSync::new(vec![0.0_f64; 2]);
/// let (snapshot, patches) = sync.subscribe_channel();
/// assert_eq!(snapshot.version(), 0);
///
/// sync.try_mutate(|channels| {
///     channels.set(0, 1.25)?;
///     channels.push(2.5)?;
///     Ok::<_, MutationError>(())
/// })?;
/// assert_eq!(sync.read()[0], 1.25);
///
/// let patch = patches.try_recv()?;
/// assert_eq!(patch.version(), 1);
/// assert_eq!(serde_json::to_value(patch.ops())?, json!([
///     {"op": "replace", "path": "/0", "value": 1.25},
///     {"op": "add", "path": "/2", "value": 2.5},
/// ]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LabSync<S> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    inner: Mutex<Inner<S>>,
    /// The streams: their own lock, taken after `inner` when both are
    /// held (see [`crate::stream`]).
    streams: Arc<StreamHub>,
    /// Guards dropped on a thread that holds `inner` (a [`Batch`] or a
    /// [`Subscription`] moved into a `mutate` closure or a listener): that
    /// thread cannot take the lock again, so the drop is recorded here and
    /// applied by the lock holder. Panicking instead would leave the batch
    /// open for good, and abort the process when the drop runs while the
    /// closure unwinds.
    dropped_inside: Mutex<DroppedInside>,
    /// The registered commands, by name. A separate lock: dispatch looks a
    /// command up without touching the state.
    commands: RwLock<BTreeMap<String, Arc<dyn Command<S>>>>,
    /// The JSON Schema of `S`, when the application published it.
    state_schema: OnceLock<Value>,
    /// The registered updaters, kept as data: the core spawns nothing.
    updaters: Mutex<Vec<TypedUpdater<S>>>,
    /// `load_state` for the type-erased [`SyncSource::load_document`], set
    /// by [`LabSync::with_loader`] (it needs `S: DeserializeOwned`).
    loader: OnceLock<Loader<S>>,
}

type Loader<S> = fn(&LabSync<S>, Value) -> Result<u64, LoadError>;

#[derive(Default)]
struct DroppedInside {
    batches: usize,
    subscriptions: Vec<u64>,
}

struct Inner<S> {
    state: S,
    store: Store,
    recorder: Recorder,
    /// The metadata of the operations in `recorder`.
    pending_meta: PatchMeta,
    /// Open [`Batch`] guards.
    batch_depth: usize,
    listeners: Vec<(u64, Listener)>,
    next_listener_id: u64,
}

type Listener = Box<dyn FnMut(&Committed) + Send>;

thread_local! {
    /// The addresses of the `LabSync`s whose lock this thread holds, to turn
    /// a re-entrant call (a deadlock) into a clear panic.
    static HELD_LOCKS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// The state held by a [`LabSync`], locked for reading.
///
/// Dereferences to `S`. Holding it blocks every mutation: keep it short. It
/// is not `Send`, so it cannot be held across an `.await` in a spawned task.
pub struct StateRef<'a, S> {
    guard: LockGuard<'a, S>,
}

impl<S> Deref for StateRef<'_, S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.guard.state
    }
}

impl<S: fmt::Debug> fmt::Debug for StateRef<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Why [`LabSync::load_state`] refused a document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The document does not deserialise into the state type.
    #[error("the document does not fit the state type at {path:?}: {message}")]
    Deserialize {
        /// The escaped JSON Pointer of the offending value (`""` for the
        /// root).
        path: String,
        /// serde's message.
        message: String,
    },
    /// The document deserialises but breaks a constraint.
    #[error(transparent)]
    Invalid(#[from] MutationError),
    /// The `LabSync` cannot load a document without its type: see
    /// [`LabSync::with_loader`].
    #[error("this LabSync has no loader: call `with_loader()` on it")]
    Unsupported,
}

impl<S: Reactive + Send + 'static> LabSync<S> {
    /// Takes ownership of the initial state.
    ///
    /// # Panics
    ///
    /// When the initial state breaks a constraint (a non-finite float, a
    /// field outside its declared range): that is a bug in the program, not
    /// an input. Use [`try_new`](LabSync::try_new) to handle it.
    pub fn new(state: S) -> Self {
        match Self::try_new(state) {
            Ok(sync) => sync,
            Err(e) => panic!("the initial state of LabSync is invalid: {e}"),
        }
    }

    /// Takes ownership of the initial state, checking its constraints.
    ///
    /// # Errors
    ///
    /// The first value that breaks a constraint.
    pub fn try_new(state: S) -> Result<Self, MutationError> {
        Self::with_config(state, StoreConfig::default())
    }

    /// As [`try_new`](LabSync::try_new), with the bounds of the patch log.
    ///
    /// # Errors
    ///
    /// The first value that breaks a constraint.
    pub fn with_config(state: S, config: StoreConfig) -> Result<Self, MutationError> {
        let document = to_document(&state)?;
        Ok(Self {
            shared: Arc::new(Shared {
                streams: Arc::default(),
                inner: Mutex::new(Inner {
                    state,
                    store: Store::with_config(document, config),
                    recorder: Recorder::new(),
                    pending_meta: PatchMeta::default(),
                    batch_depth: 0,
                    listeners: Vec::new(),
                    next_listener_id: 0,
                }),
                dropped_inside: Mutex::default(),
                commands: RwLock::default(),
                state_schema: OnceLock::new(),
                updaters: Mutex::default(),
                loader: OnceLock::new(),
            }),
        })
    }

    /// Registers a command (a function marked `#[command]`) under its name.
    ///
    /// # Panics
    ///
    /// When a command of the same name is already registered: that is a
    /// bug in the program. [`try_command`](LabSync::try_command) returns
    /// the error instead.
    pub fn command(&self, command: impl Command<S>) -> &Self {
        if let Err(e) = self.try_command(command) {
            panic!("{e}");
        }
        self
    }

    /// Registers a command, refusing a duplicate name.
    ///
    /// # Errors
    ///
    /// [`RegisterError::Duplicate`] when the name is taken.
    pub fn try_command(&self, command: impl Command<S>) -> Result<(), RegisterError> {
        let name = command.info().name;
        let mut commands = write(&self.shared.commands);
        if commands.contains_key(&name) {
            return Err(RegisterError::Duplicate(name));
        }
        commands.insert(name, Arc::new(command));
        Ok(())
    }

    /// Publishes the JSON Schema of the state type, which the transport
    /// serves at `GET {prefix}/schema` next to the commands' schemas.
    #[must_use]
    pub fn with_state_schema(self) -> Self
    where
        S: schemars::JsonSchema,
    {
        let schema = serde_json::to_value(schemars::schema_for!(S)).unwrap_or(Value::Null);
        let _ = self.shared.state_schema.set(schema);
        self
    }

    /// Lets a transport restore a saved document through
    /// [`load_state`](LabSync::load_state) without knowing `S`
    /// ([`SyncSource::load_document`]): what the server's persistence needs.
    #[must_use]
    pub fn with_loader(self) -> Self
    where
        S: DeserializeOwned,
    {
        let _ = self
            .shared
            .loader
            .set(|sync, document| sync.load_state(document));
        self
    }

    pub(crate) fn register_updater(&self, updater: TypedUpdater<S>) {
        self.shared
            .updaters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(updater);
    }

    /// The registered updaters, each bound to this `LabSync`, for a
    /// transport to run (see [`updater`](LabSync::updater)).
    pub fn updaters(&self) -> Vec<Updater> {
        self.shared
            .updaters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|updater| updater.bind(self))
            .collect()
    }

    /// [`load_state`](LabSync::load_state) when a loader was registered
    /// with [`with_loader`](LabSync::with_loader).
    ///
    /// # Errors
    ///
    /// [`LoadError::Unsupported`] without a loader, else as `load_state`.
    pub fn load_document(&self, document: Value) -> Result<u64, LoadError> {
        match self.shared.loader.get() {
            Some(load) => load(self, document),
            None => Err(LoadError::Unsupported),
        }
    }

    /// The state's JSON Schema, if [published](LabSync::with_state_schema).
    pub fn state_schema(&self) -> Option<Value> {
        self.shared.state_schema.get().cloned()
    }

    /// What clients can discover about every registered command, by name.
    pub fn command_infos(&self) -> Vec<CommandInfo> {
        read(&self.shared.commands)
            .values()
            .map(|command| command.info())
            .collect()
    }

    /// Runs the command `ctx.command()` with `params`, with the command's
    /// metadata in scope: every patch its mutations commit carries
    /// `originClientId`, `requestId` and `command`. An unknown name is an
    /// `unknown_command` error (`forbidden` for a principal without
    /// `control`, so that it cannot probe for names); when the context has
    /// a principal that lacks a capability the command requires (`control`
    /// unless it declares others, none for `requires = []`), a `forbidden`
    /// error, and the handler does not run.
    ///
    /// Each patch the command commits has been handed to the subscribers
    /// (the transport's queues) before the returned future completes, so an
    /// ack sent after it follows the command's patches.
    pub fn dispatch(&self, ctx: CommandContext, params: Map<String, Value>) -> CommandFuture {
        let command = read(&self.shared.commands).get(ctx.command()).cloned();
        let Some(command) = command else {
            // A principal that may not control gets `forbidden` for every
            // name, so it cannot tell which commands exist.
            let error = match ctx.principal() {
                Some(principal) if !principal.can("control") => CommandError::forbidden(),
                _ => CommandError::unknown_command(ctx.command()),
            };
            return Box::pin(std::future::ready(Err(error)));
        };
        if let Some(principal) = ctx.principal() {
            // Without a principal (no access control) every command may
            // run; with one, it needs every capability the command
            // requires (`control` unless it declares others; none for an
            // explicit `requires = []`).
            let allowed = command
                .info()
                .requires
                .iter()
                .all(|capability| principal.can(capability));
            if !allowed {
                return Box::pin(std::future::ready(Err(CommandError::forbidden())));
            }
        }
        let meta = ctx.patch_meta();
        Box::pin(with_meta(meta, command.call(self.clone(), ctx, params)))
    }

    /// Runs `mutate` on the tracked view of the state and commits what it
    /// recorded as one patch message (one version), unless a
    /// [`batch`](LabSync::batch) is open.
    ///
    /// A closure that records nothing commits nothing. If the closure
    /// panics, what it recorded up to the panic is committed (the state
    /// already holds those changes, and the mirror must too), then the
    /// panic continues; the `LabSync` stays usable.
    ///
    /// # Panics
    ///
    /// Re-panics a panic of `mutate`; panics when called from inside another
    /// `mutate` closure or a subscriber on the same thread (that would
    /// deadlock).
    pub fn mutate<R>(&self, mutate: impl FnOnce(&mut S::Tracked<'_>) -> R) -> R {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let meta = current_meta();
        if !inner.recorder.is_empty() && inner.pending_meta != meta {
            // One patch message never mixes two commands' operations.
            inner.flush();
        }
        inner.pending_meta = meta;
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut view = inner.state.tracked(inner.recorder.root());
            mutate(&mut view)
        }));
        self.shared.apply_dropped_inside(inner);
        if inner.batch_depth == 0 {
            inner.flush();
        }
        drop(guard);
        match result {
            Ok(value) => value,
            Err(panic) => resume_unwind(panic),
        }
    }

    /// [`mutate`](LabSync::mutate) for closures that use `?` on refused
    /// writes: the error type is fixed, so the closure needs no annotation.
    ///
    /// Writes made before the error stay made and are committed: a refused
    /// write changes nothing, but it does not undo the others.
    ///
    /// # Errors
    ///
    /// The closure's error.
    pub fn try_mutate<R>(
        &self,
        mutate: impl FnOnce(&mut S::Tracked<'_>) -> Result<R, MutationError>,
    ) -> Result<R, MutationError> {
        self.mutate(mutate)
    }

    /// Locks the state for reading.
    pub fn read(&self) -> StateRef<'_, S> {
        StateRef { guard: self.lock() }
    }

    /// Groups every `mutate` until the returned guard is dropped into one
    /// patch message, also across `.await`s.
    ///
    /// Batches nest; the message is committed when the outermost guard
    /// drops. While a batch is open, mutations from other tasks join it as
    /// well, except those of a different command, which are never mixed
    /// into one message (the pending operations are committed first).
    /// Joining clients meanwhile see the last committed version, not the
    /// pending changes.
    pub fn batch(&self) -> Batch {
        self.lock().batch_depth += 1;
        Batch {
            shared: self.shared.clone(),
        }
    }

    /// Replaces the whole state with `document`, validated through serde
    /// and the declared constraints, and commits one `replace` of the whole
    /// document (path `""`).
    ///
    /// Pending operations of an open batch are committed first.
    ///
    /// # Errors
    ///
    /// A document that does not deserialise into `S` (the error names the
    /// path) or breaks a constraint: the state is untouched.
    pub fn load_state(&self, document: Value) -> Result<u64, LoadError>
    where
        S: DeserializeOwned,
    {
        let state: S =
            serde_path_to_error::deserialize(document).map_err(|e| LoadError::Deserialize {
                path: pointer_of(e.path()),
                message: e.inner().to_string(),
            })?;
        let json = to_document(&state)?;
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.flush();
        inner.state = state;
        inner.pending_meta = current_meta();
        inner.commit(vec![PatchOp::Replace {
            path: crate::JsonPointer::root(),
            value: json,
        }]);
        Ok(inner.store.version())
    }

    /// Diffs the typed state against the mirror and commits the
    /// difference: the dump-and-diff escape hatch. With every change going
    /// through `mutate`, the difference is empty and nothing is committed.
    ///
    /// Returns the version after the call.
    pub fn publish(&self) -> u64 {
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.flush();
        match to_document(&inner.state) {
            Ok(json) => {
                let ops = diff(inner.store.document(), &json);
                inner.pending_meta = current_meta();
                inner.commit(ops);
            }
            Err(e) => tracing::error!("publish: the state does not serialise: {e}"),
        }
        inner.store.version()
    }

    /// Calls `listener` with every patch message committed from now on, in
    /// version order, and returns the snapshot it starts from: the first
    /// patch the listener sees has version `snapshot.version() + 1`.
    ///
    /// The listener runs under the state lock, right after each commit:
    /// keep it short and non-blocking (hand the message to a queue). It must
    /// not call back into this `LabSync`. A listener that panics is removed.
    /// Dropping the returned [`Subscription`] removes the listener.
    pub fn subscribe(
        &self,
        listener: impl FnMut(&Committed) + Send + 'static,
    ) -> (Snapshot, Subscription) {
        let mut inner = self.lock();
        let id = inner.next_listener_id;
        inner.next_listener_id += 1;
        inner.listeners.push((id, Box::new(listener)));
        let snapshot = inner.store.snapshot();
        let shared: Arc<dyn SharedOps> = self.shared.clone();
        (
            snapshot,
            Subscription {
                shared: Arc::downgrade(&shared),
                id,
            },
        )
    }

    /// Registers `listener` like [`subscribe`](LabSync::subscribe), but
    /// first hands `on_start` where the subscriber starts, under the same
    /// lock, so whatever `on_start` queues comes before the first patch the
    /// listener sees.
    ///
    /// With `since: Some(n)` and every patch after version `n` still in the
    /// log (at most `max_resume` of them), the start is a
    /// [`Start::Resume`] with those messages; otherwise a
    /// [`Start::Snapshot`]. This is how a transport serves a joining or
    /// resuming client without a gap or a repeat.
    pub fn subscribe_from(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: impl FnOnce(Start),
        listener: impl FnMut(&Committed) + Send + 'static,
    ) -> Subscription {
        let mut inner = self.lock();
        let start = match since.map(|version| (version, inner.store.since(version))) {
            Some((version, Since::Patches(patches))) if patches.len() <= max_resume => {
                Start::Resume { version, patches }
            }
            _ => Start::Snapshot(inner.store.snapshot()),
        };
        on_start(start);
        let id = inner.next_listener_id;
        inner.next_listener_id += 1;
        inner.listeners.push((id, Box::new(listener)));
        let shared: Arc<dyn SharedOps> = self.shared.clone();
        Subscription {
            shared: Arc::downgrade(&shared),
            id,
        }
    }

    /// [`subscribe`](LabSync::subscribe) with an unbounded channel as the
    /// listener: convenient in tests and tools. The subscription ends when
    /// the receiver is dropped.
    pub fn subscribe_channel(&self) -> (Snapshot, std::sync::mpsc::Receiver<Committed>) {
        let (sender, receiver) = std::sync::mpsc::channel();
        let (snapshot, subscription) = self.subscribe(move |committed| {
            // A closed receiver is the subscriber leaving; the commit goes on.
            let _ = sender.send(committed.clone());
        });
        // The listener lives as long as the LabSync; it costs one failed
        // send per commit once the receiver is gone.
        std::mem::forget(subscription);
        (snapshot, receiver)
    }

    /// The serialised document and its version (what a joining client
    /// gets), serialised at most once per version.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().store.snapshot()
    }

    /// The current version: 0 at creation, one more per patch message.
    pub fn version(&self) -> u64 {
        self.lock().store.version()
    }

    /// The patch messages after `version`, for a resuming client.
    pub fn since(&self, version: u64) -> Since {
        self.lock().store.since(version)
    }

    /// Checks the oracle: the mirror equals `serde_json::to_value(&state)`
    /// (after committing pending operations of an open batch). Returns the
    /// patch from the mirror to the state's JSON form when they differ.
    ///
    /// This is what the property tests assert after every commit; it costs
    /// a serialisation of the whole state.
    ///
    /// # Errors
    ///
    /// The difference, as a patch from the mirror to the state.
    pub fn verify_mirror(&self) -> Result<(), Vec<PatchOp>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.flush();
        let json = serde_json::to_value(&inner.state).map_err(|_| Vec::new())?;
        let patch = diff(inner.store.document(), &json);
        if patch.is_empty() {
            Ok(())
        } else {
            Err(patch)
        }
    }

    fn lock(&self) -> LockGuard<'_, S> {
        lock(&self.shared)
    }
}

use crate::stream::{
    AppendStream, IntDeltaStream, Json, ReplaceStream, StreamHub, StreamMessage,
    StreamSubscription, F32, F64,
};

/// Streams: see [`crate::stream`].
impl<S: Reactive + Send + 'static> LabSync<S> {
    /// Registers an append stream: a ring buffer of `capacity` JSON
    /// values. Registration works before or after serving starts; clients
    /// connected already get its snapshot on their next resync.
    ///
    /// # Panics
    ///
    /// When a stream of the same id is registered, or the id is longer
    /// than 65535 bytes: bugs in the program.
    pub fn append_stream(&self, id: &str, capacity: usize) -> AppendStream {
        crate::stream::append_stream(&self.shared.streams, id, capacity)
    }

    /// Registers a replace stream of JSON samples (`stream_replace`).
    ///
    /// # Panics
    ///
    /// As [`append_stream`](LabSync::append_stream).
    pub fn replace_stream(&self, id: &str) -> ReplaceStream<Json> {
        crate::stream::replace_stream(&self.shared.streams, id)
    }

    /// Registers a replace stream of float32 samples (binary frames, tag
    /// `0x01`).
    ///
    /// # Panics
    ///
    /// As [`append_stream`](LabSync::append_stream).
    pub fn replace_stream_f32(&self, id: &str) -> ReplaceStream<F32> {
        crate::stream::replace_stream(&self.shared.streams, id)
    }

    /// Registers a replace stream of float64 samples (binary frames, tag
    /// `0x02`).
    ///
    /// # Panics
    ///
    /// As [`append_stream`](LabSync::append_stream).
    pub fn replace_stream_f64(&self, id: &str) -> ReplaceStream<F64> {
        crate::stream::replace_stream(&self.shared.streams, id)
    }

    /// Registers an int_delta stream of `bins` integer bins, all 0.
    ///
    /// # Panics
    ///
    /// As [`append_stream`](LabSync::append_stream).
    pub fn int_delta_stream(&self, id: &str, bins: usize) -> IntDeltaStream {
        crate::stream::int_delta_stream(&self.shared.streams, id, bins)
    }

    /// [`subscribe_from`](LabSync::subscribe_from) with the streams:
    /// `on_start` gets the start and every stream's snapshot, taken under
    /// the state's lock and the streams' lock together, so the patch
    /// listener gets every later patch and the stream listener every later
    /// stream message, none lost, none repeated. The stream listener runs
    /// under the streams' lock: it must not write a stream or subscribe.
    pub fn subscribe_with_streams(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: impl FnOnce(Start, Vec<StreamMessage>),
        listener: impl FnMut(&Committed) + Send + 'static,
        stream_listener: impl FnMut(&StreamMessage) + Send + 'static,
    ) -> (Subscription, StreamSubscription) {
        let mut inner = self.lock();
        let mut streams = self.shared.streams.lock();
        let start = match since.map(|version| (version, inner.store.since(version))) {
            Some((version, Since::Patches(patches))) if patches.len() <= max_resume => {
                Start::Resume { version, patches }
            }
            _ => Start::Snapshot(inner.store.snapshot()),
        };
        on_start(start, streams.snapshots());
        let stream_subscription = streams.listen(&self.shared.streams, Box::new(stream_listener));
        let id = inner.next_listener_id;
        inner.next_listener_id += 1;
        inner.listeners.push((id, Box::new(listener)));
        let shared: Arc<dyn SharedOps> = self.shared.clone();
        let subscription = Subscription {
            shared: Arc::downgrade(&shared),
            id,
        };
        (subscription, stream_subscription)
    }

    /// Calls `on_snapshot` with stream `id`'s `stream_snapshot` under the
    /// streams' lock (so no message of that stream can come between the
    /// snapshot and what `on_snapshot` does with it); `false` when no such
    /// stream is registered.
    pub fn with_stream_snapshot(
        &self,
        id: &str,
        on_snapshot: &mut dyn FnMut(StreamMessage),
    ) -> bool {
        let streams = self.shared.streams.lock();
        match streams.snapshot(id) {
            Some(snapshot) => {
                on_snapshot(snapshot);
                true
            }
            None => false,
        }
    }
}

/// Where a subscriber starts: see [`LabSync::subscribe_from`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The whole document at a version; patches follow from the next one.
    Snapshot(Snapshot),
    /// The subscriber already holds `version`: these are the messages
    /// after it, oldest first; patches follow from the current version.
    Resume {
        /// The version the subscriber holds.
        version: u64,
        /// The logged patch messages after it.
        patches: Vec<Arc<str>>,
    },
}

/// What a transport needs of a [`LabSync`], without its state type: the
/// server holds an `Arc<dyn SyncSource>`, so it never knows a field type.
///
/// Implemented for every `LabSync<S>`; you do not implement it.
pub trait SyncSource: Send + Sync + fmt::Debug + 'static {
    /// See [`LabSync::subscribe_with_streams`].
    fn subscribe_with_streams(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start, Vec<StreamMessage>),
        listener: Box<dyn FnMut(&Committed) + Send>,
        stream_listener: Box<dyn FnMut(&StreamMessage) + Send>,
    ) -> (Subscription, StreamSubscription);

    /// See [`LabSync::with_stream_snapshot`].
    fn with_stream_snapshot(&self, id: &str, on_snapshot: &mut dyn FnMut(StreamMessage)) -> bool;

    /// See [`LabSync::subscribe_from`].
    fn subscribe_from(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start),
        listener: Box<dyn FnMut(&Committed) + Send>,
    ) -> Subscription;

    /// See [`LabSync::snapshot`].
    fn snapshot(&self) -> Snapshot;

    /// See [`LabSync::version`].
    fn version(&self) -> u64;

    /// See [`LabSync::dispatch`].
    fn dispatch(&self, ctx: CommandContext, params: Map<String, Value>) -> CommandFuture;

    /// See [`LabSync::command_infos`].
    fn command_infos(&self) -> Vec<CommandInfo>;

    /// See [`LabSync::state_schema`].
    fn state_schema(&self) -> Option<Value>;

    /// See [`LabSync::updaters`].
    fn updaters(&self) -> Vec<Updater>;

    /// See [`LabSync::load_document`].
    ///
    /// # Errors
    ///
    /// As [`LabSync::load_document`].
    fn load_document(&self, document: Value) -> Result<u64, LoadError>;
}

impl<S: Reactive + Send + 'static> SyncSource for LabSync<S> {
    fn subscribe_with_streams(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start, Vec<StreamMessage>),
        listener: Box<dyn FnMut(&Committed) + Send>,
        stream_listener: Box<dyn FnMut(&StreamMessage) + Send>,
    ) -> (Subscription, StreamSubscription) {
        LabSync::subscribe_with_streams(
            self,
            since,
            max_resume,
            on_start,
            listener,
            stream_listener,
        )
    }

    fn with_stream_snapshot(&self, id: &str, on_snapshot: &mut dyn FnMut(StreamMessage)) -> bool {
        LabSync::with_stream_snapshot(self, id, on_snapshot)
    }

    fn subscribe_from(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start),
        listener: Box<dyn FnMut(&Committed) + Send>,
    ) -> Subscription {
        LabSync::subscribe_from(self, since, max_resume, on_start, listener)
    }

    fn snapshot(&self) -> Snapshot {
        LabSync::snapshot(self)
    }

    fn version(&self) -> u64 {
        LabSync::version(self)
    }

    fn dispatch(&self, ctx: CommandContext, params: Map<String, Value>) -> CommandFuture {
        LabSync::dispatch(self, ctx, params)
    }

    fn command_infos(&self) -> Vec<CommandInfo> {
        LabSync::command_infos(self)
    }

    fn state_schema(&self) -> Option<Value> {
        LabSync::state_schema(self)
    }

    fn updaters(&self) -> Vec<Updater> {
        LabSync::updaters(self)
    }

    fn load_document(&self, document: Value) -> Result<u64, LoadError> {
        LabSync::load_document(self, document)
    }
}

/// A shared source is a source: lets `Arc<dyn SyncSource>` go wherever a
/// `LabSync` goes.
impl SyncSource for Arc<dyn SyncSource> {
    fn subscribe_with_streams(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start, Vec<StreamMessage>),
        listener: Box<dyn FnMut(&Committed) + Send>,
        stream_listener: Box<dyn FnMut(&StreamMessage) + Send>,
    ) -> (Subscription, StreamSubscription) {
        (**self).subscribe_with_streams(since, max_resume, on_start, listener, stream_listener)
    }

    fn with_stream_snapshot(&self, id: &str, on_snapshot: &mut dyn FnMut(StreamMessage)) -> bool {
        (**self).with_stream_snapshot(id, on_snapshot)
    }

    fn subscribe_from(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start),
        listener: Box<dyn FnMut(&Committed) + Send>,
    ) -> Subscription {
        (**self).subscribe_from(since, max_resume, on_start, listener)
    }

    fn snapshot(&self) -> Snapshot {
        (**self).snapshot()
    }

    fn version(&self) -> u64 {
        (**self).version()
    }

    fn dispatch(&self, ctx: CommandContext, params: Map<String, Value>) -> CommandFuture {
        (**self).dispatch(ctx, params)
    }

    fn command_infos(&self) -> Vec<CommandInfo> {
        (**self).command_infos()
    }

    fn state_schema(&self) -> Option<Value> {
        (**self).state_schema()
    }

    fn updaters(&self) -> Vec<Updater> {
        (**self).updaters()
    }

    fn load_document(&self, document: Value) -> Result<u64, LoadError> {
        (**self).load_document(document)
    }
}

impl<S> Clone for LabSync<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<S> fmt::Debug for LabSync<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabSync").finish_non_exhaustive()
    }
}

/// An open batch: see [`LabSync::batch`]. Dropping it commits the batch's
/// operations as one patch message.
///
/// Dropped inside a `mutate` closure of the same `LabSync` (moved into it),
/// the batch ends when that closure returns.
#[must_use = "the batch ends when this guard is dropped"]
pub struct Batch {
    shared: Arc<dyn SharedOps>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.shared.end_batch();
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch").finish_non_exhaustive()
    }
}

/// A listener registered with [`LabSync::subscribe`]; dropping it removes
/// the listener.
#[must_use = "the listener is removed when this guard is dropped"]
pub struct Subscription {
    shared: Weak<dyn SharedOps>,
    id: u64,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.unsubscribe(self.id);
        }
    }
}

/// What the guards ([`Batch`], [`Subscription`]) do on drop, type-erased so
/// that they need no `S`.
trait SharedOps: Send + Sync {
    fn unsubscribe(&self, id: u64);
    fn end_batch(&self);
}

impl<S> Shared<S> {
    /// Whether this thread holds the lock (runs a `mutate` closure or a
    /// listener of this `LabSync`).
    fn held_here(&self) -> bool {
        let address = std::ptr::from_ref(&self.inner) as usize;
        HELD_LOCKS.with(|held| held.borrow().contains(&address))
    }

    fn dropped_inside(&self) -> MutexGuard<'_, DroppedInside> {
        self.dropped_inside
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies the guards dropped while the lock was held.
    fn apply_dropped_inside(&self, inner: &mut Inner<S>) {
        let dropped = std::mem::take(&mut *self.dropped_inside());
        inner.batch_depth -= dropped.batches;
        if !dropped.subscriptions.is_empty() {
            inner
                .listeners
                .retain(|(id, _)| !dropped.subscriptions.contains(id));
        }
    }
}

impl<S: Reactive + Send> SharedOps for Shared<S> {
    fn unsubscribe(&self, id: u64) {
        if self.held_here() {
            self.dropped_inside().subscriptions.push(id);
            return;
        }
        lock(self).listeners.retain(|(listener, _)| *listener != id);
    }

    fn end_batch(&self) {
        if self.held_here() {
            // The `mutate` running on this thread ends the batch when its
            // closure returns.
            self.dropped_inside().batches += 1;
            return;
        }
        let mut inner = lock(self);
        inner.batch_depth -= 1;
        if inner.batch_depth == 0 {
            inner.flush();
        }
    }
}

impl<S: Reactive> Inner<S> {
    /// Commits the recorded operations, if any.
    fn flush(&mut self) {
        let ops = self.recorder.take_ops();
        self.commit(ops);
    }

    /// Commits `ops` as one version and hands the message to every
    /// listener.
    fn commit(&mut self, ops: Vec<PatchOp>) {
        let meta = std::mem::take(&mut self.pending_meta);
        let committed = match self.store.commit(ops, &meta) {
            Ok(Some(committed)) => committed,
            Ok(None) => return,
            Err(e) => {
                // The recorder produced an operation the mirror could not
                // apply: a bug, since the mirror equals the state's JSON.
                // Keep the replicas right: re-send the whole document.
                tracing::error!("lab-link: recorded patch does not apply to the mirror ({e}); resending the whole state");
                return self.resync_mirror(meta);
            }
        };
        self.notify(&committed);
    }

    fn resync_mirror(&mut self, meta: PatchMeta) {
        let json = match serde_json::to_value(&self.state) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(
                    "lab-link: the state does not serialise ({e}); replicas may be stale"
                );
                return;
            }
        };
        let ops = vec![PatchOp::Replace {
            path: crate::JsonPointer::root(),
            value: json,
        }];
        if let Ok(Some(committed)) = self.store.commit(ops, &meta) {
            self.notify(&committed);
        }
    }

    fn notify(&mut self, committed: &Committed) {
        self.listeners.retain_mut(|(id, listener)| {
            match catch_unwind(AssertUnwindSafe(|| listener(committed))) {
                Ok(()) => true,
                Err(_) => {
                    tracing::error!("lab-link: patch listener {id} panicked; it is removed");
                    false
                }
            }
        });
    }
}

/// The lock guard, which also marks this thread as holding a lock.
struct LockGuard<'a, S> {
    guard: MutexGuard<'a, Inner<S>>,
    /// The lock's address in `HELD_LOCKS`.
    address: usize,
}

impl<S> Deref for LockGuard<'_, S> {
    type Target = Inner<S>;

    fn deref(&self) -> &Inner<S> {
        &self.guard
    }
}

impl<S> std::ops::DerefMut for LockGuard<'_, S> {
    fn deref_mut(&mut self) -> &mut Inner<S> {
        &mut self.guard
    }
}

impl<S> Drop for LockGuard<'_, S> {
    fn drop(&mut self) {
        let address = self.address;
        HELD_LOCKS.with(|held| held.borrow_mut().retain(|&a| a != address));
    }
}

fn lock<S>(shared: &Shared<S>) -> LockGuard<'_, S> {
    // `data_ptr` is unstable; the address of the Mutex identifies it as well.
    let address = std::ptr::from_ref(&shared.inner) as usize;
    if HELD_LOCKS.with(|held| held.borrow().contains(&address)) {
        panic!(
            "LabSync used from inside a mutate closure or a patch listener on the same thread: \
             that would deadlock; finish the mutation first"
        );
    }
    // A panic under the lock only comes from lab-link itself (user closures
    // and listeners run inside catch_unwind), and every such path leaves the
    // state and mirror consistent, so a poisoned lock is still good.
    let mut guard = shared
        .inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Guards dropped inside a listener are applied by the next lock holder.
    shared.apply_dropped_inside(&mut guard);
    HELD_LOCKS.with(|held| held.borrow_mut().push(address));
    LockGuard { guard, address }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // The command table is only ever replaced whole under the lock.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn to_document<S: Reactive>(state: &S) -> Result<Value, MutationError> {
    let mut path = String::new();
    state.validate(&mut path)?;
    serde_json::to_value(state).map_err(|e| {
        MutationError::new(
            "",
            crate::MutationErrorKind::Serialize {
                message: e.to_string(),
            },
        )
    })
}

/// The escaped JSON Pointer of a `serde_path_to_error` path.
pub(crate) fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = crate::JsonPointer::root();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_index(*index),
            Segment::Map { key } => pointer.push(key),
            Segment::Enum { variant } => pointer.push(variant),
            Segment::Unknown => pointer.push("?"),
        }
    }
    pointer.as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    type Map = BTreeMap<String, i64>;

    /// The versions of the messages received so far.
    fn received(patches: &std::sync::mpsc::Receiver<Committed>) -> Vec<u64> {
        patches.try_iter().map(|c| c.version()).collect()
    }

    #[test]
    fn a_batch_dropped_inside_mutate_ends_when_the_closure_returns() {
        let sync = LabSync::new(Map::new());
        let (_, patches) = sync.subscribe_channel();
        let batch = sync.batch();
        sync.mutate(|m| m.insert("a".into(), 1).unwrap());
        sync.mutate(move |m| {
            m.insert("b".into(), 2).unwrap();
            drop(batch);
        });
        // Both writes in one message; the batch no longer holds back the
        // next mutation (it used to stay open for good after a panic).
        assert_eq!(received(&patches), [1]);
        sync.mutate(|m| m.insert("c".into(), 3).unwrap());
        assert_eq!(received(&patches), [2]);
    }

    #[test]
    fn a_batch_dropped_while_a_closure_unwinds_does_not_abort() {
        let sync = LabSync::new(Map::new());
        let (_, patches) = sync.subscribe_channel();
        let batch = sync.batch();
        let result = catch_unwind(AssertUnwindSafe(|| {
            sync.mutate(move |m| {
                let _batch = batch;
                m.insert("a".into(), 1).unwrap();
                panic!("boom");
            })
        }));
        // Before the fix the batch's drop panicked during the unwinding:
        // the process aborted.
        assert!(result.is_err());
        assert_eq!(received(&patches), [1]);
        assert_eq!(sync.verify_mirror(), Ok(()));
    }

    #[test]
    fn a_subscription_dropped_inside_mutate_stops_delivery() {
        let sync = LabSync::new(Map::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let (_, subscription) = sync.subscribe(move |c| log.lock().unwrap().push(c.version()));
        sync.mutate(|m| m.insert("a".into(), 1).unwrap());
        sync.mutate(move |m| {
            drop(subscription);
            m.insert("b".into(), 2).unwrap();
        });
        sync.mutate(|m| m.insert("c".into(), 3).unwrap());
        assert_eq!(*seen.lock().unwrap(), [1]);
    }
}
