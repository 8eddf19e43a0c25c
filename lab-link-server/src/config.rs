//! The server's options and their defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::persist::PersistConfig;

const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(500);

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
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) persist: Option<PersistConfig>,
    pub(crate) auth: Option<lab_link_auth::Auth>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            prefix: "/sync".to_owned(),
            max_frame_bytes: 1 << 20,
            max_connections: 1024,
            queue_depth: 256,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
            persist: None,
            auth: None,
        }
    }
}

impl ServerConfig {
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

    /// The most messages queued for one client (default 256). A client that
    /// falls this far behind is resynchronised with a fresh snapshot once it
    /// catches up with its queue, instead of growing the server's memory.
    #[must_use]
    pub fn queue_depth(mut self, depth: usize) -> Self {
        self.queue_depth = depth.max(2);
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

    /// The configured prefix.
    pub fn prefix_str(&self) -> &str {
        &self.prefix
    }
}
