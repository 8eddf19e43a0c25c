//! One sync socket: the subscription that feeds its bounded queue, the
//! writer task that drains the queue, and the reader loop.
//!
//! The queue is the only place a client's backlog can grow, and it is
//! bounded twice: by a message count,
//! [`ServerConfig::queue_depth`](crate::ServerConfig::queue_depth), and by
//! the bytes the queued messages put on the wire,
//! [`ServerConfig::queue_bytes`](crate::ServerConfig::queue_bytes). The
//! subscription's listener runs under the state lock and only `try_send`s
//! the shared patch text (a reference-count bump); when the queue is full
//! by either bound the client is marked *lagging*, the listener stops
//! feeding it, and once the writer has written out what was queued, the
//! client is resubscribed with a fresh snapshot (clients treat a later
//! snapshot as a full reset). So a slow client costs at most its queue and
//! never slows the commit path or the other clients.
//!
//! The byte bound is what a stalled reader meets; the count is generous,
//! so that a burst of tiny patches while a healthy reader (or its writer
//! task) is descheduled for a moment fits instead of costing that reader
//! individual patches. On the pre-wired server, `TCP_NOTSENT_LOWAT` keeps
//! the kernel from absorbing megabytes of a stalled reader's backlog before
//! the queue sees it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lab_link_auth::AuthPrincipal;
use lab_link_core::command::{CommandContext, CommandError};
use lab_link_core::protocol::{
    ClientInfo, ClientMessage, PresenceEntry, RejectedCommand, ServerMessage,
};
use lab_link_core::stream::{StreamKind, StreamMessage, StreamSubscription};
use lab_link_core::{Committed, Start, Subscription};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use crate::access::Access;
use crate::commands::{self, Cancellable, PendingCommand, Work, COMMAND_QUEUE};
use crate::frame::{shared_text, stream_frame};
use crate::queue::{Queue, TrySendError};
use crate::shared::{unix_millis, ClientStats, Feed, Opening, Resyncs, Shared, Socket};

/// How many queued frames the writer feeds before one flush.
const FRAMES_PER_FLUSH: usize = 64;

/// Serves one upgraded sync socket until it closes or the server shuts
/// down.
///
/// The set-up runs when it is called; the future it returns holds only
/// what the connection needs while it lives (a future keeps its
/// arguments for as long as it exists: the socket itself, moved into the
/// reader and writer at once, would cost every idle connection its size
/// again).
pub(crate) fn serve<IO>(
    shared: Arc<Shared>,
    ws: WebSocketStream<IO>,
    opening: Opening,
    access: Option<Access>,
) -> impl Future<Output = ()> + Send
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let link = Link::new(shared, access);
    link.level2.store(opening.level2, Ordering::Release);
    // Listed before it is registered: the others learn of it, and its own
    // list (queued with its start) already holds it.
    link.shared.presence_joined(PresenceEntry {
        client_id: link.client_id.clone(),
        principal: link.principal_label(),
        kind: None,
        name: None,
        connected_at: unix_millis(),
        last_command_at: None,
    });
    let registered = {
        let socket: Arc<dyn Socket> = link.clone();
        Arc::downgrade(&socket)
    };
    lock(&link.shared.clients).push(registered.clone());
    link.subscribe(opening.since);
    tracing::debug!(client = %link.client_id, "sync client connected");

    let (sink, stream) = ws.split();
    let writer = link.shared.tracker.spawn(write_loop(link.clone(), sink));
    // Commands of this connection start one after the other, in a task of
    // their own, so the reader goes on answering pings and frames
    // meanwhile; a command that waits moves to a task of its own (see
    // `commands`); other connections' commands run concurrently in theirs.
    // Boxed: the channel allocates its first block of 32 slots up front,
    // 8 KiB of idle memory per connection with the command inline.
    let (commands, pending) = mpsc::channel(COMMAND_QUEUE);
    let worker = link
        .shared
        .tracker
        .spawn(commands::command_loop(link.clone(), pending));
    async move {
        let end = read_loop(&link, stream, &commands).await;
        drop(commands);
        link.unsubscribe();
        if end == ReadEnd::Gone {
            // Nothing more can reach the client.
            link.stop_writer.cancel();
        }
        // Otherwise the writer ends after the queued close frame, or on
        // shutdown.
        let _ = worker.await;
        commands::cancel_on_disconnect(&link);
        let _ = writer.await;
        lock(&link.shared.clients)
            .retain(|client| !client.ptr_eq(&registered) && client.strong_count() > 0);
        link.shared.presence_left(&link.client_id);
        if link.access.is_none() {
            // Without access control the lock is the connection's own.
            link.shared.control_ended(&link.client_id);
        }
        tracing::debug!(client = %link.client_id, "sync client disconnected");
    }
}

