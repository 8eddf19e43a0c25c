//! [`Publisher`]: a primary's committed patches into its instrument's
//! JetStream stream, fenced, and its snapshots into the KV bucket.
//!
//! # How it runs
//!
//! The publisher subscribes to the [`SyncSource`] like any transport. The
//! listener runs under the state's lock, so it only enqueues the commit's
//! version and its message (a reference-count bump: the message was
//! serialised once, by the store) into a bounded queue; a task drains the
//! queue and publishes one message at a time, each after the previous one's
//! acknowledgement:
//!
//! 1. the message's text goes out as it is, on `lab-link.<name>.patch`,
//!    with `Nats-Msg-Id: <epoch>:<version>` (so a retry after a lost
//!    acknowledgement is stored once) and `Nats-Expected-Last-Sequence` set
//!    to the stream sequence of this publisher's previous message;
//! 2. when JetStream refuses the expected sequence, another primary has
//!    appended to the stream: this one is *fenced*. It logs an error,
//!    publishes nothing more, and stops, rather than diverge;
//! 3. any other failure (no answer, no responders while the server
//!    restarts) is retried with the same id and expectation, with a
//!    back-off up to two seconds: nothing is skipped and nothing doubled.
//!
//! Snapshots go to the key `<name>` of the bucket `lab-link-snapshots`
//! every N versions or T seconds (when the version moved), and at start.
//! Each write is a compare-and-set on the revision this publisher wrote
//! last, so a fenced primary cannot overwrite its successor's snapshot
//! either.
//!
//! # Taking over an instrument
//!
//! At start the publisher writes its snapshot unconditionally and takes the
//! stream's last sequence as its expectation: the newest primary wins, as
//! a restarted one must. A stale primary still running is fenced at its
//! next append or snapshot. Two primaries started at the same instant may
//! both be fenced; they never both append.
//!
//! # When the queue overflows
//!
//! A full queue (NATS slower than the commits for longer than the queue
//! holds) drops messages rather than block the state's lock. The task sees
//! the jump in versions, writes a snapshot first, and goes on: followers
//! see the gap and refetch that snapshot, which is at least as new as the
//! lost messages.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::kv::{self, UpdateErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use lab_link_core::{Epoch, Start, SyncSource};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::{Error, Kind};
use crate::instrument::{Instrument, EPOCH_HEADER, SNAPSHOT_BUCKET};
use crate::snapshot::SnapshotRecord;

/// The longest pause between two attempts to publish one message.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Where and how a [`Publisher`] publishes, with the stream's limits.
///
/// The stream and the bucket are created with these settings when they do
/// not exist; existing ones are used as they are, so an operator may
/// configure them (see the book's chapter "Scaling out").
///
/// ```
/// use std::time::Duration;
/// use lab_link_nats::{Instrument, PublisherConfig};
///
/// let config = PublisherConfig::new(Instrument::new("supply")?)
///     .with_snapshot_every(500)
///     .with_snapshot_interval(Duration::from_secs(5))
///     .with_max_age(Duration::from_secs(3600))
///     .with_replicas(3);
/// assert_eq!(config.instrument().name(), "supply");
/// # Ok::<(), lab_link_nats::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    instrument: Instrument,
    snapshot_every: u64,
    snapshot_interval: Duration,
    queue: usize,
    max_age: Duration,
    max_bytes: i64,
    replicas: usize,
}

impl PublisherConfig {
    /// The defaults for `instrument`: a snapshot every 1000 versions or
    /// 10 s, a queue of 4096 messages, a stream keeping 24 hours and at
    /// most 1 GiB on one replica.
    pub fn new(instrument: Instrument) -> Self {
        Self {
            instrument,
            snapshot_every: 1000,
            snapshot_interval: Duration::from_secs(10),
            queue: 4096,
            max_age: Duration::from_secs(24 * 3600),
            max_bytes: 1 << 30,
            replicas: 1,
        }
    }

    /// A snapshot after this many versions (default 1000; at least 1).
    #[must_use]
    pub fn with_snapshot_every(mut self, versions: u64) -> Self {
        self.snapshot_every = versions.max(1);
        self
    }

    /// A snapshot after this long, when the version moved (default 10 s).
    #[must_use]
    pub fn with_snapshot_interval(mut self, interval: Duration) -> Self {
        self.snapshot_interval = interval;
        self
    }

    /// How many committed messages wait for NATS before newer ones are
    /// dropped for a snapshot (default 4096; at least 1).
    #[must_use]
    pub fn with_queue(mut self, messages: usize) -> Self {
        self.queue = messages.max(1);
        self
    }

