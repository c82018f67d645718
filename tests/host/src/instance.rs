//! Per-request store state and the Spin imports it implements:
//! `fermyon:spin/variables@2.0.0` and `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::{WasiHttpCtxView, WasiHttpView};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::kv::{self, KvFailure, KvStore, Region, SwapFailure, Tally};
use crate::logs::LogSink;
use crate::manifest::validate_name;
use crate::outbound::OutboundHooks;

/// Bindings for the world `spin-host` in the workspace's `wit/`.
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "spin-host",
        path: "../../wit",
        imports: { default: async | trappable },
        require_store_data_send: true,
    });
}

use bindings::fermyon::spin::variables as spin_vars;
use bindings::wasi::keyvalue::{atomics, batch, store};

/// What every instance of one host shares.
pub struct Shared {
    pub component_id: String,
    /// The component's `[component.X.variables]`, resolved.
    pub component_vars: BTreeMap<String, String>,
    /// The component's `key_value_stores`.
    pub kv_labels: BTreeSet<String>,
    pub kv: KvStore,
    pub logs: LogSink,
}

/// Spin's per-instance resource tables hold at most this many entries.
const TABLE_CAPACITY: usize = 256;

/// A small slab like Spin's `spin_resource_table::Table`.
struct Table<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Table<T> {
    fn push(&mut self, value: T) -> Option<u32> {
        if self.len >= TABLE_CAPACITY {
            return None;
        }
        self.len += 1;
        if let Some(rep) = self.free.pop() {
            self.slots[rep as usize] = Some(value);
            Some(rep)
        } else {
            self.slots.push(Some(value));
            u32::try_from(self.slots.len() - 1).ok()
        }
    }
    fn get(&self, rep: u32) -> Option<&T> {
        self.slots.get(rep as usize).and_then(Option::as_ref)
    }
    fn get_mut(&mut self, rep: u32) -> Option<&mut T> {
        self.slots.get_mut(rep as usize).and_then(Option::as_mut)
    }
    fn remove(&mut self, rep: u32) -> Option<T> {
        let v = self.slots.get_mut(rep as usize).and_then(Option::take);
        if v.is_some() {
            self.len -= 1;
            self.free.push(rep);
        }
        v
    }
}

/// The data of one request's `Store`.
pub struct InstanceState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) hooks: OutboundHooks,
    pub(crate) shared: Arc<Shared>,
    buckets: Table<kv::Bucket>,
    cases: Table<kv::Cas>,
    /// The request's region and its store use.
    region: Region,
    tally: Arc<Tally>,
}

impl InstanceState {
    pub fn new(
        wasi: WasiCtx,
        hooks: OutboundHooks,
        shared: Arc<Shared>,
        tally: Arc<Tally>,
    ) -> Self {
        InstanceState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            shared,
            buckets: Table::default(),
            cases: Table::default(),
            region: tally.snapshot().region,
            tally,
        }
    }

    /// `label` in the request's region, counted in its tally.
    fn region_bucket(&self, label: &str) -> kv::Bucket {
        self.shared.kv.bucket_in(label, self.region, &self.tally)
    }

    fn bucket(&self, rep: u32) -> Result<kv::Bucket, store::Error> {
        self.buckets
            .get(rep)
            .cloned()
            .ok_or(store::Error::NoSuchStore)
    }

    /// Turn a store failure into the WIT error, or a trap (logged).
    fn fail<T>(&self, op: &str, f: KvFailure) -> wasmtime::Result<Result<T, store::Error>> {
        match f {
            KvFailure::Error(e) => Ok(Err(to_wit(e))),
            KvFailure::Trap(msg) => {
                self.shared
                    .logs
                    .host_line(&format!("key-value {op} trapped: {msg}"));
                Err(wasmtime::Error::msg(format!("key-value {op}: {msg}")))
            }
        }
    }
}

