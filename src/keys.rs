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

/// The tag index: an append-only log per tag. `tag_len` is a counter that
/// hands out slots; each slot is written once by its owner with an image id.
pub fn tag_len(tag: &str) -> String {
    format!("tag:{}:n", sha256_hex(tag))
}

/// Slot `k` of the log whose counter is `len_key` (`...:n`).
pub fn log_slot(len_key: &str, slot: i64) -> String {
    let base = len_key.strip_suffix(":n").unwrap_or(len_key);
    format!("{base}:{slot}")
}

/// The key index of IMS key/value tags: an append-only log per key `k` of
/// the images given an entry `k=...`, kept like the tag logs. "Any value of
/// `k`" is this log together with the tag log of the plain `k`.
pub fn tag_key_len(key: &str) -> String {
    format!("tagkey:{}:n", sha256_hex(key))
}

/// A cached Keystone validation, under a hash of the token, never the token.
pub fn token(token: &str) -> String {
    format!("token:{}", sha256_hex(token))
}

pub const IMAGE_PREFIX: &str = "image:";

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
        assert_eq!(tag_len("x").len(), "tag:".len() + 64 + ":n".len());
        assert_ne!(tag_key_len("x"), tag_len("x"));
        assert!(is_image_id("6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11"));
        assert!(!is_image_id("6f1c1f3e4b0e4b8a9a572f1e0d9c3b11"));
        assert!(!is_image_id("../etc"));
    }
}
