//! `cargo xtask bench`: the core microbenchmarks, then the load scenarios
//! of `lab-link-loadgen` against the demo server (and, with
//! `--reference`, against the Python reference demo too).
//!
//! The microbenchmarks are the workspace's bench binaries, one after the
//! other, with any arguments after `--` passed on to each. The engine and
//! the typed mutations are divan benches; the in-repo server bench
//! (`lab-link/benches/server.rs`) is a plain `main` that prints a table and
//! writes `target/bench/server.json`. It takes divan's command line too:
//! filters select its scenarios by name (`cargo xtask bench -- fan_out`), a
//! filter meant for the divan benches (`store`) selects none of them, and
//! options it does not use (`--sample-count 10`) are ignored. `--quick`
//! runs them once each as a test (`-- --test`); `--no-micro` skips them.
//! After them comes the browser runtime's patch engine under Node
//! (`lab-link-js/bench/apply.js`: operations per second applying patches
//! to the 1,000-channel document, written to `target/bench/js.json`; with
//! `--quick`, 0.2 s per case), which takes none of the arguments.
//!
//! The load scenarios (`--no-load` skips them) build `lab-link-demo` and
//! `lab-link-loadgen` in release mode, then per scenario start a fresh
//! server pinned to core 0 (`taskset -c 0`), run the load generator for
//! that one scenario pinned to core 1, and stop the server. Right after
//! ours, the same scenario runs on the bare tokio-tungstenite server
//! (`lab-link-bare`, in the load generator's crate: the stack's ceiling,
//! for the scenarios that need only `set_channel`) and, with
//! `--reference`, on the reference demo (`bench/python/demo.py` in
//! `target/py-venv`), so the servers alternate and share the machine's
//! conditions. Each run's results are merged into `target/bench/ours.json`
//! (`bare.json`, `reference.json`); at the end the load generator prints
//! one table (figure, ours, reference, ratio, bare, ratio to bare, target)
//! and writes it to `target/bench/results.md`, with everything as JSON in
//! `target/bench/results.json`. The servers' standard error goes to
//! `target/bench/logs/`.
//!
//! Fails when a microbenchmark fails or when one of our scenarios finds
//! our server wrong (a fast wrong answer is a failure); the other
//! servers' verdicts are reported, not failed on.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::cmd::{Cmd, JOBS};
use crate::flags::Bench;
use crate::setup::VENV;
use crate::{project_root, Error, Result};

/// The benchmark binaries: `(package, bench target)`.
const BENCHES: [(&str, &str); 4] = [
    // The patch engine against the json-patch crate.
    ("lab-link-core", "core"),
    // Typed mutations through LabSync.
    ("lab-link", "state"),
    // The server: fan-out to WebSocket clients, idle memory, a slow client,
    // command round trips.
    ("lab-link", "server"),
    // History: commit cost with recording off and on, ingest, decimated
    // queries.
    ("lab-link", "history"),
];

/// The load scenarios, in order (as `lab-link-loadgen` names them).
const SCENARIOS: [&str; 6] = [
    "fan_out",
    "fan_out_paced",
    "command_rtt",
    "connect_storm",
    "slow_consumer",
    "stream",
];

/// The scenarios the bare tokio-tungstenite server (`lab-link-bare`) runs
/// too: the ones that need only `set_channel`.
const BARE_SCENARIOS: [&str; 4] = ["fan_out", "fan_out_paced", "command_rtt", "connect_storm"];

/// The pseudo-scenario of the growth table: `fan_out` at each of
/// [`GROWTH_SUBSCRIBERS`] on ours and the bare server, and `fan_out`,
/// `command_rtt` and `connect_storm` (1,000 joiners) on our demo with
/// [`GROWTH_CHANNELS`] channels.
const GROWTH: &str = "growth";

/// The subscriber counts of the growth table (`--quick`: the first three).
const GROWTH_SUBSCRIBERS: [usize; 4] = [10, 100, 1_000, 10_000];

