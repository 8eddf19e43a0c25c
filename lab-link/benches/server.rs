//! The server under load: how fast one commit reaches many WebSocket
//! clients, what an idle connection costs, and what a client that stops
//! reading does to the others. A plain `main` (not divan): each scenario
//! runs once and adds lines to one table, printed at the end and written as
//! JSON to `target/bench/server.json`.
//!
//! The state is the small derived state of `examples/bench_server.rs`
//! (four channels); every mutation sets one field, `/acquisition/stamp_ns`,
//! to the wall-clock time of the commit, so a client reads its latency off
//! the patch itself. Clients are tokio-tungstenite clients that apply every
//! patch to their replica with `lab_link::engine::apply`.
//!
//! Scenarios (the names are filters):
//!
//! - `fan_out`: the server in this process; 100 clients connected and
//!   reading; one driver thread commits 2000 mutations as fast as it can.
//!   Patch deliveries per second (all clients' patches over the time from
//!   the first commit to the last delivery), commit-to-delivery latency,
//!   whether every client got every version once and in order, whether each
//!   final replica equals the state (`sync.snapshot()`), and CPU time per
//!   delivered patch: of the server's runtime threads plus the committing
//!   thread, and of the whole process (the clients run here too).
//! - `fan_out_paced`: the same at one commit per millisecond: a load the
//!   server keeps up with, so every client should get every patch.
//! - `idle_memory`: the server in a child process; 500 idle connections,
//!   each after its snapshot; the child's VmRSS before and after, then
//!   after they closed, and the same again (a second round that needs more
//!   memory than the first would be a leak).
//! - `fan_out_child`, `fan_out_child_paced`, `slow_consumer`,
//!   `command_rtt_1`, `command_rtt_16`: the load generator's scenarios
//!   `fan_out`, `fan_out_paced`, `slow_consumer` and `command_rtt` (with 1
//!   and 16 clients), run through the `lab-link-loadgen` library against
//!   the server in a child process: the same harness `cargo xtask bench`
//!   runs against the demo, so the clients, the checks and the figures
//!   are those of the book's chapter "Performance", with this bench's
//!   sizes (`--clients` subscribers, `--commands` per client, `--mutations`
//!   patches for the slow consumer, `--pace-us` for the paced rate; the
//!   rest the load generator's quick sizes, or its tiny ones in a quick
//!   run). A check the load generator finds failed is a problem. The
//!   filter `command_rtt_1` also selects `command_rtt_16`: add `--exact`.
//! - `stream_replace`: the server in a child process; [`STREAM_CLIENTS`]
//!   clients connected and reading binary frames; the child publishes
//!   `--mutations` frames of [`bench_server::TRACE_SAMPLES`] float32
//!   samples on the replace stream `trace` as fast as it can. Frames
//!   delivered per second and MB/s (all clients' frames over the time from
//!   the first publish to the last delivery), frames received per client,
//!   the server's backlog right after the last publish (replace frames
//!   held outside full queues: latest wins), and the child's CPU time per
//!   delivered frame. A lagging client may skip frames (latest wins, by
//!   design): counted, not failed. Checked: every frame is well formed and
//!   holds the samples of its seq, each client's seqs increase, and every
//!   client's last frame has the last seq.
//!
//! CPU time is the time on CPU of each thread from
//! `/proc/PID/task/*/schedstat`, in nanoseconds: utime + stime of
//! `/proc/PID/stat` count 10 ms ticks, too coarse for a 50 ms burst. Each
//! scenario also reports how many cores other processes kept busy
//! meanwhile (from `/proc/stat`): on a shared machine, latency tails say
//! more about the neighbours than about the server when that is high.
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
//!   written to `target/bench/server.json` (the scenarios of this run only).
//!   Without it (`cargo test --benches`) or with `--test`, a quick run with
//!   small sizes checks that every scenario works, and no JSON is written.
//! - `--clients N`, `--mutations M`, `--idle N`, `--pace-us US`,
//!   `--commands C`: the sizes (defaults 100, 2000, 500, 1000, and 2000
//!   commands per client for `command_rtt_*`). These are this binary's
//!   own, so pass them with `cargo bench -p lab-link --bench server -- --clients 50`, not
//!   through `cargo xtask bench` (the divan benches refuse them).
//! - Any other `--option` is ignored; divan's options that take a value
//!   (`--sample-count 10`, …) are skipped with their value.
//!
//! Exits non-zero when a delivery was wrong: a patch out of order or
//! repeated, a replica that differs from the state, a command whose ack
//! was missing or came before its patch, or a client that failed.
//! A resynchronisation (a fresh snapshot sent to a client that fell more
//! than the queue depth behind) is the server's documented behaviour, so it
//! is counted, not failed.
//!
//! Linux only: CPU time and memory come from `/proc`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lab_link::engine::{apply, PatchOp};
use lab_link::{LabSync, Routes, Server};
use lab_link_loadgen::client::Target;
use lab_link_loadgen::procfs::Probe;
use lab_link_loadgen::scenario::{self, Context, Sizes};
use lab_link_loadgen::stats::Latencies;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

// The example's `main` is unused here: the child runs `bench_server::run`.
#[allow(dead_code)]
#[path = "../examples/bench_server.rs"]
mod bench_server;

use bench_server::{AppState, Commits};

/// The JSON Pointer of the field every mutation of `bench_server` sets.
const STAMP_PATH: &str = "/acquisition/stamp_ns";

/// The scenarios, in the order they run.
const SCENARIOS: [&str; 9] = [
    "fan_out",
    "fan_out_paced",
    "fan_out_child",
    "fan_out_child_paced",
    "idle_memory",
    "slow_consumer",
    "command_rtt_1",
    "command_rtt_16",
    "stream_replace",
];

/// Clients of `stream_replace`.
const STREAM_CLIENTS: usize = 10;

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

