//! Store-call cost probe for bench/store_calls: one request makes `n`
//! repetitions of one `wasi:keyvalue@0.2.0-draft2` call, bound the way
//! image-tags binds it (wit-bindgen over ../../wit), and nothing else. The
//! price of one call on a backend is then
//! `(time at n=K - time at n=0) / K`, measured from outside with wrk; the
//! probe also times its own loop, so the guest's view of the same calls is
//! at hand (`x-probe-ns`).
//!
//! `GET /?op=OP&n=K[&key=PREFIX][&size=BYTES][&m=M]`
//!
//! | op | one repetition |
//! |---|---|
//! | `none` | nothing (the n=0 baseline, whatever n says) |
//! | `open` | `store::open("default")` |
//! | `get` / `exists` / `delete` | `get` / `exists` / `delete` of `v:PREFIX:i` |
//! | `set` | `set` of `v:PREFIX:i` to SIZE bytes (default 512, about an image record) |
//! | `increment` | `atomics::increment(c:PREFIX:i, 1)` |
//! | `get_counter` | `atomics::increment(c:PREFIX:i, 0)`: how image-tags reads a counter |
//! | `cas_new` | `Cas::new(v:PREFIX:i)` alone |
//! | `cas_read` | `Cas::new` + `current()`: image-tags' read before a swap |
//! | `cas_swap` | `Cas::new` + `current()` + `swap` to SIZE bytes: one whole CAS round |
//! | `set_many` | one `batch::set_many` of M keys (default 3) `v:PREFIX:i.j` |
//! | `get_many` | one `batch::get_many` of M keys `v:PREFIX:i.j` (broken on Spin's Redis store) |
//! | `fill` | seeding, not a probe: one `batch::set_many` of `v:PREFIX:0` .. `v:PREFIX:n-1` |
//!
//! Every value written is new (a stamp of the wall clock and `i` leads it):
//! SQLite skips the commit of a write that leaves a row's bytes as they were,
//! so rewriting the same value would price a write that never reached the
//! disk.
//!
//! Key `i` is `i mod span`, span = n unless `span=` says less. Answers 204
//! with no body (a body would meet Spin's keep-alive Nagle stall) and headers
//! `x-probe-ns` (guest time of the loop), `x-probe-cas-failed` (swaps that
//! reported `cas-failed`; Spin's Redis store reports it even when it wrote)
//! and `x-probe-missing` (reads that found nothing). A store error: 503 with
//! `x-probe-error`. A bad query: 400.

#[cfg(target_arch = "wasm32")]
mod component {
    use spin_sdk::http::{Request, Response};
    use spin_sdk::http_component;
    use std::time::Instant;

    wit_bindgen::generate!({
        path: "../../wit",
        world: "image-tags:component/kv",
        generate_all,
    });

    use wasi::keyvalue::{atomics, batch, store};

    /// What one request was asked to do.
    struct Plan {
        op: String,
        n: u64,
        span: u64,
        prefix: String,
        size: usize,
        m: u64,
    }

