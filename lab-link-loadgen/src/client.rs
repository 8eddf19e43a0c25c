//! The target server, raw WebSocket clients, `GET {prefix}/state`, and the
//! full replica that sampled clients keep.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::scan::{self, Disorder, VersionTrack};
use crate::{Error, Result};

/// A client socket.
pub type Ws = WebSocketStream<TcpStream>;

/// Read buffer of every client socket: small, since ten thousand idle
/// clients each hold one (tungstenite's default is 128 KiB).
const READ_BUFFER: usize = 8 * 1024;

/// The server under test: `http://HOST:PORT/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `HOST:PORT`.
    pub authority: String,
    /// The path prefix of the endpoints, without a trailing `/` (`/sync`).
    pub prefix: String,
}

impl Target {
    /// Parses `http://HOST:PORT/PREFIX` (the prefix may be empty).
    ///
    /// # Errors
    ///
    /// When the URL has another scheme or no port.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = || Error::BadUrl(url.to_owned());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let port = authority.rsplit_once(':').map(|(_, port)| port);
        if port.is_none_or(|port| port.parse::<u16>().is_err()) {
            return Err(bad());
        }
        Ok(Self {
            authority: authority.to_owned(),
            prefix: prefix.trim_end_matches('/').to_owned(),
        })
    }

    /// The sync socket's URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}{}/ws", self.authority, self.prefix)
    }

    /// `http://HOST:PORT/PREFIX`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.authority, self.prefix)
    }

    /// Opens a sync socket (`TCP_NODELAY` on); `recv_buffer` sets the
    /// socket's `SO_RCVBUF` (for a client that stops reading).
    ///
    /// # Errors
    ///
    /// When the connection or the handshake fails.
    pub async fn connect(&self, recv_buffer: Option<u32>) -> Result<Ws> {
        let stream = self.tcp(recv_buffer).await?;
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0);
        let (ws, _response) =
            tokio_tungstenite::client_async_with_config(self.ws_url(), stream, Some(config))
                .await
                .map_err(|source| Error::WebSocket {
                    context: format!("connecting to {}", self.ws_url()),
                    source: Box::new(source),
                })?;
        Ok(ws)
    }

    /// `GET {prefix}/state`, parsed.
    ///
    /// # Errors
    ///
    /// When the request fails or the answer is not `200` with a JSON body.
    pub async fn state(&self) -> Result<Value> {
        let mut stream = self.tcp(None).await?;
        let request = format!(
            "GET {}/state HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
            self.prefix, self.authority
        );
        let io = |context: &str| {
            let context = format!("{context} GET {}/state", self.base_url());
            move |source| Error::Io { context, source }
        };
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(io("sending"))?;
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
            .await
            .map_err(|_| Error::Timeout(format!("GET {}/state", self.base_url())))?
            .map_err(io("reading"))?;
        let body = http_body(&answer).map_err(Error::Protocol)?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::Protocol(format!("GET /state is not JSON: {e}")))
    }

    async fn tcp(&self, recv_buffer: Option<u32>) -> Result<TcpStream> {
        let io = |source| Error::Io {
            context: format!("connecting to {}", self.authority),
            source,
        };
        let addr = tokio::net::lookup_host(&self.authority)
            .await
            .map_err(io)?
            .next()
            .ok_or_else(|| Error::BadUrl(self.authority.clone()))?;
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(io)?;
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).map_err(io)?;
        }
        let stream = socket.connect(addr).await.map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        Ok(stream)
    }
}

/// The body of an HTTP/1.1 answer read to its end: `200` only, with a
/// `Content-Length` or chunked body, or one delimited by the close.
pub fn http_body(answer: &[u8]) -> Result<Vec<u8>, String> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of HTTP headers")?;
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let body = &answer[split + 4..];
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("GET /state answered {status:?}"));
    }
    if head.contains("transfer-encoding: chunked") {
        return dechunk(body);
    }
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok());
    match length {
        Some(length) if length <= body.len() => Ok(body[..length].to_vec()),
        Some(_) => Err("HTTP body shorter than its Content-Length".to_owned()),
        None => Ok(body.to_vec()),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(body.get(..size).ok_or("short chunk")?);
        body = body.get(size + 2..).ok_or("short chunk")?;
    }
}

/// Sends one command; `request_id` asks for an ack.
///
/// # Errors
///
/// When the socket fails.
pub async fn send_command(
    ws: &mut (impl SinkExt<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin),
    command: &str,
    params: Value,
    request_id: &str,
) -> Result<()> {
    let text = json!({
        "type": "command",
        "command": command,
        "params": params,
        "requestId": request_id,
    })
    .to_string();
    ws.send(Message::Text(Utf8Bytes::from(text)))
        .await
        .map_err(|source| Error::WebSocket {
            context: format!("sending {command}"),
            source: Box::new(source),
        })
}