/// The longest any client waits for its patches.
const CLIENT_DEADLINE: Duration = Duration::from_secs(30);

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
        for scenario in SCENARIOS {
            println!("{scenario}: bench");
        }
        return ExitCode::SUCCESS;
    }
    let selected: Vec<&str> = SCENARIOS
        .into_iter()
        .filter(|name| options.selects(name))
        .collect();
    if selected.is_empty() {
        println!("server bench: no scenario matches the filters (scenarios: {SCENARIOS:?})");
        return ExitCode::SUCCESS;
    }
    if !options.bench {
        println!("server bench: quick test run (pass --bench, as `cargo bench` does, for the full sizes)");
    }
    println!(
        "server bench: {} clients, {} mutations, {} idle connections, paced at one commit per {} µs, \
         {} commands per command client",
        options.clients, options.mutations, options.idle, options.pace_us, options.commands
    );

    let started = Instant::now();
    let mut table = Table::default();
    for scenario in selected {
        let scenario_started = Instant::now();
        let load_before = Load::now();
        let paced = Duration::from_micros(options.pace_us);
        let table = &mut table;
        let options = &options;
        let result = match scenario {
            "fan_out" => in_process(|host| fan_out(options, table, scenario, host, Duration::ZERO)),
            "fan_out_paced" => in_process(|host| fan_out(options, table, scenario, host, paced)),
            "fan_out_child"
            | "fan_out_child_paced"
            | "slow_consumer"
            | "command_rtt_1"
            | "command_rtt_16" => in_child(|host| load_scenario(options, table, scenario, host)),
            "idle_memory" => in_child(|host| idle_memory(options, table, scenario, host)),
            "stream_replace" => in_child(|host| stream_replace(options, table, scenario, host)),
            _ => unreachable!("every scenario is listed in SCENARIOS"),
        };
        if let Err(message) = result {
            table.problem(scenario, message);
        }
        if let (Some(before), Some(after)) = (load_before, Load::now()) {
            table.add(
                scenario,
                "CPU used by other processes meanwhile (noise)",
                after.others_since(before, scenario_started.elapsed()),
                2,
                "cores",
            );
        }
        eprintln!(
            "server bench: {scenario} took {:.1} s",
            scenario_started.elapsed().as_secs_f64()
        );
    }

    table.print();
    println!(
        "(ran in {:.1} s; clients and server share the machine's {} cores)",
        started.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    if options.bench {
        match table.write_json(&options) {
            Ok(path) => println!("written to {}", path.display()),
            Err(e) => {
                eprintln!("server bench: could not write the JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if table.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
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
    /// Commands per client of `command_rtt_*`, after the warm-up.
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

/// One line of the result.
#[derive(Debug)]
struct Row {
    scenario: &'static str,
    figure: String,
    value: f64,
    decimals: usize,
    unit: String,
}

/// The result: one line per figure, and what went wrong.
#[derive(Debug, Default)]
struct Table {
    rows: Vec<Row>,
    problems: Vec<(&'static str, String)>,
}

impl Table {
    fn add(
        &mut self,
        scenario: &'static str,
        figure: impl Into<String>,
        value: f64,
        decimals: usize,
        unit: impl Into<String>,
    ) {
        self.rows.push(Row {
            scenario,
            figure: figure.into(),
            value,
            decimals,
            unit: unit.into(),
        });
    }

    fn count(&mut self, scenario: &'static str, figure: impl Into<String>, value: usize) {
        self.add(scenario, figure, value as f64, 0, "");
    }

    fn problem(&mut self, scenario: &'static str, message: impl Into<String>) {
        let message = message.into();
        eprintln!("server bench: {scenario}: {message}");
        self.problems.push((scenario, message));
    }

    fn print(&self) {
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|row| {
                [
                    row.scenario.to_owned(),
                    row.figure.clone(),
                    format!("{:.*}", row.decimals, row.value),
                    row.unit.clone(),
                ]
            })
            .collect();
        let header = ["scenario", "figure", "value", "unit"].map(str::to_owned);
        let width = |column: usize| {
            cells
                .iter()
                .chain([&header])
                .map(|cells| cells[column].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths = [width(0), width(1), width(2), width(3)];
        println!();
        for (index, cells) in [&header].into_iter().chain(&cells).enumerate() {
            println!(
                "{:<w0$}  {:<w1$}  {:>w2$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
            );
            if index == 0 {
                println!("{}", "-".repeat(widths.iter().sum::<usize>() + 6));
            }
        }
        for (scenario, message) in &self.problems {
            println!("PROBLEM in {scenario}: {message}");
        }
    }

    fn write_json(&self, options: &Options) -> std::io::Result<PathBuf> {
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
            PathBuf::from,
        );
        let directory = target.join("bench");
        std::fs::create_dir_all(&directory)?;
        let path = directory.join("server.json");
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "scenario": row.scenario,
                    "figure": row.figure,
                    "value": row.value,
                    "unit": row.unit,
                })
            })
            .collect();
        let problems: Vec<Value> = self
            .problems
            .iter()
            .map(|(scenario, message)| json!({"scenario": scenario, "problem": message}))
            .collect();
        let document = json!({
            "bench": "server",
            "clients": options.clients,
            "mutations": options.mutations,
            "idle_connections": options.idle,
            "commands_per_client": options.commands,
            "pace_us": options.pace_us,
            "cores": std::thread::available_parallelism().map_or(1, usize::from),
            "rows": rows,
            "problems": problems,
        });
        let text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
        std::fs::write(&path, text + "\n")?;
        Ok(path.canonicalize().unwrap_or(path))
    }
}

// ---------------------------------------------------------------------------
// Clients

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A server message, as far as the clients read it.
#[derive(Deserialize)]
struct ServerMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    patch: Vec<PatchOp>,
    data: Option<Value>,
    version: Option<u64>,
}

/// What one client received.
#[derive(Debug)]
struct Received {
    replica: Value,
    version: u64,
    /// Patch messages received.
    patches: usize,
    /// Snapshots after the first: resynchronisations.
    resyncs: usize,
    /// Patches whose version was not the previous one plus one.
    disorder: usize,
    /// Commit-to-receipt times, in nanoseconds.
    latencies_ns: Vec<u64>,
    /// Wall-clock time of the last message.
    last_ns: u64,
}

impl Received {
    fn new(replica: Value, version: u64, expected: usize) -> Self {
        Self {
            replica,
            version,
            patches: 0,
            resyncs: 0,
            disorder: 0,
            latencies_ns: Vec::with_capacity(expected),
            last_ns: 0,
        }
    }

    /// Takes one text frame received at `now_ns`.
    fn take(&mut self, now_ns: u64, text: &str) -> Result<(), String> {
        let message: ServerMessage =
            serde_json::from_str(text).map_err(|e| format!("unreadable message: {e}"))?;
        self.take_message(now_ns, message)
    }

    /// Takes one message (a patch or a snapshot) received at `now_ns`.
    fn take_message(&mut self, now_ns: u64, message: ServerMessage) -> Result<(), String> {
        let version = message
            .version
            .ok_or_else(|| format!("a {} message without a version", message.kind))?;
        match message.kind.as_str() {
            "patch" => {
                if version != self.version + 1 {
                    self.disorder += 1;
                }
                let stamp = message.patch.iter().find_map(|op| match op {
                    PatchOp::Replace { path, value } if path.as_str() == STAMP_PATH => {
                        value.as_u64()
                    }
                    _ => None,
                });
                if let Some(stamp) = stamp {
                    self.latencies_ns.push(now_ns.saturating_sub(stamp));
                }
                apply(&mut self.replica, &message.patch)
                    .map_err(|e| format!("patch {version} does not apply: {e}"))?;
                self.patches += 1;
            }
            "snapshot" => {
                if version < self.version {
                    self.disorder += 1;
                }
                self.replica = message.data.ok_or("a snapshot without data")?;
                self.resyncs += 1;
            }
            other => return Err(format!("unexpected {other} message")),
        }
        self.version = version;
        self.last_ns = now_ns;
        Ok(())
    }

    /// Every version once and in order, by patches alone.
    fn complete(&self, mutations: usize) -> bool {
        self.resyncs == 0 && self.disorder == 0 && self.patches == mutations
    }
}

fn client_runtime() -> Result<Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .map_err(|e| format!("no client runtime: {e}"))
}

