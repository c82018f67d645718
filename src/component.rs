//! The Spin edge: converts spin-sdk's request and response, binds the real
//! key-value bucket, Spin variables and outbound HTTP, and logs one line per
//! request. No decisions are made here.

use crate::auth::keystone::TokenValidator;
use crate::config::Config;
use crate::core::store::{KvStore, StoreError, SwapError};
use crate::http::{echo, Request, Response};
use crate::service::{self, Env};
use spin_sdk::http::conversions::TryIntoOutgoingRequest;
use spin_sdk::http::{
    Headers, IncomingRequest, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    OutgoingResponse, ResponseOutparam, Scheme,
};
use spin_sdk::http_component;

wit_bindgen::generate!({
    path: "wit",
    world: "image-tags:component/kv",
    generate_all,
});

use self::wasi::keyvalue::{atomics, store};

fn store_error(e: store::Error) -> StoreError {
    StoreError(match e {
        store::Error::NoSuchStore => "no such store".into(),
        store::Error::AccessDenied => "access denied".into(),
        store::Error::Other(m) => m,
    })
}

struct SpinKv(store::Bucket);

/// Spin's DynamoDB store (`aws_dynamo`) increments by a read, then a
/// conditional write (TransactWriteItems) of old + delta; when another writer
/// changed the counter in between, the write is cancelled and the call fails,
/// with no retry in Spin. A cancelled transaction applied nothing, so trying
/// again is safe, and up to this many more tries ride out 50 racing writers.
const INCREMENT_ATTEMPTS: u32 = 100;

/// Whether an `increment` error is that lost race: the AWS SDK's Debug of
/// the service's answer, which Spin hands the guest as it is. Conditional
/// check failed (our compare lost) or transaction conflict (DynamoDB's own
/// word for two transactions on one item) only: any other error may come
/// from a write that did apply, and a retry could count twice.
fn lost_race(message: &str) -> bool {
    message.starts_with("ServiceError(ServiceError { source: TransactionCanceledException(")
        && (message.contains("code: Some(\"ConditionalCheckFailed\")")
            || message.contains("code: Some(\"TransactionConflict\")"))
}

/// Sleep up to 2^attempt ms (at most 32), jittered, so the racers spread out.
fn increment_backoff(attempt: u32) {
    let cap_micros = (1u64 << attempt.min(5)) * 1000;
    let micros = ::wasi::random::random::get_random_u64() % (cap_micros + 1);
    std::thread::sleep(std::time::Duration::from_micros(micros));
}

impl KvStore for SpinKv {
    type Cas = atomics::Cas;

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

/// A Keystone that accepts the connection and never answers must not hold
/// the request forever: past this, the validation is a 503.
const KEYSTONE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `fut`, or `None` once `timeout` has passed, on Spin's executor.
async fn with_timeout<F: std::future::Future>(
    fut: F,
    timeout: std::time::Duration,
) -> Option<F::Output> {
    use ::wasi::clocks::monotonic_clock;
    use std::task::Poll;
    let deadline = monotonic_clock::now().saturating_add(timeout.as_nanos() as u64);
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if monotonic_clock::now() >= deadline {
            return Poll::Ready(None);
        }
        spin_executor::push_waker(
            monotonic_clock::subscribe_instant(deadline),
            cx.waker().clone(),
        );
        Poll::Pending
    })
    .await
}

/// Token validation through Spin's outbound HTTP (`allowed_outbound_hosts`).
struct SpinKeystone;

/// `GET url` as `spin_sdk::http::Request` would send it, without that type:
/// it costs a `HashMap`, `http::Uri` parsing and Unicode case mapping.
struct KeystoneGet<'a> {
    url: &'a str,
    token: &'a str,
}

impl KeystoneGet<'_> {
    /// (https, authority, path and query) of the URL; no scheme means `http`.
    fn parts(&self) -> (bool, &str, &str) {
        let (https, rest) = match self.url.split_once("://") {
            Some((scheme, rest)) => (scheme.eq_ignore_ascii_case("https"), rest),
            None => (false, self.url),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(end);
        (https, authority, path_and_query)
    }
}

impl TryIntoOutgoingRequest for KeystoneGet<'_> {
    type Error = String;

    fn try_into_outgoing_request(self) -> Result<(OutgoingRequest, Option<Vec<u8>>), String> {
        let headers: Vec<(String, Vec<u8>)> = vec![
            ("x-auth-token".into(), self.token.into()),
            ("x-subject-token".into(), self.token.into()),
            ("accept".into(), b"application/json".to_vec()),
            ("user-agent".into(), b"image-tags".to_vec()),
        ];
        let request =
            OutgoingRequest::new(Headers::from_list(&headers).map_err(|e| e.to_string())?);
        request
            .set_method(&Method::Get)
            .map_err(|()| "error setting method to GET".to_string())?;
        let (https, authority, path_and_query) = self.parts();
        let path_and_query = Some(path_and_query).filter(|p| !p.is_empty());
        request
            .set_path_with_query(path_and_query)
            .map_err(|()| format!("error setting path to {}", path_and_query.unwrap_or("/")))?;
        let scheme = if https { Scheme::Https } else { Scheme::Http };
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| "error setting scheme".to_string())?;
        request
            .set_authority(Some(authority))
            .map_err(|()| format!("error setting authority to {authority}"))?;
        // An empty body, written as `spin_sdk::http::Request` writes one.
        Ok((request, Some(Vec::new())))
    }
}