/// What a connection's tasks share.
pub(crate) struct Link {
    shared: Arc<Shared>,
    client_id: String,
    /// The outgoing frames; the writer task is its consumer.
    queue: Arc<Queue<Message>>,
    /// The queue's state, shared with the listener.
    backlog: Arc<Backlog>,
    /// The current subscription and the flag that switches its listener
    /// off (set before a new subscription starts, so two listeners never
    /// both feed the queue).
    subscription: Mutex<Option<(Subscription, StreamSubscription, Arc<AtomicBool>)>>,
    /// Tells the writer the client is gone.
    stop_writer: CancellationToken,
    /// Tells the reader the writer has ended (the client was dropped after
    /// a failed or timed-out write, or closed): nothing can reach the
    /// client any more, so the connection ends.
    writer_done: CancellationToken,
    /// With access control: the socket's credential and principal.
    access: Option<Access>,
    /// Whether the client opted in to level 2, part 2 (`?level=2` or a
    /// `hello`).
    level2: AtomicBool,
    /// Whether the client has sent a frame (a `hello` must be the first).
    spoke: AtomicBool,
    /// What the client said of itself in its `hello`.
    hello: Mutex<Option<ClientInfo>>,
    /// Its commands that waited and are still running, by `requestId`.
    cancellable: Mutex<Cancellable>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The state of a client's queue, shared by its tasks and its listener.
#[derive(Debug)]
struct Backlog {
    /// [`ServerConfig::queue_bytes`](crate::ServerConfig::queue_bytes).
    max_bytes: usize,
    /// Set when the queue was full; cleared by the writer when it
    /// resubscribes.
    lagging: AtomicBool,
    /// Bytes of the queued messages: added when a message is queued,
    /// subtracted when the writer takes it.
    bytes: AtomicUsize,
    /// The most messages queued at once.
    peak: AtomicUsize,
    /// The most bytes queued at once.
    peak_bytes: AtomicUsize,
    /// How many times `lagging` was set because the count was reached.
    fell_behind_depth: AtomicU64,
    /// How many times `lagging` was set because the bytes were reached.
    fell_behind_bytes: AtomicU64,
    /// How many `resync` messages the client sent.
    requested: AtomicU64,
    /// The latest replace-stream frame per stream that did not fit the
    /// queue (latest wins), in the order the streams first overflowed.
    pending: Mutex<Vec<(Arc<str>, Message)>>,
}

/// Which bound a full queue met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Full {
    Depth,
    Bytes,
}