    /// How long the stream keeps a message (default 24 hours). Keep it
    /// well above the snapshot interval: a follower starts from the
    /// snapshot and needs every message after it.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The most bytes the stream keeps, oldest dropped first (default
    /// 1 GiB).
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        self
    }

    /// On how many servers of a NATS cluster the stream and the bucket are
    /// stored (default 1; 3 in a cluster of three).
    #[must_use]
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    /// The instrument.
    pub fn instrument(&self) -> &Instrument {
        &self.instrument
    }

    fn stream_config(&self) -> stream::Config {
        stream::Config {
            name: self.instrument.stream_name(),
            subjects: vec![self.instrument.patch_subject()],
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            storage: stream::StorageType::File,
            max_age: self.max_age,
            max_bytes: self.max_bytes,
            num_replicas: self.replicas,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        }
    }

    /// The snapshot bucket's stream, laid out as NATS key-value buckets
    /// are (`KV_<bucket>`, subjects `$KV.<bucket>.>`, one value per key).
    ///
    /// Made by hand rather than with async-nats's `create_key_value`: that
    /// first reads the account's JetStream info and requires fields
    /// (`reserved_memory`, `reserved_storage`) that servers before 2.10
    /// do not send, so it fails against Debian's 2.9.
    fn bucket_stream_config(&self) -> stream::Config {
        stream::Config {
            name: format!("KV_{SNAPSHOT_BUCKET}"),
            subjects: vec![format!("$KV.{SNAPSHOT_BUCKET}.>")],
            max_messages_per_subject: 1,
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        }
    }
}

/// How far a [`Publisher`] got: the last version it appended and that
/// message's stream sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The primary's version.
    pub version: u64,
    /// The stream sequence it was stored at (the stream's last sequence
    /// at take-over, before the first append).
    pub sequence: u64,
}

/// Publishes a primary's patch stream and snapshots to JetStream (see the
/// module docs for the protocol).
///
/// Dropping it stops publishing. The epoch is the [`SyncSource`]'s own
/// ([`LabSync::epoch`](lab_link_core::LabSync::epoch)), so a transport that
/// serves the same `LabSync` tells its clients the same one.
///
/// ```no_run
/// use std::sync::Arc;
/// use lab_link_core::LabSync;
/// use lab_link_nats::{Instrument, Publisher, PublisherConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sync = LabSync::new(vec![0.0_f64; 2]);
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let config = PublisherConfig::new(Instrument::new("supply")?);
/// let publisher = Publisher::start(client, Arc::new(sync.clone()), config).await?;
///
/// sync.try_mutate(|channels| channels.set(0, 1.5))?;
/// publisher.wait_published(sync.version()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Publisher {
    instrument: Instrument,
    epoch: Epoch,
    status: watch::Receiver<Status>,
    snapshot_requests: mpsc::Sender<oneshot::Sender<Result<u64, Error>>>,
    task: JoinHandle<()>,
}

/// What the task tells the [`Publisher`].
#[derive(Debug, Clone, Copy)]
struct Status {
    published: Published,
    fenced: bool,
}

