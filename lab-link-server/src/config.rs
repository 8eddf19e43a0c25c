//! The server's options and their defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::history::HistoryConfig;
use crate::persist::PersistConfig;

const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(500);

/// The control lock's options.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ControlLockConfig {
    pub(crate) enabled: bool,
    pub(crate) idle: Option<Duration>,
}

/// Options of the transport, with documented defaults.
///
/// ```
/// use lab_link_server::ServerConfig;
/// use std::time::Duration;
///
/// let config = ServerConfig::default()
///     .prefix("/lab")
///     .max_connections(64)
///     .ping_interval(Duration::from_secs(5));
/// assert_eq!(config.prefix_str(), "/lab");
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub(crate) prefix: String,
    pub(crate) max_frame_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) queue_depth: usize,
    pub(crate) queue_bytes: usize,
    pub(crate) tcp_notsent_lowat: Option<u32>,
    pub(crate) send_buffer_bytes: Option<usize>,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) persist: Option<PersistConfig>,
    pub(crate) auth: Option<lab_link_auth::Auth>,
    pub(crate) history: HistoryConfig,
    pub(crate) panel: bool,
    pub(crate) presence: bool,
    pub(crate) control_lock: ControlLockConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            prefix: "/sync".to_owned(),
            max_frame_bytes: 1 << 20,
            max_connections: 1024,
            queue_depth: Self::DEFAULT_QUEUE_DEPTH,
            queue_bytes: Self::DEFAULT_QUEUE_BYTES,
            tcp_notsent_lowat: Some(Self::DEFAULT_NOTSENT_LOWAT),
            send_buffer_bytes: None,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
            persist: None,
            auth: None,
            history: HistoryConfig::default(),
            panel: true,
            presence: false,
            control_lock: ControlLockConfig::default(),
        }
    }
}

impl ServerConfig {
    /// The default of [`queue_depth`](Self::queue_depth).
    pub const DEFAULT_QUEUE_DEPTH: usize = 16_384;

    /// The default of [`queue_bytes`](Self::queue_bytes): 1 MiB.
    pub const DEFAULT_QUEUE_BYTES: usize = 1 << 20;

    /// The default of [`tcp_notsent_lowat`](Self::tcp_notsent_lowat):
    /// 128 KiB.
    pub const DEFAULT_NOTSENT_LOWAT: u32 = 128 << 10;

    /// Turns access control on (default off, as in lab-link 0.5.0): the
    /// `{prefix}/auth/…` endpoints, a credential for `GET {prefix}/state`,
    /// `{prefix}/schema` and the socket, Origin checks on the handshake,
    /// capabilities checked per command, and sockets closed with 4401 as
    /// soon as their credential ends. See the book's chapter "Access
    /// control".
    ///
    /// ```
    /// use lab_link_auth::{Auth, AuthConfig};
    /// use lab_link_server::ServerConfig;
    ///
    /// let auth = Auth::new(AuthConfig::new().passphrase("correct horse battery")).unwrap();
    /// let config = ServerConfig::default().auth(auth);
    /// assert!(config.auth_ref().is_some());
    /// ```
    #[must_use]
    pub fn auth(mut self, auth: lab_link_auth::Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The access control, if on.
    pub fn auth_ref(&self) -> Option<&lab_link_auth::Auth> {
        self.auth.as_ref()
    }

    /// The path prefix of the endpoints (default `/sync`: `GET /sync/state`,
    /// `WS /sync/ws`). A trailing `/` is ignored; `""` serves `/state` and
    /// `/ws`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// The largest client frame accepted, in bytes (default 1 MiB). A larger
    /// frame closes the socket with code 1009.
    #[must_use]
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.max_frame_bytes = bytes;
        self
    }

    /// The most open sync sockets (default 1024); the next upgrade is
    /// answered `503 Service Unavailable`.
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// The most messages queued for one client (default
    /// [`ServerConfig::DEFAULT_QUEUE_DEPTH`], 16,384). Together with
    /// [`queue_bytes`](Self::queue_bytes) it bounds a client's backlog: a
    /// client whose queue reaches either bound stops receiving patches and
    /// is resynchronised with a fresh snapshot once its writer has written
    /// out the queue, instead of growing the server's memory.
    ///
    /// The count is generous on purpose: a burst of tiny patches (a few
    /// hundred bytes each) while a healthy reader is descheduled for tens of
    /// milliseconds must fit, so that only a reader that stays behind meets
    /// the byte bound. Each queued message costs a queue slot (about 40
    /// bytes) besides the bytes it shares with every other client.
    ///
    /// ```
    /// use lab_link_server::ServerConfig;
    ///
    /// let config = ServerConfig::default().queue_depth(1024);
    /// assert_eq!(config.queue_depth_limit(), 1024);
    /// ```
    #[must_use]
    pub fn queue_depth(mut self, depth: usize) -> Self {
        self.queue_depth = depth.max(2);
        self
    }

