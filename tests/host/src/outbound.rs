//! `allowed_outbound_hosts`, checked the way Spin checks them, and the
//! wasi-http hook that refuses everything else with `HttpRequestDenied`.
//! Outbound requests are counted ([`OutboundMeter`]); under the
//! `fermyon-cloud` profile more than 500 in an hour fail.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, OutgoingRequestConfig};
use wasmtime_wasi_http::p2::{HttpResult, WasiHttpHooks};

use crate::logs::LogSink;

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`: stored as `.example.com`.
    AnySubdomain(String),
    Literal(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PortPattern {
    Any,
    Port(u16),
    /// `a..b`, end excluded (as Spin).
    Range(u16, u16),
}

/// One entry of `allowed_outbound_hosts`, e.g. `http://127.0.0.1:5000`,
/// `https://*.example.com`, `*://localhost:*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    original: String,
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        _ => None,
    }
}

impl AllowedHost {
    /// Parse one entry (after template expansion).
    pub fn parse(entry: &str) -> Result<Self> {
        let original = entry.to_string();
        let url = entry.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            anyhow!(
                "{url:?} is not an allowed outbound host: hosts must be <scheme>://<host>[:<port>]"
            )
        })?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            bail!("{url:?} has a path but is not allowed to");
        }
        // Split host and port; a bracketed IPv6 literal keeps its colons.
        let (host, port) = if let Some(stripped) = rest.strip_prefix('[') {
            let (h, tail) = stripped
                .split_once(']')
                .ok_or_else(|| anyhow!("{url:?}: unmatched '['"))?;
            (format!("[{h}]"), tail.strip_prefix(':').unwrap_or(""))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (rest.to_string(), ""),
            }
        };
        let scheme = if scheme == "*" {
            None
        } else {
            if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphabetic()) {
                bail!("{url:?}: invalid scheme {scheme:?}");
            }
            Some(scheme.to_ascii_lowercase())
        };
        let port = if port.is_empty() {
            let s = scheme
                .as_deref()
                .ok_or_else(|| anyhow!("{url:?}: no port and scheme '*' has no default port"))?;
            PortPattern::Port(well_known_port(s).ok_or_else(|| {
                anyhow!("{url:?}: no port and scheme {s:?} has no known default port")
            })?)
        } else if port == "*" {
            PortPattern::Any
        } else if let Some((a, b)) = port.split_once("..") {
            PortPattern::Range(
                a.parse().map_err(|_| anyhow!("{url:?}: bad port range"))?,
                b.parse().map_err(|_| anyhow!("{url:?}: bad port range"))?,
            )
        } else {
            PortPattern::Port(
                port.parse()
                    .map_err(|_| anyhow!("{url:?}: port {port:?} is not a number"))?,
            )
        };
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') || domain.is_empty() {
                bail!("{url:?}: wildcards are allowed only as prefixes");
            }
            HostPattern::AnySubdomain(format!(".{}", domain.to_ascii_lowercase()))
        } else if host.contains('*') {
            bail!("{url:?}: wildcards are allowed only as subdomains");
        } else if host.is_empty() {
            bail!("{url:?}: empty host");
        } else {
            HostPattern::Literal(host.to_ascii_lowercase())
        };
        Ok(AllowedHost {
            original,
            scheme,
            host,
            port,
        })
    }

    /// Does this entry allow `scheme://host[:port]`?
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let host = host.to_ascii_lowercase();
        if let Some(s) = &self.scheme {
            if *s != scheme {
                return false;
            }
        }
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::AnySubdomain(suffix) => host.ends_with(suffix.as_str()),
            HostPattern::Literal(l) => *l == host,
        };
        if !host_ok {
            return false;
        }
        match &self.port {
            PortPattern::Any => true,
            PortPattern::Port(p) => port.or_else(|| well_known_port(&scheme)) == Some(*p),
            PortPattern::Range(a, b) => port
                .or_else(|| well_known_port(&scheme))
                .is_some_and(|p| (*a..*b).contains(&p)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }
}

/// The component's resolved `allowed_outbound_hosts`.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    pub allowed: Vec<AllowedHost>,
}

impl OutboundPolicy {
    /// Parse expanded entries; empty entries are skipped (Spin 4.1+ accepts them).
    pub fn new(entries: &[String]) -> Result<Self> {
        let allowed = entries
            .iter()
            .filter(|e| !e.trim().is_empty())
            .map(|e| AllowedHost::parse(e))
            .collect::<Result<Vec<_>>>()?;
        Ok(OutboundPolicy { allowed })
    }

    /// Is a request to this URI allowed?
    pub fn allows_uri(&self, uri: &http::Uri) -> bool {
        let Some(scheme) = uri.scheme_str() else {
            return false;
        };
        let Some(host) = uri.host() else {
            return false;
        };
        let port = uri.port_u16();
        self.allowed.iter().any(|a| a.allows(scheme, host, port))
    }
}

/// Counts the app's outbound requests, and caps them per rolling hour
/// (Fermyon Cloud: 500 an hour per app).
#[derive(Debug, Default)]
pub struct OutboundMeter {
    per_hour: Option<u32>,
    sent: AtomicU64,
    refused: AtomicU64,
    window: Mutex<VecDeque<Instant>>,
}

impl OutboundMeter {
    pub fn new(per_hour: Option<u32>) -> Self {
        OutboundMeter {
            per_hour,
            ..OutboundMeter::default()
        }
    }

    /// Count one request to an allowed host; false when over the cap.
    pub fn admit(&self) -> bool {
        if let Some(cap) = self.per_hour {
            let now = Instant::now();
            let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
            while w
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
            {
                w.pop_front();
            }
            if w.len() >= cap as usize {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            w.push_back(now);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Requests sent to allowed hosts (whatever their outcome).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Requests the hourly cap refused.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Per-store wasi-http hooks: refuse hosts the manifest does not allow,
/// send the rest with wasmtime-wasi-http's default sender.
pub struct OutboundHooks {
    pub policy: Arc<OutboundPolicy>,
    pub logs: LogSink,
    pub meter: Arc<OutboundMeter>,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: hyper::Request<HyperOutgoingBody>,
        config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        if !self.policy.allows_uri(request.uri()) {
            self.logs.host_line(&format!(
                "outbound request to {} denied: not in allowed_outbound_hosts {:?}",
                request.uri(),
                self.policy
                    .allowed
                    .iter()
                    .map(AllowedHost::as_str)
                    .collect::<Vec<_>>()
            ));
            return Err(ErrorCode::HttpRequestDenied.into());
        }
        if !self.meter.admit() {
            let msg = "fermyon-cloud limit: 500 outbound HTTP requests per hour per app";
            self.logs.host_line(&format!(
                "outbound request to {} refused: {msg}",
                request.uri()
            ));
            return Err(ErrorCode::InternalError(Some(msg.to_string())).into());
        }
        Ok(wasmtime_wasi_http::p2::default_send_request(
            request, config,
        ))
    }
}
