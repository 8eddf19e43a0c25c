//! A server with persistence, for the hard-kill test
//! (`tests/background.rs`): it serves `{"count": N, "label": "…"}` on
//! `127.0.0.1` at an ephemeral port with the SQLite file given as the first
//! argument (debounce 50 ms) and the history of `count` beside it (batch
//! window 50 ms, for `tests/history.rs`), prints `listening on ADDR` once the
//! saved state is restored and the background work runs, and reads commands
//! from stdin:
//!
//! - `set N`: sets `count` to N, answers `done`;
//! - `quit` (or stdin closing): shuts down gracefully.

use std::time::Duration;

use lab_link::{LabSync, Reactive, Server, ServerConfig};
use serde::{Deserialize, Serialize};

#[derive(Reactive, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
    label: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .expect("usage: persist_child DB_PATH");
    let sync = LabSync::new(Counter::default()).with_loader();
    let config = ServerConfig::default()
        .persist(path)
        .persist_debounce(Duration::from_millis(50))
        .history(["/count"])
        .history_batch(Duration::from_millis(50));
    let server = Server::builder()
        .config(config)
        .bind(sync.clone(), "127.0.0.1:0")
        .await?;
    let addr = server.local_addr();
    let routes = server.routes().clone();
    let running = tokio::spawn(server.run());
    // Ready once the background work runs: a `set` before the recorders
    // subscribed would be saved only by the final save and not be in the
    // history (the parent sends its first `set` right after this line).
    while !routes.is_started() {
        tokio::task::yield_now().await;
    }
    println!("listening on {addr}");

    // Stdin is read on a thread of its own (std's blocking reader).
    let (lines, mut commands) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = commands.recv().await {
        if let Some(n) = line.strip_prefix("set ") {
            let n: i64 = n.trim().parse().expect("set N");
            sync.try_mutate(|counter| counter.set_count(n))
                .expect("a finite count");
            println!("done");
        } else if line == "quit" {
            break;
        }
    }
    routes.shutdown();
    let _ = running.await;
    Ok(())
}
