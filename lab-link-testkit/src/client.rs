//! [`TestClient`]: a [`Client`] with helpers that wait with a timeout and
//! fail with a readable message.

use std::time::Duration;

use lab_link_client::{
    Client, ClientError, CommandFailure, CommandReply, CommandRun, ControlLock, Event, Presence,
};
use lab_link_core::PatchOp;
use serde_json::Value;
use tokio::sync::{broadcast, Mutex};
use tokio::time::Instant;

/// How long the helpers wait by default: for a patch, a condition, a
/// command's answer, a connection.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A patch the client applied to its replica (see
/// [`TestClient::next_patch`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Patch {
    /// The replica's version after the patch.
    pub version: u64,
    /// The RFC 6902 operations.
    pub ops: Vec<PatchOp>,
    /// The name of the command that caused it, if one did.
    pub command: Option<String>,
    /// The request id of that command.
    pub request_id: Option<String>,
    /// The `clientId` of the connection that sent the command.
    pub origin_client_id: Option<String>,
}

/// A [`Client`] for tests: every helper waits at most
/// [`timeout`](TestClient::timeout) and panics with what it saw instead of
/// returning an error, so a test reads as a list of expectations.
///
/// [`client`](TestClient::client) gives the underlying [`Client`] for
/// anything else (its `Result`s, [`Client::resyncs`], closing).
///
/// ```
/// use lab_link::LabSync;
/// use lab_link_testkit::TestServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(LabSync::new(vec![0_i64; 3])).await;
/// let client = server.client().await;
///
/// // A change on the server side arrives as a patch.
/// server.sync().try_mutate(|s| s.set(1, 7)).unwrap();
/// let patch = client.next_patch().await;
/// assert_eq!(patch.version, 1);
/// assert_eq!(patch.command, None);
///
/// // Or wait for the replica to reach a condition.
/// server.sync().try_mutate(|s| s.set(2, 9)).unwrap();
/// let replica = client.wait_for(|r| r[2] == 9).await;
/// assert_eq!(replica, serde_json::json!([0, 7, 9]));
/// # }
/// ```
#[derive(Debug)]
pub struct TestClient {
    client: Client,
    /// Subscribed right after connecting: what [`TestClient::next_patch`]
    /// reads.
    events: Mutex<broadcast::Receiver<Event>>,
    /// Subscribed right after connecting: what
    /// [`TestClient::next_presence`] reads.
    presence_events: Mutex<broadcast::Receiver<Event>>,
    timeout: Duration,
}

impl TestClient {
    /// Connects to a sync socket URL (`ws://127.0.0.1:PORT/sync/ws`) and
    /// waits for the snapshot. [`TestServer::client`](crate::TestServer::client)
    /// is the usual way.
    ///
    /// # Panics
    ///
    /// When the connection fails or no snapshot arrives within
    /// [`DEFAULT_TIMEOUT`].
    pub async fn connect(url: &str) -> Self {
        Self::connect_at(url, false).await
    }

    /// As [`connect`](TestClient::connect), opted in to level 2, part 2
    /// (`?level=2`): progress reports for
    /// [`command_with_progress`](TestClient::command_with_progress), the
    /// running commands as events. [`TestServer::client_level2`](crate::TestServer::client_level2)
    /// is the usual way.
    ///
    /// # Panics
    ///
    /// As [`connect`](TestClient::connect).
    pub async fn connect_level2(url: &str) -> Self {
        Self::connect_at(url, true).await
    }

