//! Commands over NATS request/reply: the primary answers them
//! ([`CommandResponder`]), a relay sends its viewers' commands there
//! ([`request_command`]).
//!
//! The request is `{"command", "params", "clientId", "requestId",
//! "principal", "deadline"}` (`principal`, `{"name", "capabilities"}`,
//! only when the relay identifies its viewers); the reply is `{"epoch",
//! "version"}` with `"result"` or `"error"` (a `CommandError`'s wire
//! fields): the primary's version when the command finished, so that the
//! relay can hold the ack back until its replica has reached it.
//!
//! A command is run at most once, and not after its sender gave up on
//! it: [`request_command`] sends nothing while its NATS connection is
//! down (the client would otherwise buffer the request and send it on
//! reconnecting, long after the viewer was told `unavailable`), and
//! `deadline` (milliseconds since the Unix epoch, by the sender's clock)
//! is when the sender stops waiting: the primary does not run a request
//! that reaches it later. The relay's and the primary's clocks must
//! agree to well within the command time-out. A command the primary
//! started in time may still finish after the sender gave up: its
//! changes reach every viewer as usual, but its sender was told
//! `unavailable`.
//!
//! The primary trusts the principal a request names: whoever may publish
//! on the command subject may run commands. Restrict the subject with
//! NATS's own permissions to the relays.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::connection::State;
use async_nats::{Client, RequestErrorKind};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use lab_link_core::command::{CommandContext, CommandError, Principal};
use lab_link_core::{Epoch, SyncSource};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::instrument::{Instrument, COMMAND_QUEUE_GROUP};

/// The error code of a command that could not reach the primary (or whose
/// outcome could not be delivered in order).
pub const UNAVAILABLE: &str = "unavailable";

/// A viewer's command as a relay sends it.
#[derive(Debug, Serialize, Deserialize)]
struct CommandRequest {
    command: String,
    #[serde(default)]
    params: Map<String, Value>,
    #[serde(rename = "clientId")]
    client_id: String,
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    principal: Option<WirePrincipal>,
    /// When the sender stops waiting, in milliseconds since the Unix
    /// epoch: a request that arrives later is not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deadline: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WirePrincipal {
    name: String,
    capabilities: Vec<String>,
}

/// The primary's answer.
#[derive(Debug, Serialize, Deserialize)]
struct CommandReply {
    epoch: Epoch,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<CommandError>,
}

/// What the primary answered to a command sent with [`request_command`].
#[derive(Debug, Clone, PartialEq)]
pub struct CommandAnswer {
    /// The primary's epoch.
    pub epoch: Epoch,
    /// The primary's version when the command finished: its patches are
    /// at or before it.
    pub version: u64,
    /// The handler's result, or its error.
    pub outcome: Result<Option<Value>, CommandError>,
}

/// A primary's command service: it answers the commands relays send on
/// the instrument's command subject, running each through
/// [`SyncSource::dispatch`] (with the principal the request names) in a
/// task of its own. Dropping it stops answering.
///
/// ```no_run
/// use std::sync::Arc;
/// use lab_link_core::LabSync;
/// use lab_link_nats::{CommandResponder, Instrument};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sync = LabSync::new(vec![0.0_f64; 2]);
/// let nats = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let _commands = CommandResponder::start(nats, Arc::new(sync), &Instrument::new("supply")?).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct CommandResponder {
    task: JoinHandle<()>,
}

impl CommandResponder {
    /// Subscribes to `instrument`'s command subject in the queue group
    /// [`COMMAND_QUEUE_GROUP`](crate::COMMAND_QUEUE_GROUP) and answers
    /// every request.
    ///
    /// # Errors
    ///
    /// [`Error::is_unavailable`] when the subscription fails.
    pub async fn start(
        client: Client,
        source: Arc<dyn SyncSource>,
        instrument: &Instrument,
    ) -> Result<Self, Error> {
        let mut requests = client
            .queue_subscribe(instrument.command_subject(), COMMAND_QUEUE_GROUP.into())
            .await
            .map_err(|e| {
                Error::unavailable(&format!("cannot answer the commands of {instrument}"), e)
            })?;
        // Subscriptions are sent asynchronously: once this answers, the
        // server has the subscription, and a request sent now reaches it.
        client.flush().await.map_err(|e| {
            Error::unavailable(&format!("cannot answer the commands of {instrument}"), e)
        })?;
        let task = tokio::spawn(async move {
            while let Some(message) = requests.next().await {
                let Some(reply_to) = message.reply else {
                    tracing::warn!("a command request without a reply subject: ignored");
                    continue;
                };
                let (client, source) = (client.clone(), source.clone());
                tokio::spawn(async move {
                    let reply = answer(&*source, &message.payload).await;
                    // Invariant: the reply's fields always serialise.
                    let text = serde_json::to_vec(&reply).expect("a reply serialises");
                    if let Err(e) = client.publish(reply_to, text.into()).await {
                        tracing::warn!("cannot send a command's reply: {e}");
                    }
                });
            }
        });
        Ok(Self { task })
    }
}

