//! A relay: one instrument's state served to viewers from NATS JetStream,
//! so the viewer load is away from the process that owns the hardware.
//!
//! A [`Relay`] follows the instrument with a
//! [`Follower`](lab_link_nats::Follower) and keeps the document in a
//! `LabSync<Value>` of its own, which the ordinary server
//! (`lab-link-server`) serves: `GET /sync/state` and `/sync/ws` answer
//! exactly as they do on a primary, for lab-link 0.5.0 clients too. The
//! relay needs nothing new of the core: each followed patch is applied
//! with [`LabSync::apply_patch`], and a start-over of the follower (a gap,
//! a restarted primary) becomes one patch from the old document to the new
//! one ([`LabSync::load_state`]).
//!
//! # Versions
//!
//! The relay's `LabSync` counts its own versions (and has its own
//! [`Epoch`](lab_link_core::Epoch)): one per followed patch, so they
//! advance with the primary's, but they start at 0 when the relay starts,
//! and a start-over is one version however far the primary moved or went
//! back. A viewer therefore never sees a version go back, even across a
//! restarted primary, and never needs to know about epochs; the price is
//! that two relays number the same state differently, so a viewer cannot
//! carry `?since=` from one relay to another.
//!
//! # What it leaves out (for now)
//!
//! Commands (a viewer's command is answered `unknown_command`: the relay
//! registers none), the command metadata of patches (`originClientId`,
//! `requestId`, `command`: the relay's patches carry none), streams,
//! `/sync/schema` of the primary, access control and several instruments
//! in one relay. Each patch costs the relay a copy and a diff of the
//! document (what `apply_patch` does to check a write); a core API that
//! commits given operations as they are would save that.
//!
//! ```no_run
//! use lab_link_nats::Instrument;
//! use lab_link_relay::Relay;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let nats = lab_link_nats::async_nats::connect("nats://127.0.0.1:4222").await?;
//! let relay = Relay::start(nats, &Instrument::new("supply")?).await?;
//! lab_link_server::serve(relay.sync().clone(), "127.0.0.1:8001").await?;
//! # Ok(())
//! # }
//! ```
#![doc(test(attr(deny(warnings))))]

use std::time::Duration;

use lab_link_core::protocol::ServerMessage;
use lab_link_core::LabSync;
use lab_link_nats::{Error, FollowEvent, Follower, Instrument};
use serde_json::Value;
use tokio::task::JoinHandle;

/// How long the relay waits before it reads the stream again after NATS
/// failed to answer.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// One instrument followed from JetStream into a `LabSync<Value>` to
/// serve. Dropping it stops following (the document stays as it was).
#[derive(Debug)]
pub struct Relay {
    sync: LabSync<Value>,
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
        let sync = LabSync::new(follower.document().clone());
        let task = tokio::spawn(follow(follower, sync.clone()));
        Ok(Self { sync, task })
    }

    /// The replica to serve (pass it to `lab_link_server::serve` or
    /// `Server::builder().bind`).
    pub fn sync(&self) -> &LabSync<Value> {
        &self.sync
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Applies every followed change to `sync`, for as long as the relay lives.
async fn follow(mut follower: Follower, sync: LabSync<Value>) {
    loop {
        match follower.next().await {
            Ok(FollowEvent::Patch { message, version }) => {
                let applied = match ServerMessage::parse(&message) {
                    Ok(ServerMessage::Patch { patch, .. }) => {
                        sync.apply_patch(patch.into_owned()).is_ok()
                    }
                    _ => false,
                };
                if !applied {
                    // The follower applied it to its own document: take
                    // that document as it is rather than diverge.
                    tracing::warn!(
                        version,
                        "a followed patch did not apply: loading the follower's document"
                    );
                    load(&sync, &follower);
                }
            }
            Ok(FollowEvent::Reset(reason)) => {
                tracing::info!(?reason, version = follower.version(), epoch = %follower.epoch(), "the follower started over from a snapshot");
                load(&sync, &follower);
            }
            Err(e) => {
                tracing::warn!("{e}; reading again in {RETRY_PAUSE:?}");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// Makes `sync`'s document the follower's, as one patch.
fn load(sync: &LabSync<Value>, follower: &Follower) {
    if let Err(e) = sync.load_state(follower.document().clone()) {
        // A `Value` takes any JSON document: this cannot fail.
        tracing::error!("the relay cannot load the followed document: {e}");
    }
}
