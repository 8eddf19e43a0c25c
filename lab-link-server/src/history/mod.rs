//! History: what a value did overnight.
//!
//! Opt-in per value: the patterns of
//! [`ServerConfig::history`](crate::ServerConfig::history) and the fields
//! marked `#[reactive(history)]`. The [recorder](recorder) follows the
//! committed patch messages off the state lock (its listener only
//! enqueues) and writes `(time, version, path, value)` rows in batched
//! transactions to an SQLite file ([`store`]); retention by age and size
//! runs after each batch. [`History::query`] reads a range back, raw
//! when it has few points and [decimated](decimate) otherwise; the routes
//! serve it as `GET {prefix}/history` ([`http`]).

pub(crate) mod decimate;
pub(crate) mod http;
mod pattern;
pub(crate) mod recorder;
mod store;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lab_link_core::SyncSource;
use serde_json::{json, Value};

pub(crate) use pattern::Patterns;
use store::Store;

/// What to record and where: see [`ServerConfig::history`](crate::ServerConfig::history).
#[derive(Debug, Clone)]
pub(crate) struct HistoryConfig {
    pub(crate) patterns: Vec<String>,
    pub(crate) path: Option<PathBuf>,
    pub(crate) batch: Duration,
    pub(crate) max_age: Option<Duration>,
    pub(crate) max_bytes: Option<u64>,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            patterns: Vec::new(),
            path: None,
            batch: DEFAULT_BATCH,
            max_age: None,
            max_bytes: None,
        }
    }
}

/// The default batch window: what a hard kill may lose.
pub(crate) const DEFAULT_BATCH: Duration = Duration::from_millis(200);

/// The open history of a served state: what it records and its file.
#[derive(Debug)]
pub(crate) struct History {
    pub(crate) patterns: Patterns,
    /// The recorder's connection.
    pub(crate) writer: Mutex<Store>,
    /// The queries' connection (WAL lets it read while the writer writes).
    reader: Mutex<Store>,
    pub(crate) config: HistoryConfig,
}

impl History {
    /// Opens the history file of `source` under `config`, when anything is
    /// recorded and a file is known: `None` (logged when it is an error)
    /// otherwise. A file that is not a usable database is moved aside and
    /// a new one started.
    pub(crate) fn open(
        source: &Arc<dyn SyncSource>,
        config: &HistoryConfig,
        persist: Option<&Path>,
    ) -> Option<Arc<Self>> {
        let declared = source.history_paths();
        let (patterns, errors) =
            Patterns::parse(config.patterns.iter().chain(&declared).map(String::as_str));
        for error in errors {
            tracing::error!("{error}; it is not recorded");
        }
        if patterns.is_empty() {
            return None;
        }
        let Some(path) = config.path.clone().or_else(|| persist.map(beside)) else {
            tracing::error!(
                "history is configured but has no file: set `ServerConfig::history_path` \
                 (or `persist`, beside which it is kept); history is off"
            );
            return None;
        };
        let (writer, reader) = match open_pair(&path) {
            Ok(pair) => pair,
            Err(reason) => {
                tracing::error!(path = %path.display(), "cannot open the history file: {reason}");
                if let Err(e) = crate::persist::move_aside(&path) {
                    tracing::error!(path = %path.display(), "cannot move the file aside: {e}; history is off");
                    return None;
                }
                match open_pair(&path) {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::error!(path = %path.display(), "cannot create the history file: {e}; history is off");
                        return None;
                    }
                }
            }
        };
        Some(Arc::new(Self {
            patterns,
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            config: config.clone(),
        }))
    }

    /// Answers `query` from the file, checking the path against `source`'s
    /// current document: see [`Routes::history`](crate::Routes::history).
    pub(crate) fn query(
        &self,
        source: &dyn SyncSource,
        query: &HistoryQuery,
    ) -> Result<Series, HistoryError> {
        let store = lock(&self.reader);
        let recorded = store.has_path(&query.path).map_err(HistoryError::store)?;
        if !recorded {
            check_recordable(&self.patterns, source, &query.path)?;
        }
        let from_us = query.from.map_or(i64::MIN, micros);
        let to_us = query.to.map_or(i64::MAX, micros);
        let mut points = Vec::new();
        let mut few = true;
        store
            .scan(&query.path, from_us, to_us, &mut |point| {
                points.push(point);
                few = points.len() <= query.max_points;
                few
            })
            .map_err(HistoryError::store)?;
        if few {
            return Ok(Series::new(&query.path, false, points));
        }
        // Too many: bucket the whole range (its real ends when the query
        // left them open).
        let (first, last) = store
            .bounds(&query.path, from_us, to_us)
            .map_err(HistoryError::store)?
            .unwrap_or((from_us, to_us));
        let (from_us, to_us) = (from_us.max(first), to_us.min(last));
        let mut buckets = decimate::Buckets::new(from_us, to_us, query.max_points);
        store
            .scan(&query.path, from_us, to_us, &mut |point| {
                buckets.add(point);
                true
            })
            .map_err(HistoryError::store)?;
        Ok(Series::new(&query.path, true, buckets.finish()))
    }
}