/// Connects to the sync socket.
async fn connect(addr: SocketAddr) -> Result<Ws, String> {
    let url = format!("ws://{addr}/sync/ws");
    let connecting = async {
        let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
        let stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let (ws, _) = tokio_tungstenite::client_async(url.as_str(), MaybeTlsStream::Plain(stream))
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(ws)
    };
    tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .map_err(|_| format!("connecting to {url} timed out"))?
        .map_err(|e| format!("connecting to {url}: {e}"))
}

/// The next text frame, skipping control frames.
async fn next_text(ws: &mut Ws) -> Result<String, String> {
    // Bounded: control frames are rare (pings every 20 s).
    for _ in 0..1000 {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("closed by the server: {frame:?}"))
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read failed: {e}")),
            None => return Err("the server closed the connection".to_owned()),
        }
    }
    Err("only control frames".to_owned())
}

/// Reads the snapshot every connection starts with.
async fn first_snapshot(ws: &mut Ws, expected: usize) -> Result<Received, String> {
    let text = tokio::time::timeout(Duration::from_secs(10), next_text(ws))
        .await
        .map_err(|_| "no snapshot within 10 s".to_owned())??;
    let message: ServerMessage =
        serde_json::from_str(&text).map_err(|e| format!("unreadable snapshot: {e}"))?;
    match (message.kind.as_str(), message.data, message.version) {
        ("snapshot", Some(data), Some(version)) => Ok(Received::new(data, version, expected)),
        (kind, _, _) => Err(format!("the first message is a {kind}, not a snapshot")),
    }
}

/// Reads until `target` or the deadline.
async fn follow_to(ws: &mut Ws, received: &mut Received, target: u64) -> Result<(), String> {
    let reading = async {
        while received.version < target {
            let text = next_text(ws).await?;
            received.take(bench_server::now_ns(), &text)?;
        }
        Ok::<_, String>(())
    };
    tokio::time::timeout(CLIENT_DEADLINE, reading)
        .await
        .map_err(|_| {
            format!(
                "stopped at version {} of {target} after {CLIENT_DEADLINE:?}",
                received.version
            )
        })?
}

/// One reading client: connects, reports its snapshot's version on
/// `ready`, then reads `mutations` versions further.
async fn reading_client(
    addr: SocketAddr,
    mutations: usize,
    ready: mpsc::Sender<Result<u64, String>>,
) -> Result<Received, String> {
    let start = async {
        let mut ws = connect(addr).await?;
        let received = first_snapshot(&mut ws, mutations).await?;
        Ok::<_, String>((ws, received))
    };
    let (mut ws, mut received) = match start.await {
        Ok(started) => started,
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            return Err(e);
        }
    };
    let target = received.version + mutations as u64;
    let _ = ready.send(Ok(received.version));
    follow_to(&mut ws, &mut received, target).await?;
    Ok(received)
}

/// Reading clients, started and connected.
struct Fleet {
    handles: Vec<tokio::task::JoinHandle<Result<Received, String>>>,
}

impl Fleet {
    /// Starts `clients` reading clients and waits until each has its
    /// snapshot.
    fn start(
        runtime: &Runtime,
        addr: SocketAddr,
        clients: usize,
        mutations: usize,
    ) -> Result<Self, String> {
        let (ready, readiness) = mpsc::channel();
        let handles = (0..clients)
            .map(|_| runtime.spawn(reading_client(addr, mutations, ready.clone())))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut versions = Vec::with_capacity(clients);
        for _ in 0..clients {
            let wait = deadline.saturating_duration_since(Instant::now());
            match readiness.recv_timeout(wait) {
                Ok(Ok(version)) => versions.push(version),
                Ok(Err(e)) => return Err(format!("a client could not start: {e}")),
                Err(_) => return Err("the clients did not all connect within 30 s".to_owned()),
            }
        }
        if versions.iter().any(|&v| v != versions[0]) {
            return Err(format!(
                "the clients started at different versions: {versions:?}"
            ));
        }
        Ok(Self { handles })
    }

