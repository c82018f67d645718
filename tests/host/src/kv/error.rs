//! What a store call can fail with: `wasi:keyvalue/store.error`, a trap, or
//! a failed swap.

use std::fmt;

use super::Cas;

/// `wasi:keyvalue/store.error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvError {
    NoSuchStore,
    AccessDenied,
    Other(String),
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::NoSuchStore => f.write_str("no-such-store"),
            KvError::AccessDenied => f.write_str("access-denied"),
            KvError::Other(m) => write!(f, "other({m})"),
        }
    }
}

/// What a call can end in besides success: an error the guest sees, or a
/// trap (the host panicked, or the store is poisoned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvFailure {
    Error(KvError),
    Trap(String),
}

impl KvFailure {
    pub(crate) fn other(msg: impl Into<String>) -> Self {
        KvFailure::Error(KvError::Other(msg.into()))
    }
    /// True for a trap.
    pub fn is_trap(&self) -> bool {
        matches!(self, KvFailure::Trap(_))
    }
}

impl fmt::Display for KvFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvFailure::Error(e) => write!(f, "{e}"),
            KvFailure::Trap(m) => write!(f, "trap: {m}"),
        }
    }
}

impl std::error::Error for KvFailure {}

pub type KvResult<T> = Result<T, KvFailure>;

/// The outcome of a failed `swap`.
#[derive(Debug)]
pub enum SwapFailure {
    /// `cas-failed(cas)`: a fresh cas whose snapshot is the value now stored.
    CasFailed(Cas),
    /// `store-error(..)` or a trap.
    Store(KvFailure),
}

impl fmt::Display for SwapFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwapFailure::CasFailed(c) => write!(f, "cas-failed (key {:?})", c.key()),
            SwapFailure::Store(e) => write!(f, "{e}"),
        }
    }
}
