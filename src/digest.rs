//! A short, stable fingerprint of some bytes (the first 16 hex digits of their SHA-256), for
//! keys that must change when the content does: an approval's subject, a job's unique key;
//! and the constant-time comparison of secrets.

use sha2::{Digest, Sha256};

pub fn short(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Equal, looking at every byte whatever the first difference (for bearer tokens: how
/// much of a guess was right does not show in the time taken).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_bytes_the_same_fingerprint() {
        assert_eq!(super::short(b"abc"), "ba7816bf8f01cfea");
        assert_ne!(super::short(b"abc"), super::short(b"abd"));
    }

    #[test]
    fn same_compares_whole_secrets() {
        assert!(super::same(b"token-1", b"token-1"));
        assert!(!super::same(b"token-1", b"token-2") && !super::same(b"token", b"token-1"));
    }
}
