//! Discord's request signatures: Ed25519 over `timestamp ++ body` with the application's
//! public key, plus a freshness window Discord's own check leaves to us.

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};

/// Requests older (or newer) than this are refused, against replays.
pub const MAX_AGE_SECONDS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    #[error("the public key is not 32 bytes of hex")]
    BadKey,
    #[error("the signature is missing or malformed")]
    BadSignature,
    #[error("the timestamp is missing, malformed or outside the window")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// Parses the application's public key (64 hex characters).
pub fn public_key(hex: &str) -> Result<VerifyingKey, VerifyError> {
    let bytes: [u8; 32] = decode_hex(hex.trim()).and_then(|b| b.try_into().ok()).ok_or(VerifyError::BadKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| VerifyError::BadKey)
}

pub fn verify(
    key: &VerifyingKey,
    signature_hex: &str,
    timestamp: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let signature: [u8; 64] =
        decode_hex(signature_hex.trim()).and_then(|b| b.try_into().ok()).ok_or(VerifyError::BadSignature)?;
    let sent: i64 = timestamp.trim().parse().map_err(|_| VerifyError::Stale)?;
    // abs_diff: a timestamp near i64's ends must not overflow.
    if now.timestamp().abs_diff(sent) > MAX_AGE_SECONDS.unsigned_abs() {
        return Err(VerifyError::Stale);
    }
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    key.verify_strict(&message, &Signature::from_bytes(&signature)).map_err(|_| VerifyError::Mismatch)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_fresh_correct_signature_passes_and_anything_else_fails() {
        let signing = SigningKey::from_bytes(&[7; 32]);
        let key = public_key(&hex(signing.verifying_key().as_bytes())).unwrap();
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let body = br#"{"type":1}"#;
        let signature = hex(&signing.sign(&[ts.as_bytes(), body].concat()).to_bytes());
        assert_eq!(verify(&key, &signature, &ts, body, now), Ok(()));
        assert_eq!(verify(&key, &signature, &ts, br#"{"type":2}"#, now), Err(VerifyError::Mismatch));
        assert_eq!(verify(&key, "zz", &ts, body, now), Err(VerifyError::BadSignature));
        let old = (now.timestamp() - 3600).to_string();
        let old_signature = hex(&signing.sign(&[old.as_bytes(), body].concat()).to_bytes());
        assert_eq!(verify(&key, &old_signature, &old, body, now), Err(VerifyError::Stale));
        assert_eq!(public_key("abc").unwrap_err(), VerifyError::BadKey);
    }
}
