//! A relay: one instrument's state served to viewers from NATS JetStream,
//! so the viewer load is away from the process that owns the hardware.
//!
//! A [`Relay`] follows the instrument with a
//! [`Follower`](lab_link_nats::Follower) and keeps the document in a
//! [`Replica`], which the ordinary server (`lab-link-server`) serves
//! through [`SyncSource`]: `GET /sync/state` and `/sync/ws` answer exactly
//! as they do on a primary, for lab-link 0.5.0 clients too.
//!
//! # Versions
//!
//! The replica has the primary's versions and epoch: each followed patch
//! message is applied at exactly the next version and forwarded to the
//! viewers as the primary serialised it, metadata (`originClientId`,
//! `requestId`, `command`) included, and kept in the relay's own resume
//! log. So a viewer's `?since=N` resumes on any relay of the instrument
//! whose log holds the versions after N: a viewer moves from one relay to
//! another without a snapshot. Each patch costs the relay what it costs
//! the primary's store: its operations applied, no copy or diff of the
//! document.
//!
//! When the follower starts over from the snapshot (a gap in the stream,
//! a restarted primary with a new epoch), the replica re-bases on that
//! snapshot and every viewer is sent it as a `snapshot` message (without
//! `clientId`), which clients take as a reset: a viewer's replica is never
//! continued across a gap.
//!
//! # Commands
//!
//! A viewer's command is sent to the primary over NATS request/reply
//! ([`request_command`]; the primary runs a
//! [`CommandResponder`](lab_link_nats::CommandResponder)), with the
//! viewer's principal when the relay's server has access control on. The
//! ack (or error) reaches the viewer only once the relay's replica has
//! applied the version the primary answered at, so it follows the
//! command's patches, as on the primary. When the primary cannot be
//! reached (NATS down, no primary, no answer within the command time-out)
//! the viewer gets a `command_error` with the code `unavailable`; so it
//! does when the replica does not reach the answer's version within the
//! time-out (the command ran, but its ack cannot be delivered in order).
//!
//! # What it leaves out (for now)
//!
//! Streams, `/sync/schema` of the primary (the relay's lists no commands),
//! the epoch on the wire (a viewer that moves to a relay of a restarted
//! primary whose versions reached its own resumes as if it were the same
//! one) and several instruments in one relay.
//!
//! ```no_run
//! use lab_link_nats::Instrument;
//! use lab_link_relay::Relay;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let nats = lab_link_nats::async_nats::connect("nats://127.0.0.1:4222").await?;
//! let relay = Relay::start(nats, &Instrument::new("supply")?).await?;
//! lab_link_server::serve(relay.source(), "127.0.0.1:8001").await?;
//! # Ok(())
//! # }
//! ```
#![doc(test(attr(deny(warnings))))]

use std::sync::Arc;
use std::time::Duration;

mod gateway;

pub use gateway::Gateway;

use lab_link_core::command::{CommandContext, CommandError, CommandFuture};
use lab_link_core::{Epoch, Replica, SyncSource};
use lab_link_nats::async_nats::Client;
use lab_link_nats::{
    request_command, CommandAnswer, Error, FollowEvent, Follower, Instrument, UNAVAILABLE,
};
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long the relay waits before it reads the stream again after NATS
/// failed to answer.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// How long a relay waits for the primary's answer to a command, and then
/// for its replica to reach the answer's version (see
/// [`Relay::start_with_timeout`]).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// The replica's epoch and version, as the follow task last left them.
type Position = (Epoch, u64);

/// One instrument followed from JetStream into a [`Replica`] to serve.
/// Dropping it stops following (the replica stays as it was).
#[derive(Debug)]
pub struct Relay {
    replica: Replica,
    task: JoinHandle<()>,
}

impl Relay {
    /// Starts following `instrument` from its snapshot.
    ///
    /// # Errors
    ///
    /// As [`Follower::start`]: the instrument is not published yet, or
    /// NATS does not answer.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing runs until it returns.
    pub async fn start(client: Client, instrument: &Instrument) -> Result<Self, Error> {
        Self::start_with_timeout(client, instrument, DEFAULT_COMMAND_TIMEOUT).await
    }

