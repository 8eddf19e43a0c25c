//! `cargo xtask serve-demo`: will serve the demo instrument of DEMO.md.
//!
//! The demo does not exist yet: it lands with the demo issue. Until then
//! the subcommand accepts the documented flags, so that the interface is
//! fixed, and fails with a message saying so; it never fakes a server.

use crate::flags::ServeDemo;
use crate::{Error, Result};

/// `cargo xtask serve-demo`: always fails, for now.
pub(crate) fn run(flags: &ServeDemo) -> Result {
    Err(Error::new(format!(
        "the demo instrument is not implemented yet: it lands with the demo issue, \
         so nothing is served (requested: {})",
        describe(flags)
    )))
}

/// The requested configuration, in words.
fn describe(flags: &ServeDemo) -> String {
    let ServeDemo {
        host,
        port,
        prefix,
        release,
        persist,
        auth,
        allowed_origin,
        no_trust_loopback,
    } = flags;
    let mut words = vec![format!("http://{host}:{port} with prefix {prefix}")];
    if *release {
        words.push("release build".to_owned());
    }
    if let Some(path) = persist {
        words.push(format!("state persisted to {}", path.display()));
    }
    if let Some(path) = auth {
        words.push(format!(
            "access control with its store at {}",
            path.display()
        ));
    }
    for origin in allowed_origin {
        words.push(format!("allowed origin {origin}"));
    }
    if *no_trust_loopback {
        words.push("loopback clients authenticate".to_owned());
    }
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::run;
    use crate::flags::{Command, Xtask};

    #[track_caller]
    fn check(args: &[&str], expect: &str) {
        let argv = ["xtask", "serve-demo"]
            .into_iter()
            .chain(args.iter().copied());
        let Command::ServeDemo(flags) = Xtask::parse_from(argv).command else {
            panic!("not the serve-demo subcommand")
        };
        assert_eq!(run(&flags).unwrap_err().to_string(), expect);
    }

    #[test]
    fn says_the_demo_lands_with_the_demo_issue() {
        check(
            &[],
            "the demo instrument is not implemented yet: it lands with the demo issue, \
             so nothing is served (requested: http://127.0.0.1:8000 with prefix /sync)",
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
            ],
            "the demo instrument is not implemented yet: it lands with the demo issue, \
             so nothing is served (requested: http://127.0.0.1:0 with prefix /sync, \
             release build, state persisted to demo.sqlite, \
             access control with its store at auth.sqlite)",
        );
    }
}
