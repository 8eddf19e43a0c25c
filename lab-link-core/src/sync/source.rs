//! [`SyncSource`]: the transport's interface to a [`LabSync`], without
//! its state type.
//!
//! A user of lab-link never calls these methods: the server (and tests of
//! a transport) do. They are not inherent methods of `LabSync`, so its
//! documentation lists only what an application uses; bring the trait in
//! scope (`use lab_link_core::SyncSource;`) to reach them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::commands::read;
use super::{LabSync, LoadError, Subscription};
use crate::command::{
    with_meta, Acquired, CommandContext, CommandError, CommandFuture, CommandInfo, CommandPolicy,
};
use crate::reactive::Reactive;
use crate::stream::{StreamHub, StreamMessage, StreamSubscription};
use crate::updater::Updater;
use crate::{Committed, Epoch, Snapshot};

/// Where a subscriber starts: see [`SyncSource::subscribe_from`].
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
/// Implemented by every `LabSync<S>`; you do not implement it, and an
/// application does not call it: these are the transport's methods
/// (subscribing a socket with its start, running a client's command,
/// the updaters to run, restoring a saved document).
///
/// ```
/// use lab_link_core::command::CommandContext;
/// use lab_link_core::{LabSync, Start, SyncSource};
///
/// let sync = LabSync::new(vec![1_u32]);
/// let source: std::sync::Arc<dyn SyncSource> = std::sync::Arc::new(sync.clone());
///
/// // A socket joins: its start, then every later patch.
/// let mut first = None;
/// let _subscription = source.subscribe_from(None, 0, &mut |start| first = Some(start), Box::new(|_| {}));
/// assert!(matches!(first, Some(Start::Snapshot(s)) if s.version() == 0));
///
/// // A client calls a command that is not registered.
/// let ctx = CommandContext::new("client-1", Some("r1".into()), "nope");
/// let error = futures_lite_ready(source.dispatch(ctx, Default::default())).unwrap_err();
/// assert_eq!(error.code(), "unknown_command");
/// # fn futures_lite_ready<T>(future: std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>) -> T {
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     let mut future = future;
/// #     match future.as_mut().poll(&mut cx) { std::task::Poll::Ready(v) => v, _ => unreachable!() }
/// # }
/// ```
pub trait SyncSource: Send + Sync + fmt::Debug + 'static {
    /// Registers `listener` like [`LabSync::subscribe`], but first hands
    /// `on_start` where the subscriber starts, under the same lock, so
    /// whatever `on_start` queues comes before the first patch the listener
    /// sees.
    ///
    /// With `since: Some(n)` and every patch after version `n` still in the
    /// log (at most `max_resume` of them), the start is a
    /// [`Start::Resume`] with those messages; otherwise a
    /// [`Start::Snapshot`]. This is how a transport serves a joining or
    /// resuming client without a gap or a repeat.
    fn subscribe_from(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start),
        listener: Box<dyn FnMut(&Committed) + Send>,
    ) -> Subscription;

    /// [`subscribe_from`](SyncSource::subscribe_from) with the streams:
    /// `on_start` gets the start and every stream's snapshot, taken under
    /// the state's lock and the streams' lock together, so the patch
    /// listener gets every later patch and the stream listener every later
    /// stream message, none lost, none repeated. The stream listener runs
    /// under the streams' lock: it must not write a stream or subscribe.
    fn subscribe_with_streams(
        &self,
        since: Option<u64>,
        max_resume: usize,
        on_start: &mut dyn FnMut(Start, Vec<StreamMessage>),
        listener: Box<dyn FnMut(&Committed) + Send>,
        stream_listener: Box<dyn FnMut(&StreamMessage) + Send>,
    ) -> (Subscription, StreamSubscription);

    /// Calls `on_snapshot` with stream `id`'s `stream_snapshot` under the
    /// streams' lock (so no message of that stream can come between the
    /// snapshot and what `on_snapshot` does with it); `false` when no such
    /// stream is registered.
    fn with_stream_snapshot(&self, id: &str, on_snapshot: &mut dyn FnMut(StreamMessage)) -> bool;

    /// [`LabSync::snapshot`].
    fn snapshot(&self) -> Snapshot;

    /// [`LabSync::version`].
    fn version(&self) -> u64;

    /// [`LabSync::epoch`]: the instance's identity, which a transport
    /// sends with versions so that a restarted primary is never resumed
    /// as if it were the same one.
    fn epoch(&self) -> Epoch;

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
    fn dispatch(&self, ctx: CommandContext, params: Map<String, Value>) -> CommandFuture;

    /// What clients can discover about every registered command, by name.
    fn command_infos(&self) -> Vec<CommandInfo>;

    /// The state's JSON Schema, if
    /// [published](LabSync::with_state_schema).
    fn state_schema(&self) -> Option<Value>;

    /// The schema document served at `GET {prefix}/schema`: the
    /// [published](LabSync::with_state_schema) state schema, every
    /// command, every stream, and the `schemaHash` (see
    /// [`crate::schema`]).
    fn schema(&self) -> Value {
        crate::schema::document(
            self.state_schema(),
            self.command_infos(),
            self.stream_infos(),
        )
    }

    /// What the schema document tells about every registered stream, in
    /// registration order.
    fn stream_infos(&self) -> Vec<crate::stream::StreamInfo>;

    /// The registered updaters (see [`LabSync::updater`]), each bound to
    /// the `LabSync`, for the transport to run.
    fn updaters(&self) -> Vec<Updater>;

    /// [`LabSync::load_state`] when a loader was registered with
    /// [`LabSync::with_loader`]: how the server restores a saved document.
    ///
    /// # Errors
    ///
    /// [`LoadError::Unsupported`] without a loader, else as `load_state`.
    fn load_document(&self, document: Value) -> Result<u64, LoadError>;

    /// The JSON Pointer patterns of the fields marked
    /// `#[reactive(history)]` (`*` for any index or key), for the server's
    /// history recorder.
    fn history_paths(&self) -> Vec<String>;
}