    /// Waits for every client's result.
    fn finish(self, runtime: &Runtime) -> Vec<Result<Received, String>> {
        runtime.block_on(async {
            let mut results = Vec::with_capacity(self.handles.len());
            for handle in self.handles {
                results.push(
                    handle
                        .await
                        .unwrap_or_else(|e| Err(format!("panicked: {e}"))),
                );
            }
            results
        })
    }
}

/// The figures of one fan-out, added to the table.
struct FanOut<'a> {
    scenario: &'static str,
    clients: usize,
    mutations: usize,
    commits: Commits,
    results: &'a [Result<Received, String>],
    state: &'a Value,
}

impl FanOut<'_> {
    /// Adds the delivery figures; returns the number of patches delivered.
    fn report(&self, table: &mut Table) -> usize {
        let scenario = self.scenario;
        let received: Vec<&Received> = self
            .results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .collect();
        for error in self.results.iter().filter_map(|r| r.as_ref().err()) {
            table.problem(scenario, format!("a client failed: {error}"));
        }
        let delivered: usize = received.iter().map(|r| r.patches).sum();
        let last_ns = received.iter().map(|r| r.last_ns).max().unwrap_or(0);
        let commit_s = nanos_to_s(self.commits.last_ns.saturating_sub(self.commits.first_ns));
        let delivery_s = nanos_to_s(last_ns.saturating_sub(self.commits.first_ns));

        table.count(scenario, "clients", self.clients);
        table.count(scenario, "mutations committed", self.mutations);
        table.count(scenario, "patches delivered (all clients)", delivered);
        if commit_s > 0.0 {
            table.add(
                scenario,
                "commit rate (driver)",
                self.mutations as f64 / commit_s,
                0,
                "commits/s",
            );
        }
        table.add(
            scenario,
            "patch deliveries per second (all clients)",
            delivered as f64 / delivery_s.max(1e-9),
            0,
            "patches/s",
        );
        table.add(
            scenario,
            "first commit to last delivery",
            delivery_s * 1e3,
            1,
            "ms",
        );
        let mut latencies = Latencies::new();
        for nanos in received.iter().flat_map(|r| r.latencies_ns.iter()) {
            latencies.record_ns(*nanos);
        }
        for (name, percent) in [("p50", 50.0), ("p99", 99.0), ("max", 100.0)] {
            table.add(
                scenario,
                format!("commit-to-delivery latency {name}"),
                latencies.percentile(percent).unwrap_or(0) as f64 / 1e3,
                0,
                "µs",
            );
        }
        let complete = received
            .iter()
            .filter(|r| r.complete(self.mutations))
            .count();
        table.add(
            scenario,
            "clients that got every version once, in order",
            complete as f64,
            0,
            "clients",
        );
        let resyncs: usize = received.iter().map(|r| r.resyncs).sum();
        let resynced = received.iter().filter(|r| r.resyncs > 0).count();
        table.count(scenario, "resynchronisations (fresh snapshots)", resyncs);
        table.count(scenario, "clients resynchronised", resynced);
        let skipped: usize = received
            .iter()
            .map(|r| self.mutations.saturating_sub(r.patches))
            .sum();
        table.count(
            scenario,
            "versions covered by a snapshot instead of a patch",
            skipped,
        );
        let disorder: usize = received.iter().map(|r| r.disorder).sum();
        if disorder > 0 {
            table.problem(
                scenario,
                format!("{disorder} patches arrived out of order or repeated"),
            );
        }
        let equal = received.iter().filter(|r| &r.replica == self.state).count();
        table.add(
            scenario,
            "final replicas equal to the state",
            equal as f64,
            0,
            "clients",
        );
        if equal != received.len() {
            table.problem(
                scenario,
                format!("{} replicas differ from the state", received.len() - equal),
            );
        }
        delivered
    }
}

fn nanos_to_s(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

// ---------------------------------------------------------------------------
// CPU time and memory from /proc

/// CPU time of one process, split by thread name, in nanoseconds.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    /// Every living thread.
    total_ns: u64,
    /// The server's runtime threads (`lab-server`).
    server_ns: u64,
    /// The thread that commits (`bench-driver`).
    driver_ns: u64,
}

impl Cpu {
    /// Sums the time on CPU of `/proc/PID/task/*/schedstat`, exact to the
    /// nanosecond (utime + stime of `/proc/PID/stat` count 10 ms ticks: too
    /// coarse for a burst of 50 ms). Threads that have ended are not
    /// counted; every thread that matters lives through a measurement.
    fn of(pid: u32) -> Option<Self> {
        let mut cpu = Self::default();
        for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let task = entry.ok()?.path();
            let (Ok(name), Ok(schedstat)) = (
                std::fs::read_to_string(task.join("comm")),
                std::fs::read_to_string(task.join("schedstat")),
            ) else {
                // A thread that has just ended.
                continue;
            };
            let Some(ns) = schedstat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
            else {
                continue;
            };
            cpu.total_ns += ns;
            if name.starts_with("lab-server") {
                cpu.server_ns += ns;
            } else if name.starts_with("bench-driver") {
                cpu.driver_ns += ns;
            }
        }
        Some(cpu)
    }

    fn since(self, before: Self) -> Self {
        Self {
            total_ns: self.total_ns.saturating_sub(before.total_ns),
            server_ns: self.server_ns.saturating_sub(before.server_ns),
            driver_ns: self.driver_ns.saturating_sub(before.driver_ns),
        }
    }
}

