//! The endpoints as a hyper service, and the WebSocket handler alone.
//!
//! [`Routes`] answers `GET {prefix}/state`, `{prefix}/schema` and
//! `{prefix}/history` and upgrades `{prefix}/ws`; it
//! can be served by [`Server`](crate::Server), mounted beside an
//! application's own routes (ask [`Routes::handle`] first, fall through on
//! `None`), or used for its WebSocket handler alone
//! ([`Routes::upgrade`]) on a route of the application's choosing, in hyper
//! or in axum.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use lab_link_core::{LabSync, Reactive, SyncSource};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use lab_link_auth::AuthResponse;

use crate::access::{self, Access};
use crate::history::{self, History, HistoryError, HistoryQuery, Series};
use crate::rewind::Rewind;
use crate::shared::{Body, ClientStats, Opening, Shared, Socket};
use crate::{Panel, ServerConfig};

/// The sync endpoints of one [`SyncSource`] (a `LabSync`), as a cheaply
/// cloneable hyper service.
///
/// ```
/// use http_body_util::BodyExt;
/// use lab_link_core::LabSync;
/// use lab_link_server::{Routes, ServerConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sync = LabSync::new(vec![1.5_f64]);
/// let routes = Routes::new(sync, ServerConfig::default());
///
/// // In your own hyper service: ask the routes first, then route the rest.
/// let request = http::Request::get("/sync/state").body(())?;
/// let response = routes.handle(request).expect("a lab-link endpoint");
/// assert_eq!(response.into_body().collect().await?.to_bytes(), "[1.5]");
///
/// let other = http::Request::get("/my/page").body(())?;
/// let Err(other) = routes.handle(other) else { panic!("not a lab-link path") };
/// assert_eq!(other.uri().path(), "/my/page"); // yours to route
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Routes {
    shared: Arc<Shared>,
    panel: Option<Panel>,
}

impl Routes {
    /// The endpoints of `source` (a `LabSync<S>` or an
    /// `Arc<dyn SyncSource>`).
    pub fn new(source: impl IntoSource, config: ServerConfig) -> Self {
        let source = source.into_source();
        if !source.snapshot().document_json().starts_with('{') {
            // The 0.5.0 Python and browser clients replace a non-object
            // snapshot with `{}` and then fail on the first patch.
            tracing::warn!(
                "the state serialises to a JSON value that is not an object: \
                 lab-link 0.5.0 clients expect an object and will not follow its patches"
            );
        }
        if let Some(auth) = &config.auth {
            // Token capabilities are checked against what the commands
            // require.
            auth.declare_capabilities(
                source
                    .command_infos()
                    .into_iter()
                    .flat_map(|info| info.requires),
            );
        }
        let panel = config.panel.then(|| Panel::new(&config.prefix));
        Self {
            shared: Arc::new(Shared::new(source, config)),
            panel,
        }
    }

    /// Answers a request for one of the endpoints, or gives the request
    /// back (`Err`) when its path is not `{prefix}/state`,
    /// `{prefix}/schema`, `{prefix}/history` or `{prefix}/ws`, so the
    /// application can route it itself.
    // The `Err` is the caller's own request handed back, not an error
    // value: boxing it would cost an allocation per fall-through.
    #[allow(clippy::result_large_err)]
    pub fn handle<B>(&self, request: Request<B>) -> Result<Response<Body>, Request<B>> {
        self.check_started();
        let prefix = self.shared.config.prefix.as_str();
        let Some(endpoint) = request.uri().path().strip_prefix(prefix) else {
            return Err(request);
        };
        if let Some(auth) = &self.shared.config.auth {
            // With access control, reading needs a credential too.
            if matches!(endpoint, "/state" | "/schema" | "/history") {
                let asked = access::auth_request(auth, &request, endpoint, Bytes::new());
                if let Err(refused) = auth.state_allowed(&asked) {
                    return Ok(access::response(refused));
                }
            }
        }
        match endpoint {
            "/state" => Ok(self.state(request.method())),
            "/schema" => Ok(self.schema(&request)),
            "/history" => Ok(self.history_endpoint(&request)),
            "/ws" => Ok(self.upgrade(request)),
            _ => Err(request),
        }
    }

