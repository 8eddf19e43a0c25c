//! `cargo xtask bench`: every benchmark of the workspace, one bench binary
//! after the other, with any arguments after `--` passed on to each
//! benchmark binary.
//!
//! The engine and the typed mutations are divan benches; the server bench
//! (`lab-link/benches/server.rs`) is a plain `main` that prints a table and
//! writes `target/bench/server.json`. It takes divan's command line too:
//! filters select its scenarios by name (`cargo xtask bench -- fan_out`), a
//! filter meant for the divan benches (`store`) selects none of them, and
//! options it does not use (`--sample-count 10`) are ignored.

use crate::cmd::{Cmd, JOBS};
use crate::flags::Bench;
use crate::Result;

/// The benchmark binaries: `(package, bench target)`.
const BENCHES: [(&str, &str); 3] = [
    // The patch engine against the json-patch crate.
    ("lab-link-core", "core"),
    // Typed mutations through LabSync.
    ("lab-link", "state"),
    // The server: fan-out to WebSocket clients, idle memory, a slow client,
    // command round trips.
    ("lab-link", "server"),
];

/// `cargo xtask bench [-- ARGS]`.
pub(crate) fn run(flags: &Bench) -> Result {
    commands(flags).iter().try_for_each(Cmd::run)
}

fn commands(flags: &Bench) -> Vec<Cmd> {
    BENCHES
        .iter()
        .map(|(package, bench)| {
            let cmd = Cmd::cargo()
                .args(["bench", "-p", package, "--bench", bench, "-j", JOBS])
                .on_failure("the benchmarks did not build or run: see the output above");
            if flags.args.is_empty() {
                cmd
            } else {
                cmd.arg("--").args(&flags.args)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::commands;
    use crate::flags::Bench;

    #[track_caller]
    fn check(args: &[&str], expect: &[&str]) {
        let flags = Bench {
            args: args.iter().map(|arg| arg.to_string()).collect(),
        };
        let commands: Vec<String> = commands(&flags).iter().map(ToString::to_string).collect();
        assert_eq!(commands, expect);
    }

    #[test]
    fn runs_every_bench_and_passes_extra_arguments_on() {
        check(
            &[],
            &[
                "cargo bench -p lab-link-core --bench core -j 2",
                "cargo bench -p lab-link --bench state -j 2",
                "cargo bench -p lab-link --bench server -j 2",
            ],
        );
        check(
            &["store", "--sample-count", "10"],
            &[
                "cargo bench -p lab-link-core --bench core -j 2 -- store --sample-count 10",
                "cargo bench -p lab-link --bench state -j 2 -- store --sample-count 10",
                "cargo bench -p lab-link --bench server -j 2 -- store --sample-count 10",
            ],
        );
    }
}
