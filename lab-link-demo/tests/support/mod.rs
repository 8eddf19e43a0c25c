//! Shared by the demo's tests: a demo server in a child process (ours or
//! the Python reference of `bench/python`), a raw WebSocket client that
//! sees every message as sent, and a plain `GET`.

#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod contract;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expectation waits.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the workspace")
        .to_path_buf()
}

/// A demo server in a child process, stopped with SIGTERM when dropped.
#[derive(Debug)]
pub struct DemoProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// `http://127.0.0.1:PORT/sync`.
    pub base: String,
    stderr: Option<tokio::task::JoinHandle<String>>,
}

impl DemoProcess {
    /// Starts our demo binary with `args` (plus `--port 0` unless they
    /// name a port) and waits for its `listening` line.
    pub async fn ours(args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lab-link-demo"));
        if !args.contains(&"--port") {
            command.args(["--port", "0"]);
        }
        command.args(args);
        Self::start(command, "/sync").await
    }

    /// Starts the Python reference (`bench/python/demo.py` on lab-link
    /// 0.5.0, in the venv `cargo xtask setup` makes).
    pub async fn reference() -> Self {
        let root = workspace_root();
        let python = root.join("target/py-venv/bin/python");
        assert!(
            python.exists(),
            "the Python reference needs the venv at {}: run `cargo xtask setup` \
             (it installs bench/python/requirements.txt)",
            python.display()
        );
        let mut command = Command::new(python);
        command
            .arg(root.join("bench/python/demo.py"))
            .args(["--port", "0"]);
        Self::start(command, "/sync").await
    }