impl Drop for CommandResponder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs one request and builds its reply.
async fn answer(source: &dyn SyncSource, payload: &[u8]) -> CommandReply {
    let outcome = match serde_json::from_slice::<CommandRequest>(payload) {
        Ok(request)
            if request
                .deadline
                .is_some_and(|deadline| now_millis() > deadline) =>
        {
            let late = now_millis() - request.deadline.unwrap_or_default();
            tracing::warn!(
                command = %request.command,
                "a command request arrived {late} ms after its deadline: not run"
            );
            Err(CommandError::new(
                UNAVAILABLE,
                format!(
                    "the command {} reached the primary {late} ms after its sender stopped \
                     waiting: it was not run",
                    request.command
                ),
            )
            .recoverable(true))
        }
        Ok(request) => {
            let mut ctx =
                CommandContext::new(request.client_id, request.request_id, request.command);
            if let Some(principal) = request.principal {
                ctx = ctx.with_principal(Principal::new(principal.name, principal.capabilities));
            }
            let command = ctx.command().to_owned();
            match AssertUnwindSafe(source.dispatch(ctx, request.params))
                .catch_unwind()
                .await
            {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::error!(%command, "command panicked");
                    Err(CommandError::command_failed(
                        "the command failed: it panicked",
                    ))
                }
            }
        }
        Err(e) => Err(CommandError::new(
            "bad_message",
            format!("not a lab-link command request: {e}"),
        )),
    };
    let (result, error) = match outcome {
        Ok(result) => (result, None),
        Err(error) => (None, Some(error)),
    };
    CommandReply {
        epoch: source.epoch(),
        version: source.version(),
        result,
        error,
    }
}

/// Milliseconds since the Unix epoch, by this machine's clock.
fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Sends the command of `ctx` with `params` to `instrument`'s primary and
/// waits at most `timeout` for its answer. The request carries its
/// deadline: the primary does not run it after `timeout` (see the module
/// docs).
///
/// # Errors
///
/// A [`CommandError`] with the code [`UNAVAILABLE`] when the primary
/// cannot be reached: NATS is down (the command is not sent), no primary
/// answers commands for the instrument, or no answer came within
/// `timeout`. Its message says which.
///
/// # Cancel safety
///
/// Cancel safe, but a cancelled command may still run on the primary
/// until its deadline.
pub async fn request_command(
    client: &Client,
    instrument: &Instrument,
    ctx: &CommandContext,
    params: Map<String, Value>,
    timeout: Duration,
) -> Result<CommandAnswer, CommandError> {
    let request = CommandRequest {
        command: ctx.command().to_owned(),
        params,
        client_id: ctx.client_id().to_owned(),
        request_id: ctx.request_id().map(str::to_owned),
        principal: ctx.principal().map(|principal| WirePrincipal {
            name: principal.name().to_owned(),
            capabilities: principal.capabilities().map(str::to_owned).collect(),
        }),
        deadline: Some(
            now_millis().saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
        ),
    };
    // Invariant: the request's fields always serialise.
    let payload = Bytes::from(serde_json::to_vec(&request).expect("a request serialises"));
    let unavailable = |why: String| {
        CommandError::new(
            UNAVAILABLE,
            format!("the instrument {instrument} cannot be reached: {why}"),
        )
        .recoverable(true)
    };
    // A disconnected client buffers what it is given and sends it on
    // reconnecting: the command would run after the viewer heard
    // `unavailable`.
    if client.connection_state() != State::Connected {
        return Err(unavailable(
            "NATS is not connected: the command was not sent".into(),
        ));
    }
    let reply = tokio::time::timeout(
        timeout,
        client.request(instrument.command_subject(), payload),
    )
    .await
    .map_err(|_| unavailable(format!("no answer within {timeout:?}")))?
    .map_err(|e| match e.kind() {
        RequestErrorKind::NoResponders => unavailable("no primary answers its commands".into()),
        RequestErrorKind::TimedOut => unavailable(format!("no answer within {timeout:?}")),
        RequestErrorKind::Other => unavailable(format!("NATS failed: {e}")),
    })?;
    let reply: CommandReply = serde_json::from_slice(&reply.payload)
        .map_err(|e| unavailable(format!("the primary's answer is not a lab-link reply: {e}")))?;
    Ok(CommandAnswer {
        epoch: reply.epoch,
        version: reply.version,
        outcome: match reply.error {
            Some(error) => Err(error),
            None => Ok(reply.result),
        },
    })
}
