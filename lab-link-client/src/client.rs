//! [`Client`] and its [`ClientBuilder`]: the public handle on one sync
//! connection and its replica.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::connection::{self, Request};
use crate::shared::{Options, Replica, Shared};
use crate::{
    ClientError, ClientInfo, CommandFailure, CommandReply, CommandRun, ControlLock, Event, Presence,
};

/// How many events a subscriber may fall behind before it lags.
const EVENT_CAPACITY: usize = 1024;

/// A connection to a lab-link server and the replica it keeps current.
///
/// A background task reads the socket: it applies every patch to the
/// replica, checks that versions follow one another, answers commands and
/// reconnects when the connection drops. Cloning the client is cheap and
/// shares the connection; the task ends with [`close`](Client::close) or
/// when the last clone is dropped.
///
/// See the [crate documentation](crate) for an example.
#[derive(Clone, Debug)]
pub struct Client {
    shared: Arc<Shared>,
    requests: mpsc::Sender<Request>,
}

/// Options of a [`Client`] before it connects.
#[derive(Clone, Debug, Default)]
pub struct ClientBuilder {
    options: Options,
}

impl Client {
    /// Connects with the default options (see [`ClientBuilder`]) to a sync
    /// socket such as `ws://127.0.0.1:8000/sync/ws`, and waits for the
    /// first snapshot.
    ///
    /// # Errors
    ///
    /// When the connection cannot be opened or no snapshot arrives within
    /// the connect timeout ([`ClientError::is_connect`]).
    ///
    /// # Cancel safety
    ///
    /// Cancelling drops the half-open connection; nothing else is left
    /// behind.
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        Self::builder().connect(url).await
    }

    /// Options: a bearer token, timeouts, reconnecting.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A copy of the replica: the server's document at
    /// [`version`](Client::version).
    pub fn replica(&self) -> Value {
        self.shared.lock().document.clone()
    }

    /// The replica's version.
    pub fn version(&self) -> u64 {
        self.shared.lock().version
    }

    /// The replica's version and a copy of its document, read together:
    /// unlike [`version`](Client::version) then
    /// [`replica`](Client::replica), no patch can fall in between.
    pub fn versioned_replica(&self) -> (u64, Value) {
        let shared = self.shared.lock();
        (shared.version, shared.document.clone())
    }

    /// The `clientId` of the current connection's snapshot (level-2
    /// servers send it): the `originClientId` of this client's own
    /// commands' patches. A new connection gets a new id.
    pub fn client_id(&self) -> Option<String> {
        self.shared.lock().client_id.clone()
    }

    /// How many times the client found its replica could not follow (a
    /// version gap or repeat, a patch that did not apply, a resume from
    /// another version) and asked the server for a fresh snapshot.
    pub fn resyncs(&self) -> u64 {
        self.shared.resyncs.load(Ordering::Relaxed)
    }

    /// Who is connected and who holds the control lock, as last heard
    /// (level 2, [`ClientBuilder::level2`], with the server's presence
    /// on; empty otherwise). Labels come from the server's access
    /// control, never from what clients say of themselves.
    ///
    /// ```
    /// use lab_link::{LabSync, Server, ServerConfig};
    /// use lab_link_client::Client;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sync = LabSync::new(vec![0_i64]);
    /// let server = Server::builder()
    ///     .config(ServerConfig::default().presence(true))
    ///     .bind(sync.clone(), "127.0.0.1:0")
    ///     .await?;
    /// let url = format!("ws://{}/sync/ws", server.local_addr());
    /// let routes = server.routes().clone();
    /// tokio::spawn(server.run());
    ///
    /// let client = Client::builder().level2(true).connect(&url).await?;
    /// let mut events = client.subscribe();
    /// while client.presence().clients.first().and_then(|c| c.kind.clone()).is_none() {
    ///     events.recv().await?; // the list, then this client's `hello`
    /// }
    /// let me = &client.presence().clients[0];
    /// assert_eq!(me.principal, "local"); // no access control
    /// assert_eq!(me.kind.as_deref(), Some("rust"));
    /// assert_eq!(sync.version(), 0); // presence is not state
    ///
    /// client.close().await;
    /// routes.shutdown();
    /// # Ok(())
    /// # }
    /// ```
    pub fn presence(&self) -> Presence {
        self.shared.presence().clone()
    }

    /// Every later server message, after the replica has taken it into
    /// account.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Runs the command `name` on the server with `params` (a JSON object,
    /// or `null` for none) and waits for its answer. Other params are
    /// refused at once with an `invalid_params` failure, as the server
    /// would.
    ///
    /// When it returns the ack, the replica already holds every patch the
    /// command caused: the server sends them before the ack. (Unless the
    /// replica was resynchronising at that moment: then it catches up with
    /// the snapshot that follows.)
    ///
    /// # Errors
    ///
    /// - [`ClientError::Command`]: the server answered with a
    ///   `command_error`;
    /// - [`ClientError::Timeout`]: no answer within the command timeout;
    /// - [`ClientError::Disconnected`]: the connection was lost (or was
    ///   being re-established) before the answer;
    /// - [`ClientError::Closed`]: the client was closed.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the wait, not the command: once sent, it runs on
    /// the server; its answer is then ignored.
    pub async fn command(&self, name: &str, params: Value) -> Result<CommandReply, ClientError> {
        let (_, answer) = self.send_command(name, params, None).await?;
        let timeout = self.shared.options.command_timeout;
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            // The task ended without answering: the client was closed.
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout(timeout)),
        }
    }

    /// Sends a command and returns its run: the progress reports the
    /// server sends while it runs, then its outcome (see [`CommandRun`]).
    /// Progress needs a level-2 connection
    /// ([`ClientBuilder::level2`]); on level 1 the run yields the outcome
    /// only. The wait is not bounded by the command timeout: a long command
    /// takes the time it takes, and [`CommandRun::cancel`] stops it.
    ///
    /// ```
    /// use lab_link::{command, CommandContext, LabSync, Server};
    /// use lab_link_client::{Client, CommandUpdate};
    ///
    /// /// Counts to three, slowly.
    /// #[command]
    /// async fn count(ctx: CommandContext) -> u32 {
    ///     for step in 1..=3 {
    ///         tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    ///         ctx.progress(f64::from(step) / 3.0, format!("{step} of 3"));
    ///     }
    ///     3
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sync = LabSync::new(0_u8);
    /// sync.command(count);
    /// let server = Server::builder().bind(sync, "127.0.0.1:0").await?;
    /// let url = format!("ws://{}/sync/ws", server.local_addr());
    /// let routes = server.routes().clone();
    /// tokio::spawn(server.run());
    ///
    /// let client = Client::builder().level2(true).connect(&url).await?;
    /// let mut run = client.command_with_progress("count", serde_json::json!({})).await?;
    /// let mut fractions = Vec::new();
    /// while let Some(update) = run.next().await {
    ///     match update {
    ///         CommandUpdate::Progress(progress) => fractions.push(progress.fraction),
    ///         CommandUpdate::Outcome(outcome) => assert_eq!(outcome?.result, Some(3.into())),
    ///     }
    /// }
    /// assert_eq!(fractions.last(), Some(&1.0));
    /// client.close().await;
    /// routes.shutdown();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`command`](Self::command) for what fails before the command is
    /// sent; its own outcome comes through the run.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: cancelled, the command was either not sent or sent
    /// (and its run dropped: it runs on, unwatched).
    pub async fn command_with_progress(
        &self,
        name: &str,
        params: Value,
    ) -> Result<CommandRun, ClientError> {
        let (progress, reports) = mpsc::unbounded_channel();
        let (request_id, answer) = self.send_command(name, params, Some(progress)).await?;
        Ok(CommandRun::new(
            request_id,
            reports,
            answer,
            self.requests.clone(),
        ))
    }

    /// Claims the server's control lock (level 2, with the server's
    /// `control_lock` on): until released, commands that need `control`
    /// from anyone else are answered `locked`. Claiming a lock this
    /// client's principal holds already keeps it.
    ///
    /// ```
    /// use lab_link::{LabSync, Server, ServerConfig};
    /// use lab_link_client::Client;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sync = LabSync::new(vec![0_i64]);
    /// let server = Server::builder()
    ///     .config(ServerConfig::default().control_lock(true))
    ///     .bind(sync.clone(), "127.0.0.1:0")
    ///     .await?;
    /// let url = format!("ws://{}/sync/ws", server.local_addr());
    /// let routes = server.routes().clone();
    /// tokio::spawn(server.run());
    ///
    /// let mine = Client::builder().level2(true).connect(&url).await?;
    /// let lock = mine.claim_control().await?;
    /// assert_eq!(lock.holder, "local");
    ///
    /// let theirs = Client::builder().level2(true).connect(&url).await?;
    /// let refused = theirs.claim_control().await.unwrap_err();
    /// assert_eq!(refused.command_failure().map(|f| f.code.as_str()), Some("locked"));
    ///
    /// mine.release_control().await?;
    /// theirs.claim_control().await?;
    /// # mine.close().await;
    /// # theirs.close().await;
    /// # routes.shutdown();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ClientError::Command`] with code `locked` (someone else holds
    /// it), `forbidden` (the principal may not `control`) or
    /// `unknown_command` (a level-1 client, or the lock is off); the
    /// errors of [`Client::command`].
    ///
    /// # Cancel safety
    ///
    /// As [`Client::command`].
    pub async fn claim_control(&self) -> Result<ControlLock, ClientError> {
        let reply = self.command("claim_control", Value::Null).await?;
        let result = reply.result.unwrap_or_default();
        serde_json::from_value(result.clone()).map_err(|e| {
            ClientError::Protocol(format!("claim_control answered {result}, not a lock: {e}"))
        })
    }

    /// Releases the control lock this client's principal holds (a
    /// principal with `manage_access` breaks anyone's); releasing when
    /// nobody holds it succeeds.
    ///
    /// # Errors
    ///
    /// A [`ClientError::Command`] with code `locked` when someone else
    /// holds it; otherwise as [`claim_control`](Client::claim_control).
    ///
    /// # Cancel safety
    ///
    /// As [`Client::command`].
    pub async fn release_control(&self) -> Result<(), ClientError> {
        self.command("release_control", Value::Null).await.map(drop)
    }

    /// Asks the server to cancel the running command of this connection
    /// with `request_id` (level 2; [`CommandRun::cancel`] does it for a
    /// run). The command answers `cancelled` once it has stopped; a
    /// `request_id` that is unknown or finished is answered with an
    /// [`Event::Error`].
    ///
    /// # Errors
    ///
    /// [`ClientError::Closed`] when the client is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the request was either queued or not.
    pub async fn cancel(&self, request_id: &str) -> Result<(), ClientError> {
        let request = Request::Cancel {
            request_id: request_id.to_owned(),
        };
        self.requests
            .send(request)
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Sends a command; returns its `requestId` and the receiver of its
    /// answer.
    async fn send_command(
        &self,
        name: &str,
        params: Value,
        progress: Option<mpsc::UnboundedSender<lab_link_core::command::Progress>>,
    ) -> Result<(String, oneshot::Receiver<Result<CommandReply, ClientError>>), ClientError> {
        let params = match params {
            Value::Object(params) => params,
            Value::Null => Map::new(),
            other => {
                // The protocol's params are an object: answered here with
                // the server's own answer, without a round trip.
                let kind = match other {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    _ => "an array",
                };
                return Err(ClientError::Command(CommandFailure::invalid_params(
                    format!("\"params\" must be an object of named parameters, not {kind}"),
                )));
            }
        };
        let number = self.shared.next_request.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("rs{number}");
        let (reply, answer) = oneshot::channel();
        let request = Request::Command {
            name: name.to_owned(),
            params,
            request_id: request_id.clone(),
            reply,
            progress,
        };
        if self.requests.send(request).await.is_err() {
            return Err(ClientError::Closed);
        }
        Ok((request_id, answer))
    }

    /// Closes the connection (with a close frame) and stops reconnecting;
    /// pending commands fail with [`ClientError::Disconnected`], later ones
    /// with [`ClientError::Closed`]. Subscribers get [`Event::Closed`].
    /// Closing a closed client does nothing.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops the wait; the client still closes.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.requests.send(Request::Close { done }).await.is_ok() {
            let _ = closed.await;
        }
    }
}

