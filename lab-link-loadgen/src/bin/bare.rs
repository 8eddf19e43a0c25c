//! `lab-link-bare`: the stack's ceiling, measured beside our server.
//!
//! A server of the demo contract's command path written directly on
//! tokio-tungstenite, with none of lab-link: one `serde_json::Value`
//! document behind a mutex, `set_channel` as its only command, and a
//! `tokio::sync::broadcast` channel carrying each patch message serialised
//! once to every connection's writer task. It keeps the guarantees the
//! load generator checks (gap-free versions, the ack after the command's
//! own patch, a fresh snapshot for a client that falls behind), so its
//! figures are those of a correct server, and `cargo xtask bench` runs the
//! fan-out and command scenarios on it in the same run as on ours: "ours
//! against what the stack alone costs".
//!
//! `lab-link-bare --port 0` prints `lab-link demo listening on
//! http://127.0.0.1:PORT` like the demo and serves `GET /sync/state` and
//! the socket `/sync/ws`. Anything else is answered 404; an unknown command
//! is answered `unknown_command`, a bad `set_channel` `out_of_range` or
//! `invalid_channel` as in the demo contract.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// Patch messages a writer may fall behind before it is resynced (the
/// demo's default queue depth).
const CAPACITY: usize = 16_384;

/// The demo's channel count.
const CHANNELS: usize = 4;

/// The largest request head `GET /sync/state` may send.
const MAX_HEAD: usize = 16 * 1024;

/// The document and its version.
struct Doc {
    document: Value,
    version: u64,
}

/// What every connection shares.
struct Shared {
    doc: Mutex<Doc>,
    /// Each patch message with its version, serialised once.
    patches: broadcast::Sender<(u64, Utf8Bytes)>,
    clients: AtomicU64,
}

impl Shared {
    fn doc(&self) -> MutexGuard<'_, Doc> {
        self.doc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A snapshot for `client` and a receiver of every later patch
    /// (subscribed under the lock, so nothing falls between them).
    fn join(&self, client: &str) -> (Utf8Bytes, u64, broadcast::Receiver<(u64, Utf8Bytes)>) {
        let doc = self.doc();
        let snapshot = json!({
            "type": "snapshot",
            "data": doc.document,
            "version": doc.version,
            "clientId": client,
        });
        (
            snapshot.to_string().into(),
            doc.version,
            self.patches.subscribe(),
        )
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = port_argument();
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let channels: Vec<Value> = (0..CHANNELS)
        .map(|index| json!({"index": index, "bias_voltage": 0.0, "enabled": false}))
        .collect();
    let shared = Arc::new(Shared {
        doc: Mutex::new(Doc {
            document: json!({"enabled": false, "channels": channels}),
            version: 0,
        }),
        patches: broadcast::channel(CAPACITY).0,
        clients: AtomicU64::new(0),
    });
    println!(
        "lab-link demo listening on http://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            match serve(stream, shared).await {
                Err(e) if !hung_up(&*e) => eprintln!("connection: {e}"),
                _ => {}
            }
        });
    }
}

/// `--port N` (default 0).
fn port_argument() -> u16 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => 0,
        [flag, port] if flag == "--port" => port.parse().unwrap_or_else(|_| {
            eprintln!("--port takes a number, not {port:?}");
            std::process::exit(2)
        }),
        _ => {
            eprintln!("usage: lab-link-bare [--port N]");
            std::process::exit(2)
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Whether `error` only says that the client went away (load generators
/// drop their sockets without a closing handshake).
fn hung_up(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
    match error.downcast_ref::<WsError>() {
        Some(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))
        | Some(WsError::ConnectionClosed | WsError::AlreadyClosed) => true,
        Some(WsError::Io(_)) => true,
        _ => error.downcast_ref::<std::io::Error>().is_some(),
    }
}

/// Routes on the request line (peeked, so the WebSocket handshake still
/// reads the whole request).
async fn serve(stream: TcpStream, shared: Arc<Shared>) -> Result<(), Error> {
    let mut head = vec![0; 512];
    let line = loop {
        let n = stream.peek(&mut head).await?;
        if n == 0 {
            return Ok(());
        }
        if let Some(end) = head[..n].windows(2).position(|w| w == b"\r\n") {
            break String::from_utf8_lossy(&head[..end]).into_owned();
        }
        if n == head.len() {
            return Err("request line too long".into());
        }
    };
    match line.split(' ').nth(1) {
        Some(path) if path.starts_with("/sync/ws") => {
            let ws = tokio_tungstenite::accept_async(stream).await?;
            socket(ws, shared).await
        }
        Some("/sync/state") => state(stream, &shared).await,
        _ => answer(stream, "404 Not Found", "text/plain", b"not found\n").await,
    }
}

/// `GET /sync/state`: the document.
async fn state(mut stream: TcpStream, shared: &Shared) -> Result<(), Error> {
    let mut head = Vec::new();
    let mut buffer = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await?;
        if n == 0 || head.len() > MAX_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..n]);
    }
    let body = serde_json::to_vec(&shared.doc().document)?;
    answer(stream, "200 OK", "application/json", &body).await
}