/// Writes `points` of `path` straight into the history file at `file`,
/// in batches of 100 000 rows: how the history benchmark builds a
/// 10-million-point file without 10 million commits. Not API.
#[doc(hidden)]
pub fn fill_history_file(
    file: &Path,
    path: &str,
    points: impl IntoIterator<Item = (SystemTime, f64)>,
) -> Result<(), Box<dyn std::error::Error>> {
    crate::persist::create_private(file)?;
    let mut store = Store::open(file)?;
    let mut rows = Vec::with_capacity(100_000);
    let mut flush = |rows: &mut Vec<store::Row>| {
        let written = store.write(rows);
        rows.clear();
        written.map_err(|e| format!("{e:?}"))
    };
    for (version, (time, value)) in (1_u64..).zip(points) {
        rows.push(store::Row {
            path: path.to_owned(),
            time_us: micros(time),
            version,
            value: Value::from(value),
        });
        if rows.len() == rows.capacity() {
            flush(&mut rows)?;
        }
    }
    flush(&mut rows)?;
    Ok(())
}

fn open_pair(path: &Path) -> Result<(Store, Store), Box<dyn std::error::Error>> {
    crate::persist::create_private(path)?;
    let writer = Store::open(path)?;
    let reader = Store::open(path)?;
    Ok((writer, reader))
}

/// `state.db` → `state.history.db`, in the same directory.
fn beside(persist: &Path) -> PathBuf {
    let stem = persist.file_stem().map_or_else(
        || "state".into(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    let name = match persist.extension() {
        Some(extension) => format!("{stem}.history.{}", extension.to_string_lossy()),
        None => format!("{stem}.history"),
    };
    persist.with_file_name(name)
}

/// A path with no recorded point must exist in the document and be
/// covered by a pattern.
fn check_recordable(
    patterns: &Patterns,
    source: &dyn SyncSource,
    path: &str,
) -> Result<(), HistoryError> {
    let pointer = lab_link_core::pointer::JsonPointer::parse(path).map_err(|e| {
        HistoryError::parameter("path", format!("{path:?} is not a JSON Pointer: {e}"))
    })?;
    let document: Value = serde_json::from_str(source.snapshot().document_json())
        .map_err(|e| HistoryError::parameter("path", format!("the state cannot be read: {e}")))?;
    if pointer.resolve(&document).is_err() {
        return Err(HistoryError::parameter(
            "path",
            format!("{path:?} is not a value of the state"),
        ));
    }
    let segments: Vec<&str> = pattern::split(path).collect();
    if !patterns.covers(&segments) {
        return Err(HistoryError::parameter(
            "path",
            format!("{path:?} is not recorded: add it to `ServerConfig::history` or mark the field `#[reactive(history)]`"),
        ));
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Microseconds since the Unix epoch (negative before it).
pub(crate) fn micros(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

fn system_time(micros: i64) -> SystemTime {
    let magnitude = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// What to read back: a recorded path, a time range and how many points
/// a plot wants at most.
///
/// ```
/// use lab_link_server::HistoryQuery;
/// use std::time::{Duration, SystemTime};
///
/// let now = SystemTime::now();
/// let query = HistoryQuery::new("/channels/0/bias_voltage")
///     .from(now - Duration::from_secs(3600))
///     .to(now)
///     .max_points(500);
/// assert_eq!(query.path(), "/channels/0/bias_voltage");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    path: String,
    from: Option<SystemTime>,
    to: Option<SystemTime>,
    max_points: usize,
}

impl HistoryQuery {
    /// The default of [`max_points`](Self::max_points).
    pub const DEFAULT_MAX_POINTS: usize = 1000;

    /// The most points one query may ask for.
    pub const MAX_POINTS: usize = 100_000;

    /// Every recorded point of `path` (an escaped JSON Pointer), at most
    /// [`DEFAULT_MAX_POINTS`](Self::DEFAULT_MAX_POINTS).
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            from: None,
            to: None,
            max_points: Self::DEFAULT_MAX_POINTS,
        }
    }

    /// Only points at or after `from`.
    #[must_use]
    pub fn from(mut self, from: SystemTime) -> Self {
        self.from = Some(from);
        self
    }

    /// Only points at or before `to`.
    #[must_use]
    pub fn to(mut self, to: SystemTime) -> Self {
        self.to = Some(to);
        self
    }

    /// At most `max_points` points (2 to 100 000): more are decimated.
    #[must_use]
    pub fn max_points(mut self, max_points: usize) -> Self {
        self.max_points = max_points;
        self
    }

    /// The queried path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Checks the range and the number of points.
    pub(crate) fn check(&self) -> Result<(), HistoryError> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(HistoryError::parameter(
                    "from",
                    "`from` is after `to`".to_owned(),
                ));
            }
        }
        if !(2..=Self::MAX_POINTS).contains(&self.max_points) {
            return Err(HistoryError::parameter(
                "max_points",
                format!("max_points must be from 2 to {}", Self::MAX_POINTS),
            ));
        }
        Ok(())
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub(crate) time_us: i64,
    pub(crate) version: u64,
    pub(crate) value: Value,
}

impl Point {
    /// When the change was committed (the server's clock, microseconds).
    pub fn time(&self) -> SystemTime {
        system_time(self.time_us)
    }

    /// The version the commit produced.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The value it set: a number, a bool, a string or null.
    pub fn value(&self) -> &Value {
        &self.value
    }
}

/// The answer to a [`HistoryQuery`]: the points of one path in time
/// order, decimated (each time bucket's minimum and maximum) when the
/// range held more than the query's `max_points`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    path: String,
    decimated: bool,
    points: Vec<Point>,
}

