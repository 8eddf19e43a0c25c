//! lab-link over NATS JetStream: the primary publishes, followers replicate
//! from anywhere the NATS server reaches.
//!
//! The process that owns the hardware should not also fan its state out
//! to a facility. With this crate it publishes its versioned patch stream
//! once, to NATS JetStream, and any number of followers (relays serving
//! viewers, dashboards, recorders) keep replicas from there. JetStream
//! gives what the patch stream needs: an ordered, replicated log with
//! deduplication (`Nats-Msg-Id`) and optimistic concurrency
//! (`Nats-Expected-Last-Sequence`), and a key-value store for snapshots.
//!
//! - [`Publisher`] attaches to a primary's [`LabSync`] (through
//!   [`SyncSource`]) and appends every committed patch message, as the
//!   store serialised it, to the instrument's stream, fenced so that a
//!   stale or second primary cannot append; and it keeps the instrument's
//!   snapshot in a KV bucket.
//! - [`Follower`] keeps a replica of one instrument from its snapshot and
//!   stream, yielding the primary's patch messages, and starts over from
//!   the snapshot on a gap or when the primary changed ([`Epoch`]).
//! - [`CommandResponder`] answers, on the primary, the commands relays
//!   send over NATS request/reply; [`request_command`] sends one.
//! - [`Instrument`] names an instrument and derives the NATS names.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use lab_link_core::LabSync;
//! use lab_link_nats::{FollowEvent, Follower, Instrument, Publisher, PublisherConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let instrument = Instrument::new("supply")?;
//!
//! // The primary, next to the hardware.
//! let sync = LabSync::new(vec![0.0_f64; 2]);
//! let nats = async_nats::connect("nats://127.0.0.1:4222").await?;
//! let config = PublisherConfig::new(instrument.clone());
//! let _publisher = Publisher::start(nats.clone(), Arc::new(sync.clone()), config).await?;
//!
//! // A follower, anywhere.
//! let mut follower = Follower::start(nats, &instrument).await?;
//! sync.try_mutate(|channels| channels.set(1, 2.5))?;
//! let FollowEvent::Patch { version, message } = follower.next().await? else {
//!     unreachable!("one primary, no gap")
//! };
//! assert_eq!(version, 1);
//! println!("{message}"); // {"type":"patch","patch":[…],"version":1}
//! assert_eq!(follower.document(), &serde_json::json!([0.0, 2.5]));
//! # Ok(())
//! # }
//! ```
//!
//! # Names in NATS
//!
//! | what | name |
//! | --- | --- |
//! | stream of an instrument's patches | `LAB_LINK_<name>`, subject `lab-link.<name>.patch` |
//! | message id of version `v` | `<epoch>:<v>` (`Nats-Msg-Id`), epoch also in `Lab-Link-Epoch` |
//! | commands (request/reply) | `lab-link.<name>.command`, queue group `lab-link-primary` |
//! | snapshot | key `<name>` of the KV bucket `lab-link-snapshots` |
//!
//! The message payload is the level-1 `patch` message, byte for byte what a
//! viewer of the primary gets. The snapshot is
//! `{"epoch":…,"version":…,"sequence":…,"document":…}`, where `sequence` is
//! the stream sequence after which every later patch is stored.
//!
//! # What it leaves out (for now)
//!
//! Streams (`stream_*` messages), and a
//! lease that would keep a second primary from taking an instrument over
//! at start: today the newest primary wins and the older one is fenced.
//! The relay that serves viewers from a follower is the crate
//! `lab-link-relay`.
//!
//! [`LabSync`]: lab_link_core::LabSync
//! [`SyncSource`]: lab_link_core::SyncSource
//! [`Epoch`]: lab_link_core::Epoch
#![doc(test(attr(deny(warnings))))]

mod commands;
mod error;
mod follower;
mod instrument;
mod publisher;
mod snapshot;

pub use commands::{request_command, CommandAnswer, CommandResponder, UNAVAILABLE};
pub use error::Error;
pub use follower::{FollowEvent, Follower, ResetReason};
pub use instrument::{Instrument, COMMAND_QUEUE_GROUP, EPOCH_HEADER, SNAPSHOT_BUCKET};
pub use publisher::{Published, Publisher, PublisherConfig};

/// The NATS client this crate is built on, so that an application connects
/// with the same version: `lab_link_nats::async_nats::connect(url)`.
pub use async_nats;