async fn answer(
    mut stream: TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(), Error> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await?;
    Ok(())
}

/// One sync socket: a reader that runs commands, a writer that sends the
/// snapshot, every patch, and the acks each after its own patch.
async fn socket(ws: WebSocketStream<TcpStream>, shared: Arc<Shared>) -> Result<(), Error> {
    let client = format!("bare-{}", shared.clients.fetch_add(1, Ordering::Relaxed));
    let (snapshot, version, patches) = shared.join(&client);
    let (sink, mut stream) = ws.split();
    let (answers, answers_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write(
        sink,
        shared.clone(),
        client.clone(),
        (snapshot, version, patches),
        answers_rx,
    ));
    while let Some(message) = stream.next().await {
        match message? {
            Message::Text(text) => {
                if let Some(answer) = command(&shared, &client, &text) {
                    if answers.send(answer).is_err() {
                        break;
                    }
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    drop(answers);
    writer.await?
}

/// A command's answer for the writer: sent once the writer has sent
/// `version`.
type Answer = (u64, Utf8Bytes);

/// Runs one client frame; the answer to send after version `.0`.
fn command(shared: &Shared, client: &str, text: &str) -> Option<Answer> {
    let frame: Value = serde_json::from_str(text).ok()?;
    if frame["type"] != "command" {
        return None;
    }
    let name = frame["command"].as_str().unwrap_or_default();
    let request = &frame["requestId"];
    let params = &frame["params"];
    let error = |doc: &Doc, code: &str, message: &str, path: Value| {
        let error = json!({
            "type": "command_error", "command": name, "requestId": request,
            "code": code, "message": message, "severity": "error",
            "display": "inline", "recoverable": true, "path": path,
            "originClientId": client, "version": doc.version,
        });
        Some((doc.version, error.to_string().into()))
    };
    let mut doc = shared.doc();
    if name != "set_channel" {
        let message = format!("unknown command {name:?}");
        return error(&doc, "unknown_command", &message, Value::Null);
    }
    let channel = params["channel"]
        .as_u64()
        .map_or(usize::MAX, |c| c as usize);
    if channel >= CHANNELS {
        let path = json!(format!("/channels/{}", params["channel"]));
        return error(&doc, "invalid_channel", "no such channel", path);
    }
    let value = match params["value"].as_f64() {
        Some(value) if value.abs() <= 10.0 => value,
        _ => {
            let path = json!(format!("/channels/{channel}/bias_voltage"));
            return error(&doc, "out_of_range", "|value| must be at most 10 V", path);
        }
    };
    let path = format!("/channels/{channel}/bias_voltage");
    doc.document["channels"][channel]["bias_voltage"] = json!(value);
    doc.version += 1;
    let version = doc.version;
    let patch = json!({
        "type": "patch",
        "patch": [{"op": "replace", "path": path, "value": value}],
        "version": version, "originClientId": client,
        "requestId": request, "command": name,
    });
    // Sent under the lock: the channel's order is the versions' order.
    let _ = shared.patches.send((version, patch.to_string().into()));
    drop(doc);
    let ack = json!({
        "type": "command_ack", "command": name, "requestId": request,
        "version": version,
    });
    Some((version, ack.to_string().into()))
}

/// The writer: the snapshot, then patches as they come (fed in a batch,
/// flushed once per batch), each held answer once its version is out.
async fn write(
    mut sink: futures_util::stream::SplitSink<WebSocketStream<TcpStream>, Message>,
    shared: Arc<Shared>,
    client: String,
    (snapshot, mut sent, mut patches): (Utf8Bytes, u64, broadcast::Receiver<(u64, Utf8Bytes)>),
    mut answers: mpsc::UnboundedReceiver<Answer>,
) -> Result<(), Error> {
    sink.send(Message::Text(snapshot)).await?;
    let mut held: VecDeque<Answer> = VecDeque::new();
    let mut reading = true;
    loop {
        tokio::select! {
            answer = answers.recv(), if reading => match answer {
                Some(answer) => held.push_back(answer),
                None => reading = false,
            },
            patch = patches.recv() => {
                let mut next = patch;
                loop {
                    match next {
                        Ok((version, text)) => {
                            sink.feed(Message::Text(text)).await?;
                            sent = version;
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            // Fallen behind: a fresh snapshot.
                            let (snapshot, version, receiver) = shared.join(&client);
                            patches = receiver;
                            sink.feed(Message::Text(snapshot)).await?;
                            sent = version;
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    }
                    next = match patches.try_recv() {
                        Ok(patch) => Ok(patch),
                        Err(broadcast::error::TryRecvError::Lagged(n)) => {
                            Err(broadcast::error::RecvError::Lagged(n))
                        }
                        Err(_) => break,
                    };
                }
            },
        }
        while held.front().is_some_and(|(version, _)| *version <= sent) {
            if let Some((_, answer)) = held.pop_front() {
                sink.feed(Message::Text(answer)).await?;
            }
        }
        sink.flush().await?;
        if !reading && held.is_empty() {
            return Ok(());
        }
    }
}
