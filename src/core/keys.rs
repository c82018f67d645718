//! Key layout in the store. Image ids are UUIDs; tags and tokens are hashed,
//! which keeps keys short and free of characters some backends refuse.

use sha2::{Digest, Sha256};

pub fn sha256_hex(text: &str) -> String {
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(text.as_bytes()) {
        for nibble in [b >> 4, b & 15] {
            out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    out
}

/// The image record: the source of truth.
/// UUIDs are case-insensitive: every spelling of an id names one image.
pub fn image(id: &str) -> String {
    format!("image:{}", id.to_ascii_lowercase())
}

/// A counter whose first increment claims the id for good.
pub fn claim(id: &str) -> String {
    format!("claim:{}", id.to_ascii_lowercase())
}

/// A cached Keystone validation, under a hash of the token, never the token.
pub fn token(token: &str) -> String {
    format!("token:{}", sha256_hex(token))
}

/// Written by the readiness check (`GET /healthcheck/ready`) to prove the
/// store takes writes.
pub const READY: &str = "health:ready";

/// Only canonical UUIDs are ever stored as image ids, so anything else can
/// be answered 404 without a store read.
pub fn is_image_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hide_tokens_and_tags() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!token("secret").contains("secret"));
        assert!(is_image_id("6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11"));
        assert!(!is_image_id("6f1c1f3e4b0e4b8a9a572f1e0d9c3b11"));
        assert!(!is_image_id("../etc"));
    }
}
