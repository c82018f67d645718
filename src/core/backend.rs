//! A store with the layout it is kept in. The component picks one per
//! build: [`Strong`] where the store has atomics (`spin up`, SpinKube),
//! [`Edge`] where it has only `wasi:keyvalue/store` (Fermyon Cloud, Akamai
//! Functions). The APIs see only this trait.

use crate::core::edge::{tokens, EdgeRepo};
use crate::core::images::Images;
use crate::core::keys;
use crate::core::repo::Repo;
use crate::core::store::{Atomic, KvStore, StoreError};

pub trait Backend {
    type Store: KvStore;
    type Images<'a>: Images
    where
        Self: 'a;

    fn store(&self) -> &Self::Store;
    fn images(&self) -> Self::Images<'_>;
    /// The Keystone validation cached for `token` (the caller checks its
    /// times), if any.
    fn cached_token(&self, token: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Cache a validation of `token` until `until`.
    fn cache_token(
        &self,
        token: &str,
        entry: &[u8],
        until: i64,
        now: i64,
    ) -> Result<(), StoreError>;
}

/// Compare-and-swap, sorted logs, one key per cached token.
pub struct Strong<S>(pub S);

impl<S: Atomic> Backend for Strong<S> {
    type Store = S;
    type Images<'a>
        = Repo<'a, S>
    where
        S: 'a;

    fn store(&self) -> &S {
        &self.0
    }

    fn images(&self) -> Repo<'_, S> {
        Repo::new(&self.0)
    }

    fn cached_token(&self, token: &str, _now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(&keys::token(token))
    }

    fn cache_token(&self, token: &str, entry: &[u8], _: i64, _: i64) -> Result<(), StoreError> {
        self.0.set(&keys::token(token), entry)
    }
}

/// Blind writes checked after the fact, a catalog, one key for every
/// cached token (see [`crate::core::edge`]).
pub struct Edge<S>(pub S);

impl<S: KvStore> Backend for Edge<S> {
    type Store = S;
    type Images<'a>
        = EdgeRepo<'a, S>
    where
        S: 'a;

    fn store(&self) -> &S {
        &self.0
    }

    fn images(&self) -> EdgeRepo<'_, S> {
        EdgeRepo::new(&self.0)
    }

    fn cached_token(&self, token: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        tokens::get(&self.0, token, now)
    }

    fn cache_token(
        &self,
        token: &str,
        entry: &[u8],
        until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        tokens::put(&self.0, token, entry, until, now)
    }
}
