//! A lab-link server for the server benchmark (`benches/server.rs`), also
//! usable on its own: it serves a small derived state (four channels and an
//! acquisition block) on `127.0.0.1` at an ephemeral port, prints
//! `listening on ADDR` and `pid PID` on stdout, and commits mutations when
//! asked on stdin.
//!
//! ```text
//! cargo run --release -p lab-link --example bench_server
//! ```
//!
//! Commands on stdin, one per line (the answer is one line on stdout):
//!
//! - `commit M PACE_US`: commits M single-field mutations, each setting
//!   `/acquisition/stamp_ns` to the wall-clock time in nanoseconds (kept
//!   strictly increasing, so that every mutation commits a version), one
//!   every PACE_US microseconds (0: as fast as possible). Answers
//!   `committed M FIRST_NS LAST_NS VERSION`: the stamps of the first and the
//!   last mutation and the version after the last.
//! - `stream N`: publishes N frames of [`TRACE_SAMPLES`] float32 samples on
//!   the replace stream `trace` (a `replace_stream_f32`), as fast as
//!   possible; the frame of seq S holds the samples `S - 1 + i`. The
//!   stream is registered by the first `stream` command, not at start: a
//!   stream's snapshot goes to every client on connect, and the patch
//!   scenarios' clients expect patches only. Answers `streamed N FIRST_NS
//!   LAST_NS SEQ PENDING PEAK_QUEUED FELL_BEHIND`: the wall-clock times
//!   before the first frame and after the last, the stream's seq, and the
//!   server's client backlog right after the last frame (the replace
//!   frames held outside full queues, latest wins; the largest queue
//!   peak; how often queues overflowed).
//! - `quit`: shuts down.
//!
//! Clients can send one command, `set_channel` (`{"channel": 0, "value":
//! 1.25}`): it sets that channel's bias voltage, rounded to millivolts, and
//! answers `{"channel": 0, "value": 1.25}`, as the demo's does: the
//! benchmark runs the load generator's command scenarios against it.
//!
//! The server shuts down gracefully on SIGTERM, SIGINT, `quit`, or when
//! stdin closes (so that it never outlives the benchmark that started it).
//!
//! The benchmark includes this file as a module (the example binary is not
//! built by `cargo bench`) and runs it in a child process by re-executing
//! itself with `--serve-child`.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lab_link::command::DisplayHint;
use lab_link::engine::stream::{ReplaceStream, F32};
use lab_link::{command, CommandError, LabSync, Reactive, Routes, Server};
use serde::Serialize;
use serde_json::{json, Value};

fn main() -> ExitCode {
    run()
}

/// One channel of the instrument.
#[derive(Reactive, Serialize, Clone, Debug)]
pub(crate) struct Channel {
    name: String,
    #[reactive(range = -10.0..=10.0)]
    bias_voltage: f64,
    active: bool,
}

/// The acquisition block; `stamp_ns` is the field the benchmark writes.
#[derive(Reactive, Serialize, Clone, Debug)]
pub(crate) struct Acquisition {
    running: bool,
    rate_hz: f64,
    count: u64,
    stamp_ns: u64,
}

/// The served state.
#[derive(Reactive, Serialize, Clone, Debug)]
pub(crate) struct AppState {
    enabled: bool,
    channels: Vec<Channel>,
    acquisition: Acquisition,
}

/// A small state: four channels.
pub(crate) fn initial_state() -> AppState {
    AppState {
        enabled: true,
        channels: (0..4)
            .map(|i| Channel {
                name: format!("ch{i}"),
                bias_voltage: 0.0,
                active: i % 2 == 0,
            })
            .collect(),
        acquisition: Acquisition {
            running: false,
            rate_hz: 10.0,
            count: 0,
            stamp_ns: 0,
        },
    }
}

/// Set one channel's bias voltage, rounded to millivolts.
#[command]
pub(crate) fn set_channel(
    sync: LabSync<AppState>,
    channel: usize,
    value: f64,
) -> Result<Value, CommandError> {
    if channel >= sync.read().channels.len() {
        return Err(CommandError::new("out_of_range", "No such channel.")
            .display(DisplayHint::Inline)
            .path(format!("/channels/{channel}")));
    }
    let rounded = (value * 1000.0).round() / 1000.0;
    // A value outside -10..=10 is refused as `invalid_value`.
    sync.try_mutate(|s| s.channels().at(channel)?.set_bias_voltage(rounded))?;
    Ok(json!({"channel": channel, "value": rounded}))
}

/// [`initial_state`], with [`set_channel`] registered.
pub(crate) fn new_sync() -> LabSync<AppState> {
    let sync = LabSync::new(initial_state());
    sync.command(set_channel);
    sync
}

/// The wall-clock time in nanoseconds since the Unix epoch: comparable
/// across processes on one machine, unlike `Instant`.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// What [`commit`] did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Commits {
    /// The stamp of the first mutation.
    pub(crate) first_ns: u64,
    /// The stamp of the last mutation.
    pub(crate) last_ns: u64,
    /// The version after the last commit.
    pub(crate) version: u64,
}

