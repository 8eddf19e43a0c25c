//! The pre-wired server: accept loop, HTTP/1 connections with upgrades,
//! graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio_util::task::TaskTracker;

use crate::routes::{IntoSource, Routes};
use crate::{Body, ServerConfig};

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The handler of every request the sync endpoints do not answer.
type Fallback = Arc<dyn Fn(Request<Incoming>) -> Response<Body> + Send + Sync>;

/// Serves `source` (a `LabSync`) on `addr` with the default configuration
/// until SIGINT or SIGTERM, then shuts down gracefully.
///
/// # Errors
///
/// When `addr` cannot be bound.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let sync = lab_link_core::LabSync::new(vec![0.0_f64; 4]);
/// lab_link_server::serve(sync, "127.0.0.1:8000").await
/// # }
/// # let _ = demo;
/// ```
pub async fn serve(source: impl IntoSource, addr: impl ToSocketAddrs) -> io::Result<()> {
    Server::builder().serve(source, addr).await
}

/// A bound server; [`run`](Server::run) serves it.
///
/// ```no_run
/// use lab_link_server::{Server, ServerConfig};
///
/// # async fn demo() -> std::io::Result<()> {
/// let sync = lab_link_core::LabSync::new(vec![0.0_f64; 4]);
/// let server = Server::builder()
///     .config(ServerConfig::default().prefix("/lab"))
///     .shutdown_signal(async { let _ = tokio::signal::ctrl_c().await; })
///     .bind(sync, "127.0.0.1:0")
///     .await?;
/// println!("listening on {}", server.local_addr());
/// server.run().await;
/// # Ok(())
/// # }
/// # let _ = demo;
/// ```
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    routes: Routes,
    signal: Option<SignalBox>,
    fallback: Option<FallbackBox>,
}

/// Options of a [`Server`] before it is bound.
#[derive(Debug, Default)]
pub struct Builder {
    config: ServerConfig,
    signal: Option<SignalBox>,
    fallback: Option<FallbackBox>,
}

/// The fallback handler (debug-printable).
#[derive(Clone)]
struct FallbackBox(Fallback);

impl std::fmt::Debug for FallbackBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fallback")
    }
}

/// The shutdown signal, boxed (and debug-printable).
struct SignalBox(Signal);

impl std::fmt::Debug for SignalBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShutdownSignal")
    }
}

impl Server {
    /// Options: configuration and shutdown signal.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The bound address (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The endpoints this server serves: for [`Routes::shutdown`] from
    /// elsewhere, or the connection count.
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Restores the saved document (with [`ServerConfig::persist`]) and
    /// starts the updaters ([`Background`]), accepts connections until the
    /// shutdown signal (or [`Routes::shutdown`]), then stops accepting, closes every sync socket
    /// with 1001 after sending what was queued for it, and waits for the
    /// connections to end (within the configured grace period).
    pub async fn run(self) {
        let Server {
            listener,
            routes,
            signal,
            fallback,
            ..
        } = self;
        let shutdown = routes_token(&routes);
        // Restores the saved document before the first connection is
        // accepted, and starts the updaters.
        let lifespan = routes.start();
        if let Some(SignalBox(signal)) = signal {
            let routes = routes.clone();
            tokio::spawn(async move {
                let token = routes_token(&routes);
                tokio::select! {
                    () = signal => routes.shutdown(),
                    () = token.cancelled() => {}
                }
            });
        }
        let connections = TaskTracker::new();
        loop {
            let (stream, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little
                        // instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            tune_socket(&stream, routes.config());
            let routes = routes.clone();
            let fallback = fallback.clone();
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                let service = service_fn(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(crate::PeerAddr(peer));
                    let routes = routes.clone();
                    let fallback = fallback.clone();
                    async move {
                        let response = match routes.respond(request).await {
                            Ok(response) => response,
                            Err(request) => match &fallback {
                                Some(FallbackBox(fallback)) => fallback(request),
                                None => routes.panel(request).unwrap_or_else(|_| not_found()),
                            },
                        };
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let connection = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                tokio::pin!(connection);
                let result = tokio::select! {
                    result = connection.as_mut() => result,
                    () = shutdown.cancelled() => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, "HTTP connection ended: {e}");
                }
            });
        }
        drop(listener);
        routes.shutdown();
        connections.close();
        let grace = routes.config().shutdown_grace + routes.config().write_timeout;
        let _ = tokio::time::timeout(grace, async {
            routes.closed().await;
            connections.wait().await;
        })
        .await;
        // Last, so the final save holds every commit.
        lifespan.stop_within(Some(std::time::Duration::ZERO)).await;
        tracing::info!("lab-link server stopped");
    }
}

fn routes_token(routes: &Routes) -> tokio_util::sync::CancellationToken {
    routes.shutdown_token()
}

