//! `cargo xtask setup`: installs, idempotently, the tools the tests need.
//!
//! Each [`Tool`] says why the tests need it, how to see that it is there,
//! and how to install it. A tool that is there is left alone, so a second
//! run costs one version check per tool. Today the list is the Rust
//! toolchain's rustfmt and clippy (checked only), mdBook (installed with
//! `cargo install`), the Python reference `lab-link` 0.5.0 with what its
//! demo needs to serve (`bench/python/requirements.txt`, installed with
//! `pip` into a virtualenv at `target/py-venv`, made with `python3 -m
//! venv`), Debian's `chromium` and `chromium-driver` for the browser
//! tests and Debian's `nats-server` for the JetStream tests (`apt-get
//! install`, as root), Debian's `nodejs` and `npm` for the browser
//! runtime's tests, and that runtime's Node packages (`npm ci` from
//! `lab-link-js/package-lock.json` into `lab-link-js/node_modules`).

use std::path::PathBuf;

use crate::cmd::{cargo_bin_dir, Cmd, JOBS};
use crate::{project_root, Error, Result};

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
    /// `pip install -r` of a requirements file of exact versions from PyPI
    /// into the project's virtualenv ([`VENV`]), which is first created
    /// with `python3 -m venv` when it is missing.
    Pip {
        /// The requirements file, relative to the workspace root.
        requirements: &'static str,
    },
    /// `apt-get install` of Debian packages (after `apt-get update`); needs
    /// root, else setup names the command and fails.
    Apt { packages: &'static [&'static str] },
    /// `npm ci` in a folder of the workspace: exactly the versions of its
    /// committed `package-lock.json`, into its `node_modules`.
    Npm {
        /// The package's folder, relative to the workspace root.
        dir: &'static str,
    },
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

/// The virtualenv the Python tools live in, relative to the workspace
/// root. Under `target/` so that it is ignored by git and removed by `cargo
/// clean`; the interop tests look for its interpreter at this path.
pub(crate) const VENV: &str = "target/py-venv";

/// The Python reference implementation: its client, which the interop
/// tests (`lab-link/tests/python_client.rs`) drive against our server, and
/// its server, which runs the reference demo (`bench/python/demo.py`) for
/// the contract test and `cargo xtask bench --reference`. The check
/// imports the packages and fails unless every version is the pinned one,
/// so a venv holding other versions is brought to these.
const PYTHON_LAB_LINK: Tool = Tool {
    name: "the Python reference (lab-link 0.5.0 and its demo's server)",
    why: "`cargo test` runs the interop tests in lab-link/tests/python_client.rs and the \
          reference demo of bench/python with it",
    check: || {
        Cmd::new(venv_python()).args([
            "-c",
            "import importlib.metadata as m, lab_link, uvicorn, sqlmodel; \
             v = {p: m.version(p) for p in ('lab-link', 'uvicorn', 'sqlmodel')}; \
             print(' '.join(f'{p} {x}' for p, x in v.items())); \
             raise SystemExit(v != {'lab-link': '0.5.0', 'uvicorn': '0.54.0', 'sqlmodel': '0.0.50'})",
        ])
    },
    install: Install::Pip {
        requirements: "bench/python/requirements.txt",
    },
};

/// Debian's Chromium and its WebDriver, for the demo's browser tests
/// (`lab-link-demo/tests/browser.rs`); never a browser downloaded by a
/// test tool.
const CHROMIUM: Tool = Tool {
    name: "Chromium and ChromeDriver (Debian packages chromium, chromium-driver)",
    why: "`cargo test` runs the demo's end-to-end tests in headless Chromium",
    check: || {
        Cmd::new("sh").args([
            "-c",
            "chromium --version >/dev/null && chromedriver --version | head -n 1",
        ])
    },
    install: Install::Apt {
        packages: &["chromium", "chromium-driver"],
    },
};

/// Debian's NATS server (2.9, with JetStream), which the tests of
/// `lab-link-nats` start on 127.0.0.1 through the testkit's `NatsServer`.
const NATS_SERVER: Tool = Tool {
    name: "nats-server (Debian package nats-server)",
    why: "`cargo test` runs lab-link-nats against a real NATS JetStream server",
    check: || Cmd::new("sh").args(["-c", "PATH=\"$PATH:/usr/sbin\" nats-server --version"]),
    install: Install::Apt {
        packages: &["nats-server"],
    },
};