    async fn start(mut command: Command, prefix: &str) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text).await;
            text
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(TIMEOUT * 2, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{command:?} printed no line within {:?}", TIMEOUT * 2))
            .expect("stdout readable")
            .unwrap_or_else(|| panic!("{command:?} ended without printing its listening line"));
        let origin = line
            .strip_prefix("lab-link demo listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        // Nothing more is expected on stdout; keep reading so the child
        // never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            base: format!("{origin}{prefix}"),
            origin,
            child: Some(child),
            stderr: Some(stderr),
        }
    }

    /// The port the demo listens on.
    pub fn port(&self) -> u16 {
        self.origin
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("the origin ends with the port")
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("the demo is running")
    }

    /// Sends `signal` (`TERM`, `INT`) and waits for the exit; returns the
    /// exit status and everything the process wrote to stderr.
    pub async fn stop_with(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        let pid = self.pid();
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("`kill` runs");
        assert!(status.success(), "kill -{signal} {pid} failed");
        let mut child = self.child.take().expect("running");
        let status = tokio::time::timeout(TIMEOUT, child.wait())
            .await
            .unwrap_or_else(|_| panic!("the demo did not stop within {TIMEOUT:?} of SIG{signal}"))
            .expect("wait succeeds");
        let stderr = self
            .stderr
            .take()
            .expect("stderr reader")
            .await
            .unwrap_or_default();
        (status, stderr)
    }

    /// `ws://…/sync/ws`.
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.base.replacen("http", "ws", 1))
    }

    /// A raw client on the sync socket.
    pub async fn raw(&self) -> Raw {
        Raw::connect(&self.ws_url()).await
    }

    /// `GET {prefix}/state`, parsed.
    pub async fn state(&self) -> Value {
        let (status, body) = get(&self.base, "/state").await;
        assert_eq!(status, 200, "GET /state: {body}");
        serde_json::from_str(&body).expect("GET /state is JSON")
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// `GET base + path` over HTTP/1.0: the status and the body.
pub async fn get(base: &str, path: &str) -> (u16, String) {
    let rest = base.strip_prefix("http://").expect("an http:// base");
    let (authority, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let mut stream = TcpStream::connect(authority).await.expect("connect");
    let target = if prefix.is_empty() {
        path.to_owned()
    } else {
        format!("/{prefix}{path}")
    };
    let request = format!("GET {target} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("the response arrives")
        .expect("read");
    let response = String::from_utf8(response).expect("UTF-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a full response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (status, body.to_owned())
}

/// One message off the socket.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A JSON text frame.
    Json(Value),
    /// A binary stream frame: id, seq, float32 samples.
    Frame(String, u32, Vec<f32>),
}

/// A raw client: the snapshot it got, and every message after it.
#[derive(Debug)]
pub struct Raw {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The first `snapshot` message.
    pub snapshot: Value,
    /// The replica: the snapshot with every patch applied.
    pub replica: Value,
    /// The replica's version.
    pub version: u64,
    /// Messages read while looking for something else, in order.
    pub seen: Vec<Msg>,
    next_request: u64,
}

/// What a command produced: its patch messages and its answer.
#[derive(Debug)]
pub struct Outcome {
    /// The patch messages that carried this command's `requestId`.
    pub patches: Vec<Value>,
    /// The `command_ack` or `command_error`.
    pub answer: Value,
}

impl Outcome {
    /// The answer, asserting it is an ack.
    #[track_caller]
    pub fn ack(&self) -> &Value {
        assert_eq!(self.answer["type"], "command_ack", "{}", self.answer);
        &self.answer
    }

    /// The answer, asserting it is a `command_error` with `code`.
    #[track_caller]
    pub fn error(&self, code: &str) -> &Value {
        assert_eq!(self.answer["type"], "command_error", "{}", self.answer);
        assert_eq!(self.answer["code"], code, "{}", self.answer);
        &self.answer
    }

    /// The operations of the single patch message, asserting there is
    /// exactly one.
    #[track_caller]
    pub fn single_patch(&self) -> &Value {
        assert_eq!(self.patches.len(), 1, "{:?}", self.patches);
        &self.patches[0]["patch"]
    }
}

impl Raw {
    /// Connects and reads the snapshot.
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("the handshake completes")
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        let mut raw = Self {
            ws,
            snapshot: Value::Null,
            replica: Value::Null,
            version: 0,
            seen: Vec::new(),
            next_request: 0,
        };
        match raw.read().await {
            Msg::Json(message) if message["type"] == "snapshot" => {
                raw.version = message["version"].as_u64().expect("a version");
                raw.replica = message["data"].clone();
                raw.snapshot = message;
            }
            other => panic!("the first message is not a snapshot: {other:?}"),
        }
        raw
    }

    /// The next message, with patches applied to the replica (checking
    /// that versions have no gap).
    pub async fn read(&mut self) -> Msg {
        loop {
            let frame = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no message within {TIMEOUT:?}"))
                .expect("the socket stays open")
                .expect("a frame");
            let msg = match frame {
                Message::Text(text) => Msg::Json(serde_json::from_str(&text).expect("JSON")),
                Message::Binary(bytes) => decode_frame(&bytes),
                _ => continue,
            };
            if let Msg::Json(message) = &msg {
                if message["type"] == "patch" {
                    let version = message["version"].as_u64().expect("a version");
                    assert_eq!(version, self.version + 1, "a gap or a repeat: {message}");
                    let ops: Vec<lab_link::engine::PatchOp> =
                        serde_json::from_value(message["patch"].clone()).expect("patch ops");
                    lab_link::engine::apply(&mut self.replica, &ops).expect("the patch applies");
                    self.version = version;
                }
            }
            return msg;
        }
    }

    /// Sends a command and reads until its ack or error; returns the patch
    /// messages tagged with its `requestId` and the answer. Other messages
    /// go to [`Raw::seen`].
    pub async fn command(&mut self, name: &str, params: Value) -> Outcome {
        self.next_request += 1;
        let request_id = format!("t{}", self.next_request);
        let message =
            json!({"type": "command", "command": name, "params": params, "requestId": request_id});
        self.send(&message).await;
        let mut patches = Vec::new();
        loop {
            let msg = self.read().await;
            if let Msg::Json(message) = &msg {
                if message["requestId"] == request_id.as_str() {
                    match message["type"].as_str() {
                        Some("patch") => {
                            assert_eq!(message["command"], name, "{message}");
                            patches.push(message.clone());
                            continue;
                        }
                        Some("command_ack" | "command_error") => {
                            return Outcome {
                                patches,
                                answer: message.clone(),
                            }
                        }
                        _ => {}
                    }
                }
            }
            self.seen.push(msg);
        }
    }

    /// Sends one JSON message.
    pub async fn send(&mut self, message: &Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// Reads until `pick` accepts a message (others go to `seen`).
    pub async fn until<T>(&mut self, mut pick: impl FnMut(&Msg) -> Option<T>) -> T {
        loop {
            let msg = self.read().await;
            if let Some(found) = pick(&msg) {
                return found;
            }
            self.seen.push(msg);
        }
    }

    /// Reads until the server closes the socket: the close frame's code,
    /// or `None` when the connection ended without one.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let frame = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("the socket was not closed within {TIMEOUT:?}"));
            match frame {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Decodes a binary stream frame (tag 0x01, float32).
fn decode_frame(bytes: &[u8]) -> Msg {
    assert_eq!(bytes[0], 0x01, "a float32 frame");
    let len = usize::from(u16::from_le_bytes([bytes[1], bytes[2]]));
    let id = String::from_utf8(bytes[3..3 + len].to_vec()).expect("UTF-8 id");
    let seq_at = 3 + len;
    let seq = u32::from_le_bytes(bytes[seq_at..seq_at + 4].try_into().expect("4 bytes"));
    let samples = bytes[seq_at + 4..]
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes(chunk.try_into().expect("4 bytes")))
        .collect();
    Msg::Frame(id, seq, samples)
}

/// The initial state of DEMO.md, as JSON text in the contract's key order.
pub fn initial_state() -> Value {
    json!({
        "enabled": false,
        "channels": [
            {"name": "ch0", "bias_voltage": 0.0, "active": false},
            {"name": "ch1", "bias_voltage": 0.0, "active": false},
            {"name": "ch2", "bias_voltage": 0.0, "active": false},
            {"name": "ch3", "bias_voltage": 0.0, "active": false}
        ],
        "labels": {},
        "acquisition": {"running": false, "rate_hz": 10.0, "count": 0}
    })
}