impl Builder {
    /// The transport's options (default [`ServerConfig::default`]).
    #[must_use]
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Shuts down gracefully when `signal` completes (default: SIGINT or
    /// SIGTERM for [`Builder::serve`], none for [`Builder::bind`]).
    #[must_use]
    pub fn shutdown_signal(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.signal = Some(SignalBox(Box::pin(signal)));
        self
    }

    /// Answers every request that is not for the sync endpoints with
    /// `handler` (default: the generated control panel at `/`, see
    /// [`ServerConfig::panel`], and `404 Not Found` elsewhere): the
    /// application's own pages, such as a web UI served next to
    /// `{prefix}/ws`. The handler replaces the panel; to keep it beside
    /// your pages, answer from a [`Panel`](crate::Panel) in the handler.
    ///
    /// ```no_run
    /// use http_body_util::Full;
    /// use hyper::Response;
    /// use lab_link_server::Server;
    ///
    /// # async fn demo() -> std::io::Result<()> {
    /// let sync = lab_link_core::LabSync::new(vec![0.0_f64; 4]);
    /// let server = Server::builder()
    ///     .fallback(|request| {
    ///         let page = if request.uri().path() == "/" { "<h1>panel</h1>" } else { "nothing here" };
    ///         Response::new(Full::from(page))
    ///     })
    ///     .bind(sync, "127.0.0.1:0")
    ///     .await?;
    /// server.run().await;
    /// # Ok(())
    /// # }
    /// # let _ = demo;
    /// ```
    #[must_use]
    pub fn fallback(
        mut self,
        handler: impl Fn(Request<Incoming>) -> Response<Body> + Send + Sync + 'static,
    ) -> Self {
        self.fallback = Some(FallbackBox(Arc::new(handler)));
        self
    }

    /// Binds `addr` and returns the server, ready to [`run`](Server::run).
    ///
    /// # Errors
    ///
    /// When `addr` cannot be bound.
    pub async fn bind(
        self,
        source: impl IntoSource,
        addr: impl ToSocketAddrs,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Server {
            listener,
            local_addr,
            routes: Routes::new(source, self.config),
            signal: self.signal,
            fallback: self.fallback,
        })
    }

    /// Binds `addr` and serves until the shutdown signal (SIGINT or SIGTERM
    /// unless one was set).
    ///
    /// # Errors
    ///
    /// When `addr` cannot be bound.
    pub async fn serve(
        mut self,
        source: impl IntoSource,
        addr: impl ToSocketAddrs,
    ) -> io::Result<()> {
        if self.signal.is_none() {
            self = self.shutdown_signal(terminate_signal());
        }
        let server = self.bind(source, addr).await?;
        tracing::info!("lab-link serving on http://{}", server.local_addr());
        server.run().await;
        Ok(())
    }
}

/// `404 Not Found` in plain text.
fn not_found() -> Response<Body> {
    let mut response = Response::new(Body::from("not found"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// Completes on SIGINT or (on Unix) SIGTERM: the default shutdown signal of
/// [`Builder::serve`], for [`Builder::shutdown_signal`] with
/// [`Builder::bind`].
///
/// ```no_run
/// use lab_link_server::{terminate_signal, Server};
///
/// # async fn demo() -> std::io::Result<()> {
/// let sync = lab_link_core::LabSync::new(vec![0.0_f64; 4]);
/// let server = Server::builder()
///     .shutdown_signal(terminate_signal())
///     .bind(sync, "127.0.0.1:0")
///     .await?;
/// println!("listening on {}", server.local_addr());
/// server.run().await;
/// # Ok(())
/// # }
/// # let _ = demo;
/// ```
pub async fn terminate_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Sets the options of an accepted socket: no Nagle delay (patches are
/// small and latency matters), and the caps of
/// [`ServerConfig::tcp_notsent_lowat`] and
/// [`ServerConfig::send_buffer_bytes`], so that a client's backlog shows up
/// in its bounded queue rather than in the kernel. A failure only loses the
/// tuning, so it is logged, not returned.
fn tune_socket(stream: &tokio::net::TcpStream, config: &crate::ServerConfig) {
    let _ = stream.set_nodelay(true);
    let socket = socket2::SockRef::from(stream);
    if let Some(bytes) = config.send_buffer_bytes {
        if let Err(e) = socket.set_send_buffer_size(bytes) {
            tracing::debug!("SO_SNDBUF not set: {e}");
        }
    }
    if let Some(bytes) = config.tcp_notsent_lowat {
        set_notsent_lowat(&socket, bytes);
    }
}

#[cfg(any(target_os = "android", target_os = "linux"))]
fn set_notsent_lowat(socket: &socket2::SockRef<'_>, bytes: u32) {
    if let Err(e) = socket.set_tcp_notsent_lowat(bytes) {
        tracing::debug!("TCP_NOTSENT_LOWAT not set: {e}");
    }
}

#[cfg(not(any(target_os = "android", target_os = "linux")))]
fn set_notsent_lowat(_socket: &socket2::SockRef<'_>, _bytes: u32) {
    tracing::debug!("TCP_NOTSENT_LOWAT is not available on this platform");
}