    async fn connect_at(url: &str, level2: bool) -> Self {
        let client = Client::builder()
            .connect_timeout(DEFAULT_TIMEOUT)
            .command_timeout(DEFAULT_TIMEOUT)
            .level2(level2)
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("TestClient: cannot connect to {url}: {e}"));
        Self::from_client(client)
    }

    /// Wraps a [`Client`] connected by other means (with a bearer token,
    /// say). Patches it applied before this call are not seen by
    /// [`next_patch`](TestClient::next_patch).
    pub fn from_client(client: Client) -> Self {
        let events = Mutex::new(client.subscribe());
        let presence_events = Mutex::new(client.subscribe());
        Self {
            client,
            events,
            presence_events,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets how long the helpers wait (default [`DEFAULT_TIMEOUT`]).
    /// Commands keep the client's own command timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long the helpers wait.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A copy of the replica.
    pub fn replica(&self) -> Value {
        self.client.replica()
    }

    /// The replica's version.
    pub fn version(&self) -> u64 {
        self.client.version()
    }

    /// How many times the client had to resynchronise (see
    /// [`Client::resyncs`]); zero in a healthy test.
    pub fn resyncs(&self) -> u64 {
        self.client.resyncs()
    }

    /// The next patch the client applied since it connected (or since the
    /// previous `next_patch`), skipping other events.
    ///
    /// # Panics
    ///
    /// When no patch arrives within the timeout, when the client closes,
    /// or when more than 1024 events went unread (the oldest were lost).
    pub async fn next_patch(&self) -> Patch {
        self.next_event(
            &self.events,
            "next_patch",
            |event| match event {
                Event::Patch {
                    version,
                    ops,
                    request_id,
                    command,
                    origin_client_id,
                } => Some(Patch {
                    version,
                    ops,
                    command,
                    request_id,
                    origin_client_id,
                }),
                _ => None,
            },
            || {
                format!(
                    "no patch within {:?}; the replica is at version {}:\n{}",
                    self.timeout,
                    self.version(),
                    pretty(&self.replica()),
                )
            },
        )
        .await
    }

    /// Waits until `predicate` holds for the replica and returns that
    /// replica. The predicate is checked at once, then after every event.
    ///
    /// # Panics
    ///
    /// When the predicate does not hold within the timeout; the message
    /// shows the last replica and its version.
    pub async fn wait_for(&self, mut predicate: impl FnMut(&Value) -> bool) -> Value {
        self.until(
            || Some(self.replica()).filter(|replica| predicate(replica)),
            || {
                format!(
                    "TestClient::wait_for: the condition did not hold within {:?}; \
                     the replica at version {} is:\n{}",
                    self.timeout,
                    self.version(),
                    pretty(&self.replica()),
                )
            },
        )
        .await
    }

    /// Waits until the replica is at `version` or later and returns the
    /// replica at the version it was read at (read together with it).
    /// Prefer it to [`wait_for`](TestClient::wait_for) with an expected
    /// document when a document can repeat: an earlier version that
    /// happens to look the same does not end the wait.
    ///
    /// # Panics
    ///
    /// When the replica does not reach `version` within the timeout.
    pub async fn wait_for_version(&self, version: u64) -> Value {
        self.until(
            || {
                let (at, replica) = self.client.versioned_replica();
                (at >= version).then_some(replica)
            },
            || {
                let (at, replica) = self.client.versioned_replica();
                format!(
                    "TestClient::wait_for_version: the replica did not reach version \
                     {version} within {:?}; at version {at} it is:\n{}",
                    self.timeout,
                    pretty(&replica),
                )
            },
        )
        .await
    }

    /// Who is connected and who holds the control lock, as the client last
    /// heard (a level-2 client of a server with presence on).
    pub fn presence(&self) -> Presence {
        self.client.presence()
    }

    /// Claims the server's control lock and returns it.
    ///
    /// # Panics
    ///
    /// When the claim fails (`locked`, `forbidden`, a level-1 client or a
    /// server without the lock); [`Client::claim_control`] on
    /// [`client`](TestClient::client) returns those as errors instead.
    pub async fn claim_control(&self) -> ControlLock {
        match self.client.claim_control().await {
            Ok(lock) => lock,
            Err(e) => panic!("TestClient::claim_control failed: {e}"),
        }
    }

    /// Releases (or, with `manage_access`, breaks) the control lock.
    ///
    /// # Panics
    ///
    /// When the release fails (`locked`: someone else holds it).
    pub async fn release_control(&self) {
        if let Err(e) = self.client.release_control().await {
            panic!("TestClient::release_control failed: {e}");
        }
    }

    /// Waits until `predicate` holds for the client's
    /// [`presence`](TestClient::presence) and returns it. The predicate is
    /// checked at once, then after every event.
    ///
    /// # Panics
    ///
    /// When the predicate does not hold within the timeout; the message
    /// shows the last presence.
    pub async fn wait_for_presence(
        &self,
        mut predicate: impl FnMut(&Presence) -> bool,
    ) -> Presence {
        self.until(
            || Some(self.presence()).filter(|presence| predicate(presence)),
            || {
                format!(
                    "TestClient::wait_for_presence: the condition did not hold within {:?}; \
                     the presence is:\n{:#?}",
                    self.timeout,
                    self.presence(),
                )
            },
        )
        .await
    }

    /// The next presence message (`presence`, `presence_joined`,
    /// `presence_updated`, `presence_left`, `control_lock`) the client
    /// received since the previous call (or since connecting), as sent.
    ///
    /// # Panics
    ///
    /// When none arrives within the timeout, or when more than 1024
    /// events went unread.
    pub async fn next_presence(&self) -> Value {
        self.next_event(
            &self.presence_events,
            "next_presence",
            |event| match event {
                Event::Presence(message) => Some(message),
                _ => None,
            },
            || {
                format!(
                    "no presence message within {:?}; the presence is:\n{:#?}",
                    self.timeout,
                    self.presence(),
                )
            },
        )
        .await
    }

    /// The next event of `events` that `pick` takes; panics naming
    /// `helper` when the client closes, events were lost, or none comes
    /// within the timeout (with `missing`'s text).
    async fn next_event<T>(
        &self,
        events: &Mutex<broadcast::Receiver<Event>>,
        helper: &str,
        mut pick: impl FnMut(Event) -> Option<T>,
        missing: impl Fn() -> String,
    ) -> T {
        let mut events = events.lock().await;
        let deadline = Instant::now() + self.timeout;
        loop {
            let event = match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(event)) => event,
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                    panic!("TestClient::{helper}: {n} events were lost, read them sooner")
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    panic!("TestClient::{helper}: the client is closed")
                }
                Err(_) => panic!("TestClient::{helper}: {}", missing()),
            };
            if event == Event::Closed {
                panic!("TestClient::{helper}: the client was closed");
            }
            if let Some(found) = pick(event) {
                return found;
            }
        }
    }

    /// Waits until `look` finds something, checking at once and after
    /// every event; panics with `failure` at the timeout.
    async fn until<T>(
        &self,
        mut look: impl FnMut() -> Option<T>,
        failure: impl Fn() -> String,
    ) -> T {
        // Subscribe before the first look, so no change slips in between.
        let mut events = self.client.subscribe();
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(found) = look() {
                return found;
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                // A lag only means we look again.
                Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => {
                    return look().unwrap_or_else(|| panic!("{}", failure()));
                }
            }
        }
    }

    /// Runs the command `name` with `params` (a JSON object, or `null`)
    /// and returns its ack; the replica already holds the command's
    /// patches.
    ///
    /// # Panics
    ///
    /// When the command fails (a `command_error`, a timeout, a lost
    /// connection); [`Client::command`] on [`client`](TestClient::client)
    /// returns those as errors instead.
    pub async fn command(&self, name: &str, params: Value) -> CommandReply {
        match self.client.command(name, params.clone()).await {
            Ok(reply) => reply,
            Err(e) => panic!("TestClient::command: {name}({params}) failed: {e}"),
        }
    }

    /// Sends the command `name` with `params` and returns its run: its
    /// progress reports (on a level-2 client), then its outcome. `cancel`
    /// on the run stops it.
    ///
    /// ```
    /// use lab_link::{command, CommandContext, LabSync};
    /// use lab_link_client::CommandUpdate;
    /// use lab_link_testkit::TestServer;
    ///
    /// /// Waits until cancelled.
    /// #[command]
    /// async fn hold(ctx: CommandContext) {
    ///     ctx.progress(0.5, "holding");
    ///     ctx.cancelled().await;
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sync = LabSync::new(0_u8);
    /// sync.command(hold);
    /// let server = TestServer::start(sync).await;
    /// let client = server.client_level2().await;
    /// let mut run = client.command_with_progress("hold", serde_json::json!({})).await;
    /// let Some(CommandUpdate::Progress(progress)) = run.next().await else { panic!() };
    /// assert_eq!(progress.fraction, 0.5);
    /// client.cancel(run.request_id()).await;
    /// let error = run.outcome().await.unwrap_err();
    /// assert_eq!(error.command_failure().map(|failure| failure.code.as_str()), Some("cancelled"));
    /// server.shutdown().await;
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the command cannot be sent (the client is closed).
    pub async fn command_with_progress(&self, name: &str, params: Value) -> CommandRun {
        match self
            .client
            .command_with_progress(name, params.clone())
            .await
        {
            Ok(run) => run,
            Err(e) => panic!("TestClient::command_with_progress: {name}({params}): {e}"),
        }
    }

    /// Asks the server to cancel this client's running command with
    /// `request_id` ([`CommandRun::request_id`]).
    ///
    /// # Panics
    ///
    /// When the client is closed.
    pub async fn cancel(&self, request_id: &str) {
        if let Err(e) = self.client.cancel(request_id).await {
            panic!("TestClient::cancel: {request_id}: {e}");
        }
    }

    /// Runs the command `name` with `params`, expects a `command_error`
    /// with `code`, and returns it for further checks (its message, its
    /// path).
    ///
    /// # Panics
    ///
    /// When the command succeeds, fails with another code, or fails
    /// without a `command_error` (a timeout, a lost connection).
    pub async fn expect_error(&self, name: &str, params: Value, code: &str) -> CommandFailure {
        match self.client.command(name, params.clone()).await {
            Ok(reply) => panic!(
                "TestClient::expect_error: {name}({params}) succeeded (version {}, result {:?}), \
                 expected the error code {code:?}",
                reply.version, reply.result,
            ),
            Err(ClientError::Command(failure)) if failure.code == code => failure,
            Err(ClientError::Command(failure)) => panic!(
                "TestClient::expect_error: {name}({params}) failed with the code {:?}, \
                 expected {code:?}: {failure}",
                failure.code,
            ),
            Err(e) => panic!(
                "TestClient::expect_error: {name}({params}) failed without a command_error, \
                 expected the code {code:?}: {e}"
            ),
        }
    }
}

/// A document for a failure message.
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
