//! The SQLite store, in 0.5.0's schema, so a 0.5.0 `auth.db` opens
//! unchanged and the other way round.
//!
//! It holds the passphrase's Argon2id PHC string, the remembered sessions
//! and the API tokens, never a plaintext secret: sessions and tokens are
//! stored under the SHA-256 digest of their secret (AUTH.md 14).
//!
//! Differences from 0.5.0 (AUTH.md W11): the file is created with
//! `O_CREAT|O_EXCL` and mode 0600, so there is no window at the umask
//! mode; directories we create are 0700; an existing file that the group
//! or others can access is tightened to 0600 with a warning. One
//! connection is kept open (0.5.0 opened one per operation), behind a
//! mutex; the calls are short, blocking SQLite calls.

use std::fs::{self, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension as _, Row};

use crate::AuthError;

/// A remembered session as stored.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    /// 24 hex.
    pub id: String,
    /// Lowercase hex SHA-256 of the cookie value.
    pub token_hash: String,
    /// Device name.
    pub label: String,
    /// Unix seconds.
    pub created_at: f64,
    /// Unix seconds.
    pub last_used_at: f64,
    /// Unix seconds.
    pub expires_at: f64,
    /// Always true in the store.
    pub remembered: bool,
    /// `passphrase`, `invite` or `setup`.
    pub auth_method: String,
    /// Sorted.
    pub capabilities: Vec<String>,
}

/// An API token as stored.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    /// 24 hex.
    pub id: String,
    /// Lowercase hex SHA-256 of the whole `ll_…` secret.
    pub token_hash: String,
    /// The label.
    pub label: String,
    /// Unix seconds.
    pub created_at: f64,
    /// Unix seconds.
    pub last_used_at: Option<f64>,
    /// Unix seconds; `None`: never.
    pub expires_at: Option<f64>,
    /// Sorted.
    pub capabilities: Vec<String>,
}

/// The store file.
///
/// ```
/// use lab_link_auth::{Store, TokenRow};
///
/// # let dir = std::env::temp_dir().join(format!("lab-link-auth-doc-{}", std::process::id()));
/// let store = Store::open(&dir.join("auth.db"))?;
/// store.insert_token(&TokenRow {
///     id: "0123456789abcdef01234567".to_owned(),
///     token_hash: "5e88…".to_owned(), // SHA-256 hex of the secret, never the secret
///     label: "dashboard".to_owned(),
///     created_at: 1_795_583_623.2,
///     last_used_at: None,
///     expires_at: None,
///     capabilities: vec!["control".to_owned()],
/// })?;
/// assert_eq!(store.token_by_hash("5e88…")?.map(|t| t.label), Some("dashboard".to_owned()));
/// assert!(store.delete_token("0123456789abcdef01234567")?);
/// # drop(store);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), lab_link_auth::AuthError>(())
/// ```
#[doc(hidden)]
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    connection: Mutex<Connection>,
}

/// 0.5.0's schema, verbatim apart from `IF NOT EXISTS` and whitespace.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS auth_metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS auth_sessions (
  id TEXT PRIMARY KEY, token_hash TEXT UNIQUE NOT NULL, label TEXT NOT NULL,
  created_at REAL NOT NULL, last_used_at REAL NOT NULL, expires_at REAL NOT NULL,
  remembered INTEGER NOT NULL, auth_method TEXT NOT NULL, capabilities TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS auth_sessions_token_hash ON auth_sessions(token_hash);