/// Commits `mutations` single-field mutations, one every `pace` (zero: as
/// fast as possible). Each sets `/acquisition/stamp_ns` to the current time, so a
/// receiver can tell how long the patch took to reach it.
pub(crate) fn commit(sync: &LabSync<AppState>, mutations: usize, pace: Duration) -> Commits {
    let started = Instant::now();
    let mut first_ns = 0;
    let mut last_ns = sync.read().acquisition.stamp_ns;
    for index in 0..mutations {
        if !pace.is_zero() {
            // An absolute schedule: a late commit does not delay the rest.
            let due = started + pace * u32::try_from(index).unwrap_or(u32::MAX);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let stamp = now_ns().max(last_ns + 1);
        sync.try_mutate(|s| s.acquisition().set_stamp_ns(stamp))
            .expect("stamp_ns has no constraint");
        if index == 0 {
            first_ns = stamp;
        }
        last_ns = stamp;
    }
    Commits {
        first_ns,
        last_ns,
        version: sync.version(),
    }
}

/// Samples per frame of the `trace` stream.
pub(crate) const TRACE_SAMPLES: usize = 4096;

/// What [`stream`] did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Streamed {
    /// The wall-clock time before the first frame.
    pub(crate) first_ns: u64,
    /// The wall-clock time after the last frame.
    pub(crate) last_ns: u64,
    /// The stream's seq after the last frame.
    pub(crate) seq: u64,
}

/// Publishes `frames` frames on `trace` as fast as possible; the frame of
/// seq S holds the samples `S - 1 + i`.
pub(crate) fn stream(trace: &ReplaceStream<F32>, frames: usize) -> Streamed {
    let start = trace.snapshot().seq();
    let first_ns = now_ns();
    for seq in (start..).take(frames) {
        let base = seq as f32;
        trace.replace((0..TRACE_SAMPLES).map(|i| base + i as f32));
    }
    let last_ns = now_ns();
    Streamed {
        first_ns,
        last_ns,
        seq: trace.snapshot().seq(),
    }
}

/// Serves [`initial_state`] until SIGTERM, SIGINT, `quit` or the end of
/// stdin; commits on request (see the module documentation).
pub(crate) fn run() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("lab-server")
        .enable_all()
        .build()?;
    let sync = new_sync();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.block_on(
        Server::builder()
            .shutdown_signal(async move {
                tokio::select! {
                    // Sent by `quit`, or dropped at the end of stdin.
                    _ = stopped => {}
                    () = terminated() => {}
                }
            })
            .bind(sync.clone(), "127.0.0.1:0"),
    )?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {}", server.local_addr())?;
        writeln!(out, "pid {}", std::process::id())?;
        out.flush()?;
    }
    // Blocking stdin on a thread of its own; it is not joined, since it may
    // still be blocked in a read when a signal ends the server.
    let routes = server.routes().clone();
    std::thread::Builder::new()
        .name("bench-driver".to_owned())
        .spawn(move || {
            answer_commands(&sync, &routes);
            let _ = stop.send(());
        })?;
    runtime.block_on(server.run());
    Ok(())
}

/// Reads commands until `quit` or the end of stdin.
fn answer_commands(sync: &LabSync<AppState>, routes: &Routes) {
    let mut trace = None;
    let stdin = io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return };
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["quit"] => return,
            ["commit", mutations, pace_us] => {
                match (mutations.parse::<usize>(), pace_us.parse::<u64>()) {
                    (Ok(mutations), Ok(pace_us)) => {
                        let done = commit(sync, mutations, Duration::from_micros(pace_us));
                        format!(
                            "committed {mutations} {} {} {}",
                            done.first_ns, done.last_ns, done.version
                        )
                    }
                    _ => format!("error: bad numbers in {line:?}"),
                }
            }
            ["stream", frames] => match frames.parse::<usize>() {
                Ok(frames) => {
                    let trace = trace.get_or_insert_with(|| sync.replace_stream_f32("trace"));
                    let done = stream(trace, frames);
                    let clients = routes.clients();
                    let pending: usize = clients.iter().map(|c| c.pending_frames).sum();
                    let peak = clients.iter().map(|c| c.peak_queued).max().unwrap_or(0);
                    let fell_behind: u64 = clients.iter().map(|c| c.fell_behind).sum();
                    format!(
                        "streamed {frames} {} {} {} {pending} {peak} {fell_behind}",
                        done.first_ns, done.last_ns, done.seq
                    )
                }
                Err(_) => format!("error: bad number in {line:?}"),
            },
            _ => format!("error: unknown command {line:?} (commit M PACE_US | stream N | quit)"),
        };
        let mut out = io::stdout().lock();
        if writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Completes on SIGTERM or SIGINT.
#[cfg(unix)]
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
async fn terminated() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
