//! `cargo xtask bench`: the benchmarks of lab-link-core (divan), with any
//! arguments after `--` passed on to the benchmark binary.

use crate::cmd::{Cmd, JOBS};
use crate::flags::Bench;
use crate::Result;

/// `cargo xtask bench [-- ARGS]`.
pub(crate) fn run(flags: &Bench) -> Result {
    command(flags).run()
}

fn command(flags: &Bench) -> Cmd {
    let cmd = Cmd::cargo()
        .args([
            "bench",
            "-p",
            "lab-link-core",
            "--bench",
            "core",
            "-j",
            JOBS,
        ])
        .on_failure("the benchmarks did not build or run: see the output above");
    if flags.args.is_empty() {
        cmd
    } else {
        cmd.arg("--").args(&flags.args)
    }
}

#[cfg(test)]
mod tests {
    use super::command;
    use crate::flags::Bench;

    #[track_caller]
    fn check(args: &[&str], expect: &str) {
        let flags = Bench {
            args: args.iter().map(|arg| arg.to_string()).collect(),
        };
        assert_eq!(command(&flags).to_string(), expect);
    }

    #[test]
    fn passes_extra_arguments_to_the_bench_binary() {
        check(&[], "cargo bench -p lab-link-core --bench core -j 2");
        check(
            &["store", "--sample-count", "10"],
            "cargo bench -p lab-link-core --bench core -j 2 -- store --sample-count 10",
        );
    }
}
