//! The two client roles the scenarios share: a subscriber that reads and
//! checks every frame (cheaply, or fully when sampled), and a driver that
//! sends `set_channel` commands with a window of them in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::{watch, Semaphore};
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Replica, Target, Ws};
use crate::report::ScenarioResult;
use crate::scan::{self, Kind, SeqTrack, VersionTrack};
use crate::stats::Latencies;
use crate::{Error, Result};

/// How long a driver waits without any answer before it gives up: a
/// server that a slow client blocks stops answering everyone.
const STALL: Duration = Duration::from_secs(15);

/// The final version of a run, once known (`u64::MAX` before).
pub(super) type Stop = watch::Receiver<u64>;

/// The `requestId` of command `seq` sent `sent_ns` after `base`.
pub(super) fn request_id(seq: u64, sent_ns: u64) -> String {
    format!("{seq}:{sent_ns}")
}

/// The sending time in a [`request_id`].
pub(super) fn sent_ns(request_id: &str) -> Option<u64> {
    request_id.split_once(':')?.1.parse().ok()
}

/// Nanoseconds since `base`.
pub(super) fn since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// One reading client and what it saw.
#[derive(Debug, Default)]
pub(super) struct Subscriber {
    /// Its patch versions.
    pub(super) track: VersionTrack,
    /// The full replica of a sampled subscriber.
    pub(super) replica: Option<Replica>,
    /// Command-to-delivery latencies (patches with our `requestId`).
    pub(super) latencies: Latencies,
    /// Seqs per stream id.
    pub(super) streams: HashMap<String, SeqTrack>,
    /// Stream messages received (snapshots not counted).
    pub(super) stream_messages: u64,
    /// When the last patch or stream message came.
    pub(super) last_delivery: Option<Instant>,
    /// Whether the server closed the socket.
    pub(super) closed: bool,
    /// Whether it gave up waiting for the final version.
    pub(super) timed_out: bool,
    /// A socket error, if one ended it.
    pub(super) error: Option<String>,
}

impl Subscriber {
    /// Connects and reads up to and including the snapshot.
    pub(super) async fn connect(
        target: &Target,
        sampled: bool,
        recv_buffer: Option<u32>,
    ) -> Result<(Ws, Self)> {
        let mut ws = target.connect(recv_buffer).await?;
        let mut subscriber = Self {
            replica: sampled.then(Replica::default),
            ..Self::default()
        };
        let base = Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while subscriber.track.first_snapshot.is_none() {
            let message = tokio::time::timeout_at(deadline, ws.next())
                .await
                .map_err(|_| Error::Timeout("waiting for the snapshot".to_owned()))?;
            match message {
                Some(Ok(message)) => subscriber.handle(&message, base),
                Some(Err(source)) => {
                    return Err(Error::WebSocket {
                        context: "reading the snapshot".to_owned(),
                        source: Box::new(source),
                    })
                }
                None => return Err(Error::Protocol("closed before the snapshot".to_owned())),
            }
        }
        Ok((ws, subscriber))
    }

    /// Reads until the final version (from `stop`) has arrived, the socket
    /// closes, or `deadline`.
    pub(super) async fn run(
        mut self,
        mut ws: Ws,
        mut stop: Stop,
        base: Instant,
        deadline: tokio::time::Instant,
    ) -> Self {
        let timeout = sleep_until(deadline);
        tokio::pin!(timeout);
        loop {
            if self.track.last().is_some_and(|last| last >= *stop.borrow()) {
                break;
            }
            tokio::select! {
                message = ws.next() => match message {
                    Some(Ok(message)) => {
                        if matches!(message, Message::Close(_)) {
                            self.closed = true;
                            break;
                        }
                        self.handle(&message, base);
                    }
                    Some(Err(error)) => {
                        self.closed = true;
                        self.error = Some(error.to_string());
                        break;
                    }
                    None => {
                        self.closed = true;
                        break;
                    }
                },
                changed = stop.changed() => {
                    if changed.is_err() {
                        // The scenario gave up (its driver failed).
                        break;
                    }
                }
                () = &mut timeout => {
                    self.timed_out = true;
                    break;
                }
            }
        }
        self
    }

    /// Handles one frame.
    pub(super) fn handle(&mut self, message: &Message, base: Instant) {
        match message {
            Message::Text(text) => self.handle_text(text.as_str(), base),
            Message::Binary(frame) => match scan::binary_frame(frame) {
                Some((id, seq)) => self.stream_update(id, seq, true),
                None => self.error = Some("a malformed binary frame".to_owned()),
            },
            _ => {}
        }
    }

