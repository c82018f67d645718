//! The one error type of the core: what went wrong, in terms every API
//! understands. Each API renders it in its own shape (`glance::error`,
//! `ims::error`); `status` and the `Display` message are the defaults they
//! start from. Details for operators go to the log line, never to a body.

use crate::http::echo;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Generic validation: the message names the rule broken.
    #[error("{0}")]
    BadRequest(String),
    /// A body was required and none came.
    #[error("The request body is empty.")]
    EmptyBody,
    /// A tag breaks the tag rules of the API it came through.
    #[error("{0}")]
    TagInvalid(String),
    /// Adding tags would take an image past its limit. `key`: the IMS key
    /// whose addition did it, for the APIs that name it.
    #[error("Image tag limit exceeded for image {}: Attempted: {attempted}, Maximum: {max}", echo(.image))]
    TooManyTags {
        image: String,
        attempted: usize,
        max: usize,
        key: Option<String>,
    },
    #[error("{}", .reason.as_deref().unwrap_or("The request you have made requires authentication."))]
    Unauthorized {
        /// Keystone mode: the `WWW-Authenticate` challenge's `uri`.
        keystone_uri: Option<String>,
        /// Why, when the client may be told (a signature's precise fault);
        /// `None`: the generic message.
        reason: Option<String>,
        /// Operator-only: what the log line carries. Never a secret.
        detail: Option<String>,
    },
    #[error("{0}")]
    Forbidden(String),
    /// The caller sees the image but may not change it.
    #[error("You are not authorized to complete modify_image action.")]
    ModifyDenied,
    /// A path names a project that is not the caller's.
    #[error("Project {0} is not the project of the credentials used.")]
    WrongProject(String),
    #[error("{0}")]
    NotFound(String),
    /// No live image with this id that the caller may see.
    #[error("Image {} not found.", echo(.0))]
    ImageNotFound(String),
    /// The image has no tag under this key (IMS) or no such tag (Glance).
    #[error("Image {image} has no tag with key {key:?}.")]
    TagNotFound { image: String, key: String },
    /// The path exists, the method does not: `Allow` lists those that do.
    #[error("The method is not allowed for the requested URL.")]
    MethodNotAllowed(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Our own fault (a record that does not parse, a misconfiguration).
    #[error("{message}")]
    Internal { message: String, detail: String },
    /// The host's fault (store, identity provider): try again later.
    #[error("The service is temporarily unavailable. Try again later.")]
    Unavailable { detail: String },
}

/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

impl Error {
    pub fn internal(detail: impl Into<String>) -> Self {
        Error::Internal {
            message:
                "The server has either erred or is incapable of performing the requested operation."
                    .into(),
            detail: detail.into(),
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Error::Unavailable {
            detail: detail.into(),
        }
    }

    /// A Spin variable with a bad value: our misconfiguration, a 500 whose
    /// message names the variable (never its value: it may be a secret).
    pub fn misconfigured(variable: &str, why: &str) -> Self {
        Error::Internal {
            message: format!("The service is misconfigured: the Spin variable `{variable}` {why}."),
            detail: format!("variable {variable}: {why}"),
        }
    }

    /// 401 with the generic message.
    pub fn unauthorized() -> Self {
        Error::Unauthorized {
            keystone_uri: None,
            reason: None,
            detail: None,
        }
    }

    pub fn image_not_found(id: &str) -> Self {
        Error::ImageNotFound(id.to_string())
    }

    pub fn resource_not_found() -> Self {
        Error::NotFound("The resource could not be found.".into())
    }

    /// The status the variant usually answers with; an API may choose
    /// another for its own reasons.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) | Error::EmptyBody | Error::TagInvalid(_) => 400,
            Error::Unauthorized { .. } => 401,
            Error::Forbidden(_) | Error::ModifyDenied | Error::WrongProject(_) => 403,
            Error::NotFound(_) | Error::ImageNotFound(_) | Error::TagNotFound { .. } => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::Conflict(_) => 409,
            Error::TooLarge(_) | Error::TooManyTags { .. } => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::Internal { .. } => 500,
            Error::Unavailable { .. } => 503,
        }
    }

    /// What a client is told.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// `Allow`, `Retry-After` and `WWW-Authenticate`: what the status
    /// means for a client's next request, whatever shape the body takes.
    pub fn headers(&self) -> Vec<(String, String)> {
        let header = |name: &str, value: String| vec![(name.to_string(), value)];
        match self {
            Error::MethodNotAllowed(allow) => header("allow", allow.to_string()),
            Error::Unavailable { .. } => header("retry-after", RETRY_AFTER_SECONDS.to_string()),
            Error::Unauthorized {
                keystone_uri: Some(uri),
                ..
            } => header("www-authenticate", format!("Keystone uri=\"{uri}\"")),
            _ => Vec::new(),
        }
    }

    /// What the log line carries beyond the status: never shown to clients.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::Internal { detail, .. } | Error::Unavailable { detail } => Some(detail),
            Error::Unauthorized {
                detail: Some(detail),
                ..
            } => Some(detail),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quote_at_most_64_characters_of_an_id() {
        let message = Error::image_not_found(&"a".repeat(60_000)).message();
        assert!(message.len() < 100, "{}", message.len());
        assert_eq!(Error::image_not_found("x").message(), "Image x not found.");
    }

    #[test]
    fn variants_have_a_default_status_and_message() {
        let e = Error::TooManyTags {
            image: "i".into(),
            attempted: 3,
            max: 2,
            key: None,
        };
        assert_eq!(e.status(), 413);
        assert_eq!(
            e.message(),
            "Image tag limit exceeded for image i: Attempted: 3, Maximum: 2"
        );
        assert_eq!(
            Error::unauthorized().message(),
            "The request you have made requires authentication."
        );
        assert_eq!(Error::unavailable("kv down").detail(), Some("kv down"));
        assert!(!Error::unavailable("kv down").message().contains("kv down"));
        assert_eq!(Error::ModifyDenied.status(), 403);
    }
}
