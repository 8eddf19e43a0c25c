//! Background work: updaters started and stopped with the server (and by
//! `Background` alone), a failing or panicking tick that does not stop its
//! updater, and persistence in SQLite: a round trip across a restart, a
//! corrupt file and a changed schema moved aside, a commit made before the
//! start, and a hard kill.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lab_link::engine::PatchMeta;
use lab_link::server::Background;
use lab_link::{LabSync, Reactive, Server, ServerConfig};
use serde::{Deserialize, Serialize};

#[cfg(unix)]
mod support {
    pub(crate) mod persist_child;
}

#[derive(Reactive, Serialize, Deserialize, Default, Debug, PartialEq)]
struct Counter {
    count: i64,
    label: String,
}

/// Waits (at most 10 s) until `done` holds.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A fresh directory under the system's temp dir for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lab-link-bg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn set_aside(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".bad"))
        .collect()
}

#[tokio::test]
async fn updaters_run_while_the_server_runs() {
    let sync = LabSync::new(Counter::default());
    sync.updater(Duration::from_millis(5), |sync| {
        sync.mutate(|counter| {
            let next = *counter.count() + 1;
            counter.set_count(next)
        })
    });
    let (_, patches) = sync.subscribe_channel();
    let server = Server::builder()
        .bind(sync.clone(), "127.0.0.1:0")
        .await
        .unwrap();
    let routes = server.routes().clone();
    let running = tokio::spawn(server.run());
    wait_for("three ticks", || sync.read().count >= 3).await;
    routes.shutdown();
    running.await.unwrap();

    let stopped_at = sync.read().count;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sync.read().count, stopped_at, "an updater ran after stop");
    let patches: Vec<_> = patches.try_iter().collect();
    assert_eq!(patches.len() as i64, stopped_at);
    assert!(patches.iter().all(|p| *p.meta() == PatchMeta::default()));
}

#[tokio::test]
async fn a_failing_or_panicking_tick_does_not_stop_the_updater() {
    let sync = LabSync::new(Counter::default());
    let ticks = Arc::new(AtomicUsize::new(0));
    let async_ticks = Arc::new(AtomicUsize::new(0));
    let counted = ticks.clone();
    sync.updater(Duration::from_millis(5), move |_| {
        let tick = counted.fetch_add(1, Ordering::SeqCst);
        match tick % 3 {
            0 => panic!("tick {tick} panics"),
            1 => Err(format!("tick {tick} fails")),
            _ => Ok(()),
        }
    });
    let counted = async_ticks.clone();
    sync.updater_async(Duration::from_millis(5), move |sync| {
        let counted = counted.clone();
        async move {
            tokio::task::yield_now().await;
            let tick = counted.fetch_add(1, Ordering::SeqCst);
            sync.try_mutate(|counter| counter.set_label(format!("tick {tick}")))
                .unwrap();
            if tick % 2 == 0 {
                panic!("async tick {tick} panics");
            }
        }
    });
    let background = Background::start(sync.clone(), &ServerConfig::default());
    wait_for("six ticks of each", || {
        ticks.load(Ordering::SeqCst) >= 6 && async_ticks.load(Ordering::SeqCst) >= 6
    })
    .await;
    background.stop().await;
    let stopped = (
        ticks.load(Ordering::SeqCst),
        async_ticks.load(Ordering::SeqCst),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        (
            ticks.load(Ordering::SeqCst),
            async_ticks.load(Ordering::SeqCst)
        ),
        stopped
    );
    sync.verify_mirror().unwrap();
}