    /// [`handle`](Routes::handle), and with access control on also the
    /// `{prefix}/auth/…` endpoints, which read the request's body (at most
    /// 4 KiB: a larger one is answered `413`). What a service serving
    /// these routes should call; gives back requests for other paths.
    // The `Err` is the caller's own request handed back (see `handle`).
    #[allow(clippy::result_large_err)]
    pub async fn respond<B>(&self, request: Request<B>) -> Result<Response<Body>, Request<B>>
    where
        B: hyper::body::Body + Send,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Some(auth) = &self.shared.config.auth else {
            return self.handle(request);
        };
        let prefix = self.shared.config.prefix.as_str();
        let endpoint = match request.uri().path().strip_prefix(prefix) {
            Some(endpoint) if endpoint.starts_with("/auth/") => endpoint.to_owned(),
            _ => return self.handle(request),
        };
        let limit = auth.config().body_limit_bytes();
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                let (status, error) = if e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
                } else {
                    (StatusCode::BAD_REQUEST, "unreadable_body")
                };
                let answer = AuthResponse::error_message(status, error, &e.to_string());
                return Ok(access::response(answer));
            }
        };
        let request = Request::from_parts(parts, ());
        let asked = access::auth_request(auth, &request, &endpoint, body);
        Ok(match auth.handle(asked).await {
            Some(answer) => access::response(answer),
            None => plain(StatusCode::NOT_FOUND, "not found"),
        })
    }

    /// The generated control panel ([`Panel`]) for these endpoints:
    /// answers `/`, `/index.html`, `/panel/…` and `/lab-link.js` while
    /// [`ServerConfig::panel`] is on (the default), and gives back every
    /// other request. A mounted app asks it after its own routes, so its
    /// own `/` wins.
    ///
    /// ```
    /// use lab_link_core::LabSync;
    /// use lab_link_server::{Routes, ServerConfig};
    ///
    /// let routes = Routes::new(LabSync::new(vec![0.0_f64]), ServerConfig::default());
    /// let page = routes.panel(http::Request::get("/").body(())?).ok().expect("the panel");
    /// assert_eq!(page.status(), 200);
    ///
    /// let off = Routes::new(LabSync::new(vec![0.0_f64]), ServerConfig::default().panel(false));
    /// assert!(off.panel(http::Request::get("/").body(())?).is_err());
    /// # Ok::<(), http::Error>(())
    /// ```
    // The `Err` is the caller's own request handed back (see `handle`).
    #[allow(clippy::result_large_err)]
    pub fn panel<B>(&self, request: Request<B>) -> Result<Response<Body>, Request<B>> {
        match &self.panel {
            Some(panel) => panel.respond(request),
            None => Err(request),
        }
    }

    /// `GET {prefix}/state`: the current document, served from the
    /// per-version snapshot cache.
    fn state(&self, method: &Method) -> Response<Body> {
        if let Some(refused) = not_a_get(method) {
            return refused;
        }
        let snapshot = self.shared.source.snapshot();
        let body = Bytes::from_owner(SharedJson(snapshot.document_shared()));
        let mut response = Response::new(Full::new(body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }

    /// `GET {prefix}/schema` (level 2): the schema document (see
    /// `lab_link_core::schema`): the JSON Schema of the state (when the
    /// application published it with `LabSync::with_state_schema`),
    /// annotated with units, ranges and labels; every command's params,
    /// result, required capabilities and `edits` bindings; every stream;
    /// and the `schemaHash`, which is also the response's `ETag`, so a
    /// request with a matching `If-None-Match` gets `304 Not Modified`.
    fn schema<B>(&self, request: &Request<B>) -> Response<Body> {
        if let Some(refused) = not_a_get(request.method()) {
            return refused;
        }
        let document = self.shared.source.schema();
        let hash = document["schemaHash"].as_str().unwrap_or_default();
        let etag = format!("\"{hash}\"");
        let unchanged = request
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|tag| tag.trim() == etag || tag.trim() == "*");
        let mut response = if unchanged {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            Response::new(Full::new(Bytes::from(document.to_string())))
        };
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Invariant: the hash is `sha256:` and hex digits.
        headers.insert(
            header::ETAG,
            HeaderValue::from_str(&etag).expect("a hex hash is a header value"),
        );
        response
    }

    /// `GET {prefix}/history?path=…&from=…&to=…&max_points=N` (level 2):
    /// the recorded changes of one value, as JSON; `format=columns` gives
    /// one array per field. Reads the file on the calling thread.
    fn history_endpoint<B>(&self, request: &Request<B>) -> Response<Body> {
        if let Some(refused) = not_a_get(request.method()) {
            return refused;
        }
        let answer = history::http::parse(request.uri().query())
            .and_then(|(query, columns)| self.history(&query).map(|series| (series, columns)));
        history::http::response(answer)
    }

    /// The recorded changes of `query`'s path (see
    /// [`ServerConfig::history`]): every point in the range when there are
    /// at most `max_points`, else each time bucket's lowest and highest.
    /// Blocking: it reads the history file.
    ///
    /// ```
    /// use lab_link_core::LabSync;
    /// use lab_link_server::{HistoryQuery, Routes, ServerConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("lab-link-doc-history-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let sync = LabSync::new(vec![0.0_f64]);
    /// let config = ServerConfig::default()
    ///     .history(["/0"])
    ///     .history_path(dir.join("history.db"));
    /// let routes = Routes::new(sync.clone(), config);
    /// let lifespan = routes.start();
    /// sync.try_mutate(|v| v.set(0, 1.5))?;
    /// lifespan.stop().await; // writes the last batch
    ///
    /// let series = routes.history(&HistoryQuery::new("/0"))?;
    /// assert_eq!(series.points()[0].value(), 1.5);
    /// assert!(routes.history(&HistoryQuery::new("/1")).is_err()); // not a value
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`HistoryError`] naming the parameter: a path that is not a value
    /// of the state or is not recorded, `from` after `to`, `max_points`
    /// outside 2 to 100 000; or the file cannot be read.
    pub fn history(&self, query: &HistoryQuery) -> Result<Series, HistoryError> {
        query.check()?;
        let history = self
            .shared
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        match history {
            Some(history) => history.query(&*self.shared.source, query),
            None => Err(HistoryError::off()),
        }
    }

    pub(crate) fn set_history(&self, history: Option<Arc<History>>) {
        *self
            .shared
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = history;
    }

    /// The WebSocket handler alone: validates the upgrade request, answers
    /// `101 Switching Protocols` and serves the sync socket on the upgraded
    /// connection in a task of its own. Mount it on any route of a hyper or
    /// axum app (`hyper::upgrade::on` must find the request's upgrade
    /// handle, which both keep in the request's extensions).
    ///
    /// `?since=N` in the query resumes a client that holds version `N`;
    /// `?level=2` opts in to level 2, part 2 (the book's chapter "Wire
    /// protocol", "Levels"); both combine (`?level=2&since=N`).
    /// Answers `400` for a request that is not a WebSocket upgrade, and
    /// `503` when the connection limit is reached or the server is shutting
    /// down.
    pub fn upgrade<B>(&self, mut request: Request<B>) -> Response<Body> {
        self.check_started();
        let key = match check_upgrade(&request) {
            Ok(key) => key,
            Err(reason) => return plain(StatusCode::BAD_REQUEST, reason),
        };
        if self.shared.shutdown.is_cancelled() {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down",
            );
        }
        let Ok(permit) = self.shared.connections.clone().try_acquire_owned() else {
            tracing::warn!(
                "sync socket refused: {} connections open",
                self.shared.config.max_connections
            );
            return plain(StatusCode::SERVICE_UNAVAILABLE, "too many connections");
        };
        let access = match &self.shared.config.auth {
            None => None,
            Some(auth) => {
                let asked = access::auth_request(auth, &request, "/ws", Bytes::new());
                match auth.resolve(&asked, true) {
                    Some(principal) => Some(Access::new(auth.clone(), asked, principal)),
                    // No 101, no snapshot: the socket never opens.
                    None => return access::refused_handshake(),
                }
            }
        };
        let opening = opening_of(request.uri().query());
        let on_upgrade = hyper::upgrade::on(&mut request);
        let shared = self.shared.clone();
        // This task only waits for the upgrade; the connection is served
        // by a task of its own, which keeps nothing of the handshake.
        self.shared.tracker.spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(e) => {
                    tracing::debug!("WebSocket upgrade failed: {e}");
                    return;
                }
            };
            let tracker = shared.tracker.clone();
            match upgraded.downcast::<TokioIo<TcpStream>>() {
                // The pre-wired server's socket: served directly, so that
                // hyper's read buffer is freed now rather than kept behind
                // the upgraded connection for as long as the socket lives.
                Ok(parts) => {
                    let io = Rewind::new(parts.read_buf, parts.io.into_inner());
                    let served = serve_upgraded(shared, io, opening, access).await;
                    tracker.spawn(async move {
                        served.await;
                        drop(permit);
                    });
                }
                // Mounted in another server (axum): its own IO type.
                Err(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    let served = serve_upgraded(shared, io, opening, access).await;
                    tracker.spawn(async move {
                        served.await;
                        drop(permit);
                    });
                }
            }
        });
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        // Invariant: the accept key is base64, a valid header value.
        headers.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&key).expect("base64 is a valid header value"),
        );
        response
    }

    /// Starts a graceful shutdown of the sync sockets: new upgrades are
    /// refused, every socket gets what is queued for it and a close frame
    /// with code 1001. Await [`Routes::closed`] to wait for them.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.tracker.close();
    }

    /// Waits until every sync socket has closed after
    /// [`shutdown`](Routes::shutdown) (at most the configured grace period
    /// plus the write timeout).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn closed(&self) {
        self.shared.tracker.wait().await;
    }

    /// The number of open sync sockets.
    pub fn connection_count(&self) -> usize {
        self.shared.config.max_connections - self.shared.connections.available_permits()
    }

    /// The backlog of every open sync socket: what it costs the server's
    /// memory, and how often it fell behind (see
    /// [`ServerConfig::queue_depth`]). For monitoring, and for tests that
    /// check a slow client stays within its bound.
    pub fn clients(&self) -> Vec<ClientStats> {
        let sockets: Vec<Arc<dyn Socket>> = self
            .shared
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        sockets.iter().map(|socket| socket.stats()).collect()
    }

    /// Whether [`start`](Routes::start) ran (by [`Server::run`](crate::Server::run)
    /// or by the application): the background work (updaters, persistence,
    /// history) is running, so commits from now on are recorded.
    pub fn is_started(&self) -> bool {
        self.shared
            .started
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn mark_started(&self) {
        self.shared
            .started
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Serving mounted routes whose lifespan was never started leaves
    /// updaters and persistence off: say so, loudly and once.
    fn check_started(&self) {
        use std::sync::atomic::Ordering;
        if self.shared.started.load(Ordering::Acquire) {
            return;
        }
        // Checked at the first request only: the hot path stays one load.
        if self.shared.warned_unstarted.swap(true, Ordering::AcqRel) {
            return;
        }
        let has_work =
            !self.shared.source.updaters().is_empty() || self.shared.config.persist.is_some();
        if has_work {
            tracing::error!(
                "lab-link routes are serving, but their lifespan was never started: \
                 updaters and persistence are not running; call `Routes::start()` \
                 when your app starts and `Lifespan::stop()` when it stops"
            );
        }
    }

    pub(crate) fn source(&self) -> Arc<dyn SyncSource> {
        self.shared.source.clone()
    }

    pub(crate) fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    pub(crate) fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }
}