/// The channels of the large state in the growth table.
const GROWTH_CHANNELS: usize = 10_000;

/// Where the results go, relative to the workspace root.
const OUT_DIR: &str = "target/bench";

/// How long a server may take to print its listening line.
const STARTUP: Duration = Duration::from_secs(60);

/// How long a server may take to stop after SIGTERM before it is killed.
const SHUTDOWN: Duration = Duration::from_secs(10);

/// `cargo xtask bench [--reference] [--quick] [--no-micro] [--no-load]
/// [--scenario NAME]… [-- ARGS]`.
pub(crate) fn run(flags: &Bench) -> Result {
    if !flags.no_micro {
        commands(flags).iter().try_for_each(Cmd::run)?;
    }
    if !flags.no_load {
        load(flags)?;
    }
    Ok(())
}

/// The microbenchmark runs: the workspace's bench binaries, then the
/// browser runtime's patch engine.
fn commands(flags: &Bench) -> Vec<Cmd> {
    let args: Vec<String> = if flags.quick && flags.args.is_empty() {
        vec!["--test".to_owned()]
    } else {
        flags.args.clone()
    };
    let mut commands: Vec<Cmd> = BENCHES
        .iter()
        .map(|(package, bench)| {
            let cmd = Cmd::cargo()
                .args(["bench", "-p", package, "--bench", bench, "-j", JOBS])
                .on_failure("the benchmarks did not build or run: see the output above");
            if args.is_empty() {
                cmd
            } else {
                cmd.arg("--").args(&args)
            }
        })
        .collect();
    let js = Cmd::new("node")
        .arg(JS_BENCH)
        .if_missing(
            "install Node.js 20 or later (Debian: `apt-get install nodejs`), \
             or run `cargo xtask setup`, which does",
        )
        .on_failure("the lab-link-js patch benchmark failed: see its message above");
    commands.push(if flags.quick { js.arg("--quick") } else { js });
    commands
}

/// The browser runtime's patch-apply benchmark, relative to the workspace
/// root.
const JS_BENCH: &str = "lab-link-js/bench/apply.js";

/// A server implementation of the demo contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// `target/release/lab-link-demo`.
    Ours,
    /// `bench/python/demo.py` on lab-link 0.5.0.
    Reference,
    /// `target/release/lab-link-bare`: the command path on tokio-tungstenite
    /// alone, the stack's ceiling.
    Bare,
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::Reference => "reference",
            Self::Bare => "bare",
        }
    }

    /// The server's command line (`--port 0`).
    fn command_line(self) -> Vec<String> {
        let program = match self {
            Self::Ours => vec!["target/release/lab-link-demo".to_owned()],
            Self::Bare => vec!["target/release/lab-link-bare".to_owned()],
            Self::Reference => vec![
                format!("{VENV}/bin/python"),
                "bench/python/demo.py".to_owned(),
            ],
        };
        program
            .into_iter()
            .chain(["--port".to_owned(), "0".to_owned()])
            .collect()
    }
}

/// One load generator run: a scenario on one server, at the full sizes or
/// at others (the growth table).
#[derive(Debug, Clone, PartialEq, Eq)]
struct LoadRun {
    /// The load generator's scenario.
    scenario: &'static str,
    /// The name it is reported under (`--as`), when not the scenario's.
    name: Option<String>,
    /// More arguments for the load generator (`--subscribers 1000`).
    loadgen: Vec<String>,
    /// More arguments for the server (`--channels 10000`).
    server: Vec<String>,
}

impl LoadRun {
    /// The scenario at its usual sizes.
    fn plain(scenario: &'static str) -> Self {
        Self {
            scenario,
            name: None,
            loadgen: Vec::new(),
            server: Vec::new(),
        }
    }

    /// The scenario named `name`, with more load generator arguments.
    fn sized(scenario: &'static str, name: String, loadgen: &[&str]) -> Self {
        Self {
            name: Some(name),
            loadgen: loadgen.iter().map(|arg| (*arg).to_owned()).collect(),
            ..Self::plain(scenario)
        }
    }

