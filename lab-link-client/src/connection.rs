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
use lab_link_core::apply;
use lab_link_core::command::Progress;
use lab_link_core::protocol::{decode_binary_frame, BinaryFrame, ClientMessage, ServerMessage};
use serde_json::{Map, Value};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::shared::Shared;
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
        params: Map<String, Value>,
        request_id: String,
        reply: oneshot::Sender<Result<CommandReply, ClientError>>,
        /// Where the command's `command_progress` reports go, if the
        /// caller wants them.
        progress: Option<mpsc::UnboundedSender<Progress>>,
    },
    /// Send `cancel` for a command's `requestId`.
    Cancel {
        request_id: String,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

type Pending = HashMap<String, Waiting>;

/// A command sent and not answered yet.
#[derive(Debug)]
struct Waiting {
    reply: oneshot::Sender<Result<CommandReply, ClientError>>,
    progress: Option<mpsc::UnboundedSender<Progress>>,
}

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
    let timeout = shared.options.connect_timeout;
    let mut url = url.to_owned();
    let mut add = |param: String| {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&param);
    };
    if shared.options.level2 {
        add("level=2".to_owned());
    }
    if let Some(version) = since {
        add(format!("since={version}"));
    }
    let connecting = async {
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| ClientError::Connect(Box::new(e)))?;
        if let Some(token) = &shared.options.bearer_token {
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
            let message = ServerMessage::parse(text.as_str()).map_err(|e| {
                ClientError::Protocol(format!("the first message is not a server message: {e}"))
            })?;
            let first = match &message {
                ServerMessage::Snapshot { .. } => true,
                ServerMessage::Resume { .. } => since.is_some(),
                _ => false,
            };
            if !first {
                return Err(ClientError::Protocol(format!(
                    "expected a snapshot first, got {}",
                    text.as_str()
                )));
            }
            // A fresh connection: whatever was being resynchronised is
            // settled by this snapshot or resume.
            shared.lock().resyncing = false;
            let mut pending = Pending::new();
            if let Some(reply) = handle(shared, message, &mut pending) {
                send(&mut socket, reply)
                    .await
                    .map_err(|()| ClientError::Protocol("the socket failed".to_owned()))?;
            }
            if shared.options.level2 {
                // The first frame after the snapshot: what presence shows
                // of this client.
                let hello = ClientMessage::Hello {
                    level: 2,
                    client: Some(shared.options.hello.clone()),
                };
                send(&mut socket, hello)
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
        for (_, waiting) in pending.drain() {
            let _ = waiting.reply.send(Err(ClientError::Disconnected));
        }
        match end {
            End::Closed(done) => break done,
            End::Lost if !shared.options.reconnect => {
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
                // Nothing runs for this connection any more.
                Some(Request::Cancel { .. }) => {}
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
                Some(Request::Command { name, params, request_id, reply, progress }) => {
                    // Forget the commands whose callers stopped waiting.
                    pending.retain(|_, waiting| !waiting.reply.is_closed());
                    let message = ClientMessage::Command {
                        command: name.into(),
                        params,
                        request_id: Some(Value::String(request_id.clone())),
                    };
                    pending.insert(request_id, Waiting { reply, progress });
                    if send(socket, message).await.is_err() {
                        return End::Lost;
                    }
                }
                Some(Request::Cancel { request_id }) => {
                    let message = ClientMessage::Cancel {
                        request_id: Value::String(request_id),
                    };
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
                    let message = match ServerMessage::parse(text.as_str()) {
                        Ok(message) => message,
                        Err(e) if e.is_unknown_type() => {
                            tracing::debug!("ignored a server message: {e}");
                            continue;
                        }
                        Err(e) => {
                            // A broken message may have been a patch: the
                            // replica cannot tell whether it missed one.
                            tracing::warn!("{e}: resync");
                            if send(socket, resync(shared)).await.is_err() {
                                return End::Lost;
                            }
                            continue;
                        }
                    };
                    if let Some(reply) = handle(shared, message, pending) {
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
                Some(Ok(Message::Binary(frame))) => match decode_binary_frame(&frame) {
                    Some(BinaryFrame { id, seq, samples }) => {
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
fn handle(
    shared: &Shared,
    message: ServerMessage<'static>,
    pending: &mut Pending,
) -> Option<ClientMessage<'static>> {
    let event = match message {
        ServerMessage::Snapshot {
            data,
            version,
            client_id,
            ..
        } => {
            let mut replica = shared.lock();
            replica.document = data;
            replica.version = version;
            // A relay's start-over snapshot, sent to every viewer at
            // once, carries no `clientId`: the connection's stays.
            if let Some(client_id) = client_id {
                replica.client_id = Some(client_id.into_owned());
            }
            replica.resyncing = false;
            Event::Snapshot { version }
        }
        ServerMessage::Resume { version } => {
            let current = shared.lock().version;
            if version != current {
                tracing::warn!(
                    version,
                    current,
                    "the server resumed from another version: resync"
                );
                return Some(resync(shared));
            }
            Event::Resumed { version: current }
        }
        ServerMessage::Patch {
            patch,
            version,
            meta,
        } => {
            let mut replica = shared.lock();
            if replica.resyncing {
                return None;
            }
            let expected = replica.version + 1;
            if version != expected {
                drop(replica);
                tracing::warn!(version, expected, "patch out of order: resync");
                return Some(resync(shared));
            }
            let ops = patch.into_owned();
            if let Err(e) = apply(&mut replica.document, &ops) {
                drop(replica);
                tracing::warn!(expected, "a patch that does not apply ({e}): resync");
                return Some(resync(shared));
            }
            replica.version = expected;
            let meta = meta.into_owned();
            Event::Patch {
                version: expected,
                ops,
                request_id: meta.request_id,
                command: meta.command,
                origin_client_id: meta.origin_client_id,
            }
        }
        ServerMessage::CommandAck {
            request_id,
            version,
            result,
            ..
        } => {
            if let Some(waiting) = answer_to(&request_id, pending) {
                let _ = waiting.reply.send(Ok(CommandReply { version, result }));
            }
            return None;
        }
        ServerMessage::CommandError {
            request_id, error, ..
        } => {
            if let Some(waiting) = answer_to(&request_id, pending) {
                let failure = CommandFailure::from_error(&error);
                let _ = waiting.reply.send(Err(ClientError::Command(failure)));
            }
            return None;
        }
        ServerMessage::CommandProgress {
            request_id,
            progress,
        } => {
            // Queued before the ack is taken: the caller sees every report
            // before the outcome.
            let sender = request_id
                .as_str()
                .and_then(|id| pending.get(id))
                .and_then(|waiting| waiting.progress.as_ref());
            if let Some(sender) = sender {
                let _ = sender.send(progress.into_owned());
            }
            return None;
        }
        running @ (ServerMessage::RunningCommands { .. }
        | ServerMessage::RunningStarted { .. }
        | ServerMessage::RunningProgress { .. }
        | ServerMessage::RunningFinished { .. }) => {
            // Invariant: a server message always serialises.
            Event::Running(serde_json::to_value(&running).expect("a server message serialises"))
        }
        presence @ (ServerMessage::Presence { .. }
        | ServerMessage::PresenceJoined { .. }
        | ServerMessage::PresenceUpdated { .. }
        | ServerMessage::PresenceLeft { .. }
        | ServerMessage::ControlLock { .. }) => {
            shared.presence().apply(&presence);
            // Invariant: a server message always serialises.
            Event::Presence(serde_json::to_value(&presence).expect("a server message serialises"))
        }
        ServerMessage::Error { code, message } => Event::Error {
            code: code.into_owned(),
            message: message.into_owned(),
        },
        stream @ (ServerMessage::StreamSnapshot { .. }
        | ServerMessage::StreamAppend { .. }
        | ServerMessage::StreamReplace { .. }
        | ServerMessage::StreamDelta { .. }) => {
            // Invariant: a server message always serialises.
            let value = serde_json::to_value(&stream).expect("a server message serialises");
            match stream {
                ServerMessage::StreamSnapshot { .. } => Event::StreamSnapshot(value),
                ServerMessage::StreamAppend { .. } => Event::StreamAppend(value),
                ServerMessage::StreamReplace { .. } => Event::StreamReplace(value),
                _ => Event::StreamDelta(value),
            }
        }
    };
    // No subscriber is fine.
    let _ = shared.events.send(event);
    None
}

/// The waiting caller of the command a `command_ack` or `command_error`
/// answers.
fn answer_to(request_id: &Value, pending: &mut Pending) -> Option<Waiting> {
    pending.remove(request_id.as_str()?)
}

/// Marks the replica as resynchronising and returns the request for it.
fn resync(shared: &Shared) -> ClientMessage<'static> {
    shared.lock().resyncing = true;
    shared.resyncs.fetch_add(1, Ordering::Relaxed);
    ClientMessage::Resync
}

async fn send(socket: &mut Socket, message: ClientMessage<'_>) -> Result<(), ()> {
    let frame = Message::Text(message.to_text().into());
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
