//! [`Follower`]: an instrument's replica kept current from JetStream, as
//! a relay needs it.
//!
//! It starts from the instrument's snapshot in the bucket (the document,
//! its version and epoch, and the stream sequence after which every later
//! patch is stored), then reads the stream with an ordered consumer from
//! that sequence + 1, applying each patch message. Messages its snapshot
//! already holds are skipped. It never guesses:
//!
//! - a version that is not the next one (a message lost to the stream's
//!   limits, or to an overflowed publisher queue) is a *gap*: it refetches
//!   the snapshot and starts over from it;
//! - a message of another epoch means the primary restarted or was
//!   replaced: it refetches the new primary's snapshot, even when the
//!   versions would line up.
//!
//! Either way the caller gets a [`FollowEvent::Reset`] and must treat the
//! document as new (a relay sends its viewers a snapshot).
//!
//! When the consumer fails (the server restarted, the connection broke),
//! [`Follower::next`] returns the error, and the next call opens a new
//! consumer right after the last stream sequence it read: no reset, no
//! message lost or repeated.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::{self, kv, stream};
use futures_util::StreamExt;
use lab_link_core::protocol::ServerMessage;
use lab_link_core::{apply, Epoch};
use serde_json::Value;

use crate::error::{Error, Kind};
use crate::instrument::{Instrument, EPOCH_HEADER, SNAPSHOT_BUCKET};
use crate::snapshot::SnapshotRecord;

/// How long a follower waits before it starts over from a snapshot that
/// did not move since its last start (a gap the primary has not covered by
/// a newer snapshot yet): it does not spin.
const SAME_SNAPSHOT_PAUSE: Duration = Duration::from_millis(200);

/// What [`Follower::next`] saw.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowEvent {
    /// The next patch, applied: its message exactly as the primary
    /// serialised it (what a relay forwards to its viewers).
    Patch {
        /// The version after the patch.
        version: u64,
        /// The `patch` message.
        message: Arc<str>,
    },
    /// The follower started over from a snapshot: the document, version
    /// and maybe epoch are new.
    Reset(ResetReason),
}

/// Why a [`Follower`] started over from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetReason {
    /// The stream went from `expected - 1` to a later version.
    Gap {
        /// The version that should have come.
        expected: u64,
        /// The version that came.
        got: u64,
    },
    /// A message of another primary.
    NewEpoch {
        /// The epoch followed until then.
        previous: Epoch,
    },
    /// A patch did not apply to the document (it was not the one the
    /// primary patched).
    Diverged {
        /// The version of the patch.
        version: u64,
    },
}

/// A replica of one instrument, fed from JetStream.
///
/// ```no_run
/// use lab_link_nats::{FollowEvent, Follower, Instrument};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let mut follower = Follower::start(client, &Instrument::new("supply")?).await?;
/// println!("at version {} of {}", follower.version(), follower.epoch());
/// loop {
///     match follower.next().await? {
///         FollowEvent::Patch { message, .. } => println!("{message}"),
///         FollowEvent::Reset(why) => println!("resync ({why:?}): {}", follower.document()),
///     }
/// }
/// # }
/// ```
pub struct Follower {
    instrument: Instrument,
    stream: stream::Stream,
    kv: kv::Store,
    messages: Ordered,
    epoch: Epoch,
    version: u64,
    document: Value,
    /// The snapshot of the last start, to notice one that did not move.
    started_from: (Epoch, u64, u64),
    /// The last stream sequence read, where a new consumer starts after.
    sequence: u64,
    /// The consumer failed: open a new one after `sequence` first.
    reopen: bool,
    /// A reset decided but not done yet: a cancelled [`Follower::next`]
    /// does it at the next call.
    pending: Option<ResetReason>,
    /// The primary's schema document, as its publisher last wrote it.
    schema: Option<Value>,
}

impl Follower {
    /// Reads the instrument's snapshot and opens its stream after it.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_published`] when no primary has published the
    /// instrument yet (no stream or no snapshot); [`Error::is_unavailable`]
    /// when the server does not answer or the snapshot is not one.
    pub async fn start(client: async_nats::Client, instrument: &Instrument) -> Result<Self, Error> {
        let js = jetstream::new(client);
        let not_published = |what: &str| {
            Error::new(
                Kind::NotPublished,
                format!("{instrument} has no {what} yet: start its publisher first"),
            )
        };
        let stream = js
            .get_stream(instrument.stream_name())
            .await
            .map_err(|_| not_published("stream"))?;
        let kv = js
            .get_key_value(SNAPSHOT_BUCKET)
            .await
            .map_err(|_| not_published("snapshot bucket"))?;
        let record = fetch(&kv, instrument).await?;
        let schema = fetch_schema(&kv, instrument).await;
        let messages = open(&stream, instrument, record.sequence).await?;
        Ok(Self {
            schema,
            instrument: instrument.clone(),
            stream,
            kv,
            messages,
            started_from: (record.epoch.clone(), record.version, record.sequence),
            sequence: record.sequence,
            reopen: false,
            epoch: record.epoch,
            version: record.version,
            document: record.document,
            pending: None,
        })
    }

