//! Random numbers for backoff jitter and write nonces.

/// 64 random bits. A failed entropy read only weakens jitter and nonces to
/// the time, which keeps nonces distinct enough: CAS still guards writes.
pub fn u64() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
    }
    u64::from_le_bytes(bytes)
}

/// A nonce that tells one write from another: a writer that cannot trust
/// a swap's answer (Spin's Redis store) reads it back to learn who won.
pub fn nonce() -> String {
    format!("{:016x}", u64())
}
