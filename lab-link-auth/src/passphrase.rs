//! Passphrase rules, generation, and Argon2id hashing kept off the async
//! executor.
//!
//! The parameters are 0.5.0's (argon2-cffi `PasswordHasher()` defaults:
//! Argon2id v19, m = 65536 KiB, t = 3, p = 4, 16-byte salt, 32-byte tag),
//! written as PHC strings, so a 0.5.0 `auth.db` verifies unchanged and
//! 0.5.0 can verify ours. Verification takes the parameters from the
//! stored string, so older parameters still verify.
//!
//! Each hash costs 64 MiB and about 100 ms of CPU. 0.5.0 ran it on the
//! event loop, so a burst of logins froze every socket (AUTH.md W1).
//! [`Hasher`] runs it on tokio's blocking pool and admits at most
//! `concurrency` at once, so memory and CPU stay bounded and the executor
//! keeps serving.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::AuthError;

/// The minimum length, in Unicode code points.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// `Ok` or the 0.5.0 message `passphrase must contain at least 12 characters`.
///
/// Length is counted in Unicode code points (Python's `len`); there is no
/// maximum, no character-class rule and no normalisation. Whitespace
/// counts.
///
/// ```
/// use lab_link_auth::validate_passphrase;
///
/// assert!(validate_passphrase("correct horse battery").is_ok());
/// assert_eq!(
///     validate_passphrase("short").unwrap_err(),
///     "passphrase must contain at least 12 characters"
/// );
/// ```
///
/// # Errors
///
/// A passphrase shorter than [`MIN_PASSPHRASE_CHARS`].
pub fn validate_passphrase(passphrase: &str) -> Result<(), String> {
    if passphrase.chars().count() >= MIN_PASSPHRASE_CHARS {
        Ok(())
    } else {
        Err(format!(
            "passphrase must contain at least {MIN_PASSPHRASE_CHARS} characters"
        ))
    }
}

/// Three groups of four characters of `ABCDEFGHJKLMNPQRSTUVWXYZ23456789`
/// joined with `-` (about 60 bits), from the OS's CSPRNG: what the server
/// shows when it has neither a store nor a configured passphrase.
///
/// ```
/// use lab_link_auth::generate_passphrase;
///
/// let passphrase = generate_passphrase(); // e.g. `K7QM-3XTA-P9RD`
/// assert_eq!(passphrase.len(), 14);
/// assert_eq!(passphrase.split('-').count(), 3);
/// ```
pub fn generate_passphrase() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // 32 divides 256, so a byte modulo 32 is exactly uniform: no
    // rejection sampling is needed.
    const _: () = assert!(256 % ALPHABET.len() == 0);
    let mut bytes = [0u8; 12];
    crate::secret::fill_random(&mut bytes);
    let mut out = String::with_capacity(14);
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
    }
    out
}

/// Argon2id (m = 65536 KiB, t = 3, p = 4) on the blocking pool, at most
/// `concurrency` at once.
///
/// Cloning shares the limit.
#[derive(Debug, Clone)]
pub(crate) struct Hasher {
    semaphore: Arc<Semaphore>,
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once (at least 1).
    pub(crate) fn new(concurrency: usize) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// The PHC string of `passphrase`, with a fresh 16-byte salt.
    ///
    /// Waits for a permit, then hashes on the blocking pool.
    ///
    /// # Errors
    ///
    /// Hashing failed, or the blocking task panicked.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives up the wait for a permit; once the hash
    /// has started it runs to completion on the blocking pool and keeps
    /// its permit until then, so cancellation cannot exceed the limit.
    pub(crate) async fn hash(&self, passphrase: String) -> Result<String, AuthError> {
        self.run(move || Self::hash_blocking(&passphrase))
            .await
            .and_then(|result| result)
    }

    /// Whether `passphrase` matches the PHC string `hash` (constant-time
    /// comparison; the parameters are read from `hash`).
    ///
    /// An empty passphrase, or a `hash` that is not a PHC string, gives
    /// false at once, without waiting for a permit.
    ///
    /// # Cancel safety
    ///
    /// As for [`Hasher::hash`].
    pub(crate) async fn verify(&self, passphrase: String, hash: String) -> bool {
        if passphrase.is_empty() || PasswordHash::new(&hash).is_err() {
            return false;
        }
        self.run(move || Self::verify_blocking(&passphrase, &hash))
            .await
            .unwrap_or(false)
    }

