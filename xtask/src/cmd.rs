//! Running the tools xtask drives: echo the command line, run it from the
//! workspace root, and turn a failure into a message that says what to do.

use std::env;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{project_root, Error, Result};

/// Parallel jobs for every cargo build: the project's machines have two
/// cores, and more jobs than cores only cost memory.
pub(crate) const JOBS: &str = "2";

/// One external command, built like [`std::process::Command`] but with the
/// messages a person needs when it is missing or fails.
#[derive(Debug)]
pub(crate) struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    /// What to tell the user when the program is not found.
    if_missing: Option<String>,
    /// What to tell the user when the program exits unsuccessfully.
    on_failure: Option<String>,
}

impl Cmd {
    pub(crate) fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            if_missing: None,
            on_failure: None,
        }
    }

    /// The cargo that runs xtask (`$CARGO`), so every step uses the same
    /// toolchain as the `cargo xtask` that started it.
    pub(crate) fn cargo() -> Self {
        Self::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
    }

    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// What to do when the program is not installed.
    pub(crate) fn if_missing(mut self, hint: impl Into<String>) -> Self {
        self.if_missing = Some(hint.into());
        self
    }

    /// What to do when the program runs and fails.
    pub(crate) fn on_failure(mut self, hint: impl Into<String>) -> Self {
        self.on_failure = Some(hint.into());
        self
    }

    /// Echoes the command line, runs the command from the workspace root
    /// with its output shown, and fails unless it exits successfully.
    pub(crate) fn run(&self) -> Result {
        println!("$ {self}");
        let status = self
            .command()
            .stdin(Stdio::null())
            .status()
            .map_err(|error| self.spawn_error(&error))?;
        if status.success() {
            return Ok(());
        }
        let mut message = format!("`{self}` failed ({status})");
        if let Some(hint) = &self.on_failure {
            message.push_str(": ");
            message.push_str(hint);
        }
        Err(Error::new(message))
    }

    /// As [`Cmd::run`], but also hands every line the command writes to
    /// standard output to `observe` (the lines are still shown).
    pub(crate) fn run_observing(&self, mut observe: impl FnMut(&str)) -> Result {
        use std::io::{BufRead, BufReader};

        println!("$ {self}");
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| self.spawn_error(&error))?;
        let stdout = child.stdout.take().expect("stdout was piped above");
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|error| Error::new(format!("reading `{self}`: {error}")))?;
            println!("{line}");
            observe(&line);
        }
        let status = child
            .wait()
            .map_err(|error| Error::new(format!("waiting for `{self}`: {error}")))?;
        if status.success() {
            return Ok(());
        }
        let mut message = format!("`{self}` failed ({status})");
        if let Some(hint) = &self.on_failure {
            message.push_str(": ");
            message.push_str(hint);
        }
        Err(Error::new(message))
    }

    /// Replaces this process with the command (Unix `exec`), so signals
    /// sent to `cargo xtask …` reach the command itself; the command line
    /// is echoed on standard error, leaving standard output to the command.
    /// Returns only if the command could not be started.
    pub(crate) fn exec(&self) -> Error {
        eprintln!("$ {self}");
        #[cfg(unix)]
        let error = {
            use std::os::unix::process::CommandExt;
            self.command().exec()
        };
        #[cfg(not(unix))]
        let error = match self.command().status() {
            Ok(status) if status.success() => std::process::exit(0),
            Ok(status) => std::process::exit(status.code().unwrap_or(1)),
            Err(error) => error,
        };
        self.spawn_error(&error)
    }

    /// Runs the command quietly and returns the first line of its output,
    /// or `None` if it cannot be started or fails: the check of whether a
    /// tool is installed.
    pub(crate) fn probe(&self) -> Option<String> {
        let output = self
            .command()
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        Some(stdout.lines().next().unwrap_or_default().trim().to_owned())
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(project_root())
            .env("PATH", search_path());
        command
    }

    fn spawn_error(&self, error: &io::Error) -> Error {
        let program = self.program_name();
        if error.kind() != io::ErrorKind::NotFound {
            return Error::new(format!("cannot run `{program}`: {error}"));
        }
        let hint = self.if_missing.as_deref().unwrap_or("install it");
        Error::new(format!(
            "`{program}` is not installed (not found on PATH nor in cargo's bin directory): {hint}"
        ))
    }

    /// The program as a person would type it: `cargo`, not the full path
    /// of the toolchain's cargo in `$CARGO`.
    fn program_name(&self) -> String {
        Path::new(&self.program)
            .file_name()
            .unwrap_or(&self.program)
            .to_string_lossy()
            .into_owned()
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.program_name())?;
        for arg in &self.args {
            write!(f, " {}", arg.to_string_lossy())?;
        }
        Ok(())
    }
}

/// Where `cargo install` puts binaries: `$CARGO_INSTALL_ROOT/bin`, else
/// `$CARGO_HOME/bin`, else `~/.cargo/bin`.
pub(crate) fn cargo_bin_dir() -> Option<PathBuf> {
    if let Some(root) = env::var_os("CARGO_INSTALL_ROOT") {
        return Some(PathBuf::from(root).join("bin"));
    }
    if let Some(home) = env::var_os("CARGO_HOME") {
        return Some(PathBuf::from(home).join("bin"));
    }
    env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo").join("bin"))
}

/// `PATH` with cargo's bin directory added at the end: `cargo xtask setup`
/// installs tools there, and a fresh machine's `PATH` need not include it.
fn search_path() -> OsString {
    let path = env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = env::split_paths(&path).collect();
    if let Some(bin) = cargo_bin_dir().filter(|bin| !dirs.contains(bin)) {
        dirs.push(bin);
    }
    // A directory with a `:` in it cannot be joined; the unchanged PATH
    // then still finds everything it found before.
    env::join_paths(dirs).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::Cmd;

    #[test]
    fn shows_the_command_as_typed() {
        let cmd = Cmd::new("/usr/local/bin/mdbook").args(["build", "docs"]);
        assert_eq!(cmd.to_string(), "mdbook build docs");
    }

    #[test]
    fn a_missing_program_says_what_to_install() {
        let error = Cmd::new("lab-link-no-such-tool")
            .if_missing("run `cargo xtask setup`")
            .run()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`lab-link-no-such-tool` is not installed (not found on PATH nor in cargo's \
             bin directory): run `cargo xtask setup`"
        );
    }

    #[test]
    fn a_failing_program_says_what_to_do() {
        let error = Cmd::new("false").on_failure("fix it").run().unwrap_err();
        assert_eq!(error.to_string(), "`false` failed (exit status: 1): fix it");
    }

    #[test]
    fn probe_reads_the_first_line() {
        let version = Cmd::cargo().arg("--version").probe();
        assert!(version.is_some_and(|line| line.starts_with("cargo ")));
        assert_eq!(Cmd::new("false").probe(), None);
        assert_eq!(Cmd::new("lab-link-no-such-tool").probe(), None);
    }
}