impl<B> hyper::service::Service<Request<B>> for Routes
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    /// Answers the endpoints ([`Routes::respond`]), and `404 Not Found`
    /// for any other path.
    fn call(&self, request: Request<B>) -> Self::Future {
        let routes = self.clone();
        Box::pin(async move {
            Ok(routes
                .respond(request)
                .await
                .unwrap_or_else(|_| plain(StatusCode::NOT_FOUND, "not found")))
        })
    }
}

/// Something that can be served: a `LabSync<S>` or an
/// `Arc<dyn SyncSource>`.
pub trait IntoSource {
    /// The type-erased source.
    fn into_source(self) -> Arc<dyn SyncSource>;
}

impl<S: Reactive + Send + 'static> IntoSource for LabSync<S> {
    fn into_source(self) -> Arc<dyn SyncSource> {
        Arc::new(self)
    }
}

/// Already a source: kept as it is, not wrapped again.
impl IntoSource for Arc<dyn SyncSource> {
    fn into_source(self) -> Arc<dyn SyncSource> {
        self
    }
}

/// Lets `Bytes` borrow a shared serialised document.
struct SharedJson(Arc<str>);

impl AsRef<[u8]> for SharedJson {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// `405` for anything but `GET` and `HEAD`.
pub(crate) fn not_a_get(method: &Method) -> Option<Response<Body>> {
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(response)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Checks a WebSocket upgrade request (RFC 6455 4.2.1) and returns the
/// `Sec-WebSocket-Accept` value.
fn check_upgrade<B>(request: &Request<B>) -> Result<String, &'static str> {
    let headers = request.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    if request.method() != Method::GET {
        return Err("a WebSocket upgrade must use GET");
    }
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return Err("expected a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket)");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err("unsupported WebSocket version: use Sec-WebSocket-Version: 13");
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or("missing Sec-WebSocket-Key")?;
    Ok(derive_accept_key(key.as_bytes()))
}

/// The sync socket on an upgraded connection, set up: the future serves
/// it.
async fn serve_upgraded<IO>(
    shared: Arc<Shared>,
    io: IO,
    opening: Opening,
    access: Option<Access>,
) -> impl std::future::Future<Output = ()> + Send
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let config = ws_config(&shared.config);
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    crate::connection::serve(shared, ws, opening, access)
}