/// The parameters of `set_channel` whose value is number `index` of a
/// sequence in which neighbours always differ: `index` maps onto the
/// millivolts from -9.999 V to 9.999 V (19,999 values) in a cycle, so the
/// command always changes the channel, and so commits one version, unless
/// the channel held that exact value already.
pub fn set_channel_params(channel: usize, index: u64) -> Value {
    let millivolts = (index % 19_999) as f64 - 9_999.0;
    json!({"channel": channel, "value": millivolts / 1000.0})
}

/// A full replica: parses every frame, applies every patch, and checks
/// the version sequence and the cheap scan against the parse.
#[derive(Debug, Default)]
pub struct Replica {
    /// The document, once a snapshot came.
    pub document: Option<Value>,
    /// The versions received.
    pub track: VersionTrack,
    /// Problems found (bad frames, failed patches, scan disagreements).
    pub problems: Vec<String>,
}

impl Replica {
    /// Handles one text frame from the server.
    pub fn handle_text(&mut self, text: &str) {
        let message: Value = match serde_json::from_str(text) {
            Ok(message) => message,
            Err(e) => return self.problem(format!("frame is not JSON: {e}")),
        };
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .map_or(scan::Kind::Other, scan::Kind::from_type);
        let version = message.get("version").and_then(Value::as_u64);
        if scan::kind(text) != kind || (kind != scan::Kind::Other && scan::version(text) != version)
        {
            self.problem(format!(
                "the cheap scan disagrees with the parse: {}",
                truncate(text)
            ));
        }
        match (kind, version) {
            (scan::Kind::Snapshot, Some(version)) => {
                self.track.snapshot(version);
                self.document = message.get("data").cloned();
            }
            (scan::Kind::Patch, Some(version)) => self.patch(&message, version),
            (scan::Kind::Snapshot | scan::Kind::Patch, None) => {
                self.problem(format!("no version: {}", truncate(text)));
            }
            _ => {}
        }
    }

    fn patch(&mut self, message: &Value, version: u64) {
        if let Err(disorder) = self.track.patch(version) {
            return self.problem(disorder.to_string());
        }
        let ops: Result<Vec<json_patch::PatchOperation>, _> =
            serde_json::from_value(message.get("patch").cloned().unwrap_or(Value::Null));
        let outcome = match (ops, self.document.as_mut()) {
            (Ok(ops), Some(document)) => {
                json_patch::patch(document, &ops).map_err(|e| e.to_string())
            }
            (Err(e), _) => Err(format!("bad patch: {e}")),
            (_, None) => Err(Disorder::BeforeSnapshot { got: version }.to_string()),
        };
        if let Err(problem) = outcome {
            self.problem(format!("patch v{version}: {problem}"));
        }
    }

    /// Compares the replica with `state` (from `GET /state`); records a
    /// problem when they differ.
    pub fn check_against(&mut self, state: &Value) {
        if self.document.as_ref() != Some(state) {
            self.problem("the final replica differs from GET /state".to_owned());
        }
    }

    fn problem(&mut self, problem: String) {
        // The first few tell the story; a broken run would otherwise fill
        // the report.
        if self.problems.len() < 5 {
            self.problems.push(problem);
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(160).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let target = Target::parse("http://127.0.0.1:8000/sync/").unwrap();
        assert_eq!(target.ws_url(), "ws://127.0.0.1:8000/sync/ws");
        assert_eq!(target.base_url(), "http://127.0.0.1:8000/sync");
        let bare = Target::parse("http://localhost:1").unwrap();
        assert_eq!(bare.ws_url(), "ws://localhost:1/ws");
        assert!(Target::parse("https://127.0.0.1:8000/sync").is_err());
        assert!(Target::parse("http://127.0.0.1/sync").is_err());
    }

    #[test]
    fn http_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(http_body(plain).unwrap(), b"{}");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(http_body(chunked).unwrap(), b"{\"a\":1}");
        assert!(http_body(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(http_body(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}").is_err());
    }

    #[test]
    fn set_channel_values_stay_in_range_and_differ() {
        let values: Vec<f64> = (0..40_000)
            .map(|i| set_channel_params(0, i)["value"].as_f64().unwrap())
            .collect();
        assert!(values.iter().all(|v| v.abs() <= 10.0));
        assert!(values.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn replica_applies_patches_and_finds_gaps() {
        let mut replica = Replica::default();
        replica.handle_text(r#"{"type":"snapshot","data":{"enabled":false},"version":3}"#);
        replica.handle_text(
            r#"{"type":"patch","patch":[{"op":"replace","path":"/enabled","value":true}],"version":4}"#,
        );
        replica.check_against(&json!({"enabled": true}));
        assert!(replica.problems.is_empty(), "{:?}", replica.problems);
        replica.handle_text(r#"{"type":"patch","patch":[],"version":6}"#);
        replica.handle_text(
            r#"{"type":"patch","patch":[{"op":"remove","path":"/nothing"}],"version":7}"#,
        );
        assert_eq!(replica.problems.len(), 2, "{:?}", replica.problems);
        assert_eq!(replica.track.disorders, 1);
    }
}
