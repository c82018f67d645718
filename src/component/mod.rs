//! The Spin edge: converts spin-sdk's request and response, binds the real
//! key-value bucket, Spin variables and outbound HTTP, and logs one line per
//! request. No decisions are made here.

mod keystone;
mod kv;

use crate::config::Config;
#[cfg(feature = "edge")]
use crate::core::backend::Edge as Layout;
#[cfg(not(feature = "edge"))]
use crate::core::backend::Strong as Layout;
use crate::http::{echo, Request, Response};
use crate::service::{self, Env};
use spin_sdk::http::{
    Headers, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use spin_sdk::http_component;

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
        "trace_id": crate::http::trace_id(req.header("traceparent")),
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
    let bucket = kv::open(&config.kv_store)
        .map(Layout)
        .map_err(kv::store_error);
    let env = Env {
        config: &config,
        store: bucket.as_ref().map_err(Clone::clone),
        keystone: &keystone::SpinKeystone,
        now: crate::core::time::now(),
    };
    let outcome = service::handle(&req, &env);
    access_log(&req, &outcome, started.elapsed().as_micros());
    send_response(response_out, outcome.response).await
}