impl Publisher {
    /// Creates the stream and the bucket when missing, takes the
    /// instrument over (writes this primary's snapshot, takes the stream's
    /// last sequence), and starts publishing every later commit.
    ///
    /// # Errors
    ///
    /// [`Error::is_unavailable`] when the server does not answer, has no
    /// JetStream, or refuses the stream or the bucket.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: cancelled after the take-over, the snapshot is
    /// written but nothing publishes the commits after it.
    pub async fn start(
        client: async_nats::Client,
        source: Arc<dyn SyncSource>,
        config: PublisherConfig,
    ) -> Result<Self, Error> {
        let js = jetstream::new(client);
        let instrument = config.instrument.clone();
        let stream_name = instrument.stream_name();
        let mut stream = js
            .get_or_create_stream(config.stream_config())
            .await
            .map_err(|e| Error::unavailable(&format!("cannot open stream {stream_name}"), e))?;
        let open_bucket =
            |e| Error::unavailable(&format!("cannot open bucket {SNAPSHOT_BUCKET}"), e);
        js.get_or_create_stream(config.bucket_stream_config())
            .await
            .map_err(|e| open_bucket(e.to_string()))?;
        let kv = js
            .get_key_value(SNAPSHOT_BUCKET)
            .await
            .map_err(|e| open_bucket(e.to_string()))?;
        let last_sequence = stream
            .info()
            .await
            .map_err(|e| Error::unavailable(&format!("cannot read stream {stream_name}"), e))?
            .state
            .last_sequence;

        let (queue, commits) = mpsc::channel(config.queue);
        let overflowed = Arc::new(AtomicBool::new(false));
        let listener_overflowed = overflowed.clone();
        let mut start = None;
        // The listener runs under the state's lock: it only enqueues.
        let subscription = source.subscribe_from(
            None,
            0,
            &mut |at| start = Some(at),
            Box::new(move |committed| {
                if queue
                    .try_send((committed.version(), committed.message_shared()))
                    .is_err()
                {
                    listener_overflowed.store(true, Ordering::Relaxed);
                }
            }),
        );
        let Some(Start::Snapshot(snapshot)) = start else {
            unreachable!("subscribe_from without `since` starts with a snapshot");
        };

        let epoch = source.epoch();
        let key = instrument.snapshot_key();
        let previous = kv.entry(key).await.ok().flatten();
        let record = SnapshotRecord::text(&epoch, &snapshot, last_sequence);
        let revision = kv
            .put(key, Bytes::from(record))
            .await
            .map_err(|e| Error::unavailable(&format!("cannot write the snapshot of {key}"), e))?;
        // The schema, for relays to serve as theirs: written at each start
        // (a restarted primary may have changed its commands).
        let schema_key = instrument.schema_key();
        let schema = serde_json::to_vec(&source.schema()).expect("a JSON value serialises");
        kv.put(schema_key.as_str(), Bytes::from(schema))
            .await
            .map_err(|e| {
                Error::unavailable(&format!("cannot write the schema of {schema_key}"), e)
            })?;
        if let Some(previous) = previous.and_then(|entry| SnapshotRecord::parse(&entry.value).ok())
        {
            if previous.epoch != epoch {
                tracing::warn!(
                    instrument = %instrument,
                    previous_epoch = %previous.epoch,
                    %epoch,
                    "taking the instrument over from another primary (a restart, or a second \
                     primary by mistake: that one is fenced at its next append)"
                );
            }
        }

        let published = Published {
            version: snapshot.version(),
            sequence: last_sequence,
        };
        let (status_sender, status) = watch::channel(Status {
            published,
            fenced: false,
        });
        let (snapshot_requests, requests) = mpsc::channel(4);
        let task = Task {
            js,
            kv,
            source,
            subject: instrument.patch_subject(),
            instrument: instrument.clone(),
            epoch: epoch.clone(),
            published,
            revision,
            snapshot_version: snapshot.version(),
            snapshot_every: config.snapshot_every,
            overflowed,
            status: status_sender,
        };
        let task =
            tokio::spawn(task.run(subscription, commits, requests, config.snapshot_interval));
        Ok(Self {
            instrument,
            epoch,
            status,
            snapshot_requests,
            task,
        })
    }

    /// The instrument it publishes.
    pub fn instrument(&self) -> &Instrument {
        &self.instrument
    }

    /// The primary's epoch, in every message id and snapshot.
    pub fn epoch(&self) -> &Epoch {
        &self.epoch
    }

    /// The last version appended to the stream, and its sequence.
    pub fn published(&self) -> Published {
        self.status.borrow().published
    }

    /// Whether another primary took the instrument over, so this one
    /// stopped.
    pub fn is_fenced(&self) -> bool {
        self.status.borrow().fenced
    }