/// Node.js 20 or later and npm, from Debian's packages, for the browser
/// runtime `lab-link-js`: its type check and its tests.
pub(crate) const NODE: Tool = Tool {
    name: "Node.js 20 or later and npm (Debian packages nodejs, npm)",
    why:
        "`cargo xtask test` type-checks lab-link-js with tsc and runs its tests with `node --test`",
    check: || {
        Cmd::new("sh").args([
            "-c",
            "npm --version >/dev/null && node -e \"const [major] = process.versions.node.split('.'); \
             if (Number(major) < 20) process.exit(1); console.log('node ' + process.version)\"",
        ])
    },
    install: Install::Apt {
        packages: &["nodejs", "npm"],
    },
};

/// The development packages of `lab-link-js` (TypeScript, `ws`, esbuild,
/// React, Svelte), at the versions its lockfile pins. The runtime itself
/// has no dependencies; these are for its checks and tests only.
pub(crate) const NODE_PACKAGES: Tool = Tool {
    name: "the Node packages of lab-link-js",
    why: "its type check, tests, adapters' tests and size measure need them",
    check: || Cmd::new("node").arg("lab-link-js/scripts/check-installed.js"),
    install: Install::Npm { dir: "lab-link-js" },
};

/// Everything `cargo xtask setup` makes sure of, in order.
const TOOLS: &[&Tool] = &[
    &RUSTFMT,
    &CLIPPY,
    &MDBOOK,
    &PYTHON_LAB_LINK,
    &CHROMIUM,
    &NATS_SERVER,
    &NODE,
    &NODE_PACKAGES,
];

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
        Install::Apt { packages } => {
            let list = packages.join(" ");
            let root = Cmd::new("id")
                .arg("-u")
                .probe()
                .is_some_and(|uid| uid == "0");
            if !root {
                return Err(Error::new(format!(
                    "{} is not installed, and {}: install it as root with \
                     `apt-get update && apt-get install -y {list}`, then run `cargo xtask \
                     setup` again",
                    tool.name, tool.why
                )));
            }
            println!("setup: installing {}, because {}", tool.name, tool.why);
            Cmd::new("apt-get")
                .args(["update", "-qq"])
                .on_failure("`apt-get update` failed: is the Debian mirror reachable?")
                .run()?;
            apt_install(packages)
                .on_failure(format!("could not install the Debian packages {list}"))
                .run()?;
            match (tool.check)().probe() {
                Some(found) => {
                    println!("setup: installed {} ({found})", tool.name);
                    Ok(())
                }
                None => Err(Error::new(format!(
                    "{list} were installed but `{}` still fails",
                    (tool.check)()
                ))),
            }
        }
        Install::Npm { dir } => {
            println!(
                "setup: installing {} (`npm ci` from {dir}/package-lock.json), because {}",
                tool.name, tool.why
            );
            npm_ci(dir)
                .if_missing("install Node.js and npm (Debian: `apt-get install nodejs npm`)")
                .on_failure(format!(
                    "could not install {}: `npm ci` needs the npm registry",
                    tool.name
                ))
                .run()?;
            if (tool.check)().probe().is_none() {
                return Err(Error::new(format!(
                    "`npm ci` ran but `{}` still fails",
                    (tool.check)()
                )));
            }
            println!("setup: installed {}", tool.name);
            Ok(())
        }
        Install::Pip { requirements } => {
            if !venv_python().exists() {
                create_venv(tool)?;
            }
            println!(
                "setup: installing {} (PyPI packages of {requirements}) into {VENV}, because {}",
                tool.name, tool.why
            );
            pip_install(requirements)
                .on_failure(format!(
                    "could not install {}: it needs Python 3.11 or later and PyPI; to start \
                     over, delete {VENV}",
                    tool.name
                ))
                .run()?;
            if (tool.check)().probe().is_none() {
                return Err(Error::new(format!(
                    "{} was installed into {VENV} but `{}` still fails",
                    tool.name,
                    (tool.check)()
                )));
            }
            println!("setup: installed {} into {VENV}", tool.name);
            Ok(())
        }
    }
}

