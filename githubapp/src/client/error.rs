//! [`ClientError`]: everything a call to the GitHub API can fail with.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};

/// An error from the GitHub client.
///
/// GitHub's own answers keep the request (method and path), the status, GitHub's `message` and
/// `documentation_url`, so a log line says what failed and where to read about it:
///
/// ```
/// use githubapp::client::ClientError;
///
/// fn explain(err: &ClientError) -> String {
///     match err.status() {
///         Some(status) if status.as_u16() == 404 => "no such thing, or no access to it".into(),
///         Some(status) => format!("GitHub said {status}: {}", err.message().unwrap_or("")),
///         None => err.to_string(),
///     }
/// }
/// # let _ = explain;
/// ```
///
/// Secrets (the app's key, JWTs, installation and user tokens) never appear in `Display` or
/// `Debug`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// GitHub answered with an error status (any 4xx, or a 5xx after the retries ran out).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// GitHub's rate limit was hit and lifting it needs a longer wait than
    /// [`ClientConfig::max_rate_limit_wait`](super::ClientConfig::max_rate_limit_wait) (or the
    /// retries ran out while waiting).
    #[error(
        "rate limited by GitHub ({status}) on {method} {path}: the limit lifts at {reset_at} \
         (in {retry_after:?})"
    )]
    RateLimited {
        /// The request's method.
        method: Method,
        /// The request's path, relative to the API base URL.
        path: String,
        /// 403 or 429.
        status: StatusCode,
        /// When the limit lifts (from `Retry-After` or `x-ratelimit-reset`).
        reset_at: DateTime<Utc>,
        /// How long that was from the moment GitHub answered.
        retry_after: Duration,
    },
    /// The request never got an answer (connection refused, TLS failure, timeout, reset), after
    /// the retries ran out.
    #[error("request to GitHub failed: {method} {path}: {source}")]
    Transport {
        /// The request's method.
        method: Method,
        /// The request's path, relative to the API base URL.
        path: String,
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },
    /// GitHub answered with a success status but a body that does not match the expected type.
    #[error("cannot decode GitHub's answer to {method} {path}: {source}")]
    Decode {
        /// The request's method.
        method: Method,
        /// The request's path, relative to the API base URL.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The app's credentials are unusable (not an RSA private key, JWT signing failed), or the
    /// call needs credentials this client does not have.
    #[error("GitHub authentication: {0}")]
    Auth(String),
    /// The call needs an installation token, but the client is not authenticated as an
    /// installation (an app-level client, or a delivery without `installation.id`).
    #[error(
        "{operation} needs an installation client, but this client is not authenticated as an \
         installation: use `Client::installation(id)`"
    )]
    NoInstallation {
        /// What was attempted, e.g. `create_issue`.
        operation: &'static str,
    },
    /// The request could not be built: a bad repository reference (`owner/name`), a bad path,
    /// a URL outside the configured API host, or a bad configuration value.
    #[error("invalid GitHub request: {0}")]
    InvalidRequest(String),
    /// This call waited for another caller's installation-token mint (one mint serves every
    /// caller waiting on it), and that mint failed on the way (a transport or decoding
    /// error): usually transient, so a later call may succeed. GitHub's own answers to a
    /// failed mint are shared as they are ([`Api`](Self::Api),
    /// [`RateLimited`](Self::RateLimited)).
    #[error("cannot get an installation token: {0}")]
    TokenUnavailable(String),
    /// Pagination went past the page cap.
    #[error("{path} has more than {max_pages} pages; page through it yourself with `Client::request`")]
    TooManyPages {
        /// The first page's path.
        path: String,
        /// The cap that was hit.
        max_pages: u32,
    },
}

/// The details of an error status from GitHub, kept in [`ClientError::Api`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The request's method.
    pub method: Method,
    /// The request's path (and query), relative to the API base URL.
    pub path: String,
    /// The HTTP status GitHub answered with.
    pub status: StatusCode,
    /// GitHub's `message` (or the start of a non-JSON body).
    pub message: String,
    /// GitHub's `documentation_url`, when it sent one.
    pub documentation_url: Option<String>,
    /// GitHub's `errors` array (validation details on 422), empty when absent.
    pub errors: Vec<serde_json::Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitHub answered {} to {} {}: {}", self.status, self.method, self.path, self.message)?;
        if !self.errors.is_empty() {
            let details: Vec<String> = self.errors.iter().map(describe_error_detail).collect();
            write!(f, " ({})", details.join("; "))?;
        }
        if let Some(url) = &self.documentation_url {
            write!(f, " [{url}]")?;
        }
        Ok(())
    }
}

