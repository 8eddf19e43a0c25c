//! The history file: SQLite in WAL mode, one row per recorded change.
//!
//! `history_paths(id, path, kind)` names each recorded pointer once;
//! `history_points(path_id, time_us, version, value)` is a `WITHOUT
//! ROWID` table keyed by `(path_id, time_us, version)`, so a path's points
//! are stored together in time order: a query reads one contiguous range
//! and the age limit deletes a prefix of it. `value` has no declared
//! type, so it keeps the one it was written with (integer, real, text or
//! null: a declared `ANY` would turn `4.0` into `4`); `kind` says which
//! paths hold booleans (stored as 0 and 1).
//!
//! Batches are written in one transaction each. With WAL and
//! `synchronous = NORMAL` a committed transaction survives the process
//! being killed (not a power cut, which may lose the last transactions
//! too); what a kill loses is what was not yet committed: at most one
//! batch window.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, ToSql};
use serde_json::Value;

use super::Point;

/// One recorded change, waiting to be written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) path: String,
    pub(crate) time_us: i64,
    pub(crate) version: u64,
    pub(crate) value: Value,
}

/// Why a batch was not written.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// The disk (or SQLite's page limit) is full: recording must stop.
    Full(rusqlite::Error),
    /// Anything else: the batch is lost, recording goes on.
    Other(rusqlite::Error),
}

/// The open history file.
#[derive(Debug)]
pub(crate) struct Store {
    connection: Connection,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS history_paths (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS history_points (
        path_id INTEGER NOT NULL,
        time_us INTEGER NOT NULL,
        version INTEGER NOT NULL,
        value,
        PRIMARY KEY (path_id, time_us, version)
    ) WITHOUT ROWID;
";

impl Store {
    /// Opens (or creates) the file at `path`; an error means the file is
    /// not a usable history database.
    pub(crate) fn open(path: &Path) -> rusqlite::Result<Self> {
        let connection = Connection::open(path)?;
        // Reading the schema first makes a file that is not a database
        // fail here, not at the first write.
        connection.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
            row.get::<_, i64>(0)
        })?;
        // Before the first table exists, so that deleted pages can be
        // given back to the file system (see `enforce_size`).
        connection.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        // The WAL is emptied by each checkpoint; this truncates it too, so
        // it does not keep its largest size.
        connection.pragma_update(None, "journal_size_limit", 1 << 20)?;
        connection.execute_batch(SCHEMA)?;
        Ok(Self { connection })
    }

