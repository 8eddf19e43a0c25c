//! The server under load, as `cargo bench` runs it: a thin driver over the
//! load generator's library (`lab-link-loadgen`), so the clients, the
//! correctness checks and the figures are those of `cargo xtask bench` and
//! of the book's chapter "Performance", with no second copy of them here.
//!
//! Each scenario starts the server of `examples/bench_server.rs` (a small
//! derived state with the demo's `set_channel` command) in a child
//! process, runs one load-generator scenario against it, and stops it:
//!
//! | this bench's scenario | load generator scenario | sizes |
//! |---|---|---|
//! | `fan_out` | `fan_out` | `--clients` subscribers |
//! | `fan_out_paced` | `fan_out_paced` | `--clients` subscribers, one command per `--pace-us` |
//! | `idle_memory` | `connect_storm` | `--idle` connections |
//! | `slow_consumer` | `slow_consumer` | `--mutations` patches |
//! | `command_rtt_1`, `command_rtt_16` | `command_rtt` | 1 and 16 clients, `--commands` each |
//!
//! The rest of the sizes are the load generator's quick sizes (its tiny
//! ones in a quick run). The stream scenario needs the demo's acquisition:
//! `cargo xtask bench` runs it against the demo. The results are printed
//! as the load generator's table and, with `--bench`, written as JSON to
//! `target/bench/server.json`.
//!
//! The child process is this binary run with `--serve-child`, which runs
//! `examples/bench_server.rs` (included below as a module): `cargo bench`
//! does not build examples, and this way the child is always the same
//! build.
//!
//! # Arguments
//!
//! `cargo xtask bench` passes the same arguments to every bench binary, so
//! this one accepts divan's command line and ignores what it does not use:
//!
//! - `FILTER…`: run the scenarios whose name contains one of the filters
//!   (`--exact`: equals); none given: all. A filter that names no scenario
//!   (say `store`, meant for the divan benches) runs none.
//! - `--skip FILTER`: skip the scenarios whose name contains FILTER.
//! - `--list`: list the scenarios.
//! - `--bench` (`cargo bench` passes it): full sizes, and the table is
//!   written to `target/bench/server.json`. Without it (`cargo test
//!   --benches`) or with `--test`, a quick run with small sizes checks that
//!   every scenario works, and no JSON is written.
//! - `--clients N`, `--mutations M`, `--idle N`, `--pace-us US`,
//!   `--commands C`: the sizes (defaults 100, 2000, 500, 1000, 2000). These
//!   are this binary's own, so pass them with `cargo bench -p lab-link
//!   --bench server -- --clients 50`, not through `cargo xtask bench` (the
//!   divan benches refuse them).
//! - Any other `--option` is ignored; divan's options that take a value
//!   (`--sample-count 10`, …) are skipped with their value.
//!
//! Exits non-zero when a scenario found the server wrong or could not run.
//!
//! Linux only: CPU time and memory come from `/proc`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::time::Duration;

use lab_link_loadgen::client::Target;
use lab_link_loadgen::procfs::Probe;
use lab_link_loadgen::report::{Report, ScenarioResult};
use lab_link_loadgen::scenario::{self, Context, Sizes};

// The example's `main` is unused here: the child runs `bench_server::run`.
#[allow(dead_code)]
#[path = "../examples/bench_server.rs"]
mod bench_server;

/// The scenarios, in the order they run, with the load generator's name
/// for each.
const SCENARIOS: [(&str, &str); 6] = [
    ("fan_out", "fan_out"),
    ("fan_out_paced", "fan_out_paced"),
    ("idle_memory", "connect_storm"),
    ("slow_consumer", "slow_consumer"),
    ("command_rtt_1", "command_rtt"),
    ("command_rtt_16", "command_rtt"),
];

/// divan's options that take a value: skipped with it.
const DIVAN_VALUE_OPTIONS: [&str; 15] = [
    "--color",
    "--sort",
    "--sortr",
    "--timer",
    "--sample-count",
    "--sample-size",
    "--threads",
    "--min-time",
    "--max-time",
    "--items-count",
    "--bytes-count",
    "--chars-count",
    "--cycles-count",
    "--bytes-format",
    "--format",
];