    /// The most bytes of messages queued for one client (default
    /// [`ServerConfig::DEFAULT_QUEUE_BYTES`], 1 MiB), counting each queued patch, stream
    /// frame and reply by its length on the wire. A reader that falls this
    /// far behind is resynchronised (see [`queue_depth`](Self::queue_depth)).
    ///
    /// So the server's memory for client backlogs stays below
    /// `clients × (queue_bytes + queue_depth × 40 B)`, and far below that in
    /// practice: a patch is serialised once and shared by every queue that
    /// holds it. A single message larger than the bound is still queued
    /// when the queue is empty, so a large snapshot always gets through.
    ///
    /// ```
    /// use lab_link_server::ServerConfig;
    ///
    /// let config = ServerConfig::default().queue_bytes(256 * 1024);
    /// assert_eq!(config.queue_bytes_limit(), 256 * 1024);
    /// ```
    #[must_use]
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes.max(1);
        self
    }

    /// `TCP_NOTSENT_LOWAT` on every accepted socket of the pre-wired
    /// [`Server`](crate::Server) (default [`ServerConfig::DEFAULT_NOTSENT_LOWAT`],
    /// 128 KiB; `None` leaves the kernel's setting, usually unlimited). The
    /// kernel then takes at most this many unsent bytes per socket before
    /// a write waits, so a client that stops reading shows up in its queue
    /// (bounded by [`queue_bytes`](Self::queue_bytes) and resynced) rather
    /// than in the kernel's send buffer, which Linux grows to several
    /// megabytes per socket. Linux only; elsewhere the option is ignored
    /// with a debug log. Mounted [`Routes`](crate::Routes) do not own their
    /// sockets: set it on your own listener.
    ///
    /// ```
    /// use lab_link_server::ServerConfig;
    ///
    /// let config = ServerConfig::default().tcp_notsent_lowat(None);
    /// assert_eq!(config.tcp_notsent_lowat_limit(), None);
    /// ```
    #[must_use]
    pub fn tcp_notsent_lowat(mut self, bytes: Option<u32>) -> Self {
        self.tcp_notsent_lowat = bytes;
        self
    }

    /// `SO_SNDBUF` on every accepted socket of the pre-wired
    /// [`Server`](crate::Server) (default `None`: the kernel's autotuning).
    /// A fixed send buffer caps the kernel's share of a slow client's
    /// backlog too, but also a fast client's throughput;
    /// [`tcp_notsent_lowat`](Self::tcp_notsent_lowat) is the better
    /// default (the book's chapter "Performance" has both measured).
    ///
    /// ```
    /// use lab_link_server::ServerConfig;
    ///
    /// let config = ServerConfig::default().send_buffer_bytes(Some(64 * 1024));
    /// assert_eq!(config.send_buffer_bytes_limit(), Some(64 * 1024));
    /// ```
    #[must_use]
    pub fn send_buffer_bytes(mut self, bytes: Option<usize>) -> Self {
        self.send_buffer_bytes = bytes;
        self
    }

    /// How often the server pings an idle client (default 20 s).
    #[must_use]
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// How long a client may stay silent (no frame, no pong) before it is
    /// closed (default 60 s).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long one write to a client may block before the client is
    /// dropped (default 30 s): a client that stops reading cannot hold its
    /// connection forever.
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// How long a graceful shutdown waits for clients to receive their
    /// pending messages and the close frame (default 5 s).
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Saves the document in the SQLite file at `path` (created with
    /// owner-only permissions) and restores it at start (default: off).
    /// The state must be restorable: call `with_loader()` on the
    /// `LabSync`. See the book chapter "Background work and persistence".
    #[must_use]
    pub fn persist(mut self, path: impl Into<PathBuf>) -> Self {
        let debounce = self
            .persist
            .as_ref()
            .map_or(DEFAULT_DEBOUNCE, |persist| persist.debounce);
        self.persist = Some(PersistConfig {
            path: path.into(),
            debounce,
        });
        self
    }

    /// How long after a commit the document is saved, coalescing the
    /// commits within that window (default 500 ms). Only with
    /// [`persist`](ServerConfig::persist), called after it.
    #[must_use]
    pub fn persist_debounce(mut self, debounce: Duration) -> Self {
        if let Some(persist) = &mut self.persist {
            persist.debounce = debounce;
        }
        self
    }

    /// Records the changes of the values matched by `patterns` (JSON
    /// Pointers whose `*` segments stand for any index or key; a pattern
    /// also covers everything below it) as history, queried at
    /// `GET {prefix}/history` and with [`Routes::history`](crate::Routes::history).
    /// Adds to the fields marked `#[reactive(history)]` and to earlier
    /// calls. The file is [`history_path`](Self::history_path), or beside
    /// the [`persist`](Self::persist) file (`state.db` →
    /// `state.history.db`). See the book chapter "History".
    ///
    /// ```
    /// use lab_link_server::ServerConfig;
    ///
    /// let config = ServerConfig::default()
    ///     .persist("state.db") // history in state.history.db
    ///     .history(["/channels/*/bias_voltage", "/temperature"]);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn history<P: Into<String>>(mut self, patterns: impl IntoIterator<Item = P>) -> Self {
        self.history
            .patterns
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Where the history is kept (an SQLite file, created `0600`).
    #[must_use]
    pub fn history_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.history.path = Some(path.into());
        self
    }

    /// How long recorded changes wait to be written together (default
    /// 200 ms): one transaction per window, and what a hard kill of the
    /// process may lose.
    #[must_use]
    pub fn history_batch(mut self, window: Duration) -> Self {
        self.history.batch = window;
        self
    }

    /// Deletes recorded changes older than `max_age` (default: kept).
    #[must_use]
    pub fn history_max_age(mut self, max_age: Duration) -> Self {
        self.history.max_age = Some(max_age);
        self
    }

    /// Deletes the oldest recorded changes while the history's database
    /// pages take more than `bytes` (default: no limit). Checked after
    /// every batch; the write-ahead log adds at most about 4 MiB between
    /// checkpoints.
    #[must_use]
    pub fn history_max_bytes(mut self, bytes: u64) -> Self {
        self.history.max_bytes = Some(bytes);
        self
    }

    /// Serves the generated control panel at `/` (default on): a page
    /// rendered from `GET {prefix}/schema` alone, with the state's fields,
    /// a form per command and a plot per stream (see
    /// [`Panel`](crate::Panel)). [`Server`](crate::Server) serves it when
    /// no fallback is set; mounted [`Routes`](crate::Routes) answer it
    /// from [`Routes::panel`](crate::Routes::panel). Off, those paths are
    /// the fallback's or `404`.
    ///
    /// ```
    /// use lab_link_server::ServerConfig;
    ///
    /// let config = ServerConfig::default().panel(false);
    /// assert!(!config.panel_enabled());
    /// ```
    #[must_use]
    pub fn panel(mut self, on: bool) -> Self {
        self.panel = on;
        self
    }

    /// Whether the generated [`panel`](Self::panel) is served.
    pub fn panel_enabled(&self) -> bool {
        self.panel
    }

    /// Turns presence on (default off): every level-2 client that may
    /// `read_state` gets the list of connected clients and the control
    /// lock after its snapshot (`presence`), and a delta when a client
    /// connects, says `hello`, sends a command or leaves. Presence is off
    /// the versioned state: it never bumps the version, and level-1
    /// clients never see it. See the book's chapter "Presence, control
    /// and audit".
    ///
    /// ```
    /// use lab_link_server::ServerConfig;
    ///
    /// let config = ServerConfig::default().presence(true);
    /// assert!(config.presence_enabled());
    /// ```
    #[must_use]
    pub fn presence(mut self, enabled: bool) -> Self {
        self.presence = enabled;
        self
    }

    /// Whether [`presence`](Self::presence) is on.
    pub fn presence_enabled(&self) -> bool {
        self.presence
    }

    /// Turns the control lock on (default off): the built-in commands
    /// `claim_control` and `release_control` (for level-2 clients; a
    /// principal without `control` is answered `forbidden`), and while one
    /// principal (without access control: one connection) holds the lock,
    /// commands needing `control` from anyone else are answered `locked`,
    /// naming the holder and since when. Read-only commands still run; a
    /// principal with `manage_access` can break the lock with
    /// `release_control`. The lock ends on release, when the holder's
    /// credential ends, and after [`control_lock_idle`](Self::control_lock_idle);
    /// a restart ends it. With [`presence`](Self::presence) on, clients see
    /// it. See the book's chapter "Presence, control and audit".
    ///
    /// ```
    /// use lab_link_server::ServerConfig;
    ///
    /// let config = ServerConfig::default().presence(true).control_lock(true);
    /// assert!(config.control_lock_enabled());
    /// ```
    #[must_use]
    pub fn control_lock(mut self, enabled: bool) -> Self {
        self.control_lock.enabled = enabled;
        self
    }

    /// Ends the control lock once its holder has sent no command for
    /// `idle` (default: never). Checked when a command arrives.
    ///
    /// ```
    /// use lab_link_server::ServerConfig;
    /// use std::time::Duration;
    ///
    /// let config = ServerConfig::default()
    ///     .control_lock(true)
    ///     .control_lock_idle(Duration::from_secs(8 * 3600));
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn control_lock_idle(mut self, idle: Duration) -> Self {
        self.control_lock.idle = Some(idle);
        self
    }

    /// Whether the [`control_lock`](Self::control_lock) is on.
    pub fn control_lock_enabled(&self) -> bool {
        self.control_lock.enabled
    }

    /// The configured prefix.
    pub fn prefix_str(&self) -> &str {
        &self.prefix
    }

    /// The configured [`queue_depth`](Self::queue_depth).
    pub fn queue_depth_limit(&self) -> usize {
        self.queue_depth
    }

    /// The configured [`queue_bytes`](Self::queue_bytes).
    pub fn queue_bytes_limit(&self) -> usize {
        self.queue_bytes
    }

    /// The configured [`tcp_notsent_lowat`](Self::tcp_notsent_lowat).
    pub fn tcp_notsent_lowat_limit(&self) -> Option<u32> {
        self.tcp_notsent_lowat
    }

    /// The configured [`send_buffer_bytes`](Self::send_buffer_bytes).
    pub fn send_buffer_bytes_limit(&self) -> Option<usize> {
        self.send_buffer_bytes
    }
}
