//! One request from start to finish: the request id, the API its path
//! belongs to, the caller's identity, the handler, the error in that API's
//! shape, and the headers every response carries. Everything here is plain
//! Rust over the [`KvStore`] and [`TokenValidator`] traits.

use crate::auth::keystone::TokenValidator;
use crate::auth::{self, KeystoneEnv};
use crate::config::Config;
use crate::core::backend::Backend;
use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::core::store::{unavailable, KvStore, StoreError};
use crate::http::{request_id, Request, Response, RouteError};
use crate::{glance, ims};

/// What the host hands the service for one request.
pub struct Env<'a, B: Backend, V: TokenValidator> {
    pub config: &'a Config,
    /// The opened store, or why it could not be opened.
    pub store: Result<&'a B, StoreError>,
    pub keystone: &'a V,
    /// Unix seconds.
    pub now: i64,
}

/// The response and what the access log line says about it.
pub struct Outcome {
    pub response: Response,
    pub request_id: String,
    pub route: &'static str,
    pub project: Option<String>,
    /// The access key of a request signed `SDK-HMAC-SHA256`, verified or not.
    pub access_key: Option<String>,
    /// Operator-only detail of a 5xx or a refused signature (never in the body).
    pub detail: Option<String>,
}

/// What a request's method and path name.
enum Target {
    Healthcheck,
    Ready,
    Glance(glance::endpoint::Endpoint),
    Ims(ims::endpoint::Endpoint),
}

/// Whose shape a request's errors take.
#[derive(Clone, Copy)]
enum Api {
    Glance,
    Ims,
}

/// The API a path belongs to, and its endpoint. Glance's table comes first;
/// a path that is neither API's is Glance's 404.
fn resolve(method: &str, path: &str) -> (Api, Result<Target, RouteError>) {
    let health = match path {
        "/healthcheck" => Some(Target::Healthcheck),
        "/healthcheck/ready" => Some(Target::Ready),
        _ => None,
    };
    if let Some(health) = health {
        let target = match method {
            "GET" => Ok(health),
            _ => Err(RouteError::MethodNotAllowed { allow: "GET" }),
        };
        return (Api::Glance, target);
    }
    match glance::endpoint::parse(method, path) {
        Err(RouteError::NotFound) => match ims::endpoint::parse(method, path) {
            Err(RouteError::NotFound) => (Api::Glance, Err(RouteError::NotFound)),
            ims => (Api::Ims, ims.map(Target::Ims)),
        },
        glance => (Api::Glance, glance.map(Target::Glance)),
    }
}

fn route_name(target: &Target) -> &'static str {
    match target {
        Target::Healthcheck => "GET /healthcheck",
        Target::Ready => "GET /healthcheck/ready",
        Target::Glance(endpoint) => endpoint.name(),
        Target::Ims(endpoint) => endpoint.name(),
    }
}

pub fn handle<B: Backend, V: TokenValidator>(req: &Request, env: &Env<'_, B, V>) -> Outcome {
    let request_id = request_id(req.header("x-openstack-request-id"));
    let mut outcome = Outcome {
        response: Response::empty(500),
        request_id: request_id.clone(),
        route: "unmatched",
        project: None,
        access_key: None,
        detail: None,
    };
    let (api, target) = resolve(&req.method, &req.path);
    let mut response = match dispatch(req, env, target, &mut outcome) {
        Ok(r) => r,
        Err(e) => {
            outcome.detail = e.detail().map(str::to_string);
            match api {
                Api::Glance => glance::error::render(&e, &request_id),
                Api::Ims => ims::error::render(&e, &request_id),
            }
        }
    };
    if req.method == "HEAD" {
        response.body.clear();
    }
    // The Huawei Cloud SDKs read the id from `X-Request-Id`.
    response
        .headers
        .push(("x-openstack-request-id".into(), request_id.clone()));
    response.headers.push(("x-request-id".into(), request_id));
    outcome.response = response;
    outcome
}

/// Only `/`, `/versions` and `/healthcheck` answer without an identity:
/// everything under `/v1` and `/v2` needs one.
pub fn needs_identity(raw_path: &str) -> bool {
    ["/v1", "/v2"]
        .iter()
        .any(|v| raw_path == *v || raw_path.strip_prefix(v).is_some_and(|r| r.starts_with('/')))
}

fn store<'a, B: Backend, V: TokenValidator>(env: &Env<'a, B, V>) -> Result<&'a B, Error> {
    env.store.as_ref().copied().map_err(|e| {
        // Spin opens only the labels `key_value_stores` grants the component.
        // Still a failed open, so a 503 (SPEC section 3), but the log line
        // names the fix rather than just "access denied".
        let fix = match e.0.as_str() {
            "access denied" | "no such store" => format!(
                " (the Spin variable `kv_store` names the store {:?}: add that label to \
                 `key_value_stores` of [component.image-tags] in spin.toml, and give a label \
                 other than `default` a store in the runtime config)",
                env.config.kv_store
            ),
            _ => String::new(),
        };
        Error::unavailable(format!("key-value store cannot be opened: {}{fix}", e.0))
    })
}