/// How long the child server may take to say where it listens.
const STARTUP: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--serve-child") {
        return bench_server::run();
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("server bench: {message}");
            return ExitCode::FAILURE;
        }
    };
    if options.list {
        for (scenario, _) in SCENARIOS {
            println!("{scenario}: bench");
        }
        return ExitCode::SUCCESS;
    }
    let selected: Vec<(&str, &str)> = SCENARIOS
        .into_iter()
        .filter(|(name, _)| options.selects(name))
        .collect();
    if selected.is_empty() {
        let names: Vec<&str> = SCENARIOS.iter().map(|(name, _)| *name).collect();
        println!("server bench: no scenario matches the filters (scenarios: {names:?})");
        return ExitCode::SUCCESS;
    }
    if !options.bench {
        println!("server bench: quick test run (pass --bench, as `cargo bench` does, for the full sizes)");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("server bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut report = Report {
        label: "bench_server".to_owned(),
        ..Report::default()
    };
    let mut broken = false;
    for (name, loadgen_name) in selected {
        match run_scenario(&runtime, &options, name, loadgen_name) {
            Ok(result) => report.merge(result),
            Err(message) => {
                eprintln!("server bench: {name}: {message}");
                broken = true;
            }
        }
    }
    print!("{}", report.table());
    if options.bench {
        match write_json(&report) {
            Ok(path) => println!("written to {}", path.display()),
            Err(e) => {
                eprintln!("server bench: could not write the JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // The clients' sockets may hold the runtime up; do not wait for them.
    runtime.shutdown_background();
    if broken || !report.ok() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs one load-generator scenario against a fresh child server.
fn run_scenario(
    runtime: &tokio::runtime::Runtime,
    options: &Options,
    name: &str,
    loadgen_name: &str,
) -> Result<ScenarioResult, String> {
    let base = if options.bench {
        Sizes::quick()
    } else {
        Sizes::tiny()
    };
    let rtt_clients = match name {
        "command_rtt_1" => 1,
        "command_rtt_16" => 16,
        _ => base.rtt_clients,
    };
    let sizes = Sizes {
        subscribers: options.clients,
        rate: 1e6 / options.pace_us.max(1) as f64,
        rtt_clients,
        rtt_commands: options.commands,
        slow_patches: options.mutations,
        storm_clients: options.idle,
        ..base
    };
    let server = ChildServer::spawn()?;
    let context = Context {
        target: Target::parse(&format!("http://{}/sync", server.addr))
            .map_err(|e| e.to_string())?,
        probe: Probe::new(server.pid),
        sizes,
    };
    let outcome = runtime
        .block_on(scenario::run(&context, loadgen_name))
        .map_err(|e| e.to_string());
    let stopped = server.stop();
    let mut result = outcome?;
    stopped?;
    result.scenario = name.to_owned();
    Ok(result)
}

/// Writes the report to `target/bench/server.json`.
fn write_json(report: &Report) -> std::io::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let directory = target.join("bench");
    std::fs::create_dir_all(&directory)?;
    let path = directory.join("server.json");
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(&path, text + "\n")?;
    Ok(path.canonicalize().unwrap_or(path))
}

/// The command line: see the module documentation.
#[derive(Debug)]
struct Options {
    bench: bool,
    list: bool,
    exact: bool,
    filters: Vec<String>,
    skips: Vec<String>,
    clients: usize,
    mutations: usize,
    idle: usize,
    pace_us: u64,
    commands: usize,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut bench = false;
        let mut test = false;
        let mut list = false;
        let mut exact = false;
        let mut filters = Vec::new();
        let mut skips = Vec::new();
        let mut sizes: BTreeMap<&str, u64> = BTreeMap::new();
        let mut args = args.iter().map(String::as_str).peekable();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value)),
                _ => (arg, None),
            };
            let mut value = |what: &str| {
                inline
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{what} needs a value"))
            };
            match name {
                "--bench" => bench = true,
                "--test" => test = true,
                "--list" => list = true,
                "--exact" => exact = true,
                "--skip" => skips.push(value(name)?.to_owned()),
                "--clients" | "--mutations" | "--idle" | "--pace-us" | "--commands" => {
                    let text = value(name)?;
                    let number = text
                        .parse()
                        .map_err(|_| format!("{name} takes a number, not {text:?}"))?;
                    sizes.insert(name, number);
                }
                _ if DIVAN_VALUE_OPTIONS.contains(&name) => {
                    value(name)?;
                }
                "--skip-ext-time" => {
                    if inline.is_none() && matches!(args.peek(), Some(&("true" | "false"))) {
                        args.next();
                    }
                }
                _ if name.starts_with('-') => {}
                _ => filters.push(arg.to_owned()),
            }
        }
        let bench = bench && !test;
        let size = |name: &str, full: u64, quick: u64| {
            let chosen = sizes
                .get(name)
                .copied()
                .unwrap_or(if bench { full } else { quick });
            usize::try_from(chosen).map_err(|_| format!("{name} is too large"))
        };
        Ok(Self {
            bench,
            list,
            exact,
            filters,
            skips,
            clients: size("--clients", 100, 10)?.max(2),
            mutations: size("--mutations", 2000, 50)?.max(1),
            idle: size("--idle", 500, 20)?.max(1),
            commands: size("--commands", 2000, 20)?.max(1),
            pace_us: sizes
                .get("--pace-us")
                .copied()
                .unwrap_or(if bench { 1000 } else { 2000 }),
        })
    }

    fn selects(&self, scenario: &str) -> bool {
        let matches = |filter: &String| {
            if self.exact {
                scenario == filter
            } else {
                scenario.contains(filter.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self
                .skips
                .iter()
                .any(|skip| scenario.contains(skip.as_str()))
    }
}

/// `examples/bench_server.rs` in a child process. Its stdin is kept open
/// while it serves: the child shuts down when it closes.
struct ChildServer {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: std::net::SocketAddr,
    pid: u32,
}

impl ChildServer {
    fn spawn() -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("no current exe: {e}"))?;
        let mut child = Command::new(exe)
            .arg("--serve-child")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the child server: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout of the child")?;
        let (sender, lines) = std::sync::mpsc::channel();
        // Ends with the child's stdout.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let line = || {
            lines
                .recv_timeout(STARTUP)
                .map_err(|_| format!("the child server said nothing within {STARTUP:?}"))
        };
        let listening = line()?;
        let addr = listening
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| format!("unexpected first line of the child: {listening:?}"))?;
        let pid_line = line()?;
        let pid = pid_line
            .strip_prefix("pid ")
            .and_then(|pid| pid.parse().ok())
            .ok_or_else(|| format!("unexpected second line of the child: {pid_line:?}"))?;
        Ok(Self {
            child,
            stdin,
            addr,
            pid,
        })
    }

    /// Closes stdin (the child shuts down gracefully) and waits for it;
    /// kills it after 10 s.
    fn stop(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        for _ in 0..500 {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("the child server exited with {status}")),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("cannot wait for the child server: {e}")),
            }
        }
        Err("the child server did not stop within 10 s of its stdin closing: killed".to_owned())
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
