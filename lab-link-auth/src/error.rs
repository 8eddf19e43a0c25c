//! `AuthError`: what can go wrong setting access control up.

/// A failure of the access-control layer itself (not a refused request:
/// those are HTTP answers).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The SQLite store failed.
    #[error("the access-control store failed: {0}")]
    Store(#[from] rusqlite::Error),
    /// The store's file or directory could not be prepared.
    #[error("the access-control store at {path}: {source}")]
    Io {
        /// The store's path.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configured passphrase does not verify against the stored hash.
    #[error("the configured passphrase does not match the one in the store")]
    PassphraseMismatch,
    /// The configured passphrase is too weak.
    #[error("{0}")]
    WeakPassphrase(String),
    /// Hashing failed (bad parameters, a stored hash that is not a PHC
    /// string, a blocking task that panicked).
    #[error("passphrase hashing failed: {0}")]
    Hash(String),
}