    /// Waits for the next patch and applies it, or starts over from the
    /// snapshot (see the module docs).
    ///
    /// # Errors
    ///
    /// [`Error::is_unavailable`] when the server stops answering (the
    /// follower is unchanged; call again to go on) or the snapshot cannot
    /// be read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled call loses no patch, and a start-over it
    /// had decided is done by the next call.
    pub async fn next(&mut self) -> Result<FollowEvent, Error> {
        loop {
            if let Some(reason) = self.pending.clone() {
                self.restart().await?;
                self.pending = None;
                return Ok(FollowEvent::Reset(reason));
            }
            if self.reopen {
                self.messages = open(&self.stream, &self.instrument, self.sequence).await?;
                self.reopen = false;
            }
            let message = match self.messages.next().await {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    self.reopen = true;
                    return Err(Error::unavailable(
                        &format!("cannot read the stream of {}", self.instrument),
                        e,
                    ));
                }
                None => {
                    self.reopen = true;
                    return Err(Error::new(
                        Kind::Unavailable,
                        format!("the stream of {} ended", self.instrument),
                    ));
                }
            };
            if let Ok(info) = message.info() {
                self.sequence = info.stream_sequence;
            }
            let epoch = message
                .headers
                .as_ref()
                .and_then(|headers| headers.get(EPOCH_HEADER))
                .and_then(|epoch| Epoch::new(epoch.as_str()).ok());
            let parsed = std::str::from_utf8(&message.payload)
                .ok()
                .and_then(|text| Some((text, ServerMessage::parse(text).ok()?)));
            let (Some(epoch), Some((text, ServerMessage::Patch { patch, version, .. }))) =
                (epoch, parsed)
            else {
                tracing::warn!(
                    instrument = %self.instrument,
                    subject = %message.subject,
                    "skipping a message that is not a lab-link patch with an epoch"
                );
                continue;
            };
            if epoch != self.epoch {
                self.pending = Some(ResetReason::NewEpoch {
                    previous: self.epoch.clone(),
                });
                continue;
            }
            if version <= self.version {
                continue;
            }
            if version != self.version + 1 {
                self.pending = Some(ResetReason::Gap {
                    expected: self.version + 1,
                    got: version,
                });
                continue;
            }
            if let Err(e) = apply(&mut self.document, &patch) {
                tracing::error!(instrument = %self.instrument, version, "a patch does not apply: {e}");
                self.pending = Some(ResetReason::Diverged { version });
                continue;
            }
            self.version = version;
            return Ok(FollowEvent::Patch {
                version,
                message: text.into(),
            });
        }
    }

    /// The instrument followed.
    pub fn instrument(&self) -> &Instrument {
        &self.instrument
    }

    /// The epoch of the primary whose versions the document has.
    pub fn epoch(&self) -> &Epoch {
        &self.epoch
    }

    /// The document's version, in [`epoch`](Follower::epoch).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The replica's document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The primary's schema document (its `GET {prefix}/schema`, with its
    /// `schemaHash`), as read at the start and at each start-over; `None`
    /// when its publisher wrote none or it could not be read.
    pub fn schema(&self) -> Option<&Value> {
        self.schema.as_ref()
    }

    /// Refetches the snapshot and reopens the stream after it; the
    /// follower changes only when both succeeded.
    async fn restart(&mut self) -> Result<(), Error> {
        let record = fetch(&self.kv, &self.instrument).await?;
        let schema = fetch_schema(&self.kv, &self.instrument).await;
        let start = (record.epoch.clone(), record.version, record.sequence);
        if start == self.started_from {
            tokio::time::sleep(SAME_SNAPSHOT_PAUSE).await;
        }
        self.messages = open(&self.stream, &self.instrument, record.sequence).await?;
        self.reopen = false;
        self.sequence = record.sequence;
        self.started_from = start;
        self.epoch = record.epoch;
        self.version = record.version;
        self.document = record.document;
        if schema.is_some() {
            self.schema = schema;
        }
        Ok(())
    }
}

impl fmt::Debug for Follower {
    // The consumer's message stream has no `Debug`: show where it stands.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower")
            .field("instrument", &self.instrument)
            .field("epoch", &self.epoch)
            .field("version", &self.version)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

/// The instrument's snapshot from the bucket.
async fn fetch(kv: &kv::Store, instrument: &Instrument) -> Result<SnapshotRecord, Error> {
    let key = instrument.snapshot_key();
    let value = kv
        .get(key)
        .await
        .map_err(|e| Error::unavailable(&format!("cannot read the snapshot of {key}"), e))?
        .ok_or_else(|| {
            Error::new(
                Kind::NotPublished,
                format!("{instrument} has no snapshot yet: start its publisher first"),
            )
        })?;
    SnapshotRecord::parse(&value).map_err(|e| {
        Error::new(
            Kind::Unavailable,
            format!("the snapshot of {key} in {SNAPSHOT_BUCKET} is not a lab-link snapshot: {e}"),
        )
    })
}

/// The primary's schema document, or `None` (logged) when there is none
/// or it cannot be read: a relay then serves an empty schema.
async fn fetch_schema(kv: &kv::Store, instrument: &Instrument) -> Option<Value> {
    let key = instrument.schema_key();
    match kv.get(key.as_str()).await {
        Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
            Ok(schema) => Some(schema),
            Err(e) => {
                tracing::warn!(%instrument, "the schema under {key} is not JSON: {e}");
                None
            }
        },
        Ok(None) => {
            tracing::warn!(%instrument, "no schema under {key}: its publisher wrote none");
            None
        }
        Err(e) => {
            tracing::warn!(%instrument, "cannot read the schema under {key}: {e}");
            None
        }
    }
}

/// An ordered consumer of the instrument's patches after `sequence`.
async fn open(
    stream: &stream::Stream,
    instrument: &Instrument,
    sequence: u64,
) -> Result<Ordered, Error> {
    let doing = format!("cannot read the stream of {instrument}");
    stream
        .create_consumer(OrderedConfig {
            filter_subject: instrument.patch_subject(),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: sequence + 1,
            },
            ..Default::default()
        })
        .await
        .map_err(|e| Error::unavailable(&doing, e))?
        .messages()
        .await
        .map_err(|e| Error::unavailable(&doing, e))
}