impl TokenValidator for SpinKeystone {
    fn validate(&self, url: &str, token: &str) -> Result<(u16, Vec<u8>), String> {
        let sent = spin_sdk::http::run(with_timeout(
            async {
                let response: IncomingResponse = spin_sdk::http::send(KeystoneGet { url, token })
                    .await
                    .map_err(send_error)?;
                let status = response.status();
                let body = response.into_body().await.map_err(|e| e.to_string())?;
                Ok((status, body))
            },
            KEYSTONE_TIMEOUT,
        ));
        // Whole seconds: `Duration`'s Debug costs the .wasm 2 KB.
        sent.ok_or_else(|| format!("no answer within {} s", KEYSTONE_TIMEOUT.as_secs()))?
    }
}

/// Why the Keystone call failed, named for the log and the 503. By hand:
/// `ErrorCode`'s Display is its Debug, which costs the .wasm 3 KB.
fn send_error(e: spin_sdk::http::SendError) -> String {
    use spin_sdk::http::{ErrorCode, SendError};
    match e {
        SendError::Http(ErrorCode::ConnectionRefused) => "connection refused",
        SendError::Http(ErrorCode::ConnectionTimeout) => "connection timed out",
        SendError::Http(ErrorCode::ConnectionReadTimeout) => "read timed out",
        SendError::Http(ErrorCode::ConnectionTerminated) => "connection closed",
        SendError::Http(ErrorCode::DnsTimeout | ErrorCode::DnsError(_)) => "name lookup failed",
        SendError::Http(ErrorCode::TlsProtocolError | ErrorCode::TlsCertificateError) => {
            "TLS failed"
        }
        SendError::Http(_) => "HTTP error",
        SendError::Io(_) => "stream error",
        SendError::RequestConversion(_) | SendError::ResponseConversion(_) => "bad message",
    }
    .to_string()
}

fn variable(name: &str) -> Option<String> {
    spin_sdk::variables::get(name).ok()
}

/// `scheme://authority` of the request, from the URI Spin hands us or the Host header.
fn base_of(uri: &str, host: Option<&str>) -> String {
    if let Some((scheme, rest)) = uri.split_once("://") {
        let authority = rest.split('/').next().unwrap_or_default();
        return format!("{scheme}://{authority}");
    }
    format!("http://{}", host.unwrap_or("localhost"))
}

fn method_name(method: Method) -> String {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => return other,
    }
    .to_string()
}

/// The body, read chunk by chunk until more than `limit` bytes have come:
/// `None` when it is longer, and the rest is never read. A hostile body
/// costs at most the limit plus one chunk of memory.
async fn read_body(req: IncomingRequest, limit: usize) -> Result<Option<Vec<u8>>, String> {
    use futures::StreamExt;
    let mut stream = std::pin::pin!(req.into_body_stream());
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_debug_string())?;
        if body.len().saturating_add(chunk.len()) > limit {
            return Ok(None);
        }
        body.extend(chunk);
    }
    Ok(Some(body))
}

/// The core's request, read as `spin_sdk::http::Request` read it: header
/// names lower-cased, one value per name (the last), path and query split
/// off the URI. The body is read up to `body_limit` bytes only: a
/// `Content-Length` above it is not read at all, and the core answers 413
/// for `body_over_limit` (this edge only records it).
async fn to_core(req: IncomingRequest, body_limit: usize) -> Result<Request, String> {
    let uri = req.uri();
    let has_authority = req.scheme().is_some() && req.authority().is_some();
    let path_with_query = req.path_with_query().unwrap_or_default();
    let path_with_query = path_with_query.split('#').next().unwrap_or_default();
    let (path, query) = path_with_query
        .split_once('?')
        .unwrap_or((path_with_query, ""));
    let path = if path.is_empty() && has_authority {
        "/"
    } else {
        path
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in req.headers().entries() {
        let name = name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(&value).into_owned();
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => headers.push((name, value)),
        }
    }
    let host = headers
        .iter()
        .find(|(n, _)| n == "host")
        .map(|(_, v)| v.as_str());
    let base = base_of(&uri, host);
    let (method, path, query) = (
        method_name(req.method()),
        path.to_string(),
        query.to_string(),
    );
    let declared = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.trim().parse::<u64>().ok());
    let body = match declared {
        Some(length) if length > body_limit as u64 => None,
        _ => read_body(req, body_limit).await?,
    };
    Ok(Request {
        method,
        path,
        query,
        base,
        headers,
        body_over_limit: body.is_none(),
        body: body.unwrap_or_default(),
    })
}

