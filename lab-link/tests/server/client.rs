//! The test harness: a served `LabSync` on an ephemeral port, a WebSocket
//! client whose replica applies every message and checks that versions are
//! gap-free, a raw WebSocket client for what tungstenite will not send, and
//! a raw HTTP/1.1 request.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lab_link::engine::{apply, PatchOp};
use lab_link::{LabSync, Reactive, Routes, Server, ServerConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// The longest any one step may take before the test fails (instead of
/// hanging): generous, for a loaded machine.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// The most messages any loop of a test reads or produces.
pub(crate) const MAX_STEPS: usize = 100_000;

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub(crate) struct State {
    pub(crate) enabled: bool,
    pub(crate) channels: Vec<Channel>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) count: u64,
}

#[derive(Reactive, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub(crate) struct Channel {
    pub(crate) bias_voltage: f64,
    pub(crate) active: bool,
}

/// The state every test starts from.
pub(crate) fn initial() -> State {
    State {
        enabled: false,
        channels: vec![Channel::default()],
        labels: [("a".to_owned(), "1".to_owned())].into(),
        count: 0,
    }
}

/// One committed version: `count` grows by one.
pub(crate) fn bump(sync: &LabSync<State>) {
    sync.mutate(|s| {
        let next = s.count + 1;
        s.set_count(next).expect("a u64 is always accepted");
    });
}

/// Awaits `future`, failing the test after [`TIMEOUT`].
#[track_caller]
pub(crate) fn within<F: Future>(what: &str, future: F) -> impl Future<Output = F::Output> {
    let what = what.to_owned();
    async move {
        match tokio::time::timeout(TIMEOUT, future).await {
            Ok(output) => output,
            Err(_) => panic!("timed out after {TIMEOUT:?}: {what}"),
        }
    }
}

/// A `LabSync<State>` served on `127.0.0.1:0`.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) routes: Routes,
    pub(crate) sync: LabSync<State>,
    pub(crate) running: JoinHandle<()>,
}

impl TestServer {
    /// Serves [`initial`] with `config`.
    pub(crate) async fn start(config: ServerConfig) -> Self {
        Self::serve(LabSync::new(initial()), config).await
    }

    /// Serves `sync` with `config`.
    pub(crate) async fn serve(sync: LabSync<State>, config: ServerConfig) -> Self {
        let server = Server::builder()
            .config(config)
            .bind(sync.clone(), "127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        Self {
            addr: server.local_addr(),
            routes: server.routes().clone(),
            sync,
            running: tokio::spawn(server.run()),
        }
    }

    /// A client on `/sync/ws`.
    pub(crate) async fn connect(&self) -> Client {
        Client::connect(self.addr, "").await
    }

    /// A client on `/sync/ws` that has read its snapshot.
    pub(crate) async fn joined(&self) -> Client {
        let mut client = self.connect().await;
        let snapshot = client.recv().await;
        assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
        client
    }

