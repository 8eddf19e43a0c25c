//! [`TestServer`]: a real server on 127.0.0.1 with an ephemeral port.

use std::net::SocketAddr;
use std::time::Duration;

use lab_link_core::{LabSync, Reactive};
use lab_link_server::{HistoryQuery, Routes, Series, Server, ServerConfig};
use tokio::task::JoinHandle;

use crate::TestClient;

/// How long [`TestServer::shutdown`] waits for the server to stop.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// A lab-link server for one test, serving a [`LabSync`] on `127.0.0.1`
/// with a port the operating system picks, so tests can run in parallel.
///
/// It runs as a task on the test's tokio runtime (a `#[tokio::test]`
/// works). Dropping it asks the server to shut down; [`shutdown`]
/// (TestServer::shutdown) also waits until it has.
///
/// ```
/// use lab_link::LabSync;
/// use lab_link_testkit::TestServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(LabSync::new(vec![0.0_f64; 2])).await;
/// assert!(server.addr().ip().is_loopback());
/// assert_eq!(server.ws_url(), format!("ws://{}/sync/ws", server.addr()));
/// let client = server.client().await;
/// assert_eq!(client.replica(), serde_json::json!([0.0, 0.0]));
/// server.shutdown().await;
/// # }
/// ```
///
/// [`shutdown`]: TestServer::shutdown
#[derive(Debug)]
pub struct TestServer<S> {
    sync: LabSync<S>,
    addr: SocketAddr,
    routes: Routes,
    task: Option<JoinHandle<()>>,
}

impl<S: Reactive + Send + 'static> TestServer<S> {
    /// Binds `127.0.0.1:0` and starts serving `sync` (with the default
    /// [`ServerConfig`](lab_link_server::ServerConfig)): updaters start and
    /// clients can connect as soon as this returns.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (a test helper fails loudly).
    pub async fn start(sync: LabSync<S>) -> Self {
        Self::start_with(sync, ServerConfig::default()).await
    }

    /// [`start`](TestServer::start) with `config`: history, persistence,
    /// access control, limits.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub async fn start_with(sync: LabSync<S>, config: ServerConfig) -> Self {
        let server = Server::builder()
            .config(config)
            .bind(sync.clone(), "127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("TestServer: cannot bind 127.0.0.1:0: {e}"));
        let addr = server.local_addr();
        let routes = server.routes().clone();
        let task = tokio::spawn(server.run());
        // Until the server task has started the background work, a commit
        // would not reach the history recorder or wake an updater.
        while !routes.is_started() && !task.is_finished() {
            tokio::task::yield_now().await;
        }
        Self {
            sync,
            addr,
            routes,
            task: Some(task),
        }
    }

    /// The bound address, with its actual port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The sync socket's URL: `ws://127.0.0.1:PORT/sync/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/sync/ws", self.addr)
    }

    /// The served state: mutate it as the instrument would, read it, or
    /// check it with [`assert_oracle`](crate::assert_oracle).
    pub fn sync(&self) -> &LabSync<S> {
        &self.sync
    }

    /// The server's endpoints: the connection count, the per-client
    /// statistics.
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Waits until the history of `path` holds at least `count` points
    /// (the recorder writes once per batch window) and returns them.
    ///
    /// ```
    /// use lab_link::{LabSync, ServerConfig};
    /// use lab_link_testkit::TestServer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("lab-link-testkit-history-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let config = ServerConfig::default()
    ///     .history(["/0"])
    ///     .history_path(dir.join("history.db"));
    /// let server = TestServer::start_with(LabSync::new(vec![0_i64]), config).await;
    /// for n in 1..=3 {
    ///     server.sync().try_mutate(|v| v.set(0, n))?;
    /// }
    /// let series = server.wait_for_history("/0", 3).await;
    /// assert_eq!(series.points()[2].value(), 3);
    /// server.shutdown().await;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the query fails, or after
    /// [`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT) with fewer points,
    /// showing those it has.
    pub async fn wait_for_history(&self, path: &str, count: usize) -> Series {
        let query = HistoryQuery::new(path).max_points(HistoryQuery::MAX_POINTS);
        let deadline = tokio::time::Instant::now() + crate::DEFAULT_TIMEOUT;
        loop {
            let series = self
                .routes
                .history(&query)
                .unwrap_or_else(|e| panic!("TestServer: history of {path:?}: {e}"));
            if series.points().len() >= count {
                return series;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "TestServer: history of {path:?} has {} points, not {count}: {:?}",
                    series.points().len(),
                    series.points()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Connects a new [`TestClient`] and waits for its snapshot.
    ///
    /// # Panics
    ///
    /// When the client cannot connect within
    /// [`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT).
    pub async fn client(&self) -> TestClient {
        TestClient::connect(&self.ws_url()).await
    }

    /// Connects a new level-2 [`TestClient`] (`?level=2`: progress and
    /// running commands) and waits for its snapshot.
    ///
    /// # Panics
    ///
    /// As [`client`](TestServer::client).
    pub async fn client_level2(&self) -> TestClient {
        TestClient::connect_level2(&self.ws_url()).await
    }

    /// Shuts the server down gracefully (every sync socket is closed with
    /// 1001) and waits for it to stop.
    ///
    /// # Panics
    ///
    /// When the server does not stop within 10 s, or its task panicked.
    pub async fn shutdown(mut self) {
        self.routes.shutdown();
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(SHUTDOWN_TIMEOUT, task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("TestServer: the server task failed: {e}"),
                Err(_) => panic!("TestServer: the server did not stop within {SHUTDOWN_TIMEOUT:?}"),
            }
        }
    }
}

impl<S> Drop for TestServer<S> {
    /// Asks the server to shut down; its task finishes on its own (or with
    /// the runtime, at the end of the test).
    fn drop(&mut self) {
        if self.task.is_some() {
            self.routes.shutdown();
        }
    }
}