/// Hands Spin the response. Spin's listener leaves Nagle's algorithm on, so
/// a head sent before its body is finished leaves the body's last segment
/// waiting for the client's delayed ACK: about 40 ms on every keep-alive
/// response. So the body is written and finished first whenever it fits the
/// stream's write budget, and only a larger one streams after the head.
async fn send_response(response_out: ResponseOutparam, resp: Response) {
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, value) in resp.headers {
        let name = name.to_ascii_lowercase();
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value.into_bytes(),
            None => headers.push((name, value.into_bytes())),
        }
    }
    let headers = match Headers::from_list(&headers) {
        Ok(headers) => headers,
        Err(e) => return log_line(&format!("Could not convert response: {e}")),
    };
    let outgoing = OutgoingResponse::new(headers);
    if outgoing.set_status_code(resp.status).is_err() {
        return log_line(&format!(
            "Could not convert response: error setting status code to {}",
            resp.status
        ));
    }
    let Ok(body) = outgoing.body() else {
        return log_line("Could not take the response body");
    };
    let Ok(stream) = body.write() else {
        return log_line("Could not open the response body stream");
    };
    let rest = write_within_budget(&stream, &resp.body);
    if rest.is_empty() {
        drop(stream);
        // The client went away. Not the error's Debug: `ErrorCode`'s costs
        // the .wasm 3 KB, and says no more than this.
        if OutgoingBody::finish(body, None).is_err() {
            log_line("Could not finish the response body");
        }
        return response_out.set(outgoing);
    }
    response_out.set(outgoing);
    for chunk in rest.chunks(4096) {
        if let Err(e) = stream.blocking_write_and_flush(chunk) {
            // The client went away; nothing more to tell it.
            return log_line(&format!("Could not write the response body: {e:?}"));
        }
    }
    drop(stream);
    if OutgoingBody::finish(body, None).is_err() {
        log_line("Could not finish the response body");
    }
}

/// Writes as much of `body` as the stream takes without blocking (nobody
/// reads it before the head is set); returns what is left.
fn write_within_budget<'b>(stream: &::wasi::io::streams::OutputStream, body: &'b [u8]) -> &'b [u8] {
    let mut rest = body;
    while !rest.is_empty() {
        let budget = match stream.check_write() {
            Ok(0) | Err(_) => break,
            Ok(n) => usize::try_from(n).unwrap_or(usize::MAX).min(rest.len()),
        };
        let Some((now, later)) = rest.split_at_checked(budget) else {
            break;
        };
        if stream.write(now).is_err() {
            break;
        }
        rest = later;
    }
    rest
}

/// Longest the operator detail may be, in bytes, so that a whole line stays
/// under the 4,096 bytes stderr takes in one write. Other client-supplied
/// fields are cut as error messages cut them ([`echo`]).
const DETAIL_BYTES: usize = 2048;

fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let cut = (0..=max)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}…", text.get(..cut).unwrap_or_default()).into()
}

/// One line on stderr in one write: concurrent requests' lines would
/// otherwise interleave mid-line in Spin's component log.
fn log_line(line: &str) {
    use std::io::Write;
    let mut whole = String::with_capacity(line.len() + 1);
    whole.push_str(line);
    whole.push('\n');
    // Nowhere to report a failed log write.
    let _ = std::io::stderr().lock().write_all(whole.as_bytes());
}

/// One JSON line per request; Spin keeps it in the component log.
fn access_log(req: &Request, outcome: &service::Outcome, micros: u128) {
    let line = serde_json::json!({
        "request_id": outcome.request_id,
        "method": echo(&req.method),
        "route": outcome.route,
        "status": outcome.response.status,
        "duration_ms": micros as f64 / 1000.0,
        "project": outcome.project.as_deref().map(echo),
        "access_key": outcome.access_key.as_deref().map(echo),
        // A failed signature's canonical request is here, and needs room.
        "detail": outcome.detail.as_deref().map(|d| clip(d, DETAIL_BYTES)),
    });
    log_line(&line.to_string());
}

#[http_component]
async fn handle(req: IncomingRequest, response_out: ResponseOutparam) {
    // Loaded first: the body limit bounds how much of the body is read. A
    // bad value reads nothing; the core then answers 500 naming it.
    let config = Config::load(variable);
    let body_limit = config.max_request_body_bytes.clone().unwrap_or(0);
    let req = match to_core(req, body_limit).await {
        Ok(req) => req,
        Err(e) => {
            // What spin-sdk answers when it cannot read a request body.
            log_line(&format!("Handler returned an error: {e}"));
            let response = Response {
                status: 500,
                headers: Vec::new(),
                body: e.into_bytes(),
            };
            return send_response(response_out, response).await;
        }
    };
    let started = std::time::Instant::now();
    let bucket = store::open(&config.kv_store)
        .map(SpinKv)
        .map_err(store_error);
    let env = Env {
        config: &config,
        store: bucket.as_ref().map_err(Clone::clone),
        keystone: &SpinKeystone,
        now: crate::core::time::now(),
    };
    let outcome = service::handle(&req, &env);
    access_log(&req, &outcome, started.elapsed().as_micros());
    send_response(response_out, outcome.response).await
}
