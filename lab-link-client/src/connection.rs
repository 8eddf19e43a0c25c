//! The background task: opens the socket, applies what the server sends to
//! the replica, matches command answers to their requests, and reconnects.
//!
//! The replica never continues from a wrong base: a patch whose version is
//! not the replica's version + 1, or that does not apply (`apply` is
//! atomic, so a failed patch leaves the replica untouched), makes the
//! client send `{"type":"resync"}` and discard patches until the fresh
//! snapshot arrives.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lab_link_core::{apply, PatchOp};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::client::Shared;
use crate::{ClientError, CommandFailure, CommandReply, Event};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The first pause before reconnecting; it doubles per failed attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long one write to the socket may take before the connection counts
/// as lost.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Client::close`](crate::Client::close) waits for the server
/// to answer the close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a [`Client`](crate::Client) asks of the task.
#[derive(Debug)]
pub(crate) enum Request {
    Command {
        name: String,
        params: Value,
        request_id: String,
        reply: oneshot::Sender<Result<CommandReply, ClientError>>,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

type Pending = HashMap<String, oneshot::Sender<Result<CommandReply, ClientError>>>;

/// Why a connection ended.
enum End {
    /// Closed by the client, or every handle was dropped.
    Closed(Option<oneshot::Sender<()>>),
    /// The socket closed or failed.
    Lost,
}

/// Opens the socket (with `?since=` when resuming) and reads until the
/// first `snapshot` or `resume`, applied to the replica.
pub(crate) async fn open(
    shared: &Shared,
    url: &str,
    since: Option<u64>,
) -> Result<Socket, ClientError> {
    let timeout = shared.config.connect_timeout;
    let url = match since {
        Some(version) if url.contains('?') => format!("{url}&since={version}"),
        Some(version) => format!("{url}?since={version}"),
        None => url.to_owned(),
    };
    let connecting = async {
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| ClientError::Connect(Box::new(e)))?;
        if let Some(token) = &shared.config.bearer_token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                ClientError::Protocol("the bearer token is not a valid header value".to_owned())
            })?;
            request.headers_mut().insert("authorization", value);
        }
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| ClientError::Connect(Box::new(e)))?;
        loop {
            let Some(message) = socket.next().await else {
                return Err(ClientError::Protocol(
                    "the socket closed before the snapshot".to_owned(),
                ));
            };
            let text = match message {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) => {
                    return Err(ClientError::Protocol(
                        "the socket closed before the snapshot".to_owned(),
                    ))
                }
                Ok(_) => continue,
                Err(e) => return Err(ClientError::Connect(Box::new(e))),
            };
            let message: Value = serde_json::from_str(text.as_str()).map_err(|e| {
                ClientError::Protocol(format!("the first message is not JSON: {e}"))
            })?;
            let kind = message.get("type").and_then(Value::as_str);
            if kind != Some("snapshot") && !(since.is_some() && kind == Some("resume")) {
                return Err(ClientError::Protocol(format!(
                    "expected a snapshot first, got {:?}",
                    kind.unwrap_or("a message without type")
                )));
            }
            // A fresh connection: whatever was being resynchronised is
            // settled by this snapshot or resume.
            shared.lock().resyncing = false;
            let mut pending = Pending::new();
            if let Some(reply) = handle(shared, &message, &mut pending) {
                send(&mut socket, reply)
                    .await
                    .map_err(|()| ClientError::Protocol("the socket failed".to_owned()))?;
            }
            return Ok(socket);
        }
    };
    match tokio::time::timeout(timeout, connecting).await {
        Ok(outcome) => outcome,
        Err(_) => Err(ClientError::ConnectTimeout(timeout)),
    }
}