    /// [`Hasher::hash`] on the calling thread (start-up only).
    ///
    /// # Errors
    ///
    /// Hashing failed.
    pub(crate) fn hash_blocking(passphrase: &str) -> Result<String, AuthError> {
        let mut salt = [0u8; 16];
        crate::secret::fill_random(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
        argon2id()?
            .hash_password(passphrase.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AuthError::Hash(e.to_string()))
    }

    /// [`Hasher::verify`] on the calling thread (start-up only).
    pub(crate) fn verify_blocking(passphrase: &str, hash: &str) -> bool {
        if passphrase.is_empty() {
            return false;
        }
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        // Only Argon2 hashes are ours; `verify_password` would otherwise
        // report an unsupported algorithm, which is a mismatch too.
        Argon2::default()
            .verify_password(passphrase.as_bytes(), &parsed)
            .is_ok()
    }

    /// Runs `work` on the blocking pool while holding a permit.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let permit = Arc::clone(&self.semaphore)
            .acquire_owned()
            .await
            .map_err(|e| AuthError::Hash(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))
    }
}

/// 0.5.0's parameters: Argon2id v19, 64 MiB, 3 passes, 4 lanes, 32 bytes.
fn argon2id() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(65_536, 3, 4, Some(32)).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by 0.5.0's hasher:
    /// `python -c "from argon2 import PasswordHasher; print(PasswordHasher().hash('correct horse battery'))"`.
    const ARGON2_CFFI_HASH: &str = "$argon2id$v=19$m=65536,t=3,p=4$POJk7vHlStP67z6hoqletg$brr6PgILexNGRB+uBkX+pbyLte8hRudurOUNk1fs4X0";

    #[test]
    fn validation_counts_code_points() {
        assert!(validate_passphrase("123456789012").is_ok());
        assert!(validate_passphrase("            ").is_ok());
        // 12 code points, 24+ bytes.
        assert!(validate_passphrase("ééééééééééé1").is_ok());
        let message = "passphrase must contain at least 12 characters";
        assert_eq!(validate_passphrase("12345678901").unwrap_err(), message);
        assert_eq!(validate_passphrase("").unwrap_err(), message);
        // 11 code points, 22 bytes: too short although long in bytes.
        assert_eq!(validate_passphrase("ééééééééééé").unwrap_err(), message);
    }

    #[test]
    fn generated_passphrases_have_the_shape_and_vary() {
        let alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let passphrase = generate_passphrase();
            let groups: Vec<&str> = passphrase.split('-').collect();
            assert_eq!(groups.len(), 3, "{passphrase}");
            for group in groups {
                assert_eq!(group.len(), 4);
                assert!(group.chars().all(|c| alphabet.contains(c)), "{passphrase}");
            }
            // A generated passphrase passes validation (14 characters).
            assert!(validate_passphrase(&passphrase).is_ok());
            seen.insert(passphrase);
        }
        assert_eq!(seen.len(), 200);
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = Hasher::new(2);
        let hash = hasher
            .hash("correct horse battery".to_owned())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"),
            "{hash}"
        );
        let parsed = PasswordHash::new(&hash).unwrap();
        // 16 bytes are 22 unpadded base64 characters.
        assert_eq!(parsed.salt.unwrap().as_str().len(), 22);
        assert_eq!(parsed.hash.unwrap().len(), 32);
        assert!(
            hasher
                .verify("correct horse battery".to_owned(), hash.clone())
                .await
        );
        assert!(
            !hasher
                .verify("correct horse batterY".to_owned(), hash)
                .await
        );
        assert_eq!(hasher.semaphore.available_permits(), 2);
    }

    #[test]
    fn verifies_a_0_5_0_argon2_cffi_hash() {
        assert!(Hasher::verify_blocking(
            "correct horse battery",
            ARGON2_CFFI_HASH
        ));
        assert!(!Hasher::verify_blocking(
            "correct horse battery!",
            ARGON2_CFFI_HASH
        ));
    }

    #[tokio::test]
    async fn malformed_hashes_and_empty_passphrases_do_not_verify() {
        let hasher = Hasher::new(1);
        for hash in [
            "",
            "not a hash",
            "$argon2id$v=19$m=65536,t=3,p=4$",
            "$md5$abc",
        ] {
            assert!(
                !hasher
                    .verify("correct horse battery".to_owned(), hash.to_owned())
                    .await
            );
            assert!(!Hasher::verify_blocking("correct horse battery", hash));
        }
        assert!(
            !hasher
                .verify(String::new(), ARGON2_CFFI_HASH.to_owned())
                .await
        );
        assert!(!Hasher::verify_blocking("", ARGON2_CFFI_HASH));
    }

    #[tokio::test]
    async fn hashing_waits_for_a_permit() {
        let hasher = Hasher::new(1);
        // Hold the only permit: a verify cannot start.
        let held = Arc::clone(&hasher.semaphore).acquire_owned().await.unwrap();
        let task = tokio::spawn({
            let hasher = hasher.clone();
            async move {
                hasher
                    .verify(
                        "correct horse battery".to_owned(),
                        ARGON2_CFFI_HASH.to_owned(),
                    )
                    .await
            }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!task.is_finished());
        drop(held);
        assert!(task.await.unwrap());
        assert_eq!(hasher.semaphore.available_permits(), 1);
    }

    #[test]
    fn zero_concurrency_means_one() {
        assert_eq!(Hasher::new(0).semaphore.available_permits(), 1);
    }
}
