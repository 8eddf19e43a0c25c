//! The `persist_child` example as a child process, for the hard-kill
//! tests of `tests/background.rs` and `tests/history.rs`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The example binary `persist_child`, built next to the test binaries.
/// Built every time (quick when it is up to date): `cargo test --test …`
/// does not build the examples, and an older build would test old code.
fn child_binary() -> PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "-j",
            "2",
            "-p",
            "lab-link",
            "--example",
            "persist_child",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "cannot build the persist_child example");
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().unwrap().parent().unwrap();
    target
        .join("examples")
        .join(format!("persist_child{}", std::env::consts::EXE_SUFFIX))
}

/// A running `persist_child` with its state file at `path`, past its
/// `listening on` line.
pub(crate) struct PersistChild {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl PersistChild {
    pub(crate) async fn spawn(path: &Path) -> Self {
        let mut child = Command::new(child_binary())
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut this = Self {
            child,
            stdin,
            stdout,
        };
        let ready = this.line().await;
        assert!(ready.starts_with("listening on "), "{ready}");
        this
    }

    /// The child's next line of output (at most 10 s away).
    pub(crate) async fn line(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), self.stdout.next_line())
            .await
            .expect("child timed out")
            .unwrap()
            .expect("child ended")
    }

    /// Sends `set N` and waits for its `done`.
    pub(crate) async fn set(&mut self, n: i64) {
        use tokio::io::AsyncWriteExt;
        self.stdin
            .write_all(format!("set {n}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(self.line().await, "done");
    }

    /// SIGKILL: no last save, no last batch.
    pub(crate) async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}
