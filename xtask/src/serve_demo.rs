//! `cargo xtask serve-demo`: serves the demo instrument of DEMO.md (the
//! `lab-link-demo` binary, built by cargo on the way).
//!
//! xtask replaces itself with `cargo run -p lab-link-demo -- FLAGS` (Unix
//! `exec`, and cargo's `run` execs the binary in turn), so the process that
//! started `cargo xtask serve-demo` ends up being the demo itself: SIGINT
//! and SIGTERM reach it directly and it stops cleanly, and its standard
//! output carries exactly the `lab-link demo listening on …` line.
//!
//! With `--relays N` it runs the example `serve_demo_relays` of
//! `lab-link-relay` instead (the same way): nats-server, the demo as the
//! primary of the instrument `demo`, and N relays, each line saying where
//! it listens.

use crate::cmd::{Cmd, JOBS};
use crate::flags::ServeDemo;
use crate::Result;

/// `cargo xtask serve-demo [FLAGS]`: returns only if cargo cannot start.
pub(crate) fn run(flags: &ServeDemo) -> Result {
    Err(command(flags).exec())
}

/// `cargo run -p lab-link-demo [--release] -- FLAGS`, or with `--relays`
/// the relay example.
fn command(flags: &ServeDemo) -> Cmd {
    if let Some(relays) = flags.relays {
        let mut cmd = Cmd::cargo().args(["run", "--quiet", "-p", "lab-link-relay", "-j", JOBS]);
        if flags.release {
            cmd = cmd.arg("--release");
        }
        return cmd
            .args(["--example", "serve_demo_relays", "--", "--relays"])
            .arg(relays.to_string())
            .arg("--port")
            .arg(flags.port.to_string());
    }
    let ServeDemo {
        host,
        port,
        prefix,
        release,
        persist,
        auth,
        allowed_origin,
        no_trust_loopback,
        relays: _,
        panel,
    } = flags;
    let mut cmd = Cmd::cargo().args(["run", "--quiet", "-p", "lab-link-demo", "-j", JOBS]);
    if *release {
        cmd = cmd.arg("--release");
    }
    cmd = cmd
        .args(["--", "--host", host, "--port"])
        .arg(port.to_string())
        .args(["--prefix", prefix]);
    if let Some(path) = persist {
        cmd = cmd.arg("--persist").arg(path);
    }
    if let Some(path) = auth {
        cmd = cmd.arg("--auth").arg(path);
    }
    for origin in allowed_origin {
        cmd = cmd.args(["--allowed-origin", origin]);
    }
    if *no_trust_loopback {
        cmd = cmd.arg("--no-trust-loopback");
    }
    if let Some(panel) = panel {
        cmd = cmd.args(["--panel", panel]);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::command;
    use crate::flags::{Command, Xtask};

    #[track_caller]
    fn check(args: &[&str], expect: &str) {
        let argv = ["xtask", "serve-demo"]
            .into_iter()
            .chain(args.iter().copied());
        let Command::ServeDemo(flags) = Xtask::parse_from(argv).command else {
            panic!("not the serve-demo subcommand")
        };
        let line = command(&flags).to_string();
        let line = line
            .split_once(' ')
            .map_or(line.as_str(), |(_cargo, rest)| rest);
        assert_eq!(line, expect);
    }

    #[test]
    fn passes_every_flag_to_the_demo_binary() {
        check(
            &[],
            "run --quiet -p lab-link-demo -j 2 -- --host 127.0.0.1 --port 8000 --prefix /sync",
        );
        check(
            &[
                "--port",
                "0",
                "--release",
                "--persist",
                "demo.sqlite",
                "--auth",
                "auth.sqlite",
                "--allowed-origin",
                "http://a:1",
                "--no-trust-loopback",
                "--panel",
                "generated",
            ],
            "run --quiet -p lab-link-demo -j 2 --release -- --host 127.0.0.1 --port 0 \
             --prefix /sync --persist demo.sqlite --auth auth.sqlite \
             --allowed-origin http://a:1 --no-trust-loopback --panel generated",
        );
    }

    #[test]
    fn relays_run_the_relay_example_with_the_port() {
        check(
            &["--relays", "2"],
            "run --quiet -p lab-link-relay -j 2 --example serve_demo_relays -- --relays 2 \
             --port 8000",
        );
        check(
            &["--relays", "3", "--port", "0", "--release"],
            "run --quiet -p lab-link-relay -j 2 --release --example serve_demo_relays -- \
             --relays 3 --port 0",
        );
    }
}