impl ClientBuilder {
    /// Sends `Authorization: Bearer <token>` with the WebSocket handshake
    /// (and with every reconnect). Default: none.
    #[must_use]
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.options.bearer_token = Some(token.into());
        self
    }

    /// How long [`Client::command`] waits for the answer. Default: 10 s.
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.options.command_timeout = timeout;
        self
    }

    /// How long opening the connection and receiving the first snapshot
    /// may take, for the first connection and for each reconnect attempt.
    /// Default: 10 s.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Whether to reconnect when the connection drops unexpectedly, with a
    /// backoff from 50 ms doubling up to 2 s between attempts, resuming
    /// from the replica's version (`?since=N`). Default: true.
    #[must_use]
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.options.reconnect = reconnect;
        self
    }

    /// Opts in to level 2, part 2 (`?level=2`): the server then sends
    /// this client's commands' progress ([`Client::command_with_progress`])
    /// and the running commands ([`Event::Running`]), and its snapshots
    /// carry the schema's hash; the client says `hello`
    /// ([`describe`](Self::describe)) and keeps the server's presence list
    /// ([`Client::presence`]). Default: false (level 1 plus the additive
    /// fields, as lab-link 0.5.0's clients get).
    #[must_use]
    pub fn level2(mut self, level2: bool) -> Self {
        self.options.level2 = level2;
        self
    }

    /// What the level-2 `hello` says of this client: its kind (default
    /// `rust`) and a name for people, shown in every client's presence
    /// list. The server cuts neither: a kind longer than
    /// [`ClientInfo::MAX_KIND`] or a name longer than
    /// [`ClientInfo::MAX_NAME`] characters is refused with a `bad_message`
    /// error (and the client stays at level 2 without it).
    ///
    /// ```
    /// use lab_link_client::Client;
    ///
    /// let builder = Client::builder().level2(true).describe("logger", "cryostat logger");
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn describe(mut self, kind: impl Into<String>, name: impl Into<String>) -> Self {
        self.options.hello = ClientInfo {
            kind: Some(kind.into()),
            name: Some(name.into()),
        };
        self
    }

    /// Connects to `url` and waits for the first snapshot.
    ///
    /// # Errors
    ///
    /// As [`Client::connect`].
    ///
    /// # Cancel safety
    ///
    /// As [`Client::connect`].
    pub async fn connect(self, url: &str) -> Result<Client, ClientError> {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let shared = Arc::new(Shared {
            replica: Mutex::new(Replica {
                document: Value::Null,
                version: 0,
                client_id: None,
                resyncing: false,
            }),
            resyncs: AtomicU64::new(0),
            events,
            presence: Mutex::default(),
            next_request: AtomicU64::new(1),
            options: self.options,
        });
        let socket = connection::open(&shared, url, None).await?;
        let (requests, receiver) = mpsc::channel(64);
        tokio::spawn(connection::drive(
            shared.clone(),
            url.to_owned(),
            socket,
            receiver,
        ));
        Ok(Client { shared, requests })
    }
}