/// One entry of GitHub's `errors` array as short text.
fn describe_error_detail(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => {
            if let Some(m) = o.get("message").and_then(|m| m.as_str()) {
                return m.to_owned();
            }
            let field = |k: &str| o.get(k).and_then(|x| x.as_str()).unwrap_or("?");
            format!("{} {} {}", field("resource"), field("field"), field("code"))
        }
        other => other.to_string(),
    }
}

impl ApiError {
    /// Builds the error from an error response's body.
    pub(crate) fn from_body(method: Method, path: String, status: StatusCode, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default)]
            message: Option<String>,
            #[serde(default)]
            documentation_url: Option<String>,
            #[serde(default)]
            errors: Vec<serde_json::Value>,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(b) => ApiError {
                method,
                path,
                status,
                message: b.message.unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned()),
                documentation_url: b.documentation_url,
                errors: b.errors,
            },
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                let message = if text.is_empty() {
                    status.canonical_reason().unwrap_or("").to_owned()
                } else {
                    text.chars().take(200).collect()
                };
                ApiError { method, path, status, message, documentation_url: None, errors: Vec::new() }
            }
        }
    }
}

impl ClientError {
    /// The same error for another caller: exact, except transport and decoding errors (which
    /// cannot be copied), which become [`TokenUnavailable`](Self::TokenUnavailable) with their
    /// text.
    pub(crate) fn shared_copy(&self) -> ClientError {
        match self {
            ClientError::Api(e) => ClientError::Api(e.clone()),
            ClientError::RateLimited { method, path, status, reset_at, retry_after } => {
                ClientError::RateLimited {
                    method: method.clone(),
                    path: path.clone(),
                    status: *status,
                    reset_at: *reset_at,
                    retry_after: *retry_after,
                }
            }
            ClientError::Auth(m) => ClientError::Auth(m.clone()),
            ClientError::NoInstallation { operation } => ClientError::NoInstallation { operation },
            ClientError::InvalidRequest(m) => ClientError::InvalidRequest(m.clone()),
            ClientError::TooManyPages { path, max_pages } => {
                ClientError::TooManyPages { path: path.clone(), max_pages: *max_pages }
            }
            ClientError::TokenUnavailable(m) => ClientError::TokenUnavailable(m.clone()),
            ClientError::Transport { .. } | ClientError::Decode { .. } => {
                ClientError::TokenUnavailable(self.to_string())
            }
        }
    }

    /// The HTTP status GitHub answered with, for [`Api`](Self::Api) and
    /// [`RateLimited`](Self::RateLimited) errors.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api(e) => Some(e.status),
            ClientError::RateLimited { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// GitHub's `message`, for [`Api`](Self::Api) errors.
    pub fn message(&self) -> Option<&str> {
        match self {
            ClientError::Api(e) => Some(&e.message),
            _ => None,
        }
    }

    /// GitHub's `documentation_url`, for [`Api`](Self::Api) errors that carry one.
    pub fn documentation_url(&self) -> Option<&str> {
        match self {
            ClientError::Api(e) => e.documentation_url.as_deref(),
            _ => None,
        }
    }

    /// The failed request's method and path, when the error comes from a request.
    pub fn request(&self) -> Option<(&Method, &str)> {
        match self {
            ClientError::Api(e) => Some((&e.method, &e.path)),
            ClientError::RateLimited { method, path, .. }
            | ClientError::Transport { method, path, .. }
            | ClientError::Decode { method, path, .. } => Some((method, path)),
            _ => None,
        }
    }

    /// `true` when GitHub answered 404 (which it also uses for "no access").
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// `true` for [`RateLimited`](Self::RateLimited).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, ClientError::RateLimited { .. })
    }
}

impl From<ApiError> for ClientError {
    fn from(e: ApiError) -> Self {
        ClientError::Api(Box::new(e))
    }
}
