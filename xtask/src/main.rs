//! `cargo xtask`: the project's automation (setup, test, bench, docs, serve-demo,
//! codegen-ts).
//!
//! Run it through the alias in `.cargo/config.toml` as `cargo xtask
//! <subcommand>`; `cargo xtask --help` lists the subcommands. Whatever the
//! current directory, every subcommand works from the workspace root, and a
//! failure exits non-zero with one line saying what went wrong and what to do.
//!
//! Layout, as in rust-analyzer's xtask: `flags.rs` declares the command
//! line, one module per subcommand does the work, `cmd.rs` runs the tools
//! they drive, and `tidy.rs` holds the convention checks that `cargo test`
//! runs.

mod bench;
mod cmd;
mod codegen_ts;
mod docs;
mod flags;
mod serve_demo;
mod setup;
mod test;
#[cfg(test)]
mod tidy;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use crate::flags::{Command, Xtask};

fn main() -> ExitCode {
    let xtask = Xtask::parse();
    let result = match &xtask.command {
        Command::Setup(_) => setup::run(),
        Command::Test(flags) => test::run(flags),
        Command::Bench(flags) => bench::run(flags),
        Command::Docs(_) => docs::run(),
        Command::ServeDemo(flags) => serve_demo::run(flags),
        Command::CodegenTs(flags) => codegen_ts::run(flags),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Why a subcommand failed, as one line for the person who ran it.
#[derive(Debug)]
pub(crate) struct Error(String);

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What every subcommand returns.
pub(crate) type Result<T = (), E = Error> = std::result::Result<T, E>;

/// The workspace root: the parent of this crate's directory.
pub(crate) fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Invariant: xtask/ is a direct child of the workspace root.
    manifest_dir
        .parent()
        .expect("xtask/ lives inside the workspace root")
        .to_path_buf()
}