/// The background task: serves the connection, reconnects when it drops
/// (if enabled), until the client closes or every handle is dropped.
pub(crate) async fn drive(
    shared: Arc<Shared>,
    url: String,
    mut socket: Socket,
    mut requests: mpsc::Receiver<Request>,
) {
    let mut pending = Pending::new();
    let done = loop {
        let end = serve(&shared, &mut socket, &mut requests, &mut pending).await;
        for (_, reply) in pending.drain() {
            let _ = reply.send(Err(ClientError::Disconnected));
        }
        match end {
            End::Closed(done) => break done,
            End::Lost if !shared.config.reconnect => {
                tracing::info!("lab-link connection lost");
                break None;
            }
            End::Lost => {
                tracing::info!("lab-link connection lost: reconnecting");
                match reconnect(&shared, &url, &mut requests).await {
                    Ok(reopened) => socket = reopened,
                    Err(done) => break done,
                }
            }
        }
    };
    let _ = shared.events.send(Event::Closed);
    if let Some(done) = done {
        let _ = done.send(());
    }
}

/// Tries to reopen the connection with a growing pause between attempts,
/// resuming from the replica's version. Meanwhile commands fail with
/// `Disconnected`. `Err` when the client closed instead.
async fn reconnect(
    shared: &Shared,
    url: &str,
    requests: &mut mpsc::Receiver<Request>,
) -> Result<Socket, Option<oneshot::Sender<()>>> {
    let mut backoff = FIRST_BACKOFF;
    loop {
        refuse_while(requests, tokio::time::sleep(backoff)).await?;
        let since = shared.lock().version;
        match refuse_while(requests, open(shared, url, Some(since))).await? {
            Ok(socket) => {
                tracing::info!(since, "lab-link reconnected");
                return Ok(socket);
            }
            Err(e) => {
                tracing::debug!("reconnect failed: {e}");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Runs `future` while failing every command with `Disconnected`; `Err`
/// when the client closes (or every handle was dropped) first.
async fn refuse_while<F: Future>(
    requests: &mut mpsc::Receiver<Request>,
    future: F,
) -> Result<F::Output, Option<oneshot::Sender<()>>> {
    tokio::pin!(future);
    loop {
        tokio::select! {
            output = &mut future => return Ok(output),
            request = requests.recv() => match request {
                Some(Request::Command { reply, .. }) => {
                    let _ = reply.send(Err(ClientError::Disconnected));
                }
                Some(Request::Close { done }) => return Err(Some(done)),
                None => return Err(None),
            },
        }
    }
}

/// Serves one open connection until it ends.
async fn serve(
    shared: &Shared,
    socket: &mut Socket,
    requests: &mut mpsc::Receiver<Request>,
    pending: &mut Pending,
) -> End {
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                Some(Request::Command { name, params, request_id, reply }) => {
                    // Forget the commands whose callers stopped waiting.
                    pending.retain(|_, reply| !reply.is_closed());
                    let params = if params.is_null() { json!({}) } else { params };
                    let message = json!({
                        "type": "command",
                        "command": name,
                        "params": params,
                        "requestId": request_id,
                    });
                    pending.insert(request_id, reply);
                    if send(socket, message).await.is_err() {
                        return End::Lost;
                    }
                }
                Some(Request::Close { done }) => {
                    close(socket).await;
                    return End::Closed(Some(done));
                }
                None => {
                    close(socket).await;
                    return End::Closed(None);
                }
            },
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = match serde_json::from_str(text.as_str()) {
                        Ok(message) => message,
                        Err(e) => {
                            tracing::warn!("ignored a server message that is not JSON: {e}");
                            continue;
                        }
                    };
                    if let Some(reply) = handle(shared, &message, pending) {
                        if send(socket, reply).await.is_err() {
                            return End::Lost;
                        }
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    tracing::debug!(?frame, "the server closed the socket");
                    // tungstenite answers the close frame on the next read,
                    // which then ends the stream.
                }
                Some(Ok(Message::Binary(frame))) => match crate::event::decode_stream_frame(&frame) {
                    Some((id, seq, samples)) => {
                        let _ = shared.events.send(Event::StreamFrame { id, seq, samples });
                    }
                    None => tracing::warn!("ignored a malformed binary frame"),
                },
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!("the socket failed: {e}");
                    return End::Lost;
                }
                None => return End::Lost,
            },
        }
    }
}