    /// Whether `server` runs it: the bare server serves only
    /// [`BARE_SCENARIOS`] and has no channel count; the growth table is
    /// ours against the bare server.
    fn runs_on(&self, server: Server) -> bool {
        match server {
            Server::Ours => true,
            Server::Bare => BARE_SCENARIOS.contains(&self.scenario) && self.server.is_empty(),
            Server::Reference => self.name.is_none(),
        }
    }
}

/// The runs of the growth table.
fn growth_runs(quick: bool) -> Vec<LoadRun> {
    let counts = if quick {
        &GROWTH_SUBSCRIBERS[..3]
    } else {
        &GROWTH_SUBSCRIBERS[..]
    };
    let mut runs: Vec<LoadRun> = counts
        .iter()
        .map(|&n| {
            LoadRun::sized(
                "fan_out",
                format!("fan_out {n} subscribers"),
                &["--subscribers", &n.to_string(), "--seconds", "5"],
            )
        })
        .collect();
    let channels = GROWTH_CHANNELS.to_string();
    for (scenario, loadgen) in [
        ("fan_out", &["--seconds", "5"][..]),
        ("command_rtt", &[][..]),
        ("connect_storm", &["--storm-clients", "1000"][..]),
    ] {
        let mut run = LoadRun::sized(scenario, format!("{scenario} {channels} channels"), loadgen);
        run.server = vec!["--channels".to_owned(), channels.clone()];
        runs.push(run);
    }
    runs
}

/// The load generator's command line for one run on one server.
fn loadgen_args(flags: &Bench, server: Server, run: &LoadRun, url: &str, pid: u32) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "--url",
        url,
        "--pid",
        &pid.to_string(),
        "--scenario",
        run.scenario,
        "--label",
        server.label(),
        "--out",
        &format!("{OUT_DIR}/{}.json", server.label()),
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();
    if flags.quick {
        args.push("--quick".to_owned());
    }
    if flags.repeat > 1 {
        args.extend(["--repeat".to_owned(), flags.repeat.to_string()]);
    }
    if let Some(name) = &run.name {
        args.extend(["--as".to_owned(), name.clone()]);
    }
    args.extend(run.loadgen.iter().cloned());
    // Ten thousand connections to the reference take minutes; its memory
    // per connection is clear from fewer (the table shows N for each).
    if server == Server::Reference && run.scenario == "connect_storm" {
        let clients = if flags.quick { "500" } else { "2000" };
        args.extend(["--storm-clients".to_owned(), clients.to_owned()]);
    }
    args
}

/// Builds, runs every selected scenario on our server (and the
/// reference's), and writes the comparison.
fn load(flags: &Bench) -> Result {
    Cmd::cargo()
        .args([
            "build",
            "--release",
            "-p",
            "lab-link-demo",
            "-p",
            "lab-link-loadgen",
            "-j",
            JOBS,
        ])
        .on_failure("the demo or the load generator did not build: see the output above")
        .run()?;
    if flags.reference {
        reference_venv()?;
    }
    let root = project_root();
    let out = root.join(OUT_DIR);
    std::fs::create_dir_all(out.join("logs"))
        .map_err(|e| Error::new(format!("cannot create {}: {e}", out.display())))?;
    let servers: &[Server] = if flags.reference {
        &[Server::Ours, Server::Bare, Server::Reference]
    } else {
        &[Server::Ours, Server::Bare]
    };
    for server in servers {
        // A fresh file per run: scenarios not run now must not linger.
        let _ = std::fs::remove_file(out.join(format!("{}.json", server.label())));
    }
    let pinning = pinning();
    if !pinning {
        println!(
            "note: taskset or a second core is missing: server and load generator are not pinned"
        );
    }
    let mut wrong = Vec::new();
    for run in load_runs(flags)? {
        for &server in servers {
            if !run.runs_on(server) {
                continue;
            }
            let correct = run_scenario(flags, server, &run, pinning)?;
            if !correct && server == Server::Ours {
                wrong.push(run.name.clone().unwrap_or_else(|| run.scenario.to_owned()));
            }
        }
    }
    let mut report = Cmd::new(root.join("target/release/lab-link-loadgen"))
        .args(["report", "--ours", &format!("{OUT_DIR}/ours.json")])
        .args([
            "--json",
            &format!("{OUT_DIR}/results.json"),
            "--markdown",
            &format!("{OUT_DIR}/results.md"),
        ]);
    if flags.reference {
        report = report.args(["--reference", &format!("{OUT_DIR}/reference.json")]);
    }
    if out.join("bare.json").exists() {
        report = report.args(["--bare", &format!("{OUT_DIR}/bare.json")]);
    }
    report.on_failure("could not compare the results").run()?;
    println!("results: {OUT_DIR}/results.md and {OUT_DIR}/results.json");
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "our server answered wrongly in: {} (see the table above)",
            wrong.join(", ")
        )))
    }
}

