//! A lab-link server for the server benchmark (`benches/server.rs`), also
//! usable on its own: it serves a small derived state (four channels and an
//! acquisition block) on `127.0.0.1` at an ephemeral port and prints
//! `listening on ADDR` and `pid PID` on stdout.
//!
//! ```text
//! cargo run --release -p lab-link --example bench_server
//! ```
//!
//! Clients can send one command, `set_channel` (`{"channel": 0, "value":
//! 1.25}`): it sets that channel's bias voltage, rounded to millivolts, and
//! answers `{"channel": 0, "value": 1.25}`, as the demo's does: the
//! benchmark runs the load generator's scenarios against it.
//!
//! The server shuts down gracefully on SIGTERM, SIGINT, a line `quit` on
//! stdin, or when stdin closes (so that it never outlives the benchmark
//! that started it).
//!
//! The benchmark includes this file as a module (the example binary is not
//! built by `cargo bench`) and runs it in a child process by re-executing
//! itself with `--serve-child`.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use lab_link::command::DisplayHint;
use lab_link::{command, CommandError, LabSync, Reactive, Server};
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

/// The acquisition block.
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

/// Serves [`initial_state`] until SIGTERM, SIGINT, `quit` or the end of
/// stdin.
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
            .bind(sync, "127.0.0.1:0"),
    )?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {}", server.local_addr())?;
        writeln!(out, "pid {}", std::process::id())?;
        out.flush()?;
    }
    // Blocking stdin on a thread of its own; it is not joined, since it may
    // still be blocked in a read when a signal ends the server.
    std::thread::Builder::new()
        .name("bench-stdin".to_owned())
        .spawn(move || {
            wait_for_quit();
            let _ = stop.send(());
        })?;
    runtime.block_on(server.run());
    Ok(())
}

/// Reads stdin until `quit` or its end.
fn wait_for_quit() {
    for line in io::stdin().lock().lines() {
        match line {
            Ok(line) if line.trim() == "quit" => return,
            Ok(_) => {}
            Err(_) => return,
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