/// Applies one server message to the replica and the pending commands,
/// and tells the subscribers; returns the message to answer with (a
/// resync request), if any.
fn handle(shared: &Shared, message: &Value, pending: &mut Pending) -> Option<Value> {
    let text = |key: &str| message.get(key).and_then(Value::as_str).map(str::to_owned);
    let version = message.get("version").and_then(Value::as_u64);
    let event = match message.get("type").and_then(Value::as_str) {
        Some("snapshot") => {
            let Some(version) = version else {
                tracing::warn!("a snapshot without version: resync");
                return resync(shared);
            };
            let mut replica = shared.lock();
            replica.document = message.get("data").cloned().unwrap_or(Value::Null);
            replica.version = version;
            replica.client_id = text("clientId");
            replica.resyncing = false;
            Event::Snapshot { version }
        }
        Some("resume") => {
            let current = shared.lock().version;
            if version != Some(current) {
                tracing::warn!(
                    ?version,
                    current,
                    "the server resumed from another version: resync"
                );
                return resync(shared);
            }
            Event::Resumed { version: current }
        }
        Some("patch") => {
            let mut replica = shared.lock();
            if replica.resyncing {
                return None;
            }
            let expected = replica.version + 1;
            if version != Some(expected) {
                drop(replica);
                tracing::warn!(?version, expected, "patch out of order: resync");
                return resync(shared);
            }
            let ops = message
                .get("patch")
                .cloned()
                .map(serde_json::from_value::<Vec<PatchOp>>);
            let ops = match ops {
                Some(Ok(ops)) => ops,
                _ => {
                    drop(replica);
                    tracing::warn!(expected, "a patch that is not an operation list: resync");
                    return resync(shared);
                }
            };
            if let Err(e) = apply(&mut replica.document, &ops) {
                drop(replica);
                tracing::warn!(expected, "a patch that does not apply ({e}): resync");
                return resync(shared);
            }
            replica.version = expected;
            Event::Patch {
                version: expected,
                ops,
                request_id: text("requestId"),
                command: text("command"),
                origin_client_id: text("originClientId"),
            }
        }
        Some("command_ack") => {
            if let Some(reply) = answer_to(message, pending) {
                let _ = reply.send(Ok(CommandReply {
                    version: version.unwrap_or(0),
                    result: message.get("result").cloned(),
                }));
            }
            return None;
        }
        Some("command_error") => {
            if let Some(reply) = answer_to(message, pending) {
                let failure = CommandFailure::from_message(message);
                let _ = reply.send(Err(ClientError::Command(failure)));
            }
            return None;
        }
        Some("stream_append") => Event::StreamAppend(message.clone()),
        Some("stream_replace") => Event::StreamReplace(message.clone()),
        Some("stream_delta") => Event::StreamDelta(message.clone()),
        Some("stream_snapshot") => Event::StreamSnapshot(message.clone()),
        Some("error") => Event::Error {
            code: text("code").unwrap_or_default(),
            message: text("message").unwrap_or_default(),
        },
        other => {
            tracing::debug!(kind = ?other, "ignored an unknown server message");
            return None;
        }
    };
    // No subscriber is fine.
    let _ = shared.events.send(event);
    None
}

/// The waiting caller of the command a `command_ack` or `command_error`
/// answers.
fn answer_to(
    message: &Value,
    pending: &mut Pending,
) -> Option<oneshot::Sender<Result<CommandReply, ClientError>>> {
    let request_id = message.get("requestId").and_then(Value::as_str)?;
    pending.remove(request_id)
}

/// Marks the replica as resynchronising and returns the request for it.
fn resync(shared: &Shared) -> Option<Value> {
    shared.lock().resyncing = true;
    shared.resyncs.fetch_add(1, Ordering::Relaxed);
    Some(json!({"type": "resync"}))
}

async fn send(socket: &mut Socket, message: Value) -> Result<(), ()> {
    let frame = Message::Text(message.to_string().into());
    match tokio::time::timeout(WRITE_TIMEOUT, socket.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::debug!("write failed: {e}");
            Err(())
        }
        Err(_) => {
            tracing::debug!("write timed out after {WRITE_TIMEOUT:?}");
            Err(())
        }
    }
}

/// Sends a close frame and waits briefly for the server's answer.
async fn close(socket: &mut Socket) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "client closed".into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        socket.send(Message::Close(Some(frame))).await?;
        while socket.next().await.is_some() {}
        Ok::<(), tokio_tungstenite::tungstenite::Error>(())
    })
    .await;
}
