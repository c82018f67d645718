//! Token validation through Spin's outbound HTTP (`allowed_outbound_hosts`),
//! with a deadline.

use crate::auth::keystone::TokenValidator;
use spin_sdk::http::conversions::TryIntoOutgoingRequest;
use spin_sdk::http::{Headers, IncomingResponse, Method, OutgoingRequest, Scheme};

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
pub(super) struct SpinKeystone;

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