    /// Waits until `version` (or a later one) is stored in the stream.
    ///
    /// # Errors
    ///
    /// [`Error::is_fenced`] when the publisher was fenced before it got
    /// there; [`Error::is_stopped`] when its task ended otherwise.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn wait_published(&self, version: u64) -> Result<Published, Error> {
        let mut status = self.status.clone();
        let reached = status
            .wait_for(|status| status.fenced || status.published.version >= version)
            .await
            .map(|status| *status);
        match reached {
            Ok(status) if status.published.version >= version => Ok(status.published),
            Ok(_) => Err(Error::new(
                Kind::Fenced,
                format!(
                    "the publisher of {} was fenced by another primary before version {version}",
                    self.instrument
                ),
            )),
            Err(_) => Err(self.stopped()),
        }
    }

    /// Writes a snapshot of the current version now, and returns that
    /// version: before a planned stop, or to give followers a newer start.
    ///
    /// # Errors
    ///
    /// [`Error::is_fenced`], [`Error::is_stopped`], or
    /// [`Error::is_unavailable`] when the write failed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe; the snapshot may be written all the same.
    pub async fn snapshot_now(&self) -> Result<u64, Error> {
        let (reply, answer) = oneshot::channel();
        self.snapshot_requests
            .send(reply)
            .await
            .map_err(|_| self.stopped())?;
        answer.await.map_err(|_| self.stopped())?
    }

    fn stopped(&self) -> Error {
        if self.is_fenced() {
            return Error::new(
                Kind::Fenced,
                format!("the publisher of {} was fenced", self.instrument),
            );
        }
        Error::new(
            Kind::Stopped,
            format!("the publisher of {} stopped", self.instrument),
        )
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The publishing task's state.
struct Task {
    js: jetstream::Context,
    kv: kv::Store,
    source: Arc<dyn SyncSource>,
    subject: String,
    instrument: Instrument,
    epoch: Epoch,
    published: Published,
    /// The bucket revision of this publisher's last snapshot.
    revision: u64,
    snapshot_version: u64,
    snapshot_every: u64,
    overflowed: Arc<AtomicBool>,
    status: watch::Sender<Status>,
}

/// A fence: the task stops.
struct Fenced;

impl Task {
    async fn run(
        mut self,
        subscription: lab_link_core::Subscription,
        mut commits: mpsc::Receiver<(u64, Arc<str>)>,
        mut requests: mpsc::Receiver<oneshot::Sender<Result<u64, Error>>>,
        snapshot_interval: Duration,
    ) {
        // Held until the task ends: dropping it unsubscribes.
        let _subscription = subscription;
        let mut ticker = tokio::time::interval(snapshot_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        let outcome = loop {
            let step = tokio::select! {
                Some(reply) = requests.recv() => {
                    let written = self.snapshot().await;
                    let fenced = matches!(written, Err(ref e) if e.is_fenced());
                    let _ = reply.send(written);
                    if fenced { Err(Fenced) } else { Ok(()) }
                }
                Some((version, message)) = commits.recv() => self.append(version, message).await,
                _ = ticker.tick() => self.snapshot_if_moved().await,
                else => break Ok(()),
            };
            if let Err(fenced) = step {
                break Err(fenced);
            }
        };
        if outcome.is_err() {
            tracing::error!(
                instrument = %self.instrument,
                epoch = %self.epoch,
                version = self.published.version,
                "FENCED: another primary appended to this instrument's stream or wrote its \
                 snapshot; this primary stops publishing to NATS (its viewers over NATS no \
                 longer see its changes). Stop one of the two primaries."
            );
            self.status.send_modify(|status| status.fenced = true);
        }
    }

    /// Appends one committed message; a jump in versions (an overflowed
    /// queue) is bridged by a snapshot first.
    async fn append(&mut self, version: u64, message: Arc<str>) -> Result<(), Fenced> {
        if version <= self.published.version {
            return Ok(());
        }
        if version > self.published.version + 1 || self.overflowed.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                instrument = %self.instrument,
                after = self.published.version,
                next = version,
                "the publish queue overflowed: writing a snapshot so followers skip the gap"
            );
            self.snapshot_or_fence().await?;
        }
        let message_id = format!("{}:{version}", self.epoch);
        let mut backoff = Duration::from_millis(50);
        loop {
            let publish = PublishMessage::build()
                .payload(Bytes::from_owner(SharedText(message.clone())))
                .message_id(&message_id)
                .expected_last_sequence(self.published.sequence)
                .header(EPOCH_HEADER, self.epoch.as_str());
            let acknowledged = match self.js.send_publish(self.subject.clone(), publish).await {
                Ok(acknowledgement) => acknowledgement.await,
                Err(e) => Err(e),
            };
            match acknowledged {
                Ok(ack) => {
                    self.published = Published {
                        version,
                        sequence: ack.sequence,
                    };
                    self.status
                        .send_modify(|status| status.published = self.published);
                    break;
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => return Err(Fenced),
                Err(e) => {
                    tracing::warn!(
                        instrument = %self.instrument,
                        version,
                        "cannot publish to NATS, retrying in {backoff:?}: {e}"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        if version >= self.snapshot_version + self.snapshot_every {
            self.snapshot_or_fence().await?;
        }
        Ok(())
    }

    async fn snapshot_if_moved(&mut self) -> Result<(), Fenced> {
        if self.source.version() == self.snapshot_version {
            return Ok(());
        }
        self.snapshot_or_fence().await
    }

    /// A snapshot whose failure, other than a fence, is only logged: the
    /// next one tries again.
    async fn snapshot_or_fence(&mut self) -> Result<(), Fenced> {
        match self.snapshot().await {
            Err(e) if e.is_fenced() => Err(Fenced),
            Err(e) => {
                tracing::warn!(instrument = %self.instrument, "{e}");
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }

    /// Writes the current document with the last published sequence: every
    /// message after the snapshot's version follows that sequence.
    async fn snapshot(&mut self) -> Result<u64, Error> {
        let snapshot = self.source.snapshot();
        let record = SnapshotRecord::text(&self.epoch, &snapshot, self.published.sequence);
        let key = self.instrument.snapshot_key();
        match self
            .kv
            .update(key, Bytes::from(record), self.revision)
            .await
        {
            Ok(revision) => {
                self.revision = revision;
                self.snapshot_version = snapshot.version();
                Ok(snapshot.version())
            }
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Err(Error::new(
                Kind::Fenced,
                format!("another primary wrote the snapshot of {key}"),
            )),
            Err(e) => Err(Error::unavailable(
                &format!("cannot write the snapshot of {key}"),
                e,
            )),
        }
    }
}

/// A shared message as the bytes of a NATS payload, without a copy.
struct SharedText(Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}