impl<S: Reactive + Send + 'static> LabSync<S> {
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
}

impl<S: Reactive + Send + 'static> SyncSource for LabSync<S> {
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
        LabSync::snapshot(self)
    }

    fn version(&self) -> u64 {
        LabSync::version(self)
    }

    fn epoch(&self) -> Epoch {
        LabSync::epoch(self)
    }

    fn dispatch(&self, ctx: CommandContext, params: Map<String, Value>) -> CommandFuture {
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
        let policy = command.policy();
        if policy != CommandPolicy::default() {
            if let Some(control) = ctx.control() {
                control.set_policy(policy.clone());
            }
        }
        let Some(group) = policy.exclusive() else {
            return Box::pin(with_meta(meta, command.call(self.clone(), ctx, params)));
        };
        // The group is taken before the handler runs and freed when its
        // future ends or is dropped.
        let group = crate::command::group_name(group, &params).into_owned();
        let (turn, behind) = match self.shared.exclusive.acquire(&group, &ctx, policy.queue()) {
            Ok(Acquired::Now(guard)) => {
                let future = with_meta(meta, command.call(self.clone(), ctx, params));
                return Box::pin(async move {
                    let outcome = future.await;
                    drop(guard);
                    outcome
                });
            }
            Ok(Acquired::Queued { turn, behind }) => (turn, behind),
            Err(busy) => return Box::pin(std::future::ready(Err(busy))),
        };
        // Queued: it waits for its turn, cancellable, and says so.
        ctx.progress(
            0.0,
            format!("waiting for the exclusive group {group:?}: {behind} is ahead"),
        );
        let sync = self.clone();
        Box::pin(async move {
            let waited = {
                let mut cancelled = std::pin::pin!(ctx.cancelled());
                let mut turn = turn;
                std::future::poll_fn(|cx| {
                    if let Poll::Ready(reason) = cancelled.as_mut().poll(cx) {
                        return Poll::Ready(Err(reason));
                    }
                    Pin::new(&mut turn).poll(cx).map(Ok)
                })
                .await
            };
            let guard = match waited {
                Ok(Ok(guard)) => guard,
                Err(reason) => return Err(reason.error(policy.timeout())),
                // The group hands its guard over before it drops a
                // waiter; only a group dropped with everything else ends
                // a wait without one.
                Ok(Err(_)) => {
                    return Err(CommandError::command_failed(
                        "the exclusive group went away while the command waited",
                    ))
                }
            };
            ctx.progress(0.0, "started");
            let outcome = with_meta(meta, command.call(sync, ctx, params)).await;
            drop(guard);
            outcome
        })
    }

    fn command_infos(&self) -> Vec<CommandInfo> {
        read(&self.shared.commands)
            .values()
            .map(|command| command.info())
            .collect()
    }

    fn state_schema(&self) -> Option<Value> {
        self.shared.state_schema.get().cloned()
    }

    fn stream_infos(&self) -> Vec<crate::stream::StreamInfo> {
        self.shared.streams.lock().infos()
    }

    fn updaters(&self) -> Vec<Updater> {
        self.shared
            .updaters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|updater| updater.bind(self))
            .collect()
    }

    fn load_document(&self, document: Value) -> Result<u64, LoadError> {
        match self.shared.loader.get() {
            Some(load) => load(self, document),
            None => Err(LoadError::Unsupported),
        }
    }

    fn history_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        S::history_paths(&mut String::new(), &mut out);
        out
    }
}

/// Hands `on_start` the start and every stream's snapshot under the
/// streams' lock (the caller holds the state's lock: the lock order), and
/// registers `stream_listener` under the same lock.
pub(super) fn start_with_streams(
    hub: &Arc<StreamHub>,
    start: Start,
    on_start: &mut dyn FnMut(Start, Vec<StreamMessage>),
    stream_listener: Box<dyn FnMut(&StreamMessage) + Send>,
) -> StreamSubscription {
    let mut streams = hub.lock();
    on_start(start, streams.snapshots());
    streams.listen(hub, stream_listener)
}

/// [`SyncSource::with_stream_snapshot`] of a hub.
pub(super) fn stream_snapshot(
    hub: &StreamHub,
    id: &str,
    on_snapshot: &mut dyn FnMut(StreamMessage),
) -> bool {
    match hub.lock().snapshot(id) {
        Some(snapshot) => {
            on_snapshot(snapshot);
            true
        }
        None => false,
    }
}