    impl Plan {
        fn from_query(query: &str) -> Result<Plan, String> {
            let mut plan = Plan {
                op: "none".into(),
                n: 0,
                span: 0,
                prefix: "seed".into(),
                size: 512,
                m: 3,
            };
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let number = || {
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("{name}={value} is not a number"))
                };
                match name {
                    "op" => plan.op = value.to_string(),
                    "n" => plan.n = number()?,
                    "span" => plan.span = number()?,
                    "key" => plan.prefix = value.to_string(),
                    "size" => plan.size = number()? as usize,
                    "m" => plan.m = number()?.max(1),
                    _ => return Err(format!("unknown parameter {name}")),
                }
            }
            if plan.span == 0 || plan.span > plan.n {
                plan.span = plan.n.max(1);
            }
            Ok(plan)
        }

        fn key(&self, space: &str, i: u64) -> String {
            format!("{space}:{}:{}", self.prefix, i % self.span)
        }

        fn batch_keys(&self, i: u64) -> Vec<String> {
            (0..self.m)
                .map(|j| format!("v:{}:{}.{j}", self.prefix, i % self.span))
                .collect()
        }
    }

    #[derive(Default)]
    struct Tally {
        cas_failed: u64,
        missing: u64,
    }

    fn describe(e: store::Error) -> String {
        match e {
            store::Error::NoSuchStore => "no such store".into(),
            store::Error::AccessDenied => "access denied".into(),
            store::Error::Other(m) => m,
        }
    }

    /// SIZE bytes (at least the stamp) that no earlier write stored.
    fn fresh_value(size: usize, i: u64) -> Vec<u8> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut value = format!("{stamp}-{i}-").into_bytes();
        value.resize(size.max(value.len()), b'x');
        value
    }

    fn one(
        plan: &Plan,
        bucket: &store::Bucket,
        i: u64,
        tally: &mut Tally,
    ) -> Result<(), store::Error> {
        // Made only for writes, so reads carry no clock call.
        let value = || fresh_value(plan.size, i);
        let missing = |found: bool, tally: &mut Tally| tally.missing += u64::from(!found);
        match plan.op.as_str() {
            "open" => drop(store::open("default")?),
            "get" => missing(bucket.get(&plan.key("v", i))?.is_some(), tally),
            "exists" => missing(bucket.exists(&plan.key("v", i))?, tally),
            "delete" => bucket.delete(&plan.key("v", i))?,
            "set" => bucket.set(&plan.key("v", i), &value())?,
            "increment" => drop(atomics::increment(bucket, &plan.key("c", i), 1)?),
            "get_counter" => drop(atomics::increment(bucket, &plan.key("c", i), 0)?),
            "cas_new" => drop(atomics::Cas::new(bucket, &plan.key("v", i))?),
            "cas_read" => {
                let cas = atomics::Cas::new(bucket, &plan.key("v", i))?;
                missing(cas.current()?.is_some(), tally);
            }
            "cas_swap" => {
                let cas = atomics::Cas::new(bucket, &plan.key("v", i))?;
                missing(cas.current()?.is_some(), tally);
                match atomics::swap(cas, &value()) {
                    Ok(()) => {}
                    Err(atomics::CasError::CasFailed(_)) => tally.cas_failed += 1,
                    Err(atomics::CasError::StoreError(e)) => return Err(e),
                }
            }
            "set_many" => {
                let pairs: Vec<(String, Vec<u8>)> = plan
                    .batch_keys(i)
                    .into_iter()
                    .map(|k| (k, value()))
                    .collect();
                batch::set_many(bucket, &pairs)?;
            }
            "fill" => {
                let pairs: Vec<(String, Vec<u8>)> = (0..plan.n)
                    .map(|i| (format!("v:{}:{i}", plan.prefix), fresh_value(plan.size, i)))
                    .collect();
                batch::set_many(bucket, &pairs)?;
            }
            "get_many" => {
                for (_, found) in batch::get_many(bucket, &plan.batch_keys(i))? {
                    missing(found.is_some(), tally);
                }
            }
            _ => {}
        }
        Ok(())
    }

    const OPS: &[&str] = &[
        "none",
        "open",
        "get",
        "exists",
        "delete",
        "set",
        "increment",
        "get_counter",
        "cas_new",
        "cas_read",
        "cas_swap",
        "set_many",
        "get_many",
        "fill",
    ];

    #[http_component]
    fn handle(req: Request) -> Response {
        let plan = match Plan::from_query(req.query()) {
            Ok(plan) if OPS.contains(&plan.op.as_str()) => plan,
            Ok(plan) => return refuse(&format!("unknown op {}", plan.op)),
            Err(e) => return refuse(&e),
        };
        // Opened for every op, n=0 included, so the baseline carries it.
        let bucket = match store::open("default") {
            Ok(bucket) => bucket,
            Err(e) => return failed(&describe(e)),
        };
        let mut tally = Tally::default();
        let started = Instant::now();
        let n = match plan.op.as_str() {
            "none" => 0,
            "fill" => 1,
            _ => plan.n,
        };
        for i in 0..n {
            if let Err(e) = one(&plan, &bucket, i, &mut tally) {
                return failed(&format!("{} #{i}: {}", plan.op, describe(e)));
            }
        }
        let nanos = started.elapsed().as_nanos();
        Response::builder()
            .status(204)
            .header("x-probe-ns", nanos.to_string())
            .header("x-probe-cas-failed", tally.cas_failed.to_string())
            .header("x-probe-missing", tally.missing.to_string())
            .build()
    }

    fn refuse(why: &str) -> Response {
        Response::builder()
            .status(400)
            .header("x-probe-error", why)
            .build()
    }

    fn failed(why: &str) -> Response {
        // Header values cannot carry every byte a store message may hold.
        let why: String = why
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        Response::builder()
            .status(503)
            .header("x-probe-error", why)
            .build()
    }
}
