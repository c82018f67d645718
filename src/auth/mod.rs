//! Who is asking (SPEC section 4). `auth_mode` lists the schemes; each
//! request is judged by the one its credentials belong to: a request signed
//! `SDK-HMAC-SHA256` by `aksk`, one with `X-Auth-Token` by `tokens` and then
//! `keystone`. `headers` (a trusted proxy in front) stands alone.

pub mod aksk;
pub mod config;
pub mod headers;
pub mod keystone;
pub mod tokens;

use crate::core::backend::Backend;
use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::http::Request;
use config::AuthConfig;
use keystone::TokenValidator;

/// What the `keystone` scheme needs from the host. The store and the cache
/// setting are only required when Keystone is asked, so their faults are
/// carried, not raised.
pub struct KeystoneEnv<'a, B: Backend, V: TokenValidator> {
    pub store: Result<&'a B, Error>,
    pub validator: &'a V,
    pub cache_seconds: Result<i64, Error>,
}

/// The verdict on a request's credentials.
pub struct Judgement {
    pub identity: Result<Identity, Error>,
    /// The access key a signed request named, verified or not: the access
    /// log shows it.
    pub access_key: Option<String>,
}

impl From<Result<Identity, Error>> for Judgement {
    fn from(identity: Result<Identity, Error>) -> Self {
        Judgement {
            identity,
            access_key: None,
        }
    }
}

pub fn identify<B: Backend, V: TokenValidator>(
    req: &Request,
    auth: &AuthConfig,
    keystone: KeystoneEnv<'_, B, V>,
    now: i64,
) -> Judgement {
    let schemes = match auth {
        AuthConfig::Headers => return headers::identify(req).into(),
        AuthConfig::Schemes(schemes) => schemes,
    };
    if let Some(table) = &schemes.aksk {
        if aksk::is_signed(req) {
            let (access_key, identity) = aksk::identify(req, table, now);
            return Judgement {
                identity,
                access_key,
            };
        }
    }
    let token = req
        .header("x-auth-token")
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(token) = token {
        let listed = schemes
            .tokens
            .as_deref()
            .and_then(|table| tokens::lookup(table, token));
        if let Some(identity) = listed {
            return Ok(identity).into();
        }
        if let Some(base_url) = &schemes.keystone {
            return ask_keystone(keystone, base_url, token, now).into();
        }
    }
    Err(match &schemes.keystone {
        Some(base_url) => keystone::unauthorized(base_url),
        None => Error::unauthorized(),
    })
    .into()
}

fn ask_keystone<B: Backend, V: TokenValidator>(
    keystone: KeystoneEnv<'_, B, V>,
    base_url: &str,
    token: &str,
    now: i64,
) -> Result<Identity, Error> {
    keystone::identify(
        keystone.store?,
        keystone.validator,
        base_url,
        Some(token),
        keystone.cache_seconds?,
        now,
    )
}

#[cfg(test)]
mod tests;
