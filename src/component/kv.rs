//! The key-value bucket Spin opens, as the core's store traits.

#[cfg(not(feature = "edge"))]
use crate::core::store::{Atomic, SwapError};
use crate::core::store::{KvStore, StoreError};

// The strong build binds the atomics; the edge build's world has only the
// store, so its .wasm imports nothing the managed platforms do not link.
#[cfg(not(feature = "edge"))]
wit_bindgen::generate!({
    path: "wit",
    world: "image-tags:component/kv",
    generate_all,
});
#[cfg(feature = "edge")]
wit_bindgen::generate!({
    path: "wit",
    world: "image-tags:component/edge",
    generate_all,
});

#[cfg(not(feature = "edge"))]
use self::wasi::keyvalue::atomics;
use self::wasi::keyvalue::store;

pub(super) fn store_error(e: store::Error) -> StoreError {
    StoreError(match e {
        store::Error::NoSuchStore => "no such store".into(),
        store::Error::AccessDenied => "access denied".into(),
        store::Error::Other(m) => m,
    })
}

pub(super) struct SpinKv(pub(super) store::Bucket);

/// The bucket `label` names.
pub(super) fn open(label: &str) -> Result<SpinKv, store::Error> {
    store::open(label).map(SpinKv)
}

/// Spin's DynamoDB store (`aws_dynamo`) increments by a read, then a
/// conditional write (TransactWriteItems) of old + delta; when another writer
/// changed the counter in between, the write is cancelled and the call fails,
/// with no retry in Spin. A cancelled transaction applied nothing, so trying
/// again is safe, and up to this many more tries ride out 50 racing writers.
#[cfg(not(feature = "edge"))]
const INCREMENT_ATTEMPTS: u32 = 100;

/// Whether an `increment` error is that lost race: the AWS SDK's Debug of
/// the service's answer, which Spin hands the guest as it is. Conditional
/// check failed (our compare lost) or transaction conflict (DynamoDB's own
/// word for two transactions on one item) only: any other error may come
/// from a write that did apply, and a retry could count twice.
#[cfg(not(feature = "edge"))]
fn lost_race(message: &str) -> bool {
    message.starts_with("ServiceError(ServiceError { source: TransactionCanceledException(")
        && (message.contains("code: Some(\"ConditionalCheckFailed\")")
            || message.contains("code: Some(\"TransactionConflict\")"))
}

/// Sleep up to 2^attempt ms (at most 32), jittered, so the racers spread out.
#[cfg(not(feature = "edge"))]
fn increment_backoff(attempt: u32) {
    let cap_micros = (1u64 << attempt.min(5)) * 1000;
    let micros = ::wasi::random::random::get_random_u64() % (cap_micros + 1);
    std::thread::sleep(std::time::Duration::from_micros(micros));
}

impl KvStore for SpinKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key).map_err(store_error)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.0.set(key, value).map_err(store_error)
    }

    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.0.exists(key).map_err(store_error)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).map_err(store_error)
    }

    fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        // Spin answers every key with no cursor (a cursor is an error there).
        let page = self.0.list_keys(None).map_err(store_error)?;
        Ok(page.keys)
    }
}

#[cfg(not(feature = "edge"))]
impl Atomic for SpinKv {
    type Cas = atomics::Cas;

    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let mut attempt = 0;
        loop {
            match atomics::increment(&self.0, key, delta) {
                Err(store::Error::Other(m)) if attempt < INCREMENT_ATTEMPTS && lost_race(&m) => {
                    attempt += 1;
                    increment_backoff(attempt);
                }
                done => return done.map_err(store_error),
            }
        }
    }

    fn watch(&self, key: &str) -> Result<(Option<Vec<u8>>, atomics::Cas), StoreError> {
        let cas = atomics::Cas::new(&self.0, key).map_err(store_error)?;
        let current = cas.current().map_err(store_error)?;
        Ok((current, cas))
    }

    fn swap(&self, cas: atomics::Cas, value: &[u8]) -> Result<(), SwapError> {
        atomics::swap(cas, value).map_err(|e| match e {
            atomics::CasError::CasFailed(_) => SwapError::CasFailed,
            atomics::CasError::StoreError(e) => SwapError::Store(store_error(e)),
        })
    }
}
