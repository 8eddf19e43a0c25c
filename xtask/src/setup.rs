//! `cargo xtask setup`: installs, idempotently, the tools the tests need.
//!
//! Each [`Tool`] says why the tests need it, how to see that it is there,
//! and how to install it. A tool that is there is left alone, so a second
//! run costs one version check per tool. Today the list is the Rust
//! toolchain's rustfmt and clippy (checked only) and mdBook (installed with
//! `cargo install`). Later issues add Debian packages for the browser tests
//! (`apt-get install`, as root) and a Python venv for the interop tests
//! (`pip install` into `.venv`) as further [`Install`] kinds and entries of
//! [`TOOLS`].

use crate::cmd::{cargo_bin_dir, Cmd, JOBS};
use crate::{Error, Result};

/// One tool the tests need.
#[derive(Debug)]
pub(crate) struct Tool {
    /// Its name in messages.
    name: &'static str,
    /// Which step needs it, for the message when it is installed or missing.
    why: &'static str,
    /// A command that succeeds, printing a version, when the tool is installed.
    check: fn() -> Cmd,
    /// How to get it.
    install: Install,
}

/// How a missing tool is installed.
#[derive(Debug)]
enum Install {
    /// `cargo install --locked` of an exact version from crates.io.
    Cargo {
        package: &'static str,
        version: &'static str,
        /// Further `cargo install` arguments, such as feature selection.
        args: &'static [&'static str],
    },
    /// A component of the Rust toolchain. rustup downloads components from
    /// the Rust distribution server, not from a package registry, so setup
    /// does not try: it names the command and fails.
    Rustup { component: &'static str },
}

/// rustfmt, for `cargo fmt --check`.
const RUSTFMT: Tool = Tool {
    name: "rustfmt",
    why: "`cargo xtask test` checks the formatting with `cargo fmt --check`",
    check: || Cmd::cargo().args(["fmt", "--version"]),
    install: Install::Rustup {
        component: "rustfmt",
    },
};

/// clippy, for `cargo clippy -D warnings`.
const CLIPPY: Tool = Tool {
    name: "clippy",
    why: "`cargo xtask test` lints the workspace with `cargo clippy`",
    check: || Cmd::cargo().args(["clippy", "--version"]),
    install: Install::Rustup {
        component: "clippy",
    },
};

/// mdBook, pinned to the version the book is written for (mdBook 0.5's
/// `book.toml` format). Default features (the `serve` and `watch` servers)
/// are left out: building the book needs neither.
pub(crate) const MDBOOK: Tool = Tool {
    name: "mdBook",
    why: "`cargo xtask test` and `cargo xtask docs` build the book in docs/",
    check: || Cmd::new("mdbook").arg("--version"),
    install: Install::Cargo {
        package: "mdbook",
        version: "0.5.4",
        args: &["--no-default-features"],
    },
};

/// Everything `cargo xtask setup` makes sure of, in order.
const TOOLS: &[&Tool] = &[&RUSTFMT, &CLIPPY, &MDBOOK];

/// `cargo xtask setup`: makes sure of every tool in [`TOOLS`].
pub(crate) fn run() -> Result {
    TOOLS.iter().try_for_each(|tool| ensure(tool))
}

/// Installs `tool` unless it is already there.
pub(crate) fn ensure(tool: &Tool) -> Result {
    match (tool.check)().probe() {
        Some(found) => {
            report_installed(tool, &found);
            Ok(())
        }
        None => install(tool),
    }
}

fn report_installed(tool: &Tool, found: &str) {
    println!("setup: {} is installed ({found})", tool.name);
    if let Install::Cargo {
        package,
        version,
        args,
    } = tool.install
    {
        // `mdbook v0.5.4`: the version is the last word, maybe after a `v`.
        let found_version = found.rsplit(' ').next().unwrap_or(found);
        if found_version.trim_start_matches('v') != version {
            println!(
                "setup: note: the project pins {} {version}; `{}` replaces this one",
                tool.name,
                cargo_install(package, version, args).arg("--force")
            );
        }
    }
}

fn install(tool: &Tool) -> Result {
    match tool.install {
        Install::Cargo {
            package,
            version,
            args,
        } => {
            println!(
                "setup: installing {} {version} (crates.io package `{package}`), because {}",
                tool.name, tool.why
            );
            cargo_install(package, version, args)
                .on_failure(format!("could not install {}", tool.name))
                .run()?;
            if (tool.check)().probe().is_none() {
                let bin = cargo_bin_dir().map_or_else(
                    || "cargo's bin directory".to_owned(),
                    |dir| dir.display().to_string(),
                );
                return Err(Error::new(format!(
                    "{} was installed but `{}` still fails: is {bin} on PATH?",
                    tool.name,
                    (tool.check)()
                )));
            }
            println!("setup: installed {} {version}", tool.name);
            Ok(())
        }
        Install::Rustup { component } => Err(Error::new(format!(
            "{} is not installed, and {}: install it with `rustup component add {component}`",
            tool.name, tool.why
        ))),
    }
}

/// `cargo install` of an exact version, with the lock file the package
/// was published with.
fn cargo_install(package: &str, version: &str, args: &[&str]) -> Cmd {
    Cmd::cargo()
        .args(["install", package, "--locked"])
        .args(args.iter().copied())
        .args(["--version", version, "-j", JOBS])
}

#[cfg(test)]
mod tests {
    use super::{cargo_install, Install, MDBOOK};

    #[test]
    fn mdbook_is_installed_at_the_pinned_version() {
        let Install::Cargo {
            package,
            version,
            args,
        } = MDBOOK.install
        else {
            panic!("mdBook comes from crates.io")
        };
        assert_eq!(
            cargo_install(package, version, args).to_string(),
            "cargo install mdbook --locked --no-default-features --version 0.5.4 -j 2"
        );
    }
}