fn to_wit(e: kv::KvError) -> store::Error {
    match e {
        kv::KvError::NoSuchStore => store::Error::NoSuchStore,
        kv::KvError::AccessDenied => store::Error::AccessDenied,
        kv::KvError::Other(m) => store::Error::Other(m),
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

// ----- fermyon:spin/variables@2.0.0 ------------------------------------------

impl spin_vars::Host for InstanceState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, spin_vars::Error>> {
        if let Err(msg) = validate_name(&name) {
            return Ok(Err(spin_vars::Error::InvalidName(msg)));
        }
        Ok(match self.shared.component_vars.get(&name) {
            Some(v) => Ok(v.clone()),
            None => Err(spin_vars::Error::Undefined(format!(
                "no variable for {:?}.{:?}",
                self.shared.component_id, name
            ))),
        })
    }
}

// ----- wasi:keyvalue/store ----------------------------------------------------

impl store::Host for InstanceState {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<store::Bucket>, store::Error>> {
        if !self.shared.kv_labels.contains(&identifier) {
            return Ok(Err(store::Error::AccessDenied));
        }
        let opened = self
            .shared
            .kv
            .open_at(&identifier, self.region, Some(self.tally.clone()))
            .await;
        let bucket = match opened {
            Ok(b) => b,
            Err(e) => return Ok(Err(to_wit(e))),
        };
        Ok(match self.buckets.push(bucket) {
            Some(rep) => Ok(Resource::new_own(rep)),
            None => Err(store::Error::Other("store table full".into())),
        })
    }
}

impl store::HostBucket for InstanceState {
    async fn get(
        &mut self,
        b: Resource<store::Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        match bucket.get(&key).await {
            Ok(v) => Ok(Ok(v)),
            Err(f) => self.fail("get", f),
        }
    }

    async fn set(
        &mut self,
        b: Resource<store::Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        match bucket.set(&key, value).await {
            Ok(()) => Ok(Ok(())),
            Err(f) => self.fail("set", f),
        }
    }

    async fn delete(
        &mut self,
        b: Resource<store::Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        match bucket.delete(&key).await {
            Ok(()) => Ok(Ok(())),
            Err(f) => self.fail("delete", f),
        }
    }

    async fn exists(
        &mut self,
        b: Resource<store::Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        match bucket.exists(&key).await {
            Ok(v) => Ok(Ok(v)),
            Err(f) => self.fail("exists", f),
        }
    }

    async fn list_keys(
        &mut self,
        b: Resource<store::Bucket>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<store::KeyResponse, store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        match bucket.list_keys(cursor.as_deref()).await {
            Ok((keys, cursor)) => Ok(Ok(store::KeyResponse { keys, cursor })),
            Err(f) => self.fail("list-keys", f),
        }
    }

    async fn drop(&mut self, b: Resource<store::Bucket>) -> wasmtime::Result<()> {
        self.buckets.remove(b.rep());
        Ok(())
    }
}

// ----- wasi:keyvalue/atomics --------------------------------------------------

impl atomics::Host for InstanceState {
    async fn increment(
        &mut self,
        b: Resource<atomics::Bucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        match bucket.increment(&key, delta).await {
            Ok(v) => Ok(Ok(v)),
            Err(f) => self.fail("increment", f),
        }
    }

    async fn swap(
        &mut self,
        cas: Resource<atomics::Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        // Spin looks the cas up and leaves it in its table (the guest passed
        // ownership; the entry is never freed until the instance ends).
        let Some(c) = self.cases.get(cas.rep()).cloned() else {
            return Ok(Err(atomics::CasError::StoreError(store::Error::Other(
                "compare and swap not found".into(),
            ))));
        };
        let bucket = self.region_bucket(c.label());
        match bucket.swap(c, value).await {
            Ok(()) => Ok(Ok(())),
            Err(SwapFailure::CasFailed(fresh)) => match self.cases.push(fresh) {
                Some(rep) => Ok(Err(atomics::CasError::CasFailed(Resource::new_own(rep)))),
                None => Ok(Err(atomics::CasError::StoreError(store::Error::Other(
                    "too many compare_and_swaps opened".into(),
                )))),
            },
            Err(SwapFailure::Store(f)) => match self.fail::<()>("swap", f) {
                Ok(Err(e)) => Ok(Err(atomics::CasError::StoreError(e))),
                Ok(Ok(())) => Ok(Ok(())),
                Err(trap) => Err(trap),
            },
        }
    }
}

impl atomics::HostCas for InstanceState {
    async fn new(
        &mut self,
        b: Resource<atomics::Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<atomics::Cas>, store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let cas = match bucket.cas(&key).await {
            Ok(c) => c,
            Err(f) => return self.fail("cas.new", f),
        };
        Ok(match self.cases.push(cas) {
            Some(rep) => Ok(Resource::new_own(rep)),
            None => Err(store::Error::Other(
                "too many compare_and_swaps opened".into(),
            )),
        })
    }

    async fn current(
        &mut self,
        cas: Resource<atomics::Cas>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, store::Error>> {
        let Some(mut c) = self.cases.get(cas.rep()).cloned() else {
            return Ok(Err(store::Error::Other("invalid compare and swap".into())));
        };
        let bucket = self.region_bucket(c.label());
        let result = bucket.cas_current(&mut c).await;
        if let Some(slot) = self.cases.get_mut(cas.rep()) {
            *slot = c;
        }
        match result {
            Ok(v) => Ok(Ok(v)),
            Err(f) => self.fail("cas.current", f),
        }
    }

    async fn drop(&mut self, cas: Resource<atomics::Cas>) -> wasmtime::Result<()> {
        self.cases.remove(cas.rep());
        Ok(())
    }
}

// ----- wasi:keyvalue/batch ----------------------------------------------------

impl batch::Host for InstanceState {
    async fn get_many(
        &mut self,
        b: Resource<batch::Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        match bucket.get_many(&keys).await {
            Ok(v) => Ok(Ok(v)),
            Err(f) => self.fail("get-many", f),
        }
    }

    async fn set_many(
        &mut self,
        b: Resource<batch::Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        match bucket.set_many(key_values).await {
            Ok(()) => Ok(Ok(())),
            Err(f) => self.fail("set-many", f),
        }
    }

    async fn delete_many(
        &mut self,
        b: Resource<batch::Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let bucket = match self.bucket(b.rep()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        match bucket.delete_many(&keys).await {
            Ok(()) => Ok(Ok(())),
            Err(f) => self.fail("delete-many", f),
        }
    }
}