    /// As [`start`](Relay::start), with the time-out of commands: how long
    /// the relay waits for the primary's answer, and then for its replica
    /// to reach the answer's version, before it answers `unavailable`.
    ///
    /// # Errors
    ///
    /// As [`start`](Relay::start).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing runs until it returns.
    pub async fn start_with_timeout(
        client: Client,
        instrument: &Instrument,
        command_timeout: Duration,
    ) -> Result<Self, Error> {
        let follower = Follower::start(client.clone(), instrument).await?;
        let (position, positions) = watch::channel((follower.epoch().clone(), follower.version()));
        let commands = Commands {
            client,
            instrument: instrument.clone(),
            positions,
            timeout: command_timeout,
        };
        let replica = Replica::new(
            follower.epoch().clone(),
            follower.version(),
            follower.document().clone(),
        )
        .with_commands(move |ctx, params| commands.forward(ctx, params));
        replica.set_schema(follower.schema().cloned());
        let task = tokio::spawn(follow(follower, replica.clone(), position));
        Ok(Self { replica, task })
    }

    /// The replica, with the primary's versions and epoch.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The replica as the server takes it: pass it to
    /// `lab_link_server::serve`, `Server::builder().bind` or
    /// `Routes::new`.
    pub fn source(&self) -> Arc<dyn SyncSource> {
        Arc::new(self.replica.clone())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends viewers' commands to the primary.
struct Commands {
    client: Client,
    instrument: Instrument,
    /// Where the replica is: an answer is delivered once it is there.
    positions: watch::Receiver<Position>,
    timeout: Duration,
}

impl Commands {
    fn forward(&self, ctx: CommandContext, params: Map<String, Value>) -> CommandFuture {
        let (client, instrument) = (self.client.clone(), self.instrument.clone());
        let (mut positions, timeout) = (self.positions.clone(), self.timeout);
        Box::pin(async move {
            let answer = request_command(&client, &instrument, &ctx, params, timeout).await?;
            reached(&mut positions, &answer, timeout).await?;
            answer.outcome
        })
    }
}

/// Waits until the replica has applied the version `answer` was given at.
async fn reached(
    positions: &mut watch::Receiver<Position>,
    answer: &CommandAnswer,
    timeout: Duration,
) -> Result<(), CommandError> {
    let there =
        positions.wait_for(|(epoch, version)| *epoch == answer.epoch && *version >= answer.version);
    match tokio::time::timeout(timeout, there).await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(CommandError::new(
            UNAVAILABLE,
            format!(
                "the command ran on the primary (version {}), but this relay did not receive \
                 its changes within {timeout:?}",
                answer.version
            ),
        )),
    }
}

/// Applies every followed change to `replica`, for as long as the relay
/// lives, and tells `position` where it is.
async fn follow(mut follower: Follower, replica: Replica, position: watch::Sender<Position>) {
    loop {
        match follower.next().await {
            Ok(FollowEvent::Patch { message, version }) => {
                if let Err(e) = replica.apply(message) {
                    // The follower applied it to its own document: take
                    // that document rather than diverge.
                    tracing::warn!(version, "{e}: re-basing on the follower's document");
                    rebase(&replica, &follower);
                }
            }
            Ok(FollowEvent::Reset(reason)) => {
                tracing::info!(?reason, version = follower.version(), epoch = %follower.epoch(), "the follower started over from a snapshot");
                rebase(&replica, &follower);
            }
            Err(e) => {
                tracing::warn!("{e}; reading again in {RETRY_PAUSE:?}");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        }
        position.send_replace((follower.epoch().clone(), follower.version()));
    }
}

/// Makes the replica the follower's document, version, epoch and schema.
fn rebase(replica: &Replica, follower: &Follower) {
    replica.set_schema(follower.schema().cloned());
    replica.rebase(
        follower.epoch().clone(),
        follower.version(),
        follower.document().clone(),
    );
}