    /// Writes `rows` in one transaction.
    pub(crate) fn write(&mut self, rows: &[Row]) -> Result<(), WriteError> {
        self.write_rows(rows).map_err(|e| {
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
                WriteError::Full(e)
            } else {
                WriteError::Other(e)
            }
        })
    }

    fn write_rows(&mut self, rows: &[Row]) -> rusqlite::Result<()> {
        let transaction = self.connection.transaction()?;
        {
            let mut find =
                transaction.prepare_cached("SELECT id FROM history_paths WHERE path = ?1")?;
            let mut add_path = transaction
                .prepare_cached("INSERT INTO history_paths (path, kind) VALUES (?1, ?2)")?;
            let mut insert = transaction.prepare_cached(
                "INSERT OR REPLACE INTO history_points (path_id, time_us, version, value) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut ids: Vec<(&str, i64)> = Vec::new();
            for row in rows {
                let id = match ids.iter().find(|(path, _)| *path == row.path) {
                    Some((_, id)) => *id,
                    None => {
                        let id = match find
                            .query_row([&row.path], |r| r.get::<_, i64>(0))
                            .optional()?
                        {
                            Some(id) => id,
                            None => {
                                add_path.execute(params![row.path, kind(&row.value)])?;
                                transaction.last_insert_rowid()
                            }
                        };
                        ids.push((&row.path, id));
                        id
                    }
                };
                insert.execute(params![
                    id,
                    row.time_us,
                    i64::try_from(row.version).unwrap_or(i64::MAX),
                    SqlValue(&row.value)
                ])?;
            }
        }
        transaction.commit()
    }

    /// Deletes the points older than `max_age` before `now_us`.
    pub(crate) fn enforce_age(
        &mut self,
        now_us: i64,
        max_age: Duration,
    ) -> rusqlite::Result<usize> {
        let cutoff = now_us.saturating_sub(i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX));
        let deleted = self.connection.execute(
            "DELETE FROM history_points WHERE path_id IN (SELECT id FROM history_paths) \
             AND time_us < ?1",
            [cutoff],
        )?;
        if deleted > 0 {
            self.connection
                .execute_batch("PRAGMA incremental_vacuum;")?;
        }
        Ok(deleted)
    }

    /// Deletes the oldest points, a tenth of the recorded time span at a
    /// time, until the database's pages take at most `max_bytes`; then
    /// gives the freed pages back to the file system. Returns the rows
    /// deleted.
    pub(crate) fn enforce_size(&mut self, max_bytes: u64) -> rusqlite::Result<usize> {
        let mut deleted = 0;
        while self.used_bytes()? > max_bytes {
            let span: Option<(i64, i64)> = self.connection.query_row(
                "SELECT min(time_us), max(time_us) FROM history_points",
                [],
                |row| {
                    Ok(row
                        .get::<_, Option<i64>>(0)?
                        .zip(row.get::<_, Option<i64>>(1)?))
                },
            )?;
            let Some((oldest, newest)) = span else { break };
            let cutoff = oldest + ((newest - oldest) / 10).max(1);
            deleted += self
                .connection
                .execute("DELETE FROM history_points WHERE time_us < ?1", [cutoff])?;
            self.connection
                .execute_batch("PRAGMA incremental_vacuum;")?;
        }
        Ok(deleted)
    }

    /// The bytes of the database's pages in use (the file less its free
    /// pages; the WAL is bounded by its checkpoints).
    pub(crate) fn used_bytes(&self) -> rusqlite::Result<u64> {
        let pragma = |name: &str| {
            self.connection
                .query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0))
        };
        let used = pragma("page_count")? - pragma("freelist_count")?;
        Ok(u64::try_from(used * pragma("page_size")?).unwrap_or(0))
    }

    /// Whether any point of `path` was recorded.
    pub(crate) fn has_path(&self, path: &str) -> rusqlite::Result<bool> {
        Ok(self.path_id(path)?.is_some())
    }

    fn path_id(&self, path: &str) -> rusqlite::Result<Option<(i64, bool)>> {
        self.connection
            .query_row(
                "SELECT id, kind FROM history_paths WHERE path = ?1",
                [path],
                |row| Ok((row.get(0)?, row.get::<_, String>(1)? == "bool")),
            )
            .optional()
    }

    /// Calls `visit` with every point of `path` in `from_us..=to_us`, in
    /// time order, until it returns `false`.
    pub(crate) fn scan(
        &self,
        path: &str,
        from_us: i64,
        to_us: i64,
        visit: &mut dyn FnMut(Point) -> bool,
    ) -> rusqlite::Result<()> {
        let Some((id, boolean)) = self.path_id(path)? else {
            return Ok(());
        };
        let mut statement = self.connection.prepare_cached(
            "SELECT time_us, version, value FROM history_points \
             WHERE path_id = ?1 AND time_us BETWEEN ?2 AND ?3 ORDER BY time_us, version",
        )?;
        let mut rows = statement.query(params![id, from_us, to_us])?;
        while let Some(row) = rows.next()? {
            let value = match row.get_ref(2)? {
                rusqlite::types::ValueRef::Integer(n) if boolean => Value::Bool(n != 0),
                rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                rusqlite::types::ValueRef::Real(x) => Value::from(x),
                rusqlite::types::ValueRef::Text(text) => {
                    Value::String(String::from_utf8_lossy(text).into_owned())
                }
                rusqlite::types::ValueRef::Null | rusqlite::types::ValueRef::Blob(_) => Value::Null,
            };
            let point = Point {
                time_us: row.get(0)?,
                version: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                value,
            };
            if !visit(point) {
                break;
            }
        }
        Ok(())
    }

    /// The first and last time of `path`'s points in `from_us..=to_us`.
    pub(crate) fn bounds(
        &self,
        path: &str,
        from_us: i64,
        to_us: i64,
    ) -> rusqlite::Result<Option<(i64, i64)>> {
        let Some((id, _)) = self.path_id(path)? else {
            return Ok(None);
        };
        let edge = |order: &str| {
            self.connection
                .query_row(
                    &format!(
                        "SELECT time_us FROM history_points WHERE path_id = ?1 \
                         AND time_us BETWEEN ?2 AND ?3 ORDER BY time_us {order} LIMIT 1"
                    ),
                    params![id, from_us, to_us],
                    |row| row.get::<_, i64>(0),
                )
                .optional()
        };
        Ok(edge("ASC")?.zip(edge("DESC")?))
    }

    /// Sets SQLite's page limit: tests use it to stand for a full disk.
    #[cfg(test)]
    pub(crate) fn limit_pages(&self, pages: u64) {
        self.connection
            .pragma_update(None, "max_page_count", pages)
            .expect("max_page_count");
    }
}

/// The `kind` of a path from its first value.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "bool",
        Value::String(_) => "string",
        _ => "number",
    }
}

/// A recorded JSON leaf as SQLite stores it.
struct SqlValue<'a>(&'a Value);

impl ToSql for SqlValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Sql};
        Ok(ToSqlOutput::Owned(match self.0 {
            Value::Bool(b) => Sql::Integer(i64::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Sql::Integer(i),
                None => Sql::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Sql::Text(s.clone()),
            // Only leaves are recorded; a container would be a bug upstream.
            Value::Null | Value::Array(_) | Value::Object(_) => Sql::Null,
        }))
    }
}
