//! The command line of `cargo xtask`: one clap struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Project automation for lab-link: `cargo xtask <subcommand>`.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
pub(crate) struct Xtask {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Install, if missing, the tools the tests need (mdBook, the Python
    /// reference client in target/py-venv).
    Setup(Setup),
    /// Run every check: setup, fmt, clippy, all tests and doctests, the book build.
    Test(Test),
    /// Run the benchmarks: the engine, typed mutations (divan), the server,
    /// and the load scenarios against the demo (optionally the reference).
    Bench(Bench),
    /// Build the book in docs/ into target/book.
    Docs(Docs),
    /// Serve the demo instrument (`cargo run -p lab-link-demo` with the flags below).
    ServeDemo(ServeDemo),
    /// Write TypeScript declarations for lab-link-js from a server's /schema.
    CodegenTs(CodegenTs),
}

/// `cargo xtask codegen-ts`.
#[derive(Debug, Args)]
pub(crate) struct CodegenTs {
    /// The schema's URL, such as http://127.0.0.1:8000/sync/schema.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "schema",
        required_unless_present = "schema"
    )]
    pub(crate) url: Option<String>,
    /// A saved /schema document.
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: Option<PathBuf>,
    /// The folder to write index.d.ts and index.js into.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
}

/// `cargo xtask setup`.
#[derive(Debug, Args)]
pub(crate) struct Setup {}

/// `cargo xtask test`.
#[derive(Debug, Args)]
pub(crate) struct Test {
    /// Skip `cargo fmt --check` and `cargo clippy` (for local iteration;
    /// CI runs everything).
    #[arg(long)]
    pub(crate) quick: bool,
}

/// `cargo xtask bench`.
#[derive(Debug, Args)]
pub(crate) struct Bench {
    /// Also run every load scenario against the Python reference demo
    /// (bench/python/demo.py), alternating with ours, and report the ratio.
    #[arg(long)]
    pub(crate) reference: bool,
    /// Smoke-test sizes: small load scenarios, microbenchmarks run once.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Skip the core microbenchmarks.
    #[arg(long)]
    pub(crate) no_micro: bool,
    /// Skip the load scenarios against the demo server.
    #[arg(long, conflicts_with = "reference")]
    pub(crate) no_load: bool,
    /// Run only this load scenario (repeatable): fan_out, fan_out_paced,
    /// command_rtt, connect_storm, slow_consumer, stream, or growth (the
    /// growth table: fan_out at 10 to 10,000 subscribers, and a
    /// 10,000-channel state).
    #[arg(long = "scenario", value_name = "NAME")]
    pub(crate) scenarios: Vec<String>,
    /// Run each load scenario N times in a row on its server (reported as
    /// `NAME #1` … `NAME #N`), e.g. `--scenario slow_consumer --repeat 10`.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) repeat: u32,
    /// Arguments for the microbenchmark binaries, after `--`
    /// (for example `cargo xtask bench -- store`).
    #[arg(last = true)]
    pub(crate) args: Vec<String>,
}

/// `cargo xtask docs`.
#[derive(Debug, Args)]
pub(crate) struct Docs {}