/// CPU ticks of the whole machine and of this process (with its waited-for
/// children), from `/proc/stat` and `/proc/self/stat`: to tell how busy the
/// machine was with other work during a scenario.
#[derive(Debug, Clone, Copy)]
struct Load {
    machine_busy: u64,
    own: u64,
}

impl Load {
    fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|ticks| ticks.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal
        let machine_busy = cpu.iter().sum::<u64>() - cpu.get(3)? - cpu.get(4)?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<u64> = own[own.rfind(')')? + 1..]
            .split_whitespace()
            .skip(11)
            .take(4)
            .map(|ticks| ticks.parse().ok())
            .collect::<Option<_>>()?;
        // utime stime cutime cstime
        Some(Self {
            machine_busy,
            own: fields.iter().sum(),
        })
    }

    /// The cores kept busy by other processes since `before`.
    fn others_since(self, before: Self, elapsed: Duration) -> f64 {
        let machine = self.machine_busy.saturating_sub(before.machine_busy);
        let own = self.own.saturating_sub(before.own);
        // USER_HZ: 100 ticks per second.
        machine.saturating_sub(own) as f64 / 100.0 / elapsed.as_secs_f64().max(1e-3)
    }
}

/// The soft limit on open files of this process.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

// ---------------------------------------------------------------------------
// Where the server runs

/// The server in this process: on a runtime of its own (threads
/// `lab-server`), committed to by a thread of its own (`bench-driver`);
/// the clients run on a third runtime (`bench-client`).
struct InProcessServer {
    runtime: Runtime,
    sync: LabSync<AppState>,
    routes: Routes,
    running: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
    orders: mpsc::Sender<(usize, Duration)>,
    done: mpsc::Receiver<Commits>,
    driver: std::thread::JoinHandle<()>,
}

impl InProcessServer {
    fn start() -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lab-server")
            .enable_all()
            .build()
            .map_err(|e| format!("no server runtime: {e}"))?;
        let sync = bench_server::new_sync();
        let server = runtime
            .block_on(Server::builder().bind(sync.clone(), "127.0.0.1:0"))
            .map_err(|e| format!("cannot bind: {e}"))?;
        let addr = server.local_addr();
        let routes = server.routes().clone();
        let running = runtime.spawn(server.run());
        let (orders, ordered) = mpsc::channel::<(usize, Duration)>();
        let (report, done) = mpsc::channel();
        let driver_sync = sync.clone();
        // Lives as long as `orders`, so that its CPU time stays readable.
        let driver = std::thread::Builder::new()
            .name("bench-driver".to_owned())
            .spawn(move || {
                for (mutations, pace) in ordered {
                    let commits = bench_server::commit(&driver_sync, mutations, pace);
                    if report.send(commits).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("no driver thread: {e}"))?;
        Ok(Self {
            runtime,
            sync,
            routes,
            running,
            addr,
            orders,
            done,
            driver,
        })
    }

    /// Shuts the server down gracefully.
    fn stop(self) -> Result<(), String> {
        let Self {
            runtime,
            routes,
            running,
            orders,
            driver,
            ..
        } = self;
        drop(orders);
        let driver = driver.join().map_err(|_| "the driver panicked".to_owned());
        routes.shutdown();
        let stopped = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), running).await });
        runtime.shutdown_timeout(Duration::from_secs(2));
        driver?;
        match stopped {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("the server task failed: {e}")),
            Err(_) => Err("the server did not shut down within 10 s".to_owned()),
        }
    }
}

// What `fan_out` needs of its server.
impl InProcessServer {
    /// The process whose CPU time is the server's: this one.
    fn pid(&self) -> u32 {
        std::process::id()
    }

    /// Commits `mutations` mutations, one every `pace`; returns when done.
    fn commit(&mut self, mutations: usize, pace: Duration) -> Result<Commits, String> {
        self.orders
            .send((mutations, pace))
            .map_err(|_| "the driver has stopped".to_owned())?;
        self.done
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "the driver did not finish within 60 s".to_owned())
    }

    /// The document the server holds now.
    fn state(&self) -> Result<Value, String> {
        serde_json::from_str(self.sync.snapshot().document_json())
            .map_err(|e| format!("the snapshot is not JSON: {e}"))
    }
}