    fn handle_text(&mut self, text: &str, base: Instant) {
        if let Some(replica) = &mut self.replica {
            replica.handle_text(text);
        }
        match scan::kind(text) {
            Kind::Patch => {
                if let Some(version) = scan::version(text) {
                    // Disorders are counted in the track.
                    let _ = self.track.patch(version);
                }
                if let Some(sent) = scan::request_id(text).and_then(sent_ns) {
                    self.latencies.record_ns(since(base).saturating_sub(sent));
                }
                self.last_delivery = Some(Instant::now());
            }
            Kind::Snapshot | Kind::Resume => {
                if let Some(version) = scan::version(text) {
                    self.track.snapshot(version);
                }
            }
            Kind::StreamSnapshot => {
                if let (Some(id), Some(seq)) = (scan::stream_id(text), scan::seq(text)) {
                    self.streams.entry(id.to_owned()).or_default().snapshot(seq);
                }
            }
            Kind::StreamAppend | Kind::StreamDelta | Kind::StreamReplace => {
                let may_skip = scan::kind(text) == Kind::StreamReplace;
                if let (Some(id), Some(seq)) = (scan::stream_id(text), scan::seq(text)) {
                    self.stream_update(id, seq, may_skip);
                }
            }
            Kind::Ack | Kind::CommandError | Kind::Other => {}
        }
    }

    fn stream_update(&mut self, id: &str, seq: u64, may_skip: bool) {
        self.stream_messages += 1;
        self.last_delivery = Some(Instant::now());
        match self.streams.get_mut(id) {
            Some(track) => track.update(seq, may_skip),
            None => self
                .streams
                .entry(id.to_owned())
                .or_default()
                .update(seq, may_skip),
        }
    }

    /// Records in `result` patches out of order, if any.
    pub(super) fn verify_order(&self, who: &str, result: &mut ScenarioResult) {
        if let Some(disorder) = &self.track.first_disorder {
            result.fail(format!(
                "{who}: {} patches out of order (first: {disorder})",
                self.track.disorders
            ));
        }
    }

    /// Records in `result` what was wrong with this subscriber: disorder,
    /// not reaching `final_version`, a replica unlike `state`.
    pub(super) fn verify(
        &mut self,
        who: &str,
        final_version: u64,
        state: &Value,
        result: &mut ScenarioResult,
    ) {
        self.verify_order(who, result);
        let last = self.track.last().unwrap_or(0);
        if last < final_version {
            let why = if self.timed_out {
                "timed out"
            } else if self.closed {
                "closed"
            } else {
                "stopped"
            };
            result.fail(format!(
                "{who}: {why} at v{last}, before the final v{final_version}{}",
                self.error
                    .as_ref()
                    .map_or_else(String::new, |e| format!(" ({e})"))
            ));
        }
        if let Some(replica) = &mut self.replica {
            replica.check_against(state);
            for problem in &replica.problems {
                result.fail(format!("{who} (full replica): {problem}"));
            }
        }
    }
}

/// What a driver did.
#[derive(Debug, Default)]
pub(super) struct Driven {
    /// Commands sent.
    pub(super) sent: u64,
    /// Commands acked.
    pub(super) acked: u64,
    /// `command_error`s (the first few).
    pub(super) errors: Vec<String>,
    /// The largest ack version.
    pub(super) final_version: u64,
    /// The driver's own patch versions (it is a subscriber too).
    pub(super) track: VersionTrack,
    /// When the first command went out.
    pub(super) started: Option<Instant>,
    /// When the last command went out.
    pub(super) stopped: Option<Instant>,
    /// Why it stopped early (the server stopped answering, a socket
    /// error).
    pub(super) failure: Option<String>,
}

/// How a driver paces its commands.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    /// Stop after this many commands.
    pub(super) count: Option<u64>,
    /// Stop sending after this long.
    pub(super) duration: Option<Duration>,
    /// Commands per second (none: as fast as the window allows).
    pub(super) rate: Option<f64>,
    /// Commands in flight at most.
    pub(super) window: usize,
}