CREATE TABLE IF NOT EXISTS auth_api_tokens (
  id TEXT PRIMARY KEY, token_hash TEXT UNIQUE NOT NULL, label TEXT NOT NULL,
  created_at REAL NOT NULL, last_used_at REAL, expires_at REAL,
  capabilities TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS auth_api_tokens_token_hash ON auth_api_tokens(token_hash);
";

const SESSION_COLUMNS: &str = "id, token_hash, label, created_at, last_used_at, expires_at, \
     remembered, auth_method, capabilities";
const TOKEN_COLUMNS: &str =
    "id, token_hash, label, created_at, last_used_at, expires_at, capabilities";

impl Store {
    /// Opens or creates the store (mode 0600, schema of 0.5.0).
    ///
    /// Missing parent directories are created with mode 0700. A new file
    /// is created exclusively with mode 0600 before SQLite opens it; an
    /// existing file (or `-wal`/`-shm` sidecar) that group or others can
    /// access is set to 0600, with a warning. The journal is WAL, and a
    /// busy database is waited for up to 10 s.
    ///
    /// # Errors
    ///
    /// The file cannot be created or opened, or is not a store.
    pub fn open(path: &Path) -> Result<Self, AuthError> {
        let io = |source| AuthError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io)?;
        }
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        for file in [
            path.to_owned(),
            sidecar(path, "-wal"),
            sidecar(path, "-shm"),
        ] {
            tighten(&file).map_err(|source| AuthError::Io { path: file, source })?;
        }
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(10))?;
        let _mode: String =
            connection.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        connection.execute_batch(SCHEMA)?;
        Ok(Self {
            path: path.to_owned(),
            connection: Mutex::new(connection),
        })
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The passphrase's PHC string, `None` while unconfigured.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn passphrase_hash(&self) -> Result<Option<String>, AuthError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT value FROM auth_metadata WHERE key = 'passphrase_hash'",
                [],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Stores the passphrase's PHC string, replacing any previous one.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn set_passphrase_hash(&self, hash: &str) -> Result<(), AuthError> {
        self.lock().execute(
            "INSERT INTO auth_metadata (key, value) VALUES ('passphrase_hash', ?1) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [hash],
        )?;
        Ok(())
    }

    /// Stores a session (replacing a row with the same id).
    ///
    /// # Errors
    ///
    /// SQLite failed (for example another session has the same digest).
    pub fn insert_session(&self, session: &SessionRow) -> Result<(), AuthError> {
        self.lock().execute(
            &format!("INSERT OR REPLACE INTO auth_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                session.id,
                session.token_hash,
                session.label,
                session.created_at,
                session.last_used_at,
                session.expires_at,
                i64::from(session.remembered),
                session.auth_method,
                encode_capabilities(&session.capabilities),
            ],
        )?;
        Ok(())
    }

    /// The session whose cookie has this digest, expired or not.
    ///
    /// # Errors
    ///
    /// SQLite failed, or the row is malformed.
    pub fn session_by_hash(&self, token_hash: &str) -> Result<Option<SessionRow>, AuthError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM auth_sessions WHERE token_hash = ?1"),
                [token_hash],
                session_row,
            )
            .optional()?)
    }

    /// Deletes a session; whether it existed.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn delete_session(&self, id: &str) -> Result<bool, AuthError> {
        Ok(self
            .lock()
            .execute("DELETE FROM auth_sessions WHERE id = ?1", [id])?
            > 0)
    }

    /// Deletes every session; how many there were.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn delete_all_sessions(&self) -> Result<usize, AuthError> {
        Ok(self.lock().execute("DELETE FROM auth_sessions", [])?)
    }

    /// Sets a session's `last_used_at`; whether it exists.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn touch_session(&self, id: &str, at: f64) -> Result<bool, AuthError> {
        Ok(self.lock().execute(
            "UPDATE auth_sessions SET last_used_at = ?2 WHERE id = ?1",
            params![id, at],
        )? > 0)
    }

    /// Every stored session, expired or not, oldest first.
    ///
    /// # Errors
    ///
    /// SQLite failed, or a row is malformed.
    pub fn sessions(&self) -> Result<Vec<SessionRow>, AuthError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM auth_sessions ORDER BY created_at, id"
        ))?;
        let rows = statement.query_map([], session_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores an API token (replacing a row with the same id).
    ///
    /// # Errors
    ///
    /// SQLite failed (for example another token has the same digest).
    pub fn insert_token(&self, token: &TokenRow) -> Result<(), AuthError> {
        self.lock().execute(
            &format!(
                "INSERT OR REPLACE INTO auth_api_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            params![
                token.id,
                token.token_hash,
                token.label,
                token.created_at,
                token.last_used_at,
                token.expires_at,
                encode_capabilities(&token.capabilities),
            ],
        )?;
        Ok(())
    }

    /// The API token whose secret has this digest, expired or not.
    ///
    /// # Errors
    ///
    /// SQLite failed, or the row is malformed.
    pub fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRow>, AuthError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM auth_api_tokens WHERE token_hash = ?1"),
                [token_hash],
                token_row,
            )
            .optional()?)
    }

    /// Deletes an API token; whether it existed.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn delete_token(&self, id: &str) -> Result<bool, AuthError> {
        Ok(self
            .lock()
            .execute("DELETE FROM auth_api_tokens WHERE id = ?1", [id])?
            > 0)
    }

    /// Deletes every API token; how many there were.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn delete_all_tokens(&self) -> Result<usize, AuthError> {
        Ok(self.lock().execute("DELETE FROM auth_api_tokens", [])?)
    }

    /// Sets a token's `last_used_at`; whether it exists.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn touch_token(&self, id: &str, at: f64) -> Result<bool, AuthError> {
        Ok(self.lock().execute(
            "UPDATE auth_api_tokens SET last_used_at = ?2 WHERE id = ?1",
            params![id, at],
        )? > 0)
    }

    /// Every stored API token, expired or not, oldest first.
    ///
    /// # Errors
    ///
    /// SQLite failed, or a row is malformed.
    pub fn tokens(&self) -> Result<Vec<TokenRow>, AuthError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM auth_api_tokens ORDER BY created_at, id"
        ))?;
        let rows = statement.query_map([], token_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes sessions and tokens whose `expires_at` is at or before
    /// `now`; how many rows went.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn prune_expired(&self, now: f64) -> Result<usize, AuthError> {
        let connection = self.lock();
        let sessions =
            connection.execute("DELETE FROM auth_sessions WHERE expires_at <= ?1", [now])?;
        let tokens = connection.execute(
            "DELETE FROM auth_api_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?1",
            [now],
        )?;
        Ok(sessions + tokens)
    }

    /// The connection. SQLite calls do not panic midway in a way that
    /// leaves the connection unusable, so a poisoned lock is recovered.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// `auth.db-wal` next to `auth.db`.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Sets an existing file that group or others can access to 0600, with a