    /// `GET /sync/state`, checked and parsed.
    pub(crate) async fn document(&self) -> Value {
        let response = http(self.addr, "GET", "/sync/state").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("application/json"));
        serde_json::from_slice(&response.body).expect("GET /sync/state is JSON")
    }

    /// Waits until the server counts `n` open sync sockets.
    pub(crate) async fn wait_connections(&self, n: usize) {
        within(&format!("connection count back to {n}"), async {
            while self.routes.connection_count() != n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }

    /// Shuts the server down and waits for `run` to return.
    pub(crate) async fn shutdown(self) {
        self.routes.shutdown();
        within("the server task ends", self.running)
            .await
            .expect("the server task does not panic");
    }
}

/// The WebSocket stream of every client.
pub(crate) type Ws = WebSocketStream<TcpStream>;

/// A sync client with a replica.
pub(crate) struct Client {
    pub(crate) ws: Ws,
    /// The `clientId` of the snapshots (the same in every one).
    pub(crate) client_id: Option<String>,
    /// The replica: `None` before the first snapshot.
    pub(crate) replica: Option<Value>,
    /// The replica's version.
    pub(crate) version: u64,
    /// How many snapshots the client got.
    pub(crate) snapshots: usize,
    /// How many patches it applied.
    pub(crate) patches: usize,
}

impl Client {
    /// Connects to `/sync/ws{query}`.
    pub(crate) async fn connect(addr: SocketAddr, query: &str) -> Self {
        Self::try_connect(addr, query)
            .await
            .expect("the WebSocket handshake succeeds")
    }

    /// Connects to `/sync/ws{query}`, returning the handshake's error.
    pub(crate) async fn try_connect(addr: SocketAddr, query: &str) -> Result<Self, WsError> {
        let stream = within("TCP connect", TcpStream::connect(addr)).await?;
        Self::handshake(stream, addr, query).await
    }

    async fn handshake(stream: TcpStream, addr: SocketAddr, query: &str) -> Result<Self, WsError> {
        let url = format!("ws://{addr}/sync/ws{query}");
        let (ws, _) = within(
            "WebSocket handshake",
            tokio_tungstenite::client_async(url, stream),
        )
        .await?;
        Ok(Self {
            ws,
            client_id: None,
            replica: None,
            version: 0,
            snapshots: 0,
            patches: 0,
        })
    }

    /// The next frame other than ping and pong (`None` when the stream
    /// ended).
    pub(crate) async fn next_message(&mut self) -> Result<Option<Message>, WsError> {
        for _ in 0..MAX_STEPS {
            match within("the next WebSocket message", self.ws.next()).await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(message)) => return Ok(Some(message)),
                Some(Err(e)) => return Err(e),
                None => return Ok(None),
            }
        }
        panic!("more than {MAX_STEPS} pings in a row");
    }

    /// The next text frame, as sent.
    pub(crate) async fn next_text(&mut self) -> String {
        match self.next_message().await {
            Ok(Some(Message::Text(text))) => text.as_str().to_owned(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next text frame as JSON, without applying it.
    pub(crate) async fn next_json(&mut self) -> Value {
        let text = self.next_text().await;
        serde_json::from_str(&text).expect("a server message is JSON")
    }

    /// The next message, applied to the replica.
    pub(crate) async fn recv(&mut self) -> Value {
        let message = self.next_json().await;
        self.apply(&message);
        message
    }

    /// Receives until the replica is at `version` (or past it).
    pub(crate) async fn sync_to(&mut self, version: u64) {
        for _ in 0..MAX_STEPS {
            if self.replica.is_some() && self.version >= version {
                return;
            }
            self.recv().await;
        }
        panic!(
            "still at version {} after {MAX_STEPS} messages",
            self.version
        );
    }

    /// Receives until `done` holds of the replica.
    pub(crate) async fn recv_until(&mut self, done: impl Fn(&Value) -> bool) {
        for _ in 0..MAX_STEPS {
            if self.replica.as_ref().is_some_and(&done) {
                return;
            }
            self.recv().await;
        }
        panic!("the replica never got there in {MAX_STEPS} messages");
    }

    /// Applies a server message to the replica, checking that versions
    /// are gap-free: a snapshot resets the replica, a patch must be the
    /// next version, a resume must name the version the replica holds.
    pub(crate) fn apply(&mut self, message: &Value) {
        let version = || {
            message["version"]
                .as_u64()
                .unwrap_or_else(|| panic!("no version in {message}"))
        };
        match message["type"].as_str() {
            Some("snapshot") => {
                self.replica = Some(message["data"].clone());
                self.version = version();
                self.snapshots += 1;
                let id = message["clientId"]
                    .as_str()
                    .expect("a snapshot carries the clientId");
                match &self.client_id {
                    Some(known) => assert_eq!(known, id, "the clientId changed"),
                    None => self.client_id = Some(id.to_owned()),
                }
            }
            Some("patch") => {
                let version = version();
                let replica = self.replica.as_mut().expect("a patch before any snapshot");
                assert_eq!(
                    version,
                    self.version + 1,
                    "a gap or a repeat: patch v{version} after v{}",
                    self.version
                );
                let ops: Vec<PatchOp> =
                    serde_json::from_value(message["patch"].clone()).expect("a JSON Patch");
                apply(replica, &ops).expect("the patch applies to the replica");
                self.version = version;
                self.patches += 1;
            }
            Some("resume") => {
                assert!(self.replica.is_some(), "a resume without a replica");
                assert_eq!(version(), self.version, "resumed from the wrong version");
            }
            _ => {}
        }
    }

    /// Sends a text frame.
    pub(crate) async fn send(&mut self, text: &str) {
        within("send", self.ws.send(Message::text(text)))
            .await
            .expect("the frame is sent");
    }

    /// The replica, once there is one.
    pub(crate) fn replica(&self) -> &Value {
        self.replica.as_ref().expect("the client has a replica")
    }
}

/// A raw HTTP/1.1 response.
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `{method} {path}` with `Connection: close` and reads the
/// response to EOF.
pub(crate) async fn http(addr: SocketAddr, method: &str, path: &str) -> HttpResponse {
    within(&format!("{method} {path}"), async {
        let mut stream = TcpStream::connect(addr).await.expect("TCP connect");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        parse_response(&raw)
    })
    .await
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = std::str::from_utf8(&raw[..end]).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let response = HttpResponse {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    if let Some(length) = response.header("content-length") {
        assert_eq!(length.parse::<usize>().ok(), Some(response.body.len()));
    }
    response
}

/// A WebSocket client on a raw socket: it sends only what the test writes,
/// and never answers a ping.
pub(crate) struct RawClient {
    pub(crate) stream: BufReader<TcpStream>,
}

impl RawClient {
    /// Connects and completes the upgrade to `/sync/ws` by hand.
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        within("raw WebSocket handshake", async {
            let mut stream = BufReader::new(TcpStream::connect(addr).await.expect("TCP connect"));
            let request = format!(
                "GET /sync/ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
                 Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            );
            stream
                .get_mut()
                .write_all(request.as_bytes())
                .await
                .expect("write");
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                assert!(head.len() < 8192, "an endless response head");
                head.push(stream.read_u8().await.expect("read the response head"));
            }
            let head = String::from_utf8(head).expect("an ASCII head");
            assert!(head.starts_with("HTTP/1.1 101"), "{head}");
            assert!(
                head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
                "the accept key of RFC 6455's example: {head}"
            );
            Self { stream }
        })
        .await
    }

    /// The next server frame as (opcode, payload); `None` at EOF (or a
    /// reset) between frames.
    pub(crate) async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        within("a raw frame", async {
            let first = self.stream.read_u8().await.ok()?;
            let second = self.stream.read_u8().await.expect("a frame header");
            assert_eq!(second & 0x80, 0, "server frames are not masked");
            let len = match second & 0x7f {
                126 => u64::from(self.stream.read_u16().await.expect("length")),
                127 => self.stream.read_u64().await.expect("length"),
                n => u64::from(n),
            };
            let mut payload = vec![0; usize::try_from(len).expect("a small frame")];
            self.stream
                .read_exact(&mut payload)
                .await
                .expect("the payload");
            Some((first & 0x0f, payload))
        })
        .await
    }

    /// Writes bytes as they are.
    pub(crate) async fn write(&mut self, bytes: &[u8]) {
        within("raw write", self.stream.get_mut().write_all(bytes))
            .await
            .expect("raw write");
    }
}

/// A masked client frame (RFC 6455 5.2) with `opcode` and `payload`.
pub(crate) fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | u8::try_from(n).expect("n < 126")),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&u16::try_from(n).expect("a small frame").to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}