/// `cargo xtask serve-demo`: the flags of the demo contract (DEMO.md,
/// "Running"), fixed now so that scripts can rely on them.
#[derive(Debug, Args)]
pub(crate) struct ServeDemo {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8000)]
    pub(crate) port: u16,
    /// Path prefix of the sync endpoints.
    #[arg(long, default_value = "/sync")]
    pub(crate) prefix: String,
    /// Run an optimised build (what benchmarks measure).
    #[arg(long)]
    pub(crate) release: bool,
    /// Keep the state in an SQLite file at PATH.
    #[arg(long, value_name = "PATH")]
    pub(crate) persist: Option<PathBuf>,
    /// Turn on access control with its store at PATH.
    #[arg(long, value_name = "PATH")]
    pub(crate) auth: Option<PathBuf>,
    /// Add a separately hosted UI origin (repeatable).
    #[arg(long, value_name = "URL")]
    pub(crate) allowed_origin: Vec<String>,
    /// Make loopback clients authenticate too.
    #[arg(long)]
    pub(crate) no_trust_loopback: bool,
    /// Also start nats-server and this many relays of the demo (on the
    /// ports after --port): the topology of the book's "Scaling out".
    /// The relays serve the generated panel at `/`.
    #[arg(
        long,
        value_name = "N",
        conflicts_with_all = [
            "persist", "auth", "allowed_origin", "no_trust_loopback", "host", "prefix", "panel",
        ]
    )]
    pub(crate) relays: Option<u16>,
    /// Which page `/` serves: `hand-made` (the demo's own UI) or
    /// `generated` (the panel rendered from /schema; the demo's UI moves
    /// to /demo/).
    #[arg(long, value_name = "PANEL", value_parser = ["hand-made", "generated"])]
    pub(crate) panel: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::{CommandFactory, Parser};

    use super::{Command, Xtask};

    #[track_caller]
    fn parse(args: &[&str]) -> Command {
        let argv = std::iter::once("xtask").chain(args.iter().copied());
        match Xtask::try_parse_from(argv) {
            Ok(xtask) => xtask.command,
            Err(error) => panic!("`{}` does not parse: {error}", args.join(" ")),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Xtask::command().debug_assert();
    }

    #[test]
    fn test_runs_everything_by_default() {
        let Command::Test(test) = parse(&["test"]) else {
            panic!("not the test subcommand")
        };
        assert!(!test.quick);
        let Command::Test(test) = parse(&["test", "--quick"]) else {
            panic!("not the test subcommand")
        };
        assert!(test.quick);
    }

    #[test]
    fn bench_passes_arguments_after_double_dash() {
        let Command::Bench(bench) = parse(&["bench", "--", "store", "--sample-count", "5"]) else {
            panic!("not the bench subcommand")
        };
        assert_eq!(bench.args, ["store", "--sample-count", "5"]);
        assert!(!bench.reference && !bench.quick && !bench.no_micro && !bench.no_load);
    }

    #[test]
    fn bench_takes_the_load_flags() {
        let Command::Bench(bench) = parse(&[
            "bench",
            "--reference",
            "--quick",
            "--no-micro",
            "--scenario",
            "fan_out",
            "--scenario",
            "stream",
        ]) else {
            panic!("not the bench subcommand")
        };
        assert!(bench.reference && bench.quick && bench.no_micro && !bench.no_load);
        assert_eq!(bench.scenarios, ["fan_out", "stream"]);
    }

    #[test]
    fn codegen_ts_takes_a_url_or_a_schema_file() {
        let Command::CodegenTs(codegen) =
            parse(&["codegen-ts", "--schema", "s.json", "--out", "gen"])
        else {
            panic!("not the codegen-ts subcommand")
        };
        assert_eq!(codegen.schema.as_deref(), Some("s.json".as_ref()));
        assert_eq!(codegen.out, PathBuf::from("gen"));
        let argv = ["xtask", "codegen-ts", "--out", "gen"];
        assert!(Xtask::try_parse_from(argv).is_err());
        let argv = [
            "xtask",
            "codegen-ts",
            "--url",
            "http://x/sync/schema",
            "--schema",
            "s",
            "--out",
            "g",
        ];
        assert!(Xtask::try_parse_from(argv).is_err());
    }

    #[test]
    fn serve_demo_defaults_follow_the_demo_contract() {
        let Command::ServeDemo(demo) = parse(&["serve-demo"]) else {
            panic!("not the serve-demo subcommand")
        };
        assert_eq!(demo.host, "127.0.0.1");
        assert_eq!(demo.port, 8000);
        assert_eq!(demo.prefix, "/sync");
        assert!(!demo.release && !demo.no_trust_loopback);
        assert!(demo.persist.is_none() && demo.auth.is_none());
        assert!(demo.allowed_origin.is_empty());
    }

    #[test]
    fn serve_demo_accepts_every_documented_flag() {
        let Command::ServeDemo(demo) = parse(&[
            "serve-demo",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--prefix",
            "/lab",
            "--release",
            "--persist",
            "state.sqlite",
            "--auth",
            "auth.sqlite",
            "--allowed-origin",
            "http://127.0.0.1:5173",
            "--allowed-origin",
            "http://127.0.0.1:5174",
            "--no-trust-loopback",
        ]) else {
            panic!("not the serve-demo subcommand")
        };
        assert_eq!(demo.port, 0);
        assert_eq!(demo.prefix, "/lab");
        assert!(demo.release && demo.no_trust_loopback);
        assert_eq!(demo.persist.as_deref(), Some("state.sqlite".as_ref()));
        assert_eq!(demo.auth.as_deref(), Some("auth.sqlite".as_ref()));
        assert_eq!(
            demo.allowed_origin,
            ["http://127.0.0.1:5173", "http://127.0.0.1:5174"]
        );
    }
}
