//! A short, stable fingerprint of some bytes (the first 16 hex digits of their SHA-256), for
//! keys that must change when the content does: an approval's subject, a job's unique key.

use sha2::{Digest, Sha256};

pub fn short(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_bytes_the_same_fingerprint() {
        assert_eq!(super::short(b"abc"), "ba7816bf8f01cfea");
        assert_ne!(super::short(b"abc"), super::short(b"abd"));
    }
}