/// Creates [`VENV`] with the system's `python3`.
fn create_venv(tool: &Tool) -> Result {
    let Some(python) = Cmd::new("python3").arg("--version").probe() else {
        return Err(Error::new(format!(
            "python3 is not installed, and {} needs it because {}: install Python 3.11 or \
             later (Debian: `apt-get install python3 python3-venv`) and run `cargo xtask \
             setup` again",
            tool.name, tool.why
        )));
    };
    println!("setup: creating a Python virtualenv at {VENV} with {python}");
    Cmd::new("python3")
        .args(["-m", "venv", VENV])
        .on_failure(format!(
            "could not create the virtualenv at {VENV}: on Debian the venv module is a \
             package of its own (`apt-get install python3-venv`); delete {VENV} and run \
             `cargo xtask setup` again"
        ))
        .run()
}

/// The virtualenv's interpreter.
fn venv_python() -> PathBuf {
    let bin = if cfg!(windows) {
        "Scripts/python.exe"
    } else {
        "bin/python"
    };
    project_root().join(VENV).join(bin)
}

/// `pip install -r` of a requirements file (exact versions) into the
/// virtualenv, through its own interpreter so that no other pip on PATH is
/// picked up.
fn pip_install(requirements: &str) -> Cmd {
    Cmd::new(venv_python())
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
        .arg(project_root().join(requirements))
}

/// `npm ci` of the package in `dir`: the lockfile's versions, nothing else.
fn npm_ci(dir: &str) -> Cmd {
    Cmd::new("npm").args(["ci", "--prefix", dir, "--no-audit", "--no-fund"])
}

/// `apt-get install` without questions.
fn apt_install(packages: &[&str]) -> Cmd {
    Cmd::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(packages.iter().copied())
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
    use super::{
        apt_install, cargo_install, npm_ci, pip_install, Install, Tool, CHROMIUM, MDBOOK,
        NATS_SERVER, NODE, NODE_PACKAGES, PYTHON_LAB_LINK,
    };

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

    #[test]
    fn the_python_reference_is_installed_from_its_pinned_requirements() {
        let Install::Pip { requirements } = PYTHON_LAB_LINK.install else {
            panic!("the Python reference comes from PyPI")
        };
        let command = pip_install(requirements).to_string();
        assert!(
            command.starts_with("python -m pip install --disable-pip-version-check -r "),
            "{command}"
        );
        // The check pins the versions the requirements file pins.
        let pinned = std::fs::read_to_string(crate::project_root().join(requirements)).unwrap();
        let check = (PYTHON_LAB_LINK.check)().to_string();
        for package in ["lab-link", "uvicorn", "sqlmodel"] {
            let line = pinned
                .lines()
                .find(|line| line.starts_with(&format!("{package}==")))
                .unwrap_or_else(|| panic!("{requirements} pins {package}"));
            let version = line.trim_start_matches(&format!("{package}=="));
            assert!(
                check.contains(&format!("'{package}': '{version}'")),
                "{check} vs {line}"
            );
        }
    }

    /// `tool` comes from Debian's packages, installed by `expect`.
    #[track_caller]
    fn check_apt(tool: &Tool, expect: &str) {
        let Install::Apt { packages } = tool.install else {
            panic!("{} comes from Debian's packages", tool.name)
        };
        assert_eq!(apt_install(packages).to_string(), expect);
    }

    #[test]
    fn the_browser_comes_from_debian() {
        check_apt(&CHROMIUM, "apt-get install -y -qq chromium chromium-driver");
    }

    #[test]
    fn node_comes_from_debian_and_its_packages_from_the_lockfile() {
        check_apt(&NODE, "apt-get install -y -qq nodejs npm");
        let Install::Npm { dir } = NODE_PACKAGES.install else {
            panic!("the Node packages come from npm")
        };
        assert_eq!(
            npm_ci(dir).to_string(),
            "npm ci --prefix lab-link-js --no-audit --no-fund"
        );
        assert!(crate::project_root()
            .join(dir)
            .join("package-lock.json")
            .is_file());
    }

    #[test]
    fn the_nats_server_comes_from_debian() {
        check_apt(&NATS_SERVER, "apt-get install -y -qq nats-server");
    }
}