/// The selected runs, in order: `--scenario` names (all scenarios and the
/// growth table by default).
fn load_runs(flags: &Bench) -> Result<Vec<LoadRun>> {
    let selected: Vec<&str> = if flags.scenarios.is_empty() {
        SCENARIOS.iter().copied().chain([GROWTH]).collect()
    } else {
        flags.scenarios.iter().map(String::as_str).collect()
    };
    let mut runs = Vec::new();
    for name in selected {
        if name == GROWTH {
            runs.extend(growth_runs(flags.quick));
        } else if let Some(scenario) = SCENARIOS.iter().find(|scenario| **scenario == name) {
            runs.push(LoadRun::plain(scenario));
        } else {
            return Err(Error::new(format!(
                "unknown scenario `{name}`: the scenarios are {} and {GROWTH}",
                SCENARIOS.join(", ")
            )));
        }
    }
    Ok(runs)
}

/// Runs one scenario on a fresh server; returns whether the load
/// generator found it correct.
fn run_scenario(flags: &Bench, server: Server, run: &LoadRun, pinning: bool) -> Result<bool> {
    let root = project_root();
    let name = run
        .name
        .as_deref()
        .unwrap_or(run.scenario)
        .replace(' ', "-");
    let log = root.join(format!("{OUT_DIR}/logs/{}-{name}.log", server.label()));
    let mut running = start(server, &run.server, pinning, &log)?;
    let args = loadgen_args(flags, server, run, &running.url, running.child.id());
    let loadgen = root.join("target/release/lab-link-loadgen");
    let mut command = if pinning {
        let mut command = Command::new("taskset");
        command.args(["-c", "1"]).arg(&loadgen);
        command
    } else {
        Command::new(&loadgen)
    };
    command.args(&args).current_dir(&root).stdin(Stdio::null());
    println!("$ {} {}", loadgen.display(), args.join(" "));
    let status = command.status();
    running.stop();
    let status = status.map_err(|e| Error::new(format!("cannot run the load generator: {e}")))?;
    match status.code() {
        Some(0) => Ok(true),
        // The load generator ran and found the server wrong.
        Some(3) => Ok(false),
        _ => Err(Error::new(format!(
            "the load generator failed on {} ({name}): {status}; the server's log is {}",
            server.label(),
            log.display()
        ))),
    }
}

/// A started server.
#[derive(Debug)]
struct Running {
    child: Child,
    /// `http://HOST:PORT/sync`.
    url: String,
}

