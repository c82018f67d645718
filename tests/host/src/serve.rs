//! Serving a [`TestHost`] over HTTP/1.1, like `spin up`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use anyhow::{Context as _, Result};
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use tokio::net::TcpListener;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::host::TestHost;
use crate::kv::{Region, Tally};
use crate::profile::Profile;
use crate::response::plain;

impl TestHost {
    /// Serve over HTTP/1.1 on `addr` in a background task until the runtime
    /// ends. Returns the bound address (`127.0.0.1:0` picks a free port).
    pub async fn serve(&self, addr: &str) -> Result<SocketAddr> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr()?;
        let host = self.clone();
        tokio::spawn(async move {
            if let Err(e) = host.serve_listener(listener, std::future::pending()).await {
                eprintln!("[image-tags-host] server stopped: {e:?}");
            }
        });
        Ok(local)
    }

    /// Serve connections from `listener` until `shutdown` resolves, then stop
    /// accepting, let open connections finish their requests, and return.
    pub async fn serve_listener(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut conns = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("[image-tags-host] accept failed: {e}");
                        continue;
                    }
                },
            };
            let host = self.clone();
            let mut stop = stop_rx.clone();
            conns.spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let host = host.clone();
                        async move { Ok::<_, Infallible>(host.serve_one(req, peer).await) }
                    },
                );
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    res = conn.as_mut() => {
                        if let Err(e) = res {
                            if !e.is_incomplete_message() {
                                eprintln!("[image-tags-host] connection from {peer}: {e}");
                            }
                        }
                    }
                    _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
            // Reap finished connections so the set does not grow forever.
            while conns.try_join_next().is_some() {}
        }
        let _ = stop_tx.send(true);
        while conns.join_next().await.is_some() {}
        Ok(())
    }

    async fn serve_one(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
        peer: SocketAddr,
    ) -> hyper::Response<HyperOutgoingBody> {
        let req = req.map(|b| b.map_err(ErrorCode::from).boxed_unsync());
        let what = format!("{} {}", req.method(), req.uri());
        let tally = Tally::new(Region::A);
        match self.dispatch(req, Some(peer), &tally).await {
            Ok((resp, task)) => {
                // The guest runs to completion in the background; under a
                // platform profile its store use is logged when it ends.
                if let (Some(task), true) = (task, self.inner.profile != Profile::Spin) {
                    let logs = self.inner.shared.logs.clone();
                    tokio::spawn(async move {
                        let _ = task.await;
                        let t = tally.snapshot();
                        logs.host_line(&format!(
                            "kv region={} reads={} writes={} refused={} {what}",
                            t.region, t.reads, t.writes, t.refused
                        ));
                    });
                }
                resp
            }
            Err(e) => {
                self.inner
                    .shared
                    .logs
                    .host_line(&format!("request failed: {e:#}"));
                plain(500, "")
            }
        }
    }
}
