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

mod commands;
mod dynamic;
mod listeners;
mod lock;
mod replica;
mod source;
mod streams;

pub use dynamic::{DynamicError, Transaction};
pub use lock::{Batch, Subscription};
pub use replica::{Replica, ReplicaError};
pub use source::{Start, SyncSource};

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::command::{current_meta, Command, RegisterError};
use crate::reactive::{MutationError, Reactive, Recorder};
use crate::stream::StreamHub;
use crate::updater::TypedUpdater;
use crate::{diff, Committed, Epoch, PatchMeta, PatchOp, Since, Snapshot, Store, StoreConfig};

use commands::write;
use listeners::{Listener, Listeners};
use lock::{DroppedInside, LockGuard, SharedOps};

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
    /// The exclusive groups of running commands.
    exclusive: Arc<crate::command::ExclusiveGroups>,
    /// The JSON Schema of `S`, when the application published it.
    state_schema: OnceLock<Value>,
    /// The registered updaters, kept as data: the core spawns nothing.
    updaters: Mutex<Vec<TypedUpdater<S>>>,
    /// `load_state` for the type-erased [`SyncSource::load_document`], set
    /// by [`LabSync::with_loader`] (it needs `S: DeserializeOwned`).
    loader: OnceLock<Loader<S>>,
    /// This instance's identity, fixed at its first read or
    /// [`LabSync::with_epoch`].
    epoch: OnceLock<Epoch>,
}

type Loader<S> = fn(&LabSync<S>, Value) -> Result<u64, LoadError>;

struct Inner<S> {
    state: S,
    store: Store,
    recorder: Recorder,
    /// The metadata of the operations in `recorder`.
    pending_meta: PatchMeta,
    /// Open [`Batch`] guards.
    batch_depth: usize,
    listeners: Listeners,
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
                    listeners: Listeners::default(),
                }),
                dropped_inside: Mutex::default(),
                commands: RwLock::default(),
                exclusive: Arc::default(),
                state_schema: OnceLock::new(),
                updaters: Mutex::default(),
                loader: OnceLock::new(),
                epoch: OnceLock::new(),
            }),
        })
    }

    /// Gives this instance the epoch `epoch` instead of a random one (see
    /// [`Epoch`]): for an application that names its instances itself.
    ///
    /// Call it right after construction: the epoch is fixed for the
    /// instance's life from the first [`epoch`](LabSync::epoch) read, and
    /// a later `with_epoch` is ignored (with a warning in the log).
    ///
    /// ```
    /// use lab_link_core::{Epoch, LabSync};
    ///
    /// let epoch = Epoch::new("supply-2")?;
    /// let sync = LabSync::new(vec![0_u8]).with_epoch(epoch.clone());
    /// assert_eq!(sync.epoch(), epoch);
    /// # Ok::<(), lab_link_core::EpochError>(())
    /// ```
    #[must_use]
    pub fn with_epoch(self, epoch: Epoch) -> Self {
        if let Err(ignored) = self.shared.epoch.set(epoch) {
            tracing::warn!(
                %ignored,
                kept = %self.epoch(),
                "with_epoch after the epoch was fixed: the first epoch is kept"
            );
        }
        self
    }

    /// This instance's identity (see [`Epoch`]): random unless set by
    /// [`with_epoch`](LabSync::with_epoch), the same for every clone and
    /// for the instance's whole life. Versions are comparable only within
    /// one epoch.
    ///
    /// ```
    /// use lab_link_core::LabSync;
    ///
    /// let sync = LabSync::new(vec![0_u8]);
    /// assert_eq!(sync.epoch(), sync.clone().epoch());
    /// assert_ne!(sync.epoch(), LabSync::new(vec![0_u8]).epoch());
    /// ```
    pub fn epoch(&self) -> Epoch {
        self.shared.epoch.get_or_init(Epoch::random).clone()
    }

    /// Registers a command (a function marked `#[command]`) under its name.
    ///
    /// # Panics
    ///
    /// When a command of the same name is already registered: that is a
    /// bug in the program. [`try_command`](LabSync::try_command) returns
    /// the error instead. Also when the command's `edits` binding names a
    /// path that `S` does not have or a field another command edits.
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
    /// [`RegisterError::Duplicate`] when the name is taken;
    /// [`RegisterError::Reserved`] when it is a built-in command's;
    /// [`RegisterError::UnknownPath`] when an `edits` path is not a field
    /// of `S`; [`RegisterError::SameField`] when a registered command
    /// already edits the field.
    pub fn try_command(&self, command: impl Command<S>) -> Result<(), RegisterError> {
        let info = command.info();
        if crate::command::RESERVED_COMMANDS.contains(&info.name.as_str()) {
            return Err(RegisterError::Reserved(info.name));
        }
        let mut commands = write(&self.shared.commands);
        if commands.contains_key(&info.name) {
            return Err(RegisterError::Duplicate(info.name));
        }
        let registered: Vec<crate::command::CommandInfo> =
            commands.values().map(|other| other.info()).collect();
        crate::schema::check_edits::<S>(&info, &registered)?;
        commands.insert(info.name, Arc::new(command));
        Ok(())
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
        let snapshot = inner.store.snapshot();
        (snapshot, self.listen(&mut inner, Box::new(listener)))
    }

    /// Adds `listener` under the held lock.
    fn listen(&self, inner: &mut Inner<S>, listener: Listener) -> Subscription {
        let id = inner.listeners.add(listener);
        let shared: Arc<dyn SharedOps> = self.shared.clone();
        Subscription::new(Arc::downgrade(&shared), id)
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

    pub(crate) fn register_updater(&self, updater: TypedUpdater<S>) {
        self.shared
            .updaters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(updater);
    }

    fn lock(&self) -> LockGuard<'_, S> {
        lock::lock(&self.shared)
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
        self.listeners.notify(committed);
    }
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