impl Running {
    /// SIGTERM, then SIGKILL after [`SHUTDOWN`].
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + SHUTDOWN;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `server` (with `extra` arguments) on a free port and waits for
/// its listening line.
fn start(server: Server, extra: &[String], pinning: bool, log: &Path) -> Result<Running> {
    let mut line = server.command_line();
    line.extend(extra.iter().cloned());
    let mut command = if pinning {
        // taskset execs the server: the child's pid is the server's.
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).args(&line);
        command
    } else {
        let mut command = Command::new(&line[0]);
        command.args(&line[1..]);
        command
    };
    let stderr = std::fs::File::create(log)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", log.display())))?;
    let mut child = command
        .current_dir(project_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| Error::new(format!("cannot start {}: {e}", line.join(" "))))?;
    let stdout = child.stdout.take().expect("stdout was piped above");
    let (tx, rx) = mpsc::channel();
    // Reads the listening line, then drains standard output so that the
    // server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = tx.send(first);
        for _ in lines {}
    });
    let first = rx.recv_timeout(STARTUP);
    let url = match first {
        Ok(Some(Ok(first))) => listening_url(&first),
        _ => None,
    };
    match url {
        Some(url) => Ok(Running { child, url }),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(Error::new(format!(
                "{} did not print `lab-link demo listening on http://HOST:PORT` within {}s: see {}",
                line.join(" "),
                STARTUP.as_secs(),
                log.display()
            )))
        }
    }
}

/// The sync base URL from the demo's listening line.
fn listening_url(line: &str) -> Option<String> {
    let url = line
        .trim()
        .strip_prefix("lab-link demo listening on ")?
        .trim_end_matches('/');
    url.starts_with("http://").then(|| format!("{url}/sync"))
}

/// Whether server and load generator can be pinned to cores 0 and 1.
fn pinning() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores >= 2 && Cmd::new("taskset").arg("--version").probe().is_some()
}

/// Makes the reference's virtualenv if missing and installs its pinned
/// requirements (a no-op when they are there).
fn reference_venv() -> Result {
    let root = project_root();
    let python: PathBuf = root.join(VENV).join("bin/python");
    if !python.exists() {
        Cmd::new("python3")
            .args(["-m", "venv", VENV])
            .if_missing("install Python 3.11 or later")
            .run()?;
    }
    Cmd::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            "bench/python/requirements.txt",
        ])
        .on_failure("the reference's requirements did not install")
        .run()
}

#[cfg(test)]
mod tests {
    use super::{commands, growth_runs, listening_url, load_runs, loadgen_args, LoadRun, Server};
    use crate::flags::Bench;

    fn bench(args: &[&str], quick: bool) -> Bench {
        Bench {
            reference: false,
            quick,
            no_micro: false,
            no_load: false,
            scenarios: Vec::new(),
            repeat: 1,
            args: args.iter().map(|arg| arg.to_string()).collect(),
        }
    }

    #[track_caller]
    fn check(flags: &Bench, expect: &[&str]) {
        let commands: Vec<String> = commands(flags).iter().map(ToString::to_string).collect();
        assert_eq!(commands, expect);
    }

    #[test]
    fn runs_every_bench_and_passes_extra_arguments_on() {
        check(
            &bench(&[], false),
            &[
                "cargo bench -p lab-link-core --bench core -j 2",
                "cargo bench -p lab-link --bench state -j 2",
                "cargo bench -p lab-link --bench server -j 2",
                "cargo bench -p lab-link --bench history -j 2",
                "node lab-link-js/bench/apply.js",
            ],
        );
        check(
            &bench(&["store", "--sample-count", "10"], false),
            &[
                "cargo bench -p lab-link-core --bench core -j 2 -- store --sample-count 10",
                "cargo bench -p lab-link --bench state -j 2 -- store --sample-count 10",
                "cargo bench -p lab-link --bench server -j 2 -- store --sample-count 10",
                "cargo bench -p lab-link --bench history -j 2 -- store --sample-count 10",
                "node lab-link-js/bench/apply.js",
            ],
        );
        check(
            &bench(&[], true),
            &[
                "cargo bench -p lab-link-core --bench core -j 2 -- --test",
                "cargo bench -p lab-link --bench state -j 2 -- --test",
                "cargo bench -p lab-link --bench server -j 2 -- --test",
                "cargo bench -p lab-link --bench history -j 2 -- --test",
                "node lab-link-js/bench/apply.js --quick",
            ],
        );
    }