/// The query parameters of the socket: `?since=N` and `?level=2`.
fn opening_of(query: Option<&str>) -> Opening {
    let param = |wanted: &str| {
        query?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == wanted)
            .map(|(_, value)| value)
    };
    Opening {
        since: param("since").and_then(|value| value.parse().ok()),
        level2: param("level") == Some("2"),
    }
}

fn ws_config(config: &ServerConfig) -> WebSocketConfig {
    // Small read and write buffers: an idle connection should cost little
    // (the read buffer is allocated up front: 8 KiB made an idle socket cost
    // 15 KiB, 1 KiB 8 KiB more than 256 B; it grows for larger frames, and
    // clients send small ones). Frames are batched by the writer, not by
    // tungstenite's buffer.
    WebSocketConfig::default()
        .read_buffer_size(256)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(8 << 20)
        .max_message_size(Some(config.max_frame_bytes))
        .max_frame_size(Some(config.max_frame_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_and_level_are_read_from_the_query() {
        let check = |query: Option<&str>, since: Option<u64>, level2: bool| {
            assert_eq!(opening_of(query), Opening { since, level2 }, "{query:?}");
        };
        check(Some("since=41"), Some(41), false);
        check(Some("a=1&since=7"), Some(7), false);
        check(Some("since=x"), None, false);
        check(None, None, false);
        check(Some("level=2"), None, true);
        check(Some("level=2&since=3"), Some(3), true);
        check(Some("since=3&level=2"), Some(3), true);
        check(Some("level=1"), None, false);
        check(Some("level=20"), None, false);
    }

    #[test]
    fn upgrade_requests_are_checked() {
        let request = |f: fn(http::request::Builder) -> http::request::Builder| {
            f(Request::get("/sync/ws")
                .header("connection", "keep-alive, Upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13"))
            .body(())
            .unwrap()
        };
        assert_eq!(
            check_upgrade(&request(
                |b| b.header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            )),
            Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned())
        );
        assert_eq!(
            check_upgrade(&request(|b| b)),
            Err("missing Sec-WebSocket-Key")
        );
        let plain_get = Request::get("/sync/ws").body(()).unwrap();
        assert!(check_upgrade(&plain_get).is_err());
    }
}