/// `examples/bench_server.rs` in a child process.
struct ChildServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    addr: SocketAddr,
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
        let (sender, lines) = mpsc::channel();
        // Ends with the child's stdout.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut server = Self {
            child,
            stdin,
            lines,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pid: 0,
        };
        let listening = server.line(Duration::from_secs(10))?;
        server.addr = listening
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| format!("unexpected first line of the child: {listening:?}"))?;
        let pid = server.line(Duration::from_secs(10))?;
        server.pid = pid
            .strip_prefix("pid ")
            .and_then(|pid| pid.parse().ok())
            .ok_or_else(|| format!("unexpected second line of the child: {pid:?}"))?;
        Ok(server)
    }

    fn line(&self, timeout: Duration) -> Result<String, String> {
        self.lines
            .recv_timeout(timeout)
            .map_err(|_| format!("the child server said nothing within {timeout:?}"))
    }

    /// Has the child publish `frames` frames on `trace`; see
    /// `examples/bench_server.rs`.
    fn stream(&mut self, frames: usize) -> Result<Published, String> {
        let stdin = self.stdin.as_mut().ok_or("the child's stdin is closed")?;
        writeln!(stdin, "stream {frames}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("cannot write to the child: {e}"))?;
        let answer = self.line(Duration::from_secs(60))?;
        let numbers: Vec<u64> = answer
            .strip_prefix("streamed ")
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        match numbers.as_slice() {
            [_, first_ns, last_ns, seq, pending, peak, fell_behind] => Ok(Published {
                first_ns: *first_ns,
                last_ns: *last_ns,
                seq: *seq,
                pending_frames: *pending,
                peak_queued: *peak,
                fell_behind: *fell_behind,
            }),
            _ => Err(format!("unexpected answer of the child: {answer:?}")),
        }
    }

    /// The child's VmRSS, in KiB.
    fn rss_kib(&self) -> Result<u64, String> {
        Probe::new(self.pid)
            .rss()
            .map(|bytes| bytes / 1024)
            .map_err(|e| e.to_string())
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

/// Runs `scenario` against a server in this process.
fn in_process(
    scenario: impl FnOnce(&mut InProcessServer) -> Result<(), String>,
) -> Result<(), String> {
    let mut server = InProcessServer::start()?;
    let outcome = scenario(&mut server);
    let stopped = server.stop();
    outcome.and(stopped)
}

/// Runs `scenario` against a server in a child process.
fn in_child(scenario: impl FnOnce(&mut ChildServer) -> Result<(), String>) -> Result<(), String> {
    let mut server = ChildServer::spawn()?;
    let outcome = scenario(&mut server);
    let stopped = server.stop();
    outcome.and(stopped)
}

// ---------------------------------------------------------------------------
// The scenarios

/// `fan_out*`: `options.clients` reading clients, `options.mutations`
/// commits one every `pace`.
fn fan_out(
    options: &Options,
    table: &mut Table,
    scenario: &'static str,
    host: &mut InProcessServer,
    pace: Duration,
) -> Result<(), String> {
    let clients = client_runtime()?;
    let outcome = (|| {
        let fleet = Fleet::start(&clients, host.addr, options.clients, options.mutations)?;
        let before = Cpu::of(host.pid());
        let commits = host.commit(options.mutations, pace)?;
        let results = fleet.finish(&clients);
        let after = Cpu::of(host.pid());
        let state = host.state()?;
        table.add(
            scenario,
            "pace (0: as fast as possible)",
            pace.as_micros() as f64,
            0,
            "µs/commit",
        );
        let delivered = FanOut {
            scenario,
            clients: options.clients,
            mutations: options.mutations,
            commits,
            results: &results,
            state: &state,
        }
        .report(table);
        if let (Some(before), Some(after), true) = (before, after, delivered > 0) {
            let used = after.since(before);
            let per_patch = |ns: u64| ns as f64 / 1e3 / delivered as f64;
            table.add(
                scenario,
                "CPU per delivered patch: server runtime + committing thread",
                per_patch(used.server_ns + used.driver_ns),
                2,
                "µs",
            );
            table.add(
                scenario,
                "  of which the committing thread (mutate, notify every client)",
                per_patch(used.driver_ns),
                2,
                "µs",
            );
            table.add(
                scenario,
                "CPU per delivered patch: whole process (clients run here too)",
                per_patch(used.total_ns),
                2,
                "µs",
            );
            table.add(
                scenario,
                "CPU per commit: committing thread",
                used.driver_ns as f64 / 1e3 / options.mutations as f64,
                2,
                "µs",
            );
        }
        Ok(())
    })();
    clients.shutdown_timeout(Duration::from_secs(2));
    outcome
}

/// `idle_memory`: VmRSS of the child server before and after opening
/// `options.idle` idle connections, twice over (a second round that needs
/// more memory than the first would be a leak).
fn idle_memory(
    options: &Options,
    table: &mut Table,
    scenario: &'static str,
    server: &mut ChildServer,
) -> Result<(), String> {
    let mut idle = options.idle;
    if let Some(limit) = open_files_limit() {
        // The two ends are in different processes: each needs one
        // descriptor per connection, plus a margin for everything else.
        let fits = limit.saturating_sub(64);
        if idle > fits {
            table.problem(
                scenario,
                format!("RLIMIT_NOFILE is {limit}: measured {fits} connections, not {idle}"),
            );
            idle = fits;
        }
    }
    let clients = client_runtime()?;
    let outcome = (|| {
        // One connection first, so that one-time costs (the snapshot cache,
        // the runtime's timer wheel, …) are in the "before".
        let warm = clients.block_on(async {
            let mut ws = connect(server.addr).await?;
            first_snapshot(&mut ws, 0).await?;
            Ok::<_, String>(ws)
        })?;
        std::thread::sleep(Duration::from_millis(300));
        let before = server.rss_kib()?;
        let mut rounds = Vec::new();
        for _ in 0..2 {
            let connections = clients.block_on(open_idle(server.addr, idle))?;
            std::thread::sleep(Duration::from_millis(500));
            let open = server.rss_kib()?;
            drop(connections);
            std::thread::sleep(Duration::from_millis(500));
            rounds.push((open, server.rss_kib()?));
        }
        drop(warm);
        let (open, closed) = rounds[0];
        let (open_again, closed_again) = rounds[1];
        table.count(scenario, "idle connections (each after its snapshot)", idle);
        table.add(scenario, "server VmRSS before", before as f64, 0, "KiB");
        table.add(
            scenario,
            "server VmRSS with them open",
            open as f64,
            0,
            "KiB",
        );
        table.add(
            scenario,
            "server VmRSS per idle connection",
            open.saturating_sub(before) as f64 / idle as f64,
            1,
            "KiB",
        );
        table.add(
            scenario,
            "server VmRSS after they closed",
            closed as f64,
            0,
            "KiB",
        );
        table.add(
            scenario,
            "server VmRSS with as many open again",
            open_again as f64,
            0,
            "KiB",
        );
        table.add(
            scenario,
            "server VmRSS after they closed again",
            closed_again as f64,
            0,
            "KiB",
        );
        Ok(())
    })();
    clients.shutdown_timeout(Duration::from_secs(2));
    outcome
}

/// Opens `count` connections, 50 at a time, each read up to its snapshot.
async fn open_idle(addr: SocketAddr, count: usize) -> Result<Vec<Ws>, String> {
    let mut open = Vec::with_capacity(count);
    while open.len() < count {
        let batch = (count - open.len()).min(50);
        let tasks: Vec<_> = (0..batch)
            .map(|_| {
                tokio::spawn(async move {
                    let mut ws = connect(addr).await?;
                    first_snapshot(&mut ws, 0).await?;
                    Ok::<_, String>(ws)
                })
            })
            .collect();
        for task in tasks {
            open.push(task.await.map_err(|e| format!("panicked: {e}"))??);
        }
    }
    Ok(open)
}

// ---------------------------------------------------------------------------
// The load generator's scenarios

/// `fan_out_child`, `fan_out_child_paced`, `slow_consumer` and
/// `command_rtt_*`: the load generator's scenarios (`lab-link-loadgen`,
/// the harness `cargo xtask bench` runs against the demo), here against
/// the child server, so that this bench keeps its figures without a
/// second copy of the clients. Its figures become rows; a failed
/// correctness check is a problem.
fn load_scenario(
    options: &Options,
    table: &mut Table,
    scenario: &'static str,
    host: &mut ChildServer,
) -> Result<(), String> {
    let base = if options.bench {
        Sizes::quick()
    } else {
        Sizes::tiny()
    };
    let (name, rtt_clients) = match scenario {
        "fan_out_child" => ("fan_out", base.rtt_clients),
        "fan_out_child_paced" => ("fan_out_paced", base.rtt_clients),
        "command_rtt_1" => ("command_rtt", 1),
        "command_rtt_16" => ("command_rtt", 16),
        _ => (scenario, base.rtt_clients),
    };
    let sizes = Sizes {
        subscribers: options.clients,
        rate: 1e6 / options.pace_us.max(1) as f64,
        rtt_clients,
        rtt_commands: options.commands,
        slow_patches: options.mutations,
        ..base
    };
    let context = Context {
        target: Target::parse(&format!("http://{}/sync", host.addr)).map_err(|e| e.to_string())?,
        probe: Probe::new(host.pid),
        sizes,
    };
    let result = client_runtime()?
        .block_on(scenario::run(&context, name))
        .map_err(|e| e.to_string())?;
    for figure in &result.figures {
        let decimals = if figure.value.abs() >= 100.0 { 0 } else { 3 };
        table.add(
            scenario,
            figure.name.clone(),
            figure.value,
            decimals,
            figure.unit.clone(),
        );
    }
    for failure in result.failures {
        table.problem(scenario, failure);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// stream_replace

/// What the child answered to `stream N`.
#[derive(Debug, Clone, Copy)]
struct Published {
    /// Wall-clock time before the first frame.
    first_ns: u64,
    /// Wall-clock time after the last frame.
    last_ns: u64,
    /// The stream's seq after the last frame.
    seq: u64,
    /// Replace frames held outside full queues right after the last frame,
    /// all clients.
    pending_frames: u64,
    /// The largest queue peak of any client.
    peak_queued: u64,
    /// Queue overflows, all clients.
    fell_behind: u64,
}

/// What one client of `stream_replace` received.
#[derive(Debug, Default)]
struct StreamRun {
    /// Binary frames received.
    frames: usize,
    /// Their WebSocket payload bytes.
    bytes: usize,
    /// Frames whose seq was not above the previous one.
    not_increasing: usize,
    /// Frames skipped: gaps between consecutive seqs (latest wins).
    skipped: u64,
    /// The seq of the last frame.
    last_seq: u64,
    /// Wall-clock time of the last frame.
    last_ns: u64,
}

/// Checks one binary frame of `trace` (tag `0x01`, id, seq, then
/// [`bench_server::TRACE_SAMPLES`] float32 samples, the frame of seq S
/// holding `S - 1 + i`); returns its seq.
fn trace_seq(frame: &[u8]) -> Result<u64, String> {
    const ID: &[u8] = b"trace";
    let header = 3 + ID.len() + 4;
    let expected = header + bench_server::TRACE_SAMPLES * 4;
    if frame.len() != expected {
        return Err(format!("a frame of {} bytes, not {expected}", frame.len()));
    }
    if frame[0] != 0x01 || frame[1..3] != [ID.len() as u8, 0] || &frame[3..3 + ID.len()] != ID {
        return Err(format!("a frame with header {:?}", &frame[..header]));
    }
    let word = |at: usize| [frame[at], frame[at + 1], frame[at + 2], frame[at + 3]];
    let seq = u32::from_le_bytes(word(3 + ID.len()));
    let first = f32::from_le_bytes(word(header));
    let last = f32::from_le_bytes(word(expected - 4));
    let base = seq.saturating_sub(1) as f32;
    if first != base || last != base + (bench_server::TRACE_SAMPLES - 1) as f32 {
        return Err(format!(
            "the frame of seq {seq} holds {first}..{last}, not the samples of its seq"
        ));
    }
    Ok(u64::from(seq))
}

/// One client of `stream_replace`: connects, reads its snapshot, reports on
/// `ready`, then reads binary frames until seq `last_seq`.
async fn stream_client(
    addr: SocketAddr,
    last_seq: u64,
    ready: mpsc::Sender<Result<(), String>>,
) -> Result<StreamRun, String> {
    let start = async {
        let mut ws = connect(addr).await?;
        first_snapshot(&mut ws, 0).await?;
        Ok::<_, String>(ws)
    };
    let mut ws = match start.await {
        Ok(ws) => ws,
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            return Err(e);
        }
    };
    let _ = ready.send(Ok(()));
    let mut run = StreamRun::default();
    let reading = async {
        while run.last_seq < last_seq {
            match ws.next().await {
                Some(Ok(Message::Binary(frame))) => {
                    let seq = trace_seq(&frame)?;
                    if seq <= run.last_seq {
                        run.not_increasing += 1;
                    } else {
                        run.skipped += seq - run.last_seq - 1;
                    }
                    run.frames += 1;
                    run.bytes += frame.len();
                    run.last_seq = seq;
                    run.last_ns = bench_server::now_ns();
                }
                Some(Ok(Message::Text(text))) => {
                    let start: String = text.as_str().chars().take(120).collect();
                    return Err(format!("unexpected text message: {start}"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("closed by the server: {frame:?}"))
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("read failed: {e}")),
                None => return Err("the server closed the connection".to_owned()),
            }
        }
        Ok::<_, String>(())
    };
    tokio::time::timeout(CLIENT_DEADLINE, reading)
        .await
        .map_err(|_| {
            format!(
                "stopped at seq {} of {last_seq} after {CLIENT_DEADLINE:?}",
                run.last_seq
            )
        })??;
    Ok(run)
}

/// `stream_replace`: see the module documentation.
fn stream_replace(
    options: &Options,
    table: &mut Table,
    scenario: &'static str,
    server: &mut ChildServer,
) -> Result<(), String> {
    let runtime = client_runtime()?;
    let outcome = (|| {
        let frames = options.mutations;
        // The stream is fresh in a fresh child: its seqs are 1..=frames.
        let last_seq = frames as u64;
        let (ready, readiness) = mpsc::channel();
        let handles: Vec<_> = (0..STREAM_CLIENTS)
            .map(|_| runtime.spawn(stream_client(server.addr, last_seq, ready.clone())))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        for _ in 0..STREAM_CLIENTS {
            let wait = deadline.saturating_duration_since(Instant::now());
            match readiness.recv_timeout(wait) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("a client could not start: {e}")),
                Err(_) => return Err("the clients did not all connect within 30 s".to_owned()),
            }
        }
        let cpu_before = Cpu::of(server.pid);
        let published = server.stream(frames)?;
        let results: Vec<Result<StreamRun, String>> = runtime.block_on(async {
            let mut results = Vec::with_capacity(handles.len());
            for handle in handles {
                results.push(
                    handle
                        .await
                        .unwrap_or_else(|e| Err(format!("panicked: {e}"))),
                );
            }
            results
        });
        let cpu_after = Cpu::of(server.pid);

        for error in results.iter().filter_map(|r| r.as_ref().err()) {
            table.problem(scenario, format!("a client failed: {error}"));
        }
        let runs: Vec<&StreamRun> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let delivered: usize = runs.iter().map(|run| run.frames).sum();
        let bytes: usize = runs.iter().map(|run| run.bytes).sum();
        let last_ns = runs.iter().map(|run| run.last_ns).max().unwrap_or(0);
        let publish_s = nanos_to_s(published.last_ns.saturating_sub(published.first_ns));
        let delivery_s = nanos_to_s(last_ns.saturating_sub(published.first_ns)).max(1e-9);

        table.count(scenario, "clients", STREAM_CLIENTS);
        table.count(
            scenario,
            "float32 samples per frame",
            bench_server::TRACE_SAMPLES,
        );
        table.count(scenario, "frames published", frames);
        if publish_s > 0.0 {
            table.add(
                scenario,
                "publish rate (driver)",
                frames as f64 / publish_s,
                0,
                "frames/s",
            );
        }
        table.count(scenario, "frames received (all clients)", delivered);
        let per_client = |pick: fn(std::slice::Iter<'_, &StreamRun>) -> Option<usize>| {
            pick(runs.iter()).unwrap_or(0)
        };
        table.count(
            scenario,
            "frames received per client, min",
            per_client(|runs| runs.map(|run| run.frames).min()),
        );
        table.count(
            scenario,
            "frames received per client, max",
            per_client(|runs| runs.map(|run| run.frames).max()),
        );
        let skipped: u64 = runs.iter().map(|run| run.skipped).sum();
        table.add(
            scenario,
            "frames skipped (latest wins, all clients)",
            skipped as f64,
            0,
            "",
        );
        table.add(
            scenario,
            "frames delivered per second (all clients)",
            delivered as f64 / delivery_s,
            0,
            "frames/s",
        );
        table.add(
            scenario,
            "bytes delivered per second (all clients)",
            bytes as f64 / 1e6 / delivery_s,
            1,
            "MB/s",
        );
        table.add(
            scenario,
            "first publish to last delivery",
            delivery_s * 1e3,
            1,
            "ms",
        );
        table.add(
            scenario,
            "server: frames held outside full queues after the last publish",
            published.pending_frames as f64,
            0,
            "",
        );
        table.add(
            scenario,
            "server: largest queue peak of a client",
            published.peak_queued as f64,
            0,
            "messages",
        );
        table.add(
            scenario,
            "server: queue overflows (resyncs)",
            published.fell_behind as f64,
            0,
            "",
        );
        if let (Some(before), Some(after), true) = (cpu_before, cpu_after, delivered > 0) {
            let used = after.since(before);
            table.add(
                scenario,
                "server CPU per delivered frame: server process, all threads",
                used.total_ns as f64 / 1e3 / delivered as f64,
                2,
                "µs",
            );
            table.add(
                scenario,
                "  of which the server runtime's threads",
                used.server_ns as f64 / 1e3 / delivered as f64,
                2,
                "µs",
            );
            table.add(
                scenario,
                "  of which the publishing thread",
                used.driver_ns as f64 / 1e3 / delivered as f64,
                2,
                "µs",
            );
        }

        // Correctness.
        if published.seq != last_seq {
            table.problem(
                scenario,
                format!("the stream ended at seq {}, not {last_seq}", published.seq),
            );
        }
        let at_last = runs.iter().filter(|run| run.last_seq == last_seq).count();
        table.add(
            scenario,
            "clients whose last frame has the last seq",
            at_last as f64,
            0,
            "clients",
        );
        if at_last != STREAM_CLIENTS {
            table.problem(
                scenario,
                format!(
                    "{} clients did not end with seq {last_seq}",
                    STREAM_CLIENTS - at_last
                ),
            );
        }
        let backwards: usize = runs.iter().map(|run| run.not_increasing).sum();
        table.count(
            scenario,
            "frames whose seq did not increase (must be 0)",
            backwards,
        );
        if backwards > 0 {
            table.problem(
                scenario,
                format!("{backwards} frames did not increase their client's seq"),
            );
        }
        Ok(())
    })();
    runtime.shutdown_timeout(Duration::from_secs(2));
    outcome
}