/// Sends `set_channel` commands on `ws` (which has had its snapshot, at
/// the start of `track`) as `pace` says, each to channel `seq % 4` with a value that differs from
/// the previous one, and waits for every answer until `deadline`.
pub(super) async fn drive(
    ws: Ws,
    track: VersionTrack,
    pace: Pace,
    base: Instant,
    deadline: tokio::time::Instant,
) -> Driven {
    let (mut sink, mut stream) = ws.split();
    let window = Arc::new(Semaphore::new(pace.window));
    let answered = Arc::new(AtomicU64::new(0));
    let reader_answered = answered.clone();
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let reader_window = window.clone();
    let reader = tokio::spawn(async move {
        let mut driven = Driven {
            track,
            ..Driven::default()
        };
        loop {
            let message = tokio::select! {
                message = stream.next() => message,
                _ = &mut done_rx => break,
            };
            let Some(Ok(message)) = message else { break };
            let Message::Text(text) = message else {
                continue;
            };
            let text = text.as_str();
            match scan::kind(text) {
                Kind::Patch => {
                    if let Some(version) = scan::version(text) {
                        let _ = driven.track.patch(version);
                    }
                }
                Kind::Ack => {
                    driven.acked += 1;
                    let version = scan::version(text).unwrap_or(0);
                    driven.final_version = driven.final_version.max(version);
                    reader_answered.fetch_add(1, Ordering::Relaxed);
                    reader_window.add_permits(1);
                }
                Kind::CommandError => {
                    if driven.errors.len() < 5 {
                        driven.errors.push(text.chars().take(200).collect());
                    }
                    reader_answered.fetch_add(1, Ordering::Relaxed);
                    reader_window.add_permits(1);
                }
                _ => {}
            }
        }
        driven
    });
    let started = Instant::now();
    let start = tokio::time::Instant::now();
    let mut sent = 0u64;
    let mut failure = None;
    loop {
        if pace.count.is_some_and(|count| sent >= count)
            || pace.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        if let Some(rate) = pace.rate {
            // An absolute schedule: a late command does not delay the rest.
            sleep_until(start + Duration::from_secs_f64(sent as f64 / rate)).await;
        }
        let wait = acquire(&window, 1, &answered, deadline).await;
        if wait != Wait::Done {
            failure = Some(format!(
                "the server fell behind: {} ({sent} commands sent, {} answered)",
                wait.why(),
                answered.load(Ordering::Relaxed)
            ));
            break;
        }
        // The reader returns the permit when the answer comes.
        let id = request_id(sent, since(base));
        let params = client::set_channel_params((sent % 4) as usize, sent);
        if let Err(error) = client::send_command(&mut sink, "set_channel", params, &id).await {
            failure = Some(error.to_string());
            break;
        }
        sent += 1;
    }
    let stopped = Instant::now();
    // Every permit back: every command answered.
    let wait = if failure.is_some() {
        Wait::Done
    } else {
        acquire(&window, pace.window as u32, &answered, deadline).await
    };
    let _ = done_tx.send(());
    let mut driven = match reader.await {
        Ok(driven) => driven,
        Err(error) => Driven {
            failure: Some(format!("the driver's reader failed: {error}")),
            ..Driven::default()
        },
    };
    driven.sent = sent;
    driven.started = Some(started);
    driven.stopped = Some(stopped);
    if wait != Wait::Done {
        failure = Some(format!(
            "the server fell behind: {}, {} of {sent} commands unanswered",
            wait.why(),
            sent.saturating_sub(answered.load(Ordering::Relaxed))
        ));
    }
    driven.failure = driven.failure.or(failure);
    driven
}

/// Why a driver stopped waiting for answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// The permits were taken.
    Done,
    /// No answer came for [`STALL`].
    Stalled,
    /// The scenario's deadline passed while answers still came.
    Deadline,
}

impl Wait {
    fn why(self) -> &'static str {
        match self {
            Self::Done => "",
            Self::Stalled => "no answer for 15 s",
            Self::Deadline => "still answering at the scenario's deadline",
        }
    }
}

/// Takes `permits` from `window` (and forgets them: the reader gives them
/// back as answers come).
async fn acquire(
    window: &Semaphore,
    permits: u32,
    answered: &AtomicU64,
    deadline: tokio::time::Instant,
) -> Wait {
    loop {
        let before = answered.load(Ordering::Relaxed);
        let until = deadline.min(tokio::time::Instant::now() + STALL);
        match tokio::time::timeout_at(until, window.acquire_many(permits)).await {
            Ok(Ok(permit)) => {
                permit.forget();
                return Wait::Done;
            }
            Ok(Err(_)) => return Wait::Stalled,
            Err(_) if answered.load(Ordering::Relaxed) == before => return Wait::Stalled,
            Err(_) if tokio::time::Instant::now() >= deadline => return Wait::Deadline,
            Err(_) => {}
        }
    }
}

/// Sends one command and waits for its answer, skipping other frames.
/// Returns the ack's version.
pub(super) async fn command(
    ws: &mut Ws,
    command: &str,
    params: Value,
    request_id: &str,
) -> Result<u64> {
    client::send_command(ws, command, params, request_id).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| Error::Timeout(format!("no answer to {command}")))?;
        let Some(Ok(Message::Text(text))) = message else {
            if message.is_none() || matches!(message, Some(Err(_))) {
                return Err(Error::Protocol(format!(
                    "closed while waiting for {command}"
                )));
            }
            continue;
        };
        let text = text.as_str();
        if scan::request_id(text) != Some(request_id) {
            continue;
        }
        match scan::kind(text) {
            Kind::Ack => return Ok(scan::version(text).unwrap_or(0)),
            Kind::CommandError => {
                return Err(Error::Protocol(format!(
                    "{command} failed: {}",
                    text.chars().take(200).collect::<String>()
                )))
            }
            _ => {}
        }
    }
}

/// The version of the state now: the ack version of a fence command
/// (`set_channel` on channel 0 to 10 V, a value no driver sends; the ack
/// carries the document's version whether or not it changed anything),
/// so that every reader knows the version to wait for.
pub(super) async fn fence(ws: &mut Ws, seq: u64) -> Result<u64> {
    let params = serde_json::json!({"channel": 0, "value": 10.0});
    command(ws, "set_channel", params, &format!("fence-{seq}")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_carry_the_sending_time() {
        assert_eq!(sent_ns(&request_id(7, 123_456)), Some(123_456));
        assert_eq!(sent_ns("r7"), None);
        assert_eq!(sent_ns("fence-3"), None);
    }
}