/// warning; a missing file is fine.
fn tighten(path: &Path) -> std::io::Result<()> {
    let mode = match fs::metadata(path) {
        Ok(metadata) => metadata.permissions().mode(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:04o}", mode & 0o7777),
            "the access-control store was accessible to other users; setting it to 0600"
        );
        fs::set_permissions(path, Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn session_row(row: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: row.get(0)?,
        token_hash: row.get(1)?,
        label: row.get(2)?,
        created_at: row.get(3)?,
        last_used_at: row.get(4)?,
        expires_at: row.get(5)?,
        remembered: row.get::<_, i64>(6)? != 0,
        auth_method: row.get(7)?,
        capabilities: decode_capabilities(row, 8)?,
    })
}

fn token_row(row: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: row.get(0)?,
        token_hash: row.get(1)?,
        label: row.get(2)?,
        created_at: row.get(3)?,
        last_used_at: row.get(4)?,
        expires_at: row.get(5)?,
        capabilities: decode_capabilities(row, 6)?,
    })
}

/// Python's `json.dumps(sorted(capabilities))`: `["control", "manage_access"]`,
/// `", "` between items, non-ASCII escaped as `\uXXXX` (`ensure_ascii`).
fn encode_capabilities(capabilities: &[String]) -> String {
    let mut sorted: Vec<&String> = capabilities.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut out = String::from("[");
    for (i, capability) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('"');
        for c in capability.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                ' '..='~' => out.push(c),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

/// The capabilities column, sorted.
fn decode_capabilities(row: &Row<'_>, index: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = row.get(index)?;
    let mut capabilities: Vec<String> = serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })?;
    capabilities.sort();
    Ok(capabilities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{digest, random_id, random_secret};

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("lab-link-auth-store-{}", random_id()));
            fs::create_dir(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn session(id: &str, secret: &str, expires_at: f64) -> SessionRow {
        SessionRow {
            id: id.to_owned(),
            token_hash: digest(secret),
            label: "Browser".to_owned(),
            created_at: 1_795_583_623.206_302,
            last_used_at: 1_795_583_623.206_302,
            expires_at,
            remembered: true,
            auth_method: "passphrase".to_owned(),
            capabilities: vec!["control".to_owned(), "manage_access".to_owned()],
        }
    }

    fn token(id: &str, secret: &str, expires_at: Option<f64>) -> TokenRow {
        TokenRow {
            id: id.to_owned(),
            token_hash: digest(secret),
            label: "dashboard".to_owned(),
            created_at: 1_795_583_600.5,
            last_used_at: None,
            expires_at,
            capabilities: vec!["read_state".to_owned()],
        }
    }

    #[test]
    fn passphrase_hash_round_trip() {
        let dir = TempDir::new();
        let store = Store::open(&dir.0.join("auth.db")).unwrap();
        assert_eq!(store.passphrase_hash().unwrap(), None);
        store.set_passphrase_hash("$argon2id$one").unwrap();
        store.set_passphrase_hash("$argon2id$two").unwrap();
        assert_eq!(
            store.passphrase_hash().unwrap().as_deref(),
            Some("$argon2id$two")
        );
    }

    #[test]
    fn session_round_trip() {
        let dir = TempDir::new();
        let store = Store::open(&dir.0.join("auth.db")).unwrap();
        let a = session("a".repeat(24).as_str(), "secret-a", 2e9);
        let b = session("b".repeat(24).as_str(), "secret-b", 2e9);
        store.insert_session(&a).unwrap();
        store.insert_session(&b).unwrap();
        assert_eq!(
            store.session_by_hash(&digest("secret-a")).unwrap(),
            Some(a.clone())
        );
        assert_eq!(store.session_by_hash(&digest("nope")).unwrap(), None);
        assert!(store.touch_session(&a.id, 1_795_583_700.25).unwrap());
        assert!(!store.touch_session("unknown", 1.0).unwrap());
        let touched = store.session_by_hash(&a.token_hash).unwrap().unwrap();
        assert_eq!(touched.last_used_at, 1_795_583_700.25);
        assert_eq!(store.sessions().unwrap().len(), 2);
        assert!(store.delete_session(&a.id).unwrap());
        assert!(!store.delete_session(&a.id).unwrap());
        assert_eq!(store.sessions().unwrap(), vec![b]);
        assert_eq!(store.delete_all_sessions().unwrap(), 1);
        assert!(store.sessions().unwrap().is_empty());
    }

    #[test]
    fn token_round_trip() {
        let dir = TempDir::new();
        let store = Store::open(&dir.0.join("auth.db")).unwrap();
        let a = token(&"a".repeat(24), "ll_a", None);
        let b = token(&"b".repeat(24), "ll_b", Some(1_795_600_000.0));
        store.insert_token(&a).unwrap();
        store.insert_token(&b).unwrap();
        assert_eq!(
            store.token_by_hash(&digest("ll_b")).unwrap(),
            Some(b.clone())
        );
        assert!(store.touch_token(&a.id, 1_795_583_601.0).unwrap());
        let touched = store.token_by_hash(&a.token_hash).unwrap().unwrap();
        assert_eq!(touched.last_used_at, Some(1_795_583_601.0));
        assert_eq!(store.tokens().unwrap().len(), 2);
        assert!(store.delete_token(&b.id).unwrap());
        assert!(!store.delete_token(&b.id).unwrap());
        assert_eq!(store.delete_all_tokens().unwrap(), 1);
        assert!(store.tokens().unwrap().is_empty());
    }

    #[test]
    fn prune_removes_only_expired_rows() {
        let dir = TempDir::new();
        let store = Store::open(&dir.0.join("auth.db")).unwrap();
        store
            .insert_session(&session(&"1".repeat(24), "s1", 100.0))
            .unwrap();
        store
            .insert_session(&session(&"2".repeat(24), "s2", 300.0))
            .unwrap();
        store
            .insert_token(&token(&"3".repeat(24), "t3", Some(200.0)))
            .unwrap();
        store
            .insert_token(&token(&"4".repeat(24), "t4", Some(300.0)))
            .unwrap();
        store
            .insert_token(&token(&"5".repeat(24), "t5", None))
            .unwrap();
        assert_eq!(store.prune_expired(200.0).unwrap(), 2);
        assert_eq!(store.sessions().unwrap().len(), 1);
        let ids: Vec<String> = store.tokens().unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, vec!["4".repeat(24), "5".repeat(24)]);
    }

    #[test]
    fn capabilities_are_stored_as_python_json() {
        let dir = TempDir::new();
        let path = dir.0.join("auth.db");
        let store = Store::open(&path).unwrap();
        let mut row = session(&"c".repeat(24), "s", 2e9);
        row.capabilities = vec!["manage_access".to_owned(), "control".to_owned()];
        store.insert_session(&row).unwrap();
        let mut unsorted = token(&"d".repeat(24), "t", None);
        unsorted.capabilities = vec![];
        store.insert_token(&unsorted).unwrap();
        drop(store);
        let connection = Connection::open(&path).unwrap();
        let text: String = connection
            .query_row("SELECT capabilities FROM auth_sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(text, r#"["control", "manage_access"]"#);
        let text: String = connection
            .query_row("SELECT capabilities FROM auth_api_tokens", [], |r| r.get(0))
            .unwrap();
        assert_eq!(text, "[]");
        // json.dumps(["*", "é", "a\"b", "😀"]) with its ensure_ascii default.
        let caps: Vec<String> = ["😀", "é", "a\"b", "*"].map(str::to_owned).into();
        assert_eq!(
            encode_capabilities(&caps),
            r#"["*", "a\"b", "\u00e9", "\ud83d\ude00"]"#
        );
    }

    #[test]
    fn opens_a_0_5_0_database_unchanged() {
        // A database as 0.5.0 writes it: no IF NOT EXISTS, its own rows.
        let dir = TempDir::new();
        let path = dir.0.join("auth.db");
        {
            let connection = Connection::open(&path).unwrap();
            connection
                .execute_batch(&SCHEMA.replace(" IF NOT EXISTS", ""))
                .unwrap();
            connection
                .execute_batch(
                    "INSERT INTO auth_metadata VALUES ('passphrase_hash', '$argon2id$v=19$m=65536,t=3,p=4$x$y');
                     INSERT INTO auth_sessions VALUES ('aaaaaaaaaaaaaaaaaaaaaaaa', 'h1', 'Laptop', 1.5, 2.5, 3.5, 1, 'setup', '[\"control\", \"manage_access\"]');
                     INSERT INTO auth_api_tokens VALUES ('bbbbbbbbbbbbbbbbbbbbbbbb', 'h2', 'ci', 1.0, NULL, NULL, '[\"*\"]');",
                )
                .unwrap();
            fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.passphrase_hash().unwrap().as_deref(),
            Some("$argon2id$v=19$m=65536,t=3,p=4$x$y")
        );
        let session = store.session_by_hash("h1").unwrap().unwrap();
        assert_eq!(session.auth_method, "setup");
        assert_eq!(session.capabilities, vec!["control", "manage_access"]);
        assert!(session.remembered);
        let token = store.token_by_hash("h2").unwrap().unwrap();
        assert_eq!((token.last_used_at, token.expires_at), (None, None));
        assert_eq!(token.capabilities, vec!["*"]);
    }

    #[test]
    fn new_files_are_owner_only() {
        let dir = TempDir::new();
        let path = dir.0.join("nested/deeper/auth.db");
        let store = Store::open(&path).unwrap();
        store.set_passphrase_hash("$argon2id$x").unwrap();
        assert_eq!(mode(&path), 0o600);
        // The sidecars exist while the connection is open, and inherit it.
        assert_eq!(mode(&sidecar(&path, "-wal")), 0o600);
        assert_eq!(mode(&sidecar(&path, "-shm")), 0o600);
        assert_eq!(mode(&dir.0.join("nested")), 0o700);
        assert_eq!(mode(&dir.0.join("nested/deeper")), 0o700);
        let journal: String = store
            .lock()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
    }

    #[test]
    fn an_existing_readable_file_is_tightened() {
        let dir = TempDir::new();
        let path = dir.0.join("auth.db");
        drop(Store::open(&path).unwrap());
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        store.set_passphrase_hash("$argon2id$x").unwrap();
        assert_eq!(mode(&sidecar(&path, "-wal")), 0o600);
    }

    #[test]
    fn reopening_keeps_the_data() {
        let dir = TempDir::new();
        let path = dir.0.join("auth.db");
        {
            let store = Store::open(&path).unwrap();
            store.set_passphrase_hash("$argon2id$kept").unwrap();
            store
                .insert_session(&session(&"e".repeat(24), "s", 2e9))
                .unwrap();
            store
                .insert_token(&token(&"f".repeat(24), "t", None))
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.path(), path);
        assert_eq!(
            store.passphrase_hash().unwrap().as_deref(),
            Some("$argon2id$kept")
        );
        assert_eq!(store.sessions().unwrap().len(), 1);
        assert_eq!(store.tokens().unwrap().len(), 1);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_error() {
        let dir = TempDir::new();
        let path = dir.0.join("auth.db");
        fs::write(&path, vec![b'x'; 4096]).unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(Store::open(&path), Err(AuthError::Store(_))));
    }

    #[test]
    fn files_hold_no_plaintext_secrets() {
        let dir = TempDir::new();
        let path = dir.0.join("auth.db");
        let passphrase = "correct horse battery staple";
        let cookie = random_secret();
        let api_token = format!("ll_{}", random_secret());
        let store = Store::open(&path).unwrap();
        // A stand-in PHC string: the store only ever sees the hash.
        store
            .set_passphrase_hash(&format!(
                "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA${}",
                digest(passphrase)
            ))
            .unwrap();
        store
            .insert_session(&session(&random_id(), &cookie, 2e9))
            .unwrap();
        store
            .insert_token(&token(&random_id(), &api_token, None))
            .unwrap();
        // The digests are findable; the plaintexts nowhere.
        assert!(store.session_by_hash(&digest(&cookie)).unwrap().is_some());
        assert!(store.token_by_hash(&digest(&api_token)).unwrap().is_some());
        let mut checked = 0;
        for entry in fs::read_dir(&dir.0).unwrap() {
            let bytes = fs::read(entry.unwrap().path()).unwrap();
            for secret in [passphrase, cookie.as_str(), api_token.as_str()] {
                assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
            }
            checked += 1;
        }
        assert_eq!(checked, 3, "auth.db, -wal and -shm");
        // The digest itself is there, so the scan did read the data.
        let wal = fs::read(sidecar(&path, "-wal")).unwrap();
        let cookie_digest = digest(&cookie);
        assert!(wal.windows(64).any(|w| w == cookie_digest.as_bytes()));
    }
}