#[tokio::test]
async fn the_document_survives_a_restart() {
    let dir = temp_dir("restart");
    let path = dir.join("state.db");
    let config = ServerConfig::default()
        .persist(&path)
        .persist_debounce(Duration::from_millis(20));
    for round in 0..2_i64 {
        let sync = LabSync::new(Counter::default()).with_loader();
        let server = Server::builder()
            .config(config.clone())
            .bind(sync.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        let server_addr = server.local_addr();
        let routes = server.routes().clone();
        let running = tokio::spawn(server.run());
        // `run` restores before it accepts the first connection.
        let state = get_state(server_addr).await;
        assert_eq!(state["count"], round * 7);
        sync.try_mutate(|counter| counter.set_count((round + 1) * 7))
            .unwrap();
        sync.try_mutate(|counter| counter.set_label(format!("round {round}")))
            .unwrap();
        routes.shutdown();
        running.await.unwrap();
    }
    let sync = LabSync::new(Counter::default()).with_loader();
    let background = Background::start(sync.clone(), &config);
    assert_eq!(
        *sync.read(),
        Counter {
            count: 14,
            label: "round 1".into()
        }
    );
    background.stop().await;
    assert!(set_aside(&dir).is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the database is readable by others");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GET /sync/state` over a plain socket.
async fn get_state(addr: std::net::SocketAddr) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /sync/state HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .unwrap()
    .unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn a_corrupt_file_is_moved_aside() {
    let dir = temp_dir("corrupt");
    let path = dir.join("state.db");
    let garbage = b"this is not an SQLite database, not even close".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let sync = LabSync::new(Counter::default()).with_loader();
    let config = ServerConfig::default()
        .persist(&path)
        .persist_debounce(Duration::from_millis(10));
    let background = Background::start(sync.clone(), &config);
    assert_eq!(*sync.read(), Counter::default());
    let aside = set_aside(&dir);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), garbage);
    // The fresh database works.
    sync.try_mutate(|counter| counter.set_count(3)).unwrap();
    background.stop().await;
    let again = LabSync::new(Counter::default()).with_loader();
    Background::start(again.clone(), &config).stop().await;
    assert_eq!(again.read().count, 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `count` of the document saved in `path`, read while the server
/// may be writing it (`None` before the first save).
fn saved_count(path: &Path) -> Option<i64> {
    let connection =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    connection.busy_timeout(Duration::from_secs(5)).ok()?;
    let document: String = connection
        .query_row(
            "SELECT document FROM lab_link_state WHERE id = 1",
            [],
            |row| row.get(0),
        )
        .ok()?;
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    document["count"].as_i64()
}

#[tokio::test]
async fn a_mutation_before_the_start_is_saved_by_the_debounce() {
    // The application may commit before the server's task first runs: that
    // commit is saved after the debounce, not only at the final save.
    let dir = temp_dir("early");
    let path = dir.join("state.db");
    let sync = LabSync::new(Counter::default()).with_loader();
    sync.try_mutate(|counter| counter.set_count(7)).unwrap();
    let config = ServerConfig::default()
        .persist(&path)
        .persist_debounce(Duration::from_millis(10));
    let background = Background::start(sync.clone(), &config);
    wait_for("the debounced save", || saved_count(&path) == Some(7)).await;
    background.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[derive(Reactive, Serialize, Deserialize, Default, Debug, PartialEq)]
struct CounterV2 {
    count: String,
}

#[tokio::test]
async fn a_document_of_an_old_schema_is_moved_aside() {
    let dir = temp_dir("schema");
    let path = dir.join("state.db");
    let config = ServerConfig::default().persist(&path);
    let old = LabSync::new(Counter::default()).with_loader();
    let background = Background::start(old.clone(), &config);
    old.try_mutate(|counter| counter.set_count(5)).unwrap();
    background.stop().await;
    let saved = std::fs::read(&path).unwrap();

    let new = LabSync::new(CounterV2::default()).with_loader();
    let background = Background::start(new.clone(), &config);
    assert_eq!(*new.read(), CounterV2::default());
    assert_eq!(new.version(), 0);
    background.stop().await;
    let aside = set_aside(&dir);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), saved);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[tokio::test]
async fn a_hard_kill_after_the_debounce_keeps_the_mutation() {
    let dir = temp_dir("kill");
    let path = dir.join("state.db");
    let mut child = support::persist_child::PersistChild::spawn(&path).await;
    child.set(42).await;
    // The debounced save (50 ms in the child) is on disk before the kill.
    wait_for("the child's debounced save", || {
        saved_count(&path) == Some(42)
    })
    .await;
    child.kill().await; // SIGKILL: no final save

    let sync = LabSync::new(Counter::default()).with_loader();
    Background::start(sync.clone(), &ServerConfig::default().persist(&path))
        .stop()
        .await;
    assert_eq!(sync.read().count, 42, "the mutation was not saved");
    assert!(set_aside(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