    #[test]
    fn load_generator_command_lines() {
        let url = "http://127.0.0.1:9/sync";
        assert_eq!(
            loadgen_args(&bench(&[], false), Server::Ours, &LoadRun::plain("fan_out"), url, 42).join(" "),
            "run --url http://127.0.0.1:9/sync --pid 42 --scenario fan_out --label ours --out target/bench/ours.json"
        );
        assert_eq!(
            loadgen_args(
                &bench(&[], true),
                Server::Reference,
                &LoadRun::plain("connect_storm"),
                url,
                7
            )
            .join(" "),
            "run --url http://127.0.0.1:9/sync --pid 7 --scenario connect_storm --label reference \
             --out target/bench/reference.json --quick --storm-clients 500"
        );
        let repeated = Bench {
            repeat: 10,
            ..bench(&[], false)
        };
        assert_eq!(
            loadgen_args(
                &repeated,
                Server::Ours,
                &LoadRun::plain("slow_consumer"),
                url,
                42
            )
            .join(" "),
            "run --url http://127.0.0.1:9/sync --pid 42 --scenario slow_consumer --label ours \
             --out target/bench/ours.json --repeat 10"
        );
        assert_eq!(
            Server::Reference.command_line().join(" "),
            "target/py-venv/bin/python bench/python/demo.py --port 0"
        );
    }

    #[test]
    fn the_growth_table_runs_ours_beside_the_bare_server() {
        let runs = growth_runs(false);
        let url = "http://127.0.0.1:9/sync";
        let last_fan_out = &runs[3];
        assert_eq!(
            loadgen_args(&bench(&[], false), Server::Bare, last_fan_out, url, 5).join(" "),
            "run --url http://127.0.0.1:9/sync --pid 5 --scenario fan_out --label bare \
             --out target/bench/bare.json --as fan_out 10000 subscribers --subscribers 10000 \
             --seconds 5"
        );
        assert!(last_fan_out.runs_on(Server::Bare) && !last_fan_out.runs_on(Server::Reference));
        let storm = runs.last().unwrap();
        assert_eq!(storm.name.as_deref(), Some("connect_storm 10000 channels"));
        assert_eq!(storm.server, ["--channels", "10000"]);
        assert!(storm.runs_on(Server::Ours) && !storm.runs_on(Server::Bare));
        assert_eq!(growth_runs(true).len(), runs.len() - 1);
        // Selected by name, or with everything by default.
        let all = load_runs(&bench(&[], false)).unwrap();
        assert_eq!(all.len(), super::SCENARIOS.len() + runs.len());
        let only = Bench {
            scenarios: vec!["growth".to_owned()],
            ..bench(&[], false)
        };
        assert_eq!(load_runs(&only).unwrap(), runs);
        let unknown = Bench {
            scenarios: vec!["nonsense".to_owned()],
            ..bench(&[], false)
        };
        assert!(load_runs(&unknown).is_err());
    }

    #[test]
    fn scenarios_are_the_load_generators() {
        let source = std::fs::read_to_string(
            crate::project_root().join("lab-link-loadgen/src/scenario/mod.rs"),
        )
        .expect("the load generator's scenario list is readable");
        let start = source
            .find("pub const SCENARIOS")
            .expect("lab-link-loadgen declares SCENARIOS");
        let end = start + source[start..].find("];").expect("SCENARIOS ends");
        let names: Vec<&str> = source[start..end].split('"').skip(1).step_by(2).collect();
        assert_eq!(
            names,
            super::SCENARIOS,
            "keep xtask's list in step with lab-link-loadgen's"
        );
    }

    #[test]
    fn reads_the_listening_line() {
        assert_eq!(
            listening_url("lab-link demo listening on http://127.0.0.1:4321\n").as_deref(),
            Some("http://127.0.0.1:4321/sync")
        );
        assert_eq!(listening_url("listening on 127.0.0.1:1"), None);
    }
}