fn identify<B: Backend, V: TokenValidator>(
    req: &Request,
    env: &Env<'_, B, V>,
    outcome: &mut Outcome,
) -> Result<Identity, Error> {
    let auth = env.config.auth.as_ref().map_err(Clone::clone)?;
    let keystone = KeystoneEnv {
        store: store(env),
        validator: env.keystone,
        cache_seconds: env.config.token_cache_seconds.clone(),
    };
    let judgement = auth::identify(req, auth, keystone, env.now);
    outcome.access_key = judgement.access_key;
    judgement.identity
}

/// Identity (401), then the route (404, 405), then the body's size (413),
/// then the handler.
fn dispatch<B: Backend, V: TokenValidator>(
    req: &Request,
    env: &Env<'_, B, V>,
    target: Result<Target, RouteError>,
    outcome: &mut Outcome,
) -> Result<Response, Error> {
    let who = if needs_identity(&req.path) {
        let who = identify(req, env, outcome)?;
        outcome.project = who.project.clone();
        who
    } else {
        Identity::default()
    };
    let target = target.map_err(|e| match e {
        RouteError::NotFound => Error::resource_not_found(),
        RouteError::MethodNotAllowed { allow } => Error::MethodNotAllowed(allow),
    })?;
    outcome.route = route_name(&target);
    check_body_size(req, env.config)?;
    match target {
        Target::Healthcheck => healthcheck(env),
        Target::Ready => ready(env),
        Target::Glance(endpoint) => {
            let ctx = glance::handlers::Ctx {
                req,
                who: &who,
                store: store(env),
                config: env.config,
                now: env.now,
            };
            glance::handle(&endpoint, &ctx)
        }
        Target::Ims(endpoint) => {
            let ctx = ims::handlers::Ctx {
                req,
                who: &who,
                repo: store(env)?.images(),
                config: env.config,
                now: env.now,
            };
            ims::handle(&endpoint, &ctx)
        }
    }
}

fn healthcheck<B: Backend, V: TokenValidator>(env: &Env<'_, B, V>) -> Result<Response, Error> {
    // Opening is not enough on every backend: one cheap read proves the store answers.
    store(env)?
        .store()
        .exists("healthcheck")
        .map_err(unavailable)?;
    Ok(Response::text(200, "OK"))
}

/// Readiness for a load balancer or a Kubernetes probe: the store took a
/// write just now. One `set` of one small key: a Redis replica that refuses
/// writes, a store that is down or a label the component may not open all
/// fail it (503, or the 500 that names `kv_store`), where `/healthcheck`,
/// which only reads, would still pass.
fn ready<B: Backend, V: TokenValidator>(env: &Env<'_, B, V>) -> Result<Response, Error> {
    let stamp = env.now.to_string();
    store(env)?
        .store()
        .set(crate::core::keys::READY, stamp.as_bytes())
        .map_err(unavailable)?;
    Ok(Response::text(200, "OK"))
}

/// A body over `max_request_body_bytes` is 413, before any handler parses
/// it. The edge stops reading at the limit and sets `body_over_limit`; the
/// length check covers a core driven without the edge (tests, fuzzing).
/// Bodiless requests do not need the variable, so a bad value of it does
/// not take the health check down.
fn check_body_size(req: &Request, config: &Config) -> Result<(), Error> {
    if req.body.is_empty() && !req.body_over_limit {
        return Ok(());
    }
    let limit = config.max_request_body_bytes.clone()?;
    if req.body_over_limit || req.body.len() > limit {
        return Err(Error::TooLarge(format!(
            "The request body is larger than the limit of {limit} bytes."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_needed_under_v1_and_v2_only() {
        assert!(needs_identity("/v2/images"));
        assert!(needs_identity("/v2"));
        assert!(!needs_identity("/"));
        assert!(!needs_identity("/healthcheck"));
        assert!(!needs_identity("/v22"));
        assert!(needs_identity("/v1/cloudimages/tags"));
        assert!(!needs_identity("/v11"));
    }

    #[test]
    fn each_path_belongs_to_one_api() {
        let api = |method: &str, path: &str| match resolve(method, path) {
            (Api::Glance, Ok(Target::Glance(_))) => "glance",
            (Api::Ims, Ok(Target::Ims(_))) => "ims",
            (Api::Glance, Ok(Target::Healthcheck)) => "health",
            (Api::Glance, Ok(Target::Ready)) => "ready",
            (Api::Glance, Err(RouteError::NotFound)) => "none",
            (Api::Glance, Err(_)) => "glance 405",
            (Api::Ims, Err(_)) => "ims 405",
            _ => "mixed",
        };
        assert_eq!(api("GET", "/v2/images"), "glance");
        assert_eq!(api("PUT", "/v2/images/i/tags/t"), "glance");
        assert_eq!(api("GET", "/v2/p/images/i/tags"), "ims");
        assert_eq!(api("PUT", "/v2/p/images/i/tags"), "ims 405");
        assert_eq!(api("GET", "/healthcheck"), "health");
        assert_eq!(api("POST", "/healthcheck"), "glance 405");
        assert_eq!(api("GET", "/healthcheck/ready"), "ready");
        assert_eq!(api("GET", "/v3/images"), "none");
        // Both tables match it: Glance's comes first, as it always did.
        assert_eq!(api("PUT", "/v2/images/images/tags/tags"), "glance");
    }
}
