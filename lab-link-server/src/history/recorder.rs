//! The recorder: committed patches in, batched rows out, off the state
//! lock.
//!
//! The subscription's listener runs under the state lock, so it only
//! stamps the time and pushes the commit (a reference-counted clone) onto
//! a bounded queue, waking nobody; a full queue drops the commit and
//! counts it. Once per batch window the recorder task takes the queue,
//! finds the recorded leaves of each operation, writes the rows in one
//! transaction on the blocking pool, then applies retention. A full disk stops recording, logged, and the
//! server keeps serving. On stop it drains the queue and writes a last
//! batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use lab_link_core::patch::PatchOp;
use lab_link_core::{Committed, SyncSource};
use tokio_util::sync::CancellationToken;

use super::store::{Row, WriteError};
use super::{lock, micros, History};

/// Commits waiting for the recorder; beyond it commits are dropped from
/// the history (and counted), never blocking a commit.
const QUEUE: usize = 65_536;

/// What the listener hands the recorder task: commits with their time.
/// A plain vector behind a mutex that the task empties once per batch
/// window: the listener never wakes a task, which would cost the
/// committing thread a cross-thread wake-up (a system call) per commit.
#[derive(Default)]
struct Queue {
    commits: Mutex<Vec<(i64, Committed)>>,
    dropped: AtomicU64,
}

impl Queue {
    fn take(&self) -> Vec<(i64, Committed)> {
        std::mem::take(&mut *lock(&self.commits))
    }
}

/// Records `source`'s commits into `history` until `token` is cancelled.
/// Subscribes at once, so that a commit made before the returned task
/// first runs is recorded too.
pub(crate) fn record(
    history: Arc<History>,
    source: &Arc<dyn SyncSource>,
    token: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let queue = Arc::new(Queue::default());
    let listener_queue = queue.clone();
    // Runs under the state lock: a clock read, a reference count and a
    // push.
    let subscription = source.subscribe_from(
        None,
        0,
        &mut |_| {},
        Box::new(move |committed| {
            let now = micros(SystemTime::now());
            let mut commits = lock(&listener_queue.commits);
            if commits.len() < QUEUE {
                commits.push((now, committed.clone()));
            } else {
                listener_queue.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }),
    );
    async move {
        let mut window = tokio::time::interval(history.config.batch);
        window.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = window.tick() => {}
            }
            let lost = queue.dropped.swap(0, Ordering::Relaxed);
            if lost > 0 {
                tracing::warn!("history fell behind: {lost} commits were not recorded");
            }
            if !flush(&history, queue.take()).await {
                drop(subscription);
                return;
            }
        }
        drop(subscription);
        flush(&history, queue.take()).await;
    }
}

/// The recorded leaves of one commit, appended to `batch`.
fn rows(history: &History, time_us: i64, committed: &Committed, batch: &mut Vec<Row>) {
    for op in committed.ops() {
        let (path, value) = match op {
            PatchOp::Add { path, value } | PatchOp::Replace { path, value } => (path, value),
            // A removed value has no new value; moves and copies are not
            // made by tracked views (a dynamic patch's are not recorded).
            _ => continue,
        };
        history
            .patterns
            .leaves(path.as_str(), value, &mut |pointer, leaf| {
                batch.push(Row {
                    path: pointer.to_owned(),
                    time_us,
                    version: committed.version(),
                    value: leaf.clone(),
                });
            });
    }
}

/// Writes the rows of `commits` and applies retention; `false` when
/// recording must stop.
async fn flush(history: &Arc<History>, commits: Vec<(i64, Committed)>) -> bool {
    let mut rows = Vec::new();
    for (time_us, committed) in &commits {
        self::rows(history, *time_us, committed, &mut rows);
    }
    let history = history.clone();
    let written = tokio::task::spawn_blocking(move || write(&history, &rows)).await;
    written.unwrap_or(true)
}

/// The blocking part of [`flush`].
pub(crate) fn write(history: &History, rows: &[Row]) -> bool {
    let mut store = lock(&history.writer);
    if !rows.is_empty() {
        match store.write(rows) {
            Ok(()) => {}
            Err(WriteError::Full(e)) => {
                tracing::error!(
                    "the history file cannot grow ({e}): recording stops; the server keeps serving"
                );
                return false;
            }
            Err(WriteError::Other(e)) => {
                tracing::error!("cannot write {} history rows: {e}", rows.len());
            }
        }
    }
    if let Some(max_age) = history.config.max_age {
        if let Err(e) = store.enforce_age(micros(SystemTime::now()), max_age) {
            tracing::error!("cannot apply the history's age limit: {e}");
        }
    }
    if let Some(max_bytes) = history.config.max_bytes {
        if let Err(e) = store.enforce_size(max_bytes) {
            tracing::error!("cannot apply the history's size limit: {e}");
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use lab_link_core::{LabSync, SyncSource};
    use serde_json::json;

    use super::{write, Row};
    use crate::history::{lock, History, HistoryConfig};

    #[test]
    fn a_full_disk_stops_recording() {
        let dir =
            std::env::temp_dir().join(format!("lab-link-history-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let source: Arc<dyn SyncSource> = Arc::new(LabSync::new(vec![0_i64]));
        let config = HistoryConfig {
            patterns: vec!["/0".to_owned()],
            path: Some(dir.join("history.db")),
            ..HistoryConfig::default()
        };
        let history = History::open(&source, &config, None).unwrap();
        let row = |i: i64| Row {
            path: "/0".to_owned(),
            time_us: i,
            version: u64::try_from(i).unwrap(),
            value: json!(format!("{i:0>200}")),
        };
        assert!(write(&history, &[row(0)]));
        // SQLite's page limit stands for the disk: it reports SQLITE_FULL.
        let pages = lock(&history.writer).used_bytes().unwrap() / 4096 + 1;
        lock(&history.writer).limit_pages(pages);
        let rows: Vec<Row> = (1..2000).map(row).collect();
        assert!(!write(&history, &rows), "recording goes on on a full disk");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
