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

use lab_link_core::{Replica, SyncSource};
use lab_link_nats::{Error, FollowEvent, Follower, Instrument};
use tokio::task::JoinHandle;

/// How long the relay waits before it reads the stream again after NATS
/// failed to answer.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

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
    pub async fn start(
        client: lab_link_nats::async_nats::Client,
        instrument: &Instrument,
    ) -> Result<Self, Error> {
        let follower = Follower::start(client, instrument).await?;
        let replica = Replica::new(
            follower.epoch().clone(),
            follower.version(),
            follower.document().clone(),
        );
        let task = tokio::spawn(follow(follower, replica.clone()));
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

/// Applies every followed change to `replica`, for as long as the relay
/// lives.
async fn follow(mut follower: Follower, replica: Replica) {
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
            }
        }
    }
}

/// Makes the replica the follower's document, version and epoch.
fn rebase(replica: &Replica, follower: &Follower) {
    replica.rebase(
        follower.epoch().clone(),
        follower.version(),
        follower.document().clone(),
    );
}
