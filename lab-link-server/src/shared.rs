//! What the endpoints and the sockets of one [`Routes`](crate::Routes)
//! share, below both: the source, the configuration, the connection limit,
//! shutdown, the open sockets' statistics, and the response body type.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use http_body_util::Full;
use lab_link_core::SyncSource;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ServerConfig;
use crate::frame::FrameText;
use crate::history::History;
use crate::presence::Presence;
use crate::running::Running;

/// The response body of every endpoint.
pub type Body = Full<Bytes>;

/// What every connection of one [`Routes`](crate::Routes) shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) source: Arc<dyn SyncSource>,
    pub(crate) config: ServerConfig,
    /// One permit per open sync socket.
    pub(crate) connections: Arc<Semaphore>,
    /// Cancelled to close every socket with 1001.
    pub(crate) shutdown: CancellationToken,
    /// Every socket's tasks, to wait for them on shutdown.
    pub(crate) tracker: TaskTracker,
    /// The open sync sockets, for [`Routes::clients`](crate::Routes::clients).
    pub(crate) clients: Mutex<Vec<Weak<dyn Socket>>>,
    /// Whether [`Routes::start`](crate::Routes::start) ran, and whether
    /// serving without it was already reported.
    pub(crate) started: AtomicBool,
    pub(crate) warned_unstarted: AtomicBool,
    /// The last message handed to the sockets, as a frame payload: made
    /// once per message, cloned (a reference count) for every client.
    pub(crate) frame_text: FrameText,
    /// The commands running now, for level-2 clients.
    pub(crate) running: Running,
    /// The connected clients and the control lock, for level-2 clients
    /// (with [`ServerConfig::presence`]).
    pub(crate) presence: Presence,
    /// The history the lifespan records, set by
    /// [`Routes::start`](crate::Routes::start) for the queries.
    pub(crate) history: Mutex<Option<Arc<History>>>,
}

/// How a client opens its sync socket: the query parameters `?since=N`
/// (resume) and `?level=2` (level 2, part 2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Opening {
    pub(crate) since: Option<u64>,
    pub(crate) level2: bool,
}

impl Shared {
    pub(crate) fn new(source: Arc<dyn SyncSource>, config: ServerConfig) -> Self {
        let connections = Arc::new(Semaphore::new(config.max_connections));
        Self {
            source,
            config,
            connections,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            clients: Mutex::new(Vec::new()),
            started: AtomicBool::new(false),
            warned_unstarted: AtomicBool::new(false),
            frame_text: FrameText::default(),
            running: Running::default(),
            presence: Presence::default(),
            history: Mutex::new(None),
        }
    }
}

impl Shared {
    /// Hands a level-2 delta to every open socket (each keeps it if it
    /// opted in, keeps up, and may see `feed`). Called under the lock of
    /// the list the delta changes, so it only `try_send`s.
    pub(crate) fn broadcast(&self, feed: Feed, text: String) {
        let frame = tokio_tungstenite::tungstenite::Utf8Bytes::from(text);
        let clients = lock(&self.clients);
        for socket in clients.iter().filter_map(Weak::upgrade) {
            socket.level2_changed(feed, &frame);
        }
    }
}

/// Which level-2 list a delta changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feed {
    /// The running commands: every level-2 client.
    Running,
    /// Presence and the control lock: level-2 clients that may
    /// `read_state`.
    Presence,
}

/// Milliseconds since the Unix epoch, the times of the level-2 lists.
pub(crate) fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded values are handles and whole entries; a panic elsewhere
    // cannot leave them half-updated.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An open sync socket, as the endpoints see it.
pub(crate) trait Socket: Send + Sync + std::fmt::Debug {
    /// What [`Routes::clients`](crate::Routes::clients) reports.
    fn stats(&self) -> ClientStats;

    /// Queues a delta of a level-2 list (`running_*`, `presence_*`,
    /// `control_lock`) if the socket is at level 2, keeps up (a socket
    /// whose queue is full is resynced, with fresh lists) and may see
    /// `feed`. Called under the list's lock, so it only `try_send`s.
    fn level2_changed(&self, feed: Feed, frame: &tokio_tungstenite::tungstenite::Utf8Bytes);
}

/// What [`Routes::clients`](crate::Routes::clients) reports of one open
/// sync socket: how much of the server's memory its backlog holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// The `clientId` of the socket's snapshots.
    pub client_id: String,
    /// Messages queued for the client right now: never more than
    /// [`ServerConfig::queue_depth`](crate::ServerConfig::queue_depth).
    pub queued: usize,
    /// The most messages that were ever queued for it at once.
    pub peak_queued: usize,
    /// How many times its queue was full: each time, it stopped receiving
    /// patches until it had caught up with its queue, then got a fresh
    /// snapshot.
    pub fell_behind: u64,
    /// Replace-stream frames held outside the queue because it was full:
    /// at most one per replace stream (the latest), written once the queue
    /// has drained.
    pub pending_frames: usize,
    /// Bytes of the messages queued right now (their length on the wire):
    /// never more than
    /// [`ServerConfig::queue_bytes`](crate::ServerConfig::queue_bytes),
    /// except for a single start (snapshot and stream snapshots) larger
    /// than the bound, queued whole into an empty queue.
    pub queued_bytes: usize,
    /// The most bytes that were ever queued for it at once.
    pub peak_queued_bytes: usize,
    /// Its resynchronisations with a fresh snapshot, by reason.
    pub resyncs: Resyncs,
}

/// How often a client was resynchronised with a fresh snapshot, by reason
/// (part of [`ClientStats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resyncs {
    /// Its queue reached
    /// [`ServerConfig::queue_depth`](crate::ServerConfig::queue_depth)
    /// messages.
    pub queue_depth: u64,
    /// Its queue reached
    /// [`ServerConfig::queue_bytes`](crate::ServerConfig::queue_bytes)
    /// bytes.
    pub queue_bytes: u64,
    /// The client asked, with a `resync` message.
    pub requested: u64,
}