impl Series {
    fn new(path: &str, decimated: bool, points: Vec<Point>) -> Self {
        Self {
            path: path.to_owned(),
            decimated,
            points,
        }
    }

    /// The queried path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the points stand for more (min/max per bucket).
    pub fn decimated(&self) -> bool {
        self.decimated
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// The JSON of `GET {prefix}/history`: one object per point, or with
    /// `columns` one array per field (`time`, `version`, `value`).
    pub fn to_json(&self, columns: bool) -> Value {
        let time = |point: &Point| rfc3339(point.time_us);
        if columns {
            json!({
                "path": self.path,
                "decimated": self.decimated,
                "time": self.points.iter().map(time).collect::<Vec<_>>(),
                "version": self.points.iter().map(|p| p.version).collect::<Vec<_>>(),
                "value": self.points.iter().map(|p| &p.value).collect::<Vec<_>>(),
            })
        } else {
            json!({
                "path": self.path,
                "decimated": self.decimated,
                "points": self.points.iter().map(|p| json!({
                    "time": time(p),
                    "version": p.version,
                    "value": p.value,
                })).collect::<Vec<_>>(),
            })
        }
    }
}

/// RFC 3339 in UTC with microseconds: `2026-12-03T13:00:16.123456Z`.
pub(crate) fn rfc3339(micros: i64) -> String {
    let nanos = i128::from(micros) * 1000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        ),
        // Outside years -9999..=9999: no clock gives such a time.
        Err(_) => String::new(),
    }
}

/// Parses an RFC 3339 time (`2026-12-03T13:00:00Z`, any offset).
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let micros = i64::try_from(parsed.unix_timestamp_nanos() / 1000).ok()?;
    Some(system_time(micros))
}

/// Why a history query was refused: a parameter that is wrong, or a
/// store that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HistoryError {
    parameter: Option<&'static str>,
    message: String,
}

impl HistoryError {
    pub(crate) fn parameter(parameter: &'static str, message: String) -> Self {
        Self {
            parameter: Some(parameter),
            message,
        }
    }

    fn store(error: rusqlite::Error) -> Self {
        Self {
            parameter: None,
            message: format!("the history file cannot be read: {error}"),
        }
    }

    pub(crate) fn off() -> Self {
        Self::parameter(
            "path",
            "no history is recorded: configure `ServerConfig::history` (or mark fields \
             `#[reactive(history)]`) and start the routes"
                .to_owned(),
        )
    }

    /// The query parameter at fault (`path`, `from`, `to`, `max_points`,
    /// `format`), `None` when the file could not be read.
    pub fn parameter_name(&self) -> Option<&'static str> {
        self.parameter
    }
}
