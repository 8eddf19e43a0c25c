//! Secrets: random ids and tokens from the OS's CSPRNG, and the SHA-256
//! digests under which they are stored and looked up.
//!
//! Secrets (cookie values, invitation tokens, API tokens) are never kept
//! or compared in plaintext: the server hashes what it is given with
//! [`digest`] and looks the digest up (AUTH.md W12), so lookup time does
//! not depend on how much of a guess is right. An unsalted SHA-256 is
//! enough for 256-bit random values.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// 32 random bytes as 43 base64url characters (no padding), the form of
/// 0.5.0's session cookies and invitation tokens.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// 12 random bytes as 24 lowercase hex characters, the form of 0.5.0's
/// session, invitation and token ids.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 12];
    fill_random(&mut bytes);
    hex(&bytes)
}

/// The lowercase hex SHA-256 of `secret`: what the store's `token_hash`
/// columns hold.
pub(crate) fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Fills `bytes` from the OS's CSPRNG.
pub(crate) fn fill_random(bytes: &mut [u8]) {
    // Invariant: the OS random source is available on every platform the
    // server runs on; if it is not, no credential can be minted safely, so
    // failing loudly is the only correct answer.
    getrandom::fill(bytes).expect("the operating system's random number generator failed");
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_43_base64url_chars_and_random() {
        let a = random_secret();
        let b = random_secret();
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .unwrap();
        assert_eq!(decoded.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn id_is_24_lowercase_hex_and_random() {
        let a = random_id();
        assert_eq!(a.len(), 24);
        assert!(a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_ne!(a, random_id());
    }

    #[test]
    fn digest_is_lowercase_hex_sha256() {
        // python3 -c "import hashlib; print(hashlib.sha256(b'abc').hexdigest())"
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_encodes_every_nibble() {
        assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff, 0x5a]), "000ff0ff5a");
    }
}
