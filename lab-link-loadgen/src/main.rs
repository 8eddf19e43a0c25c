//! `lab-link-loadgen`: runs the load scenarios against a demo server, or
//! lines up the results of runs against several servers.
//!
//! ```text
//! lab-link-loadgen run --url http://127.0.0.1:8000/sync --pid 4242 [--scenario fan_out] [--quick] [--repeat N] [--as NAME] [--out ours.json]
//! lab-link-loadgen report --ours ours.json [--reference reference.json] [--bare bare.json] [--json results.json] [--markdown results.md]
//! ```
//!
//! `run` exits with status 3 when a scenario found the server wrong (the
//! results are still printed and written), 1 when it could not run, 2 on
//! a bad command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use lab_link_loadgen::client::Target;
use lab_link_loadgen::procfs::{self, Probe};
use lab_link_loadgen::report::{compare, Report};
use lab_link_loadgen::scenario::{self, Context, Sizes, SCENARIOS};

/// The exit status of a run that found the server wrong.
const INCORRECT: u8 = 3;

/// Load generator for servers of the lab-link demo contract (DEMO.md).
#[derive(Debug, Parser)]
#[command(name = "lab-link-loadgen")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios against one server.
    Run(RunArgs),
    /// Print and write the comparison of our results with the reference's.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The server's base URL, `http://HOST:PORT/PREFIX`.
    #[arg(long)]
    url: String,
    /// The server's process id (for its CPU time and memory in /proc).
    #[arg(long)]
    pid: u32,
    /// Scenarios to run (repeatable); default: all.
    #[arg(long = "scenario", value_parser = clap::builder::PossibleValuesParser::new(SCENARIOS))]
    scenarios: Vec<String>,
    /// Smoke-test sizes (about a tenth of the full run).
    #[arg(long, conflicts_with = "tiny")]
    quick: bool,
    /// Tiny sizes (seconds in all; for checking that it works).
    #[arg(long)]
    tiny: bool,
    /// A label for this server in the results.
    #[arg(long, default_value = "server")]
    label: String,
    /// Merge the results into this JSON file (created if missing).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Connections of `connect_storm`.
    #[arg(long)]
    storm_clients: Option<usize>,
    /// Subscribers of the fan-out scenarios.
    #[arg(long)]
    subscribers: Option<usize>,
    /// Seconds of load in the fan-out and stream scenarios.
    #[arg(long)]
    seconds: Option<f64>,
    /// Commands of `slow_consumer`.
    #[arg(long)]
    slow_patches: Option<usize>,
    /// Measured commands per client of `command_rtt`.
    #[arg(long)]
    rtt_commands: Option<usize>,
    /// Report the (one) scenario under this name, e.g. `fan_out 1000
    /// subscribers` for a run at other sizes than the full run's.
    #[arg(long = "as", value_name = "NAME")]
    rename: Option<String>,
    /// Run each scenario this many times in a row against the server; the
    /// runs are reported as `NAME #1`, `NAME #2`, … (for checking that a
    /// result holds every time, not only once).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Our results (from `run --out`).
    #[arg(long)]
    ours: PathBuf,
    /// The reference's results.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// The bare tokio-tungstenite server's results (`lab-link-bare`).
    #[arg(long)]
    bare: Option<PathBuf>,
    /// Write the comparison as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the comparison as a Markdown table here.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run(&args),
        Command::Report(args) => report(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("lab-link-loadgen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &RunArgs) -> Result<ExitCode, String> {
    let target = Target::parse(&args.url).map_err(|e| e.to_string())?;
    // A connect storm holds one socket per client; so may the server.
    if let Err(error) = procfs::raise_open_files_limit() {
        eprintln!("lab-link-loadgen: {error}");
    }
    let mut sizes = if args.tiny {
        Sizes::tiny()
    } else if args.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    if let Some(n) = args.storm_clients {
        sizes.storm_clients = n;
    }
    if let Some(n) = args.subscribers {
        sizes.subscribers = n;
    }
    if let Some(seconds) = args.seconds {
        sizes.duration = Duration::from_secs_f64(seconds);
    }
    if let Some(n) = args.slow_patches {
        sizes.slow_patches = n;
    }
    if let Some(n) = args.rtt_commands {
        sizes.rtt_commands = n;
    }
    let context = Context {
        target: target.clone(),
        probe: Probe::new(args.pid),
        sizes,
    };
    let scenarios: Vec<&str> = if args.scenarios.is_empty() {
        SCENARIOS.to_vec()
    } else {
        args.scenarios.iter().map(String::as_str).collect()
    };
    if args.rename.is_some() && scenarios.len() != 1 {
        return Err("--as names one scenario: give exactly one --scenario".to_owned());
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let mut report = match &args.out {
        Some(path) if path.exists() => read_report(path)?,
        _ => Report::default(),
    };
    report.label.clone_from(&args.label);
    report.target = target.base_url();
    let mut this_run = Report {
        label: args.label.clone(),
        target: target.base_url(),
        scenarios: Vec::new(),
    };
    for name in scenarios {
        for run in 1..=args.repeat {
            eprintln!("lab-link-loadgen: {} on {}", name, args.label);
            let mut result = runtime
                .block_on(scenario::run(&context, name))
                .map_err(|e| format!("{name} on {}: {e}", target.base_url()))?;
            if let Some(rename) = &args.rename {
                result.scenario.clone_from(rename);
            }
            if args.repeat > 1 {
                result.scenario = format!("{} #{run}", result.scenario);
            }
            this_run.merge(result.clone());
            report.merge(result);
        }
    }
    print!("{}", this_run.table());
    if let Some(path) = &args.out {
        write(path, &to_json(&report)?)?;
    }
    // The clients' sockets may hold the runtime up; do not wait for them.
    runtime.shutdown_background();
    Ok(if this_run.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(INCORRECT)
    })
}

fn report(args: &ReportArgs) -> Result<ExitCode, String> {
    let ours = read_report(&args.ours)?;
    let reference = args.reference.as_deref().map(read_report).transpose()?;
    let bare = args.bare.as_deref().map(read_report).transpose()?;
    let combined = compare(&ours, reference.as_ref(), bare.as_ref());
    let table = combined.table();
    print!("{table}");
    if let Some(path) = &args.json {
        write(path, &to_json(&combined)?)?;
    }
    if let Some(path) = &args.markdown {
        write(path, &table)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn read_report(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a results file: {e}", path.display()))
}

fn to_json(value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string_pretty(value).map_err(|e| format!("cannot serialise results: {e}"))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
