//! Persistence of the document in an embedded SQLite file: restore at
//! start, a debounced save after commits, a final save at stop.
//!
//! One table, one row: `lab_link_state(id = 1, version, document)`, written
//! by `INSERT OR REPLACE` inside a transaction, so a save is atomic: a
//! killed process leaves the previous document or the new one. A file that
//! cannot be read, or whose document no longer loads into the state type,
//! is renamed aside with a timestamp suffix and the state starts from its
//! defaults: nothing is destroyed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lab_link_core::{LoadError, SyncSource};
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Where and how often to save: see [`ServerConfig::persist`](crate::ServerConfig::persist).
#[derive(Debug, Clone)]
pub(crate) struct PersistConfig {
    pub(crate) path: PathBuf,
    pub(crate) debounce: Duration,
}

/// An open database and what it last saved.
#[derive(Debug)]
pub(crate) struct Persistence {
    connection: Mutex<Connection>,
    source: Arc<dyn SyncSource>,
    debounce: Duration,
    /// The version last written (`None` before the first save).
    saved: Mutex<Option<u64>>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

impl Persistence {
    /// Opens (or creates) the database and restores its document into
    /// `source`. `None` when the database cannot be used at all: logged,
    /// and the server runs without persistence.
    pub(crate) fn open(config: &PersistConfig, source: &Arc<dyn SyncSource>) -> Option<Self> {
        let path = &config.path;
        let (connection, restored) = match restore(path, source) {
            Ok(restored) => restored,
            Err(Restore::Aside(reason)) => {
                tracing::error!(path = %path.display(), "cannot restore the saved state: {reason}");
                if let Err(e) = move_aside(path) {
                    tracing::error!(path = %path.display(), "cannot move the file aside: {e}; persistence is off");
                    return None;
                }
                match create(path) {
                    Ok(connection) => (connection, None),
                    Err(e) => {
                        tracing::error!(path = %path.display(), "cannot create the database: {e}; persistence is off");
                        return None;
                    }
                }
            }
            Err(Restore::Off(reason)) => {
                tracing::error!(path = %path.display(), "{reason}; persistence is off");
                return None;
            }
        };
        // A restored document is saved as it is; anything else (a fresh
        // state, or one the application mutated before the server started)
        // is written at the first save.
        Some(Self {
            connection: Mutex::new(connection),
            source: source.clone(),
            debounce: config.debounce,
            saved: Mutex::new(restored),
        })
    }

    /// Saves after each commit, at most one debounce window later: the
    /// first commit after a save opens the window, the commits within it
    /// are saved together at its end. Unlike a trailing debounce, steady
    /// commits cannot postpone the save forever.
    pub(crate) async fn save_loop(
        self: Arc<Self>,
        source: Arc<dyn SyncSource>,
        token: CancellationToken,
    ) {
        let notify = Arc::new(Notify::new());
        let listener_notify = notify.clone();
        // The listener runs under the state lock: it only stores a permit.
        let _subscription = source.subscribe_from(
            None,
            0,
            &mut |_| {},
            Box::new(move |_| listener_notify.notify_one()),
        );
        // Commits made before the subscription (the application may mutate
        // before the server task first runs) are saved like later ones.
        if *lock(&self.saved) != Some(source.version()) {
            notify.notify_one();
        }
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                () = notify.notified() => {}
            }
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(self.debounce) => {}
            }
            let this = self.clone();
            let _ = tokio::task::spawn_blocking(move || this.save_now()).await;
        }
    }

    /// Writes the current document unless that version is already saved.
    /// A failure is logged; the next save tries again.
    pub(crate) fn save_now(&self) {
        let snapshot = self.source.snapshot();
        let mut saved = lock(&self.saved);
        if *saved == Some(snapshot.version()) {
            return;
        }
        let mut connection = lock(&self.connection);
        match write(
            &mut connection,
            snapshot.version(),
            snapshot.document_json(),
        ) {
            Ok(()) => *saved = Some(snapshot.version()),
            Err(e) => tracing::error!("cannot save the state: {e}"),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

enum Restore {
    /// The file is unreadable or its document does not load: move it aside.
    Aside(String),
    /// Persistence cannot work (no loader, no directory): leave the file.
    Off(String),
}

/// The open database and the version of the document it restored (`None`
/// when there was none).
fn restore(
    path: &Path,
    source: &Arc<dyn SyncSource>,
) -> Result<(Connection, Option<u64>), Restore> {
    if !path.exists() {
        return create(path)
            .map(|connection| (connection, None))
            .map_err(|e| Restore::Off(format!("cannot create the database: {e}")));
    }
    let connection = Connection::open(path).map_err(|e| Restore::Aside(e.to_string()))?;
    let document = read(&connection).map_err(|e| Restore::Aside(e.to_string()))?;
    let Some(document) = document else {
        return Ok((connection, None));
    };
    let value: serde_json::Value = serde_json::from_str(&document)
        .map_err(|e| Restore::Aside(format!("the saved document is not JSON: {e}")))?;
    match source.load_document(value) {
        Ok(version) => {
            tracing::info!(path = %path.display(), "restored the saved state");
            Ok((connection, Some(version)))
        }
        Err(LoadError::Unsupported) => Err(Restore::Off(
            "the state cannot be restored: call `with_loader()` on the LabSync".to_owned(),
        )),
        Err(e) => {
            drop(connection);
            Err(Restore::Aside(format!(
                "the saved document no longer fits the state: {e}"
            )))
        }
    }
}

fn create(path: &Path) -> Result<Connection, Error> {
    create_private(path)?;
    let connection = Connection::open(path)?;
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS lab_link_state (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             version INTEGER NOT NULL,
             document TEXT NOT NULL
         );",
    )?;
    Ok(connection)
}

/// Creates the file empty with owner-only permissions (Unix), so SQLite
/// (which gives its journal the database's permissions) never makes it
/// world-readable.
pub(crate) fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn read(connection: &Connection) -> rusqlite::Result<Option<String>> {
    // Reading the schema first makes a file that is not a database fail here.
    let exists: bool = connection.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'lab_link_state'",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        connection.execute_batch(
            "CREATE TABLE lab_link_state (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 version INTEGER NOT NULL,
                 document TEXT NOT NULL
             );",
        )?;
        return Ok(None);
    }
    connection
        .query_row(
            "SELECT document FROM lab_link_state WHERE id = 1",
            [],
            |row| row.get(0),
        )
        .optional()
}

fn write(connection: &mut Connection, version: u64, document: &str) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    transaction.execute(
        "INSERT OR REPLACE INTO lab_link_state (id, version, document) VALUES (1, ?1, ?2)",
        rusqlite::params![i64::try_from(version).unwrap_or(i64::MAX), document],
    )?;
    transaction.commit()
}

/// Renames `path` (and a leftover journal) to `path.<unix millis>.bad`.
pub(crate) fn move_aside(path: &Path) -> std::io::Result<()> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    let aside = |path: &Path| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{stamp}.bad"));
        PathBuf::from(name)
    };
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let sibling = PathBuf::from(name);
        if sibling.exists() {
            std::fs::rename(&sibling, aside(&sibling))?;
        }
    }
    let target = aside(path);
    std::fs::rename(path, &target)?;
    tracing::warn!(from = %path.display(), to = %target.display(), "moved the unusable file aside");
    Ok(())
}
