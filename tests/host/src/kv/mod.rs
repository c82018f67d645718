//! In-memory key-value store with Spin's `wasi:keyvalue@0.2.0-draft2` semantics.
//!
//! One [`KvStore`] is shared by every instance a host creates (it is a cheap
//! `Arc` handle), so state survives across requests like Spin's SQLite file.
//! What it reproduces (SPEC section 6, checked against Spin's
//! `key-value-spin` SQLite store and `factor-key-value` dispatch):
//!
//! - `cas::new` takes no snapshot. `cas.current()` reads the key and keeps what
//!   it read as the snapshot (every call reads again). `swap` with no snapshot
//!   (never called `current`, or `current` saw no value) is an unconditional
//!   upsert; otherwise it writes only when the stored value still equals the
//!   snapshot (a key deleted since then does not). On failure the guest gets a
//!   fresh `cas` whose snapshot is the value now stored.
//! - `increment` keeps an 8-byte little-endian i64 (SQLite) or decimal text
//!   (Redis). In SQLite mode a value of any other length panics Spin's host
//!   while it holds the connection lock: here that is a trap, and the store is
//!   poisoned, so every later call that touches the data traps until
//!   [`KvStore::restart`] (a host restart; the data survives, as the SQLite
//!   file would).
//! - `get-many` leaves missing keys out, answers in key order and folds
//!   duplicate keys, like `SELECT .. WHERE key IN (..)`. In Redis mode it
//!   traps: Spin's Redis store sends `KEYS` instead of `MGET` and its host
//!   task panics ("entered unreachable code"), failing the whole request.
//! - `list-keys` answers every key at once with no cursor; a cursor is an
//!   error (`list_keys: cursor not supported`).
//! - Batch calls with an empty list answer at once without touching the store.
//! - [`KvMode::Redis`]: `swap` reports `cas-failed` every time, whether it wrote
//!   or not (it writes exactly when the SQLite rules say so); `increment` keeps
//!   decimal text and a non-integer value is an ordinary error.
//!
//! Tests steer it at run time: faults ([`KvStore::fail_nth`],
//! [`KvStore::fail_from_nth`], [`KvStore::set_outage`],
//! [`KvStore::set_open_fails`], [`KvStore::set_cas_always_fails`]), latency,
//! call counters and raw access.
//!
//! The managed platforms' store ([`limits`], two [`replicas`] with a lag) is
//! off unless a host profile turns it on ([`crate::profile`]).

mod bucket;
mod error;
pub mod limits;
mod op;
mod platform;
pub mod replicas;
mod store;
mod tally;

pub use bucket::{Bucket, Cas};
pub use error::{KvError, KvFailure, KvResult, SwapFailure};
pub use limits::{KvLimits, Limit};
pub use op::KvOp;
pub use replicas::Region;
pub use store::KvStore;
pub use tally::{KvTally, Tally};

/// The label of the store tests read with the `raw_*` helpers.
pub const DEFAULT_LABEL: &str = "default";

/// Which Spin backend to imitate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KvMode {
    /// Spin's default SQLite store (`spin up`).
    #[default]
    Sqlite,
    /// Spin's Redis store, with its `swap` defect.
    Redis,
}

impl std::str::FromStr for KvMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sqlite" | "spin" => Ok(KvMode::Sqlite),
            "redis" | "valkey" => Ok(KvMode::Redis),
            other => Err(format!("unknown kv mode {other:?} (sqlite|redis)")),
        }
    }
}