impl Backlog {
    fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            lagging: AtomicBool::new(false),
            bytes: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            peak_bytes: AtomicUsize::new(0),
            fell_behind_depth: AtomicU64::new(0),
            fell_behind_bytes: AtomicU64::new(0),
            requested: AtomicU64::new(0),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Counts `len` more bytes if they fit the byte bound. An empty queue
    /// takes anything, so a message (or a start) larger than the bound
    /// still gets through instead of resyncing the client forever.
    fn try_reserve(&self, len: usize) -> bool {
        let fits = |queued: usize| queued == 0 || queued.saturating_add(len) <= self.max_bytes;
        let reserved = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                fits(queued).then_some(queued + len)
            });
        match reserved {
            Ok(queued) => {
                self.peak_bytes.fetch_max(queued + len, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    /// Queues `message` if both bounds allow it; gives it back with the
    /// bound it met otherwise (or `None` when the client is gone).
    fn try_queue(
        &self,
        queue: &Queue<Message>,
        message: Message,
    ) -> Result<(), Option<(Full, Message)>> {
        let len = wire_len(&message);
        if !self.try_reserve(len) {
            return Err(Some((Full::Bytes, message)));
        }
        match queue.try_send(message) {
            Ok(queued) => {
                self.queued(queued);
                Ok(())
            }
            Err(error) => {
                self.release(len);
                match error {
                    TrySendError::Full(message) => Err(Some((Full::Depth, message))),
                    TrySendError::Closed(_) => Err(None),
                }
            }
        }
    }

    /// Counts `len` bytes about to be queued whatever the bound (replies).
    /// Bytes are counted before the message is in the queue, so the
    /// writer, which subtracts what it takes, never takes bytes not yet
    /// counted.
    fn reserve(&self, len: usize) {
        let bytes = self.bytes.fetch_add(len, Ordering::AcqRel) + len;
        self.peak_bytes.fetch_max(bytes, Ordering::Relaxed);
    }

    /// Records the queue's length after a message was queued.
    fn queued(&self, queued: usize) {
        self.peak.fetch_max(queued, Ordering::Relaxed);
    }

    /// Uncounts `len` reserved bytes: taken off the queue by the writer,
    /// or never queued.
    fn release(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::AcqRel);
    }

    /// Records a message taken off the queue by the writer.
    fn taken(&self, message: &Message) {
        self.release(wire_len(message));
    }

    /// Marks the client lagging: the queue was full.
    fn full(&self, bound: Full) {
        if !self.lagging.swap(true, Ordering::AcqRel) {
            let counter = match bound {
                Full::Depth => &self.fell_behind_depth,
                Full::Bytes => &self.fell_behind_bytes,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The bytes a message puts on the wire (its payload; headers aside).
fn wire_len(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        Message::Close(_) => 0,
        Message::Frame(frame) => frame.len(),
    }
}

/// Why the read loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    /// The client closed, the connection broke, or the writer gave up on
    /// the client.
    Gone,
    /// A close frame was queued for the writer (idle, frame too large).
    Closing,
    /// The server is shutting down; the writer closes with 1001.
    Shutdown,
}

impl Link {
    /// A new client's link, not subscribed yet.
    fn new(shared: Arc<Shared>, access: Option<Access>) -> Arc<Self> {
        let queue = Arc::new(Queue::new(shared.config.queue_depth));
        let backlog = Arc::new(Backlog::new(shared.config.queue_bytes));
        Arc::new(Link {
            shared,
            client_id: uuid::Uuid::new_v4().to_string(),
            queue,
            backlog,
            subscription: Mutex::new(None),
            stop_writer: CancellationToken::new(),
            writer_done: CancellationToken::new(),
            access,
            level2: AtomicBool::new(false),
            spoke: AtomicBool::new(false),
            hello: Mutex::new(None),
            cancellable: Mutex::default(),
        })
    }

    /// (Re)subscribes: queues the snapshot (or the resume) and then every
    /// later patch, with nothing lost or repeated in between.
    fn subscribe(&self, since: Option<u64>) {
        // Built before the state lock is taken: the schema document takes
        // the streams' lock itself.
        let schema_hash = self.is_level2().then(|| {
            let schema = self.shared.source.schema();
            schema["schemaHash"].as_str().unwrap_or_default().to_owned()
        });
        let mut current = lock(&self.subscription);
        if let Some((_, _, active)) = current.take() {
            active.store(false, Ordering::Release);
        }
        let active = Arc::new(AtomicBool::new(true));
        let listener = {
            let active = active.clone();
            let backlog = self.backlog.clone();
            let queue = self.queue.clone();
            let shared = self.shared.clone();
            move |committed: &Committed| {
                if !active.load(Ordering::Acquire) {
                    return;
                }
                let text = shared.frame_text.of(committed.message_shared());
                match backlog.try_queue(&queue, Message::Text(text)) {
                    Ok(()) => {}
                    Err(Some((bound, _))) => {
                        active.store(false, Ordering::Release);
                        backlog.full(bound);
                    }
                    Err(None) => active.store(false, Ordering::Release),
                }
            }
        };
        let stream_listener = {
            let active = active.clone();
            let backlog = self.backlog.clone();
            let queue = self.queue.clone();
            move |message: &StreamMessage| {
                if !active.load(Ordering::Acquire) {
                    return;
                }
                let frame = stream_frame(message);
                let replace = message.kind() == StreamKind::Replace;
                if replace {
                    // A replace frame already waiting outside the queue
                    // is superseded: latest wins, order kept.
                    let mut pending = lock(&backlog.pending);
                    if let Some(slot) = pending.iter_mut().find(|(id, _)| **id == *message.id()) {
                        slot.1 = frame;
                        return;
                    }
                    drop(pending);
                }
                match backlog.try_queue(&queue, frame) {
                    Ok(()) => {}
                    Err(Some((_, frame))) if replace => {
                        lock(&backlog.pending).push((message.id().into(), frame));
                    }
                    Err(Some((bound, _))) => {
                        active.store(false, Ordering::Release);
                        backlog.full(bound);
                    }
                    Err(None) => active.store(false, Ordering::Release),
                }
            }
        };
        let max_resume = self.shared.config.queue_depth.saturating_sub(2);
        let (subscription, streams) = self.shared.source.subscribe_with_streams(
            since,
            max_resume,
            &mut |start, snapshots| {
                self.queue_start(start, snapshots, schema_hash.as_deref(), &active)
            },
            Box::new(listener),
            Box::new(stream_listener),
        );
        *current = Some((subscription, streams, active));
    }

    /// Queues the first frames of a subscription. Runs under the state
    /// lock, so it only `try_send`s; a full queue marks the client lagging
    /// and switches the new listener off (the patches it would queue have
    /// no base on the client), and the writer resubscribes the client once
    /// the queue has drained.
    fn queue_start(
        &self,
        start: Start,
        streams: Vec<StreamMessage>,
        schema_hash: Option<&str>,
        active: &AtomicBool,
    ) {
        // The stream snapshots supersede any frame still waiting.
        lock(&self.backlog.pending).clear();
        let mut frames = match start {
            Start::Snapshot(snapshot) => {
                vec![Message::Text(Utf8Bytes::from(
                    snapshot.message(Some(&self.client_id), schema_hash),
                ))]
            }
            Start::Resume { version, patches } => {
                let mut frames = Vec::with_capacity(patches.len() + 1);
                let resume = ServerMessage::Resume { version }.to_text();
                frames.push(Message::Text(Utf8Bytes::from(resume)));
                frames.extend(patches.into_iter().map(|p| Message::Text(shared_text(p))));
                frames
            }
        };
        frames.extend(streams.iter().map(stream_frame));
        if schema_hash.is_some() {
            // Level 2: the running commands follow, taken under their
            // list's lock (after the state lock: the list's side never
            // takes the state lock) so that no delta falls in between.
            self.shared
                .running
                .with_list(|list| frames.push(Message::Text(list)));
            if self.sees_presence() {
                self.shared
                    .presence
                    .with_list(|list| frames.push(Message::Text(list)));
            }
        }
        // The start is admitted whole or not at all: an empty queue takes
        // it whatever its size (a snapshot larger than the byte bound must
        // get through, and the stream snapshots with it).
        let total: usize = frames.iter().map(wire_len).sum();
        if !self.backlog.try_reserve(total) {
            active.store(false, Ordering::Release);
            self.backlog.full(Full::Bytes);
            return;
        }
        let mut unqueued = total;
        for frame in frames {
            let len = wire_len(&frame);
            let Ok(queued) = self.queue.try_send(frame) else {
                self.backlog.release(unqueued);
                active.store(false, Ordering::Release);
                self.backlog.full(Full::Depth);
                return;
            };
            unqueued -= len;
            self.backlog.queued(queued);
        }
    }

    fn unsubscribe(&self) {
        if let Some((_, _, active)) = lock(&self.subscription).take() {
            active.store(false, Ordering::Release);
        }
    }

    /// What the connection's tasks share with the other sockets.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The id of the connection, its snapshot's `clientId`.
    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// What the client said of itself in its `hello`.
    pub(crate) fn client_info(&self) -> Option<ClientInfo> {
        lock(&self.hello).clone()
    }

    /// Whether the client opted in to level 2, part 2.
    pub(crate) fn is_level2(&self) -> bool {
        self.level2.load(Ordering::Acquire)
    }

    /// The connection's running commands, by `requestId`.
    pub(crate) fn cancellable(&self) -> &Mutex<Cancellable> {
        &self.cancellable
    }

    /// Queues a message that may be dropped when the queue is full (a
    /// progress report: a later one follows, or the answer).
    pub(crate) fn try_send(&self, text: String) {
        let _ = self
            .backlog
            .try_queue(&self.queue, Message::Text(Utf8Bytes::from(text)));
    }

    /// Opts the connection in to level 2, part 2 after a `hello`: the
    /// running commands list (and presence) follow at once.
    fn opt_in(&self, client: Option<ClientInfo>) {
        *lock(&self.hello) = client.clone();
        if let Some(client) = client {
            // Before the socket is at level 2, so it gets the change in
            // its list, not before it.
            self.shared.presence_updated(&self.client_id, |entry| {
                entry.kind = client.kind;
                entry.name = client.name;
            });
        }
        if self.level2.swap(true, Ordering::AcqRel) {
            return;
        }
        let queue_list = |list| {
            if let Err(Some((bound, _))) = self.backlog.try_queue(&self.queue, Message::Text(list))
            {
                self.backlog.full(bound);
            }
        };
        self.shared.running.with_list(queue_list);
        if self.sees_presence() {
            self.shared.presence.with_list(queue_list);
        }
    }

    /// Whether presence is on and the socket's principal may
    /// `read_state` (always, without access control).
    fn sees_presence(&self) -> bool {
        self.shared.config.presence
            && self
                .access
                .as_ref()
                .is_none_or(|access| access.can("read_state"))
    }

    /// Who owns the control lock this socket claims: its principal (all
    /// of the principal's connections), or the connection itself without
    /// access control.
    pub(crate) fn lock_owner(&self) -> String {
        self.access
            .as_ref()
            .map_or_else(|| self.client_id.clone(), |access| access.principal().id)
    }

    /// The label presence shows for the socket: its principal's, or
    /// `local` without access control.
    pub(crate) fn principal_label(&self) -> String {
        self.access
            .as_ref()
            .map_or_else(|| "local".to_owned(), |access| access.principal().label)
    }

    /// Queues a reply, waiting for room: replies are never dropped.
    pub(crate) async fn reply(&self, text: String) {
        let len = text.len();
        // Replies wait for room in the count (they are never dropped) and
        // are bounded by the connection's command queue, not by the bytes.
        self.backlog.reserve(len);
        match self.queue.send(Message::Text(Utf8Bytes::from(text))).await {
            Ok(queued) => self.backlog.queued(queued),
            Err(_) => self.backlog.release(len),
        }
    }
}

impl Socket for Link {
    fn stats(&self) -> ClientStats {
        ClientStats {
            client_id: self.client_id.clone(),
            queued: self.queue.len(),
            peak_queued: self.backlog.peak.load(Ordering::Relaxed),
            fell_behind: self.backlog.fell_behind_depth.load(Ordering::Relaxed)
                + self.backlog.fell_behind_bytes.load(Ordering::Relaxed),
            pending_frames: lock(&self.backlog.pending).len(),
            queued_bytes: self.backlog.bytes.load(Ordering::Relaxed),
            peak_queued_bytes: self.backlog.peak_bytes.load(Ordering::Relaxed),
            resyncs: Resyncs {
                queue_depth: self.backlog.fell_behind_depth.load(Ordering::Relaxed),
                queue_bytes: self.backlog.fell_behind_bytes.load(Ordering::Relaxed),
                requested: self.backlog.requested.load(Ordering::Relaxed),
            },
        }
    }

    fn level2_changed(&self, feed: Feed, frame: &Utf8Bytes) {
        // A lagging client gets the whole list again with its resync.
        if !self.is_level2() || self.backlog.lagging.load(Ordering::Acquire) {
            return;
        }
        if feed == Feed::Presence && !self.sees_presence() {
            return;
        }
        if let Err(Some((bound, _))) = self
            .backlog
            .try_queue(&self.queue, Message::Text(frame.clone()))
        {
            self.backlog.full(bound);
        }
    }
}

pub(crate) use crate::shared::lock;

/// Drains the queue into the socket, several frames per flush; pings; and
/// on shutdown flushes what is queued and closes with 1001.
async fn write_loop<IO>(
    link: Arc<Link>,
    mut sink: futures_util::stream::SplitSink<WebSocketStream<IO>, Message>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _done = link.writer_done.clone().drop_guard();
    // However the writer ends, nothing more is queued for it.
    let _closed = CloseOnDrop(&link.queue);
    let receiver = &*link.queue;
    let config = &link.shared.config;
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + config.ping_interval,
        config.ping_interval,
    );
    let shutdown = link.shared.shutdown.clone();
    let write_timeout = config.write_timeout;
    // Pinned once: their wake-up registrations last across iterations
    // instead of being made and dropped for every message.
    let stopped = link.stop_writer.cancelled();
    let shutting_down = shutdown.cancelled();
    tokio::pin!(stopped, shutting_down);
    loop {
        let first = tokio::select! {
            biased;
            () = &mut stopped => break,
            message = receiver.recv() => match message {
                Some(message) => {
                    link.backlog.taken(&message);
                    message
                }
                None => break,
            },
            () = &mut shutting_down => {
                Box::pin(close_gracefully(&mut sink, receiver, config.shutdown_grace)).await;
                return;
            }
            _ = ping.tick() => Message::Ping(Bytes::new()),
        };
        let closing = matches!(first, Message::Close(_));
        let write = async {
            sink.feed(first).await?;
            let mut fed = 1;
            while fed < FRAMES_PER_FLUSH {
                match receiver.try_recv() {
                    Ok(message) => {
                        link.backlog.taken(&message);
                        let close = matches!(message, Message::Close(_));
                        sink.feed(message).await?;
                        fed += 1;
                        if close {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            sink.flush().await
        };
        match within(write_timeout, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(client = %link.client_id, "write failed: {e}");
                break;
            }
            Err(_) => {
                tracing::info!(client = %link.client_id, "client stopped reading for {write_timeout:?}: dropped");
                break;
            }
        }
        if closing {
            break;
        }
        if receiver.is_empty() {
            // Replace frames that did not fit the queue: the latest of
            // each stream, after everything queued before them.
            let pending = std::mem::take(&mut *lock(&link.backlog.pending));
            if !pending.is_empty() {
                let write = async {
                    for (_, frame) in pending {
                        sink.feed(frame).await?;
                    }
                    sink.flush().await
                };
                if !matches!(within(write_timeout, write).await, Ok(Ok(()))) {
                    break;
                }
            }
        }
        if receiver.is_empty() && link.backlog.lagging.swap(false, Ordering::AcqRel) {
            tracing::debug!(client = %link.client_id, "client fell behind: resynchronised with a snapshot");
            link.subscribe(None);
        }
    }
    link.unsubscribe();
}

/// Closes the queue when the writer ends.
struct CloseOnDrop<'a>(&'a Queue<Message>);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// `tokio::time::timeout`, with the timer armed only when `future` does not
/// complete at once: most writes fit the socket's buffer, and a timer per
/// write costs more than the write itself.
async fn within<F: Future>(limit: Duration, future: F) -> Result<F::Output, ()> {
    tokio::pin!(future);
    let mut deadline: Option<Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let sleep = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(())),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Writes out what is still queued, then the close frame with 1001, within
/// `grace`.
async fn close_gracefully<IO>(
    sink: &mut futures_util::stream::SplitSink<WebSocketStream<IO>, Message>,
    receiver: &Queue<Message>,
    grace: Duration,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let drain = async {
        while let Ok(message) = receiver.try_recv() {
            sink.feed(message).await?;
        }
        sink.feed(close_frame(CloseCode::Away, "server shutting down"))
            .await?;
        sink.flush().await?;
        Ok::<(), WsError>(())
    };
    let _ = tokio::time::timeout(grace, drain).await;
}

fn close_frame(code: CloseCode, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Reads client frames until the client leaves, goes idle or the server
/// shuts down.
async fn read_loop<IO>(
    link: &Link,
    mut stream: futures_util::stream::SplitStream<WebSocketStream<IO>>,
    commands: &mpsc::Sender<Work>,
) -> ReadEnd
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let idle_timeout = link.shared.config.idle_timeout;
    let shutdown = link.shared.shutdown.clone();
    // Completes when the socket's credential ends (never without access
    // control).
    let credential_ended = async {
        match &link.access {
            Some(access) => access.ended().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(credential_ended);
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return ReadEnd::Shutdown,
            () = link.writer_done.cancelled() => return ReadEnd::Gone,
            () = &mut credential_ended => return Box::pin(close_expired(link)).await,
            next = tokio::time::timeout(idle_timeout, stream.next()) => next,
        };
        let message = match next {
            Err(_) => {
                tracing::debug!(client = %link.client_id, "client idle for {idle_timeout:?}: closed");
                let _ = link
                    .queue
                    .send(close_frame(CloseCode::Away, "idle timeout"))
                    .await;
                return ReadEnd::Closing;
            }
            Ok(None) => return ReadEnd::Gone,
            Ok(Some(Err(WsError::Capacity(e)))) => {
                tracing::debug!(client = %link.client_id, "frame too large: {e}");
                let _ = link
                    .queue
                    .send(close_frame(CloseCode::Size, "frame too large"))
                    .await;
                return ReadEnd::Closing;
            }
            Ok(Some(Err(e))) => {
                tracing::debug!(client = %link.client_id, "read failed: {e}");
                return ReadEnd::Gone;
            }
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                // The credential is checked again before the frame is
                // processed (its capabilities may have changed); a frame
                // of a socket whose credential ended is dropped.
                let principal = match &link.access {
                    None => None,
                    Some(access) => match access.revalidate() {
                        Some(principal) => Some(principal),
                        None => return Box::pin(close_expired(link)).await,
                    },
                };
                // Boxed: its state is large and only lives while a frame is
                // handled, not while the connection idles.
                Box::pin(handle_text(link, text.as_str(), commands, principal)).await;
            }
            Message::Binary(_) => {
                link.reply(bad_message(
                    "binary frames are not accepted: send JSON text frames",
                ))
                .await;
            }
            // tungstenite answers the close frame on the next read, which
            // then ends the stream.
            Message::Close(_) => {}
            // Pings are answered by tungstenite; pongs and raw frames only
            // prove the client is alive, which the timeout above counts.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Stops the socket's patches and closes it with 4401 `Authentication
/// expired` (what lab-link 0.5.0 sends when a credential ends).
async fn close_expired(link: &Link) -> ReadEnd {
    tracing::debug!(client = %link.client_id, "credential ended: closing with 4401");
    link.unsubscribe();
    // Logout or revocation ends the principal's control lock.
    link.shared.control_ended(&link.lock_owner());
    let _ = link
        .queue
        .send(close_frame(CloseCode::from(4401), "Authentication expired"))
        .await;
    ReadEnd::Closing
}

async fn handle_text(
    link: &Link,
    text: &str,
    commands: &mpsc::Sender<Work>,
    principal: Option<AuthPrincipal>,
) {
    let first = !link.spoke.swap(true, Ordering::AcqRel);
    match ClientMessage::parse(text) {
        Ok(ClientMessage::Hello { client, .. }) => {
            if first {
                link.opt_in(client);
            } else {
                link.reply(bad_message(
                    "a hello must be the first frame after the snapshot: open the socket \
                     with ?level=2 instead",
                ))
                .await;
            }
        }
        Ok(ClientMessage::Cancel { request_id }) => {
            // Waits while this connection has many commands pending, like
            // a command.
            let _ = commands.send(Work::Cancel(request_id)).await;
        }
        Ok(ClientMessage::Resync) => {
            link.backlog.requested.fetch_add(1, Ordering::Relaxed);
            link.subscribe(None);
        }
        Ok(ClientMessage::Command {
            command,
            params,
            request_id,
        }) => {
            queue_command(
                link,
                commands,
                principal,
                command.into_owned(),
                Ok(params),
                request_id,
            )
            .await
        }
        Ok(ClientMessage::StreamResync { id }) => {
            // Queued under the streams' lock, so no later frame of the
            // stream can come before it.
            let mut queued = Ok(());
            let found = link
                .shared
                .source
                .with_stream_snapshot(&id, &mut |snapshot| {
                    lock(&link.backlog.pending).retain(|(pending, _)| **pending != *id);
                    queued = link
                        .backlog
                        .try_queue(&link.queue, stream_frame(&snapshot))
                        .map_err(|full| full.map(|(bound, _)| bound));
                });
            if !found {
                link.reply(bad_message(&format!("no stream {id:?} is registered")))
                    .await;
            } else if let Err(Some(bound)) = queued {
                // A full queue: the client is resynced whole once it drains.
                link.backlog.full(bound);
            }
        }
        Err(error) => match error.rejected_command() {
            // Still a command: answered with `invalid_params` in turn.
            Some(rejected) => {
                let problem = CommandError::invalid_params("", error.message());
                let RejectedCommand {
                    command,
                    request_id,
                } = rejected.clone();
                queue_command(link, commands, principal, command, Err(problem), request_id).await;
            }
            None => link.reply(bad_message(error.message())).await,
        },
    }
}

/// Hands a command to the connection's command loop, which runs it (or
/// answers its params problem) after the commands before it.
async fn queue_command(
    link: &Link,
    commands: &mpsc::Sender<Work>,
    principal: Option<AuthPrincipal>,
    command: String,
    params: Result<serde_json::Map<String, serde_json::Value>, CommandError>,
    request_id: Option<serde_json::Value>,
) {
    // Handlers and patch metadata see the id as text; the reply echoes it
    // exactly as sent.
    let id_text = request_id.as_ref().map(commands::request_key);
    let mut ctx = CommandContext::new(link.client_id.clone(), id_text, command);
    if let Some(principal) = principal {
        ctx = ctx.with_principal(principal.to_command_principal());
    }
    // Waits while this connection has many commands pending: a client
    // flooding commands slows down only itself.
    let _ = commands
        .send(Work::Command(Box::new(PendingCommand {
            ctx,
            params,
            request_id,
        })))
        .await;
}

/// The level-2 `error` answering a frame the server cannot take; the
/// connection stays open.
fn bad_message(message: &str) -> String {
    ServerMessage::Error {
        code: Cow::Borrowed("bad_message"),
        message: Cow::Borrowed(message),
    }
    .to_text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;
    use lab_link_core::{LabSync, SyncSource};

    /// A socket's link on `sync` (not subscribed yet) and its queue.
    fn link_of<S: lab_link_core::Reactive + Send + 'static>(
        sync: &LabSync<S>,
        config: ServerConfig,
    ) -> (Arc<Link>, Arc<Queue<Message>>) {
        let source: Arc<dyn SyncSource> = Arc::new(sync.clone());
        let link = Link::new(Arc::new(Shared::new(source, config)), None);
        let queue = link.queue.clone();
        (link, queue)
    }

    /// The version of a queued patch or snapshot.
    fn version_of(message: Message) -> u64 {
        let Message::Text(text) = message else {
            panic!("not a text frame: {message:?}")
        };
        let value: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        value["version"].as_u64().unwrap()
    }

    #[test]
    fn a_start_that_does_not_fit_the_queue_switches_its_listener_off() {
        let sync = LabSync::new(vec![0.0_f64]);
        let (link, receiver) = link_of(&sync, ServerConfig::default().queue_depth(2));
        let set = |value: f64| sync.try_mutate(|v| v.set(0, value)).unwrap();

        link.subscribe(None); // snapshot v0
        set(1.0); // patch v1: the queue is full
        set(2.0); // patch v2 does not fit: the client falls behind
        assert_eq!(link.stats().fell_behind, 1);
        // The client asks for a resync; the snapshot does not fit either.
        link.subscribe(None);
        assert_eq!(version_of(receiver.try_recv().unwrap()), 0);
        assert_eq!(version_of(receiver.try_recv().unwrap()), 1);

        // Before the fix, the new listener queued v3 right after v1: a gap.
        set(3.0);
        assert!(receiver.try_recv().is_err());
        // The writer resubscribes once the queue is empty.
        assert!(link.backlog.lagging.swap(false, Ordering::AcqRel));
        link.subscribe(None);
        set(4.0);
        assert_eq!(version_of(receiver.try_recv().unwrap()), 3);
        assert_eq!(version_of(receiver.try_recv().unwrap()), 4);
        assert_eq!(link.stats().peak_queued, 2);
    }

    #[test]
    fn a_start_larger_than_the_byte_bound_goes_whole_into_an_empty_queue() {
        let sync = LabSync::new(vec!["x".repeat(4096)]);
        let (link, receiver) = link_of(&sync, ServerConfig::default().queue_bytes(1024));

        link.subscribe(None);
        let stats = link.stats();
        assert_eq!(stats.fell_behind, 0);
        assert!(stats.queued_bytes > 4096, "{stats:?}");
        // The writer has not taken the snapshot: the next patch does not
        // fit the bytes, while the count has room.
        sync.try_mutate(|v| v.set(0, "y".to_owned())).unwrap();
        let stats = link.stats();
        assert_eq!(stats.resyncs.queue_bytes, 1, "{stats:?}");
        assert_eq!(stats.resyncs.queue_depth, 0, "{stats:?}");
        assert_eq!(stats.queued, 1);

        // Once the writer took it, the queue is empty and counts nothing.
        let snapshot = receiver.try_recv().unwrap();
        link.backlog.taken(&snapshot);
        assert_eq!(link.stats().queued_bytes, 0);
        assert_eq!(version_of(snapshot), 0);
    }
}
