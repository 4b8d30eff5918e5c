//! The request loop: URL resolution, headers, authentication, retries and rate limits.
//!
//! Per request: resolve the path against the API base URL (absolute URLs must stay on it),
//! authenticate (app JWT, installation token, user token or nothing), send, then:
//! - 2xx / 3xx: done;
//! - 401 with an installation token minted less than 5 s ago
//!   ([`ClientConfig::token_replication_window`]): GitHub has not replicated it yet; retry
//!   with the same token after 0.5 s, 1 s, 1.5 s, 2 s (at most 5 s of waits per request)
//!   while it is under 5 s old;
//! - then, or for an older token: drop that token, mint once more, retry once;
//! - 401 to the app JWT for its `iat` or `exp` (this machine's clock is off): adopt GitHub's
//!   clock from the answer's `Date` header, sign a new JWT, retry once;
//! - 403 / 429 that is a rate limit: sleep for `Retry-After`, or until `x-ratelimit-reset`
//!   when `x-ratelimit-remaining` is 0, or 60 s for a secondary limit without headers — unless
//!   that exceeds `max_rate_limit_wait`, then [`ClientError::RateLimited`];
//! - 5xx and transport errors: exponential backoff with jitter, `max_retries` times;
//! - any other 4xx: [`ClientError::Api`] at once.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use reqwest::Url;
use serde::de::DeserializeOwned;

use super::auth::{AppAuth, CachedToken, Secret, TokenCache, TokenScope};
use super::{Client, ClientConfig, ClientError};
use crate::client::error::ApiError;

/// `X-GitHub-Api-Version` sent with every request.
pub const API_VERSION: &str = "2022-11-28";
/// `Accept` sent with every request.
pub const ACCEPT_GITHUB_JSON: &str = "application/vnd.github+json";

/// First backoff step for 5xx and transport errors; doubled per retry, with jitter.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest single backoff step.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// What GitHub asks for after a secondary rate limit without headers ("at least one
/// minute"); doubled for each earlier one in the same call, as GitHub asks for limits that
/// persist, so with the default `max_rate_limit_wait` (60 s) a second one is returned as
/// `RateLimited` instead of being waited out again.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// First wait before retrying a token GitHub does not know yet; grows by this step.
const REPLICATION_STEP: Duration = Duration::from_millis(500);
/// At most this many such waits per request (0.5 + 1 + 1.5 + 2 = 5 s in all), whatever the
/// window and however many tokens are minted meanwhile.
const MAX_REPLICATION_WAITS: u32 = 4;

/// A bearer credential and, for an installation token, when it was minted.
pub(crate) struct Credential {
    pub(crate) token: Secret,
    pub(crate) minted_at: Option<std::time::Instant>,
}

impl Credential {
    /// An installation token minted less than `window` ago: a 401 to it may only mean GitHub
    /// has not replicated it yet.
    pub(crate) fn may_be_unreplicated(&self, window: Duration) -> bool {
        self.minted_at.is_some_and(|t| t.elapsed() < window)
    }
}

/// GitHub's 401 messages for a JWT whose `iat` or `exp` does not fit its clock.
fn is_jwt_clock_error(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("claim ('iat')") || text.contains("claim ('exp')")
}

/// State shared by every clone and derivative of one [`Client`].
pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    pub(crate) config: ClientConfig,
    /// The API base URL, without a trailing slash.
    pub(crate) base: Url,
    pub(crate) base_str: String,
    /// `config.user_agent` as a header value, checked when the client was made.
    pub(crate) user_agent: HeaderValue,
    pub(crate) app: Option<AppAuth>,
    pub(crate) tokens: TokenCache,
}

/// How a [`Client`] authenticates.
#[derive(Clone)]
pub(crate) enum Auth {
    /// No `Authorization` header.
    None,
    /// The app JWT.
    App,
    /// An installation token for this scope.
    Installation(Arc<TokenScope>),
    /// A user (OAuth) token.
    User(Secret),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::App => f.write_str("App"),
            Auth::Installation(scope) => f
                .debug_struct("Installation")
                .field("id", &scope.installation_id)
                .field("repositories", &scope.repositories)
                .field("permissions", &scope.permissions)
                .finish(),
            Auth::User(_) => f.write_str("User([redacted])"),
        }
    }
}

/// A successful answer from GitHub, read in full.
///
/// Returned by [`Client::request`]; the typed helpers decode it for you.
#[derive(Clone)]
pub struct Response {
    method: Method,
    path: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Response {
    /// The HTTP status (2xx or 3xx; error statuses are [`ClientError`]s).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers (`x-ratelimit-*`, `link`, `etag`, ...).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The raw body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Decodes the body as JSON; an empty body decodes as `null` (so `()` and `Option<T>`
    /// work for 204 answers).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) { b"null" } else { &self.body };
        serde_json::from_slice(body).map_err(|source| ClientError::Decode {
            method: self.method.clone(),
            path: self.path.clone(),
            source,
        })
    }

    /// The `rel="next"` URL of the `Link` header, if any.
    pub fn next_page_url(&self) -> Option<String> {
        self.headers
            .get_all(http::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| super::pagination::link_rel(v, "next"))
    }
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters), so
/// owners, repository names, branch names and user names can't change the path.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Shared {
    /// Resolves a path (`/repos/o/r`, `repos/o/r?x=1`) or an absolute URL against the API base;
    /// absolute URLs must be on the same scheme, host, port and base path.
    pub(crate) fn resolve(&self, path: &str) -> Result<Url, ClientError> {
        let url = if path.starts_with("https://") || path.starts_with("http://") {
            Url::parse(path).map_err(|e| ClientError::InvalidRequest(format!("bad URL {path:?}: {e}")))?
        } else {
            let sep = if path.starts_with('/') { "" } else { "/" };
            Url::parse(&format!("{}{sep}{path}", self.base_str))
                .map_err(|e| ClientError::InvalidRequest(format!("bad path {path:?}: {e}")))?
        };
        if !self.is_on_api(&url) {
            return Err(ClientError::InvalidRequest(format!(
                "{url} is outside the configured GitHub API {}: refusing to send credentials there",
                self.base_str
            )));
        }
        Ok(url)
    }

    fn is_on_api(&self, url: &Url) -> bool {
        if url.scheme() != self.base.scheme()
            || url.host_str() != self.base.host_str()
            || url.port_or_known_default() != self.base.port_or_known_default()
        {
            return false;
        }
        let base_path = self.base.path().trim_end_matches('/');
        let path = url.path();
        base_path.is_empty()
            || path == base_path
            || path.strip_prefix(base_path).is_some_and(|rest| rest.starts_with('/'))
    }

    /// The path and query of `url` relative to the API base, for errors and logs.
    pub(crate) fn display_path(&self, url: &Url) -> String {
        let base_path = self.base.path().trim_end_matches('/');
        let path = url.path().strip_prefix(base_path).unwrap_or(url.path());
        match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        }
    }
}

/// When GitHub's answer is a rate limit, how long to wait (from now), and whether it was a
/// secondary limit without headers (`secondary_so_far` of those came before in this call).
fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    secondary_so_far: u32,
) -> Option<(Duration, bool)> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(v) = header("retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some((Duration::from_secs(secs), false));
        }
        if let Ok(at) = DateTime::parse_from_rfc2822(v) {
            let now = server_date(headers).unwrap_or_else(Utc::now);
            return Some(((at.with_timezone(&Utc) - now).to_std().unwrap_or(Duration::ZERO), false));
        }
    }
    if header("x-ratelimit-remaining") == Some("0")
        && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())
    {
        let now = server_date(headers).unwrap_or_else(Utc::now).timestamp();
        // +1 s: the reset second itself may still be limited.
        let secs = u64::try_from(reset.saturating_sub(now)).unwrap_or(0) + 1;
        return Some((Duration::from_secs(secs), false));
    }
    let secondary = (SECONDARY_LIMIT_WAIT.saturating_mul(1 << secondary_so_far.min(16)), true);
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Some(secondary);
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    text.contains("rate limit").then_some(secondary)
}

/// GitHub's clock, from the `Date` header.
fn server_date(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let v = headers.get(http::header::DATE)?.to_str().ok()?;
    DateTime::parse_from_rfc2822(v).ok().map(|d| d.with_timezone(&Utc))
}

/// Exponential backoff with jitter: 50–100 % of `BACKOFF_BASE * 2^retry`, capped.
fn backoff(retry: u32) -> Duration {
    let step = BACKOFF_BASE.saturating_mul(1u32 << retry.min(16)).min(BACKOFF_MAX);
    step.mul_f64(0.5 + fastrand::f64() * 0.5)
}

fn is_retryable(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
}

/// A boxed, sendable future (breaks the recursion mint -> send -> mint).
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Client {
    /// Sends one request through the retry loop and returns a success answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Response, ClientError> {
        let url = self.shared.resolve(path)?;
        self.send_url(method, url, body).await
    }

    pub(crate) async fn send_url(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
    ) -> Result<Response, ClientError> {
        let shared = &self.shared;
        let path = shared.display_path(&url);
        let max_retries = shared.config.max_retries;
        let mut retries = 0u32;
        let mut secondary_limits = 0u32;
        let mut reauthenticated = false;
        let mut clock_adopted = false;
        let mut replication_waits = 0u32;
        let mut rejected: Option<Secret> = None;
        loop {
            let credential = self.credential(rejected.take()).await?;
            let token = credential.as_ref().map(|c| &c.token);
            let mut req = shared.http.request(method.clone(), url.clone()).headers(self.base_headers(token)?);
            if let Some(body) = &body {
                req = req.header(CONTENT_TYPE, "application/json").body(body.clone());
            }
            let sent = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    resp.bytes().await.map(|b| (status, headers, b))
                }
                Err(e) => Err(e),
            };
            let (status, headers, bytes) = match sent {
                Ok(answer) => answer,
                Err(source) => {
                    if retries < max_retries && is_retryable(&source) {
                        let wait = backoff(retries);
                        retries += 1;
                        tracing::warn!(%method, %path, error = %source, retry = retries, ?wait, "GitHub request failed; retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(ClientError::Transport { method, path, source });
                }
            };
            tracing::debug!(%method, %path, status = status.as_u16(), retries, "GitHub request");
            if status.is_success() || status.is_redirection() {
                return Ok(Response { method, path, status, headers, body: bytes });
            }
            if status == StatusCode::UNAUTHORIZED {
                match (&self.auth, credential) {
                    (Auth::Installation(_), Some(c))
                        if c.may_be_unreplicated(shared.config.token_replication_window)
                            && replication_waits < MAX_REPLICATION_WAITS =>
                    {
                        replication_waits += 1;
                        let wait = REPLICATION_STEP * replication_waits;
                        tracing::info!(%method, %path, ?wait, "GitHub does not know the new installation token yet (replication); retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    (Auth::Installation(_), Some(credential)) if !reauthenticated => {
                        reauthenticated = true;
                        rejected = Some(credential.token);
                        tracing::info!(%method, %path, "GitHub rejected the installation token; minting a new one");
                        continue;
                    }
                    (Auth::App, _) if !clock_adopted && is_jwt_clock_error(&bytes) => {
                        if let Some(server_now) = server_date(&headers) {
                            clock_adopted = true;
                            self.app_auth()?.adopt_server_clock(server_now);
                            continue;
                        }
                    }
                    _ => {}
                }
            }
            if let Some((wait, headerless)) = rate_limit_wait(status, &headers, &bytes, secondary_limits) {
                secondary_limits += u32::from(headerless);
                if wait > shared.config.max_rate_limit_wait || retries >= max_retries {
                    // Saturating: a server may announce any wait, even one past the calendar.
                    let reset_at = chrono::Duration::from_std(wait)
                        .ok()
                        .and_then(|wait| Utc::now().checked_add_signed(wait))
                        .unwrap_or(DateTime::<Utc>::MAX_UTC);
                    return Err(ClientError::RateLimited {
                        method,
                        path,
                        status,
                        reset_at,
                        retry_after: wait,
                    });
                }
                retries += 1;
                tracing::warn!(%method, %path, status = status.as_u16(), ?wait, "rate limited by GitHub; waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_server_error() && retries < max_retries {
                let hinted = headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .filter(|d| *d <= shared.config.max_rate_limit_wait);
                let wait = hinted.unwrap_or_else(|| backoff(retries));
                retries += 1;
                tracing::warn!(%method, %path, status = status.as_u16(), retry = retries, ?wait, "GitHub server error; retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(ApiError::from_body(method, path, status, &bytes).into());
        }
    }

    /// The headers of every request: Accept, API version, Authorization and
    /// [`identity_headers`](Self::identity_headers).
    fn base_headers(&self, token: Option<&Secret>) -> Result<HeaderMap, ClientError> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(ACCEPT_GITHUB_JSON));
        h.insert("x-github-api-version", HeaderValue::from_static(API_VERSION));
        if let Some(token) = token {
            h.insert(AUTHORIZATION, token.bearer_header()?);
        }
        h.extend(self.identity_headers());
        Ok(h)
    }

    /// `User-Agent` and, for a client made in a handler or task, `X-GitHub-Delivery`: what
    /// every request of this client says about who sends it (Octocrab's included).
    pub(crate) fn identity_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut h = vec![(USER_AGENT, self.shared.user_agent.clone())];
        if let Some(id) = &self.delivery_id
            && let Ok(v) = HeaderValue::from_str(id)
        {
            h.push((HeaderName::from_static("x-github-delivery"), v));
        }
        h
    }

    /// The bearer credential for this client's auth mode. `rejected` is a token GitHub just
    /// answered 401 to; it is replaced rather than reused.
    pub(crate) async fn credential(
        &self,
        rejected: Option<Secret>,
    ) -> Result<Option<Credential>, ClientError> {
        let plain = |token| Some(Credential { token, minted_at: None });
        match &self.auth {
            Auth::None => Ok(None),
            Auth::User(token) => Ok(plain(token.clone())),
            Auth::App => self.app_auth()?.jwt().map(plain),
            Auth::Installation(scope) => {
                self.app_auth()?;
                let cached = self
                    .shared
                    .tokens
                    .get(scope, rejected.as_ref(), || self.mint_installation_token(scope))
                    .await?;
                Ok(Some(Credential { token: cached.token, minted_at: Some(cached.minted_at) }))
            }
        }
    }

    pub(crate) fn app_auth(&self) -> Result<&AppAuth, ClientError> {
        self.shared.app.as_ref().ok_or_else(|| {
            ClientError::Auth(
                "this client has no GitHub App credentials (app id and private key) to sign a JWT with"
                    .into(),
            )
        })
    }

    /// `POST /app/installations/{id}/access_tokens`, authenticated with the app JWT.
    fn mint_installation_token<'a>(
        &'a self,
        scope: &'a TokenScope,
    ) -> BoxFuture<'a, Result<CachedToken, ClientError>> {
        Box::pin(async move {
            #[derive(serde::Deserialize)]
            struct Minted {
                token: String,
                expires_at: DateTime<Utc>,
                #[serde(default)]
                permissions: Option<std::collections::BTreeMap<String, String>>,
            }
            let app = self.as_app();
            let path = format!("/app/installations/{}/access_tokens", scope.installation_id);
            let body = scope.request_body().map(|b| Bytes::from(b.to_string()));
            let resp = app.send(Method::POST, &path, body).await?;
            let minted: Minted = resp.json()?;
            if let Some(granted) = &minted.permissions {
                for (perm, level) in &scope.permissions {
                    if granted.get(perm) != Some(level) {
                        tracing::warn!(
                            installation_id = scope.installation_id, permission = %perm, requested = %level,
                            granted = granted.get(perm).map(String::as_str).unwrap_or("none"),
                            "installation token was granted a different permission than requested"
                        );
                    }
                }
            }
            tracing::debug!(installation_id = scope.installation_id, "minted an installation token");
            Ok(CachedToken::new(Secret::new(minted.token), minted.expires_at, server_date(resp.headers())))
        })
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn encodes_segments() {
        assert_eq!(encode_segment("feature/x y"), "feature%2Fx%20y");
        assert_eq!(encode_segment("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }

    /// The wait alone.
    fn wait(status: StatusCode, h: &HeaderMap, body: &[u8], secondary_so_far: u32) -> Option<Duration> {
        rate_limit_wait(status, h, body, secondary_so_far).map(|(wait, _)| wait)
    }

    #[test]
    fn rate_limit_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(wait(StatusCode::FORBIDDEN, &h, b"{\"message\":\"Resource not accessible\"}", 0), None);
        assert_eq!(
            wait(StatusCode::FORBIDDEN, &h, b"{\"message\":\"You have exceeded a secondary rate limit\"}", 0),
            Some(SECONDARY_LIMIT_WAIT)
        );
        assert_eq!(wait(StatusCode::TOO_MANY_REQUESTS, &h, b"", 0), Some(SECONDARY_LIMIT_WAIT));
        // Exponentially longer for each one in a row.
        assert_eq!(wait(StatusCode::TOO_MANY_REQUESTS, &h, b"", 2), Some(SECONDARY_LIMIT_WAIT * 4));
        assert_eq!(wait(StatusCode::TOO_MANY_REQUESTS, &h, b"", 99), Some(SECONDARY_LIMIT_WAIT * 65536));
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(wait(StatusCode::FORBIDDEN, &h, b"", 0), Some(Duration::from_secs(7)));
        assert_eq!(wait(StatusCode::NOT_FOUND, &h, b"", 0), None);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = (Utc::now().timestamp() + 100).to_string();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap_or(HeaderValue::from_static("0")));
        let reset_wait = wait(StatusCode::FORBIDDEN, &h, b"", 0).unwrap_or_default();
        assert!(
            reset_wait >= Duration::from_secs(95) && reset_wait <= Duration::from_secs(102),
            "{reset_wait:?}"
        );
        // Only the headerless secondary limit counts towards the next one's doubling.
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, b"", 0).map(|(_, headerless)| headerless),
            Some(false)
        );
        let none = HeaderMap::new();
        assert_eq!(rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &none, b"", 0).map(|(_, h)| h), Some(true));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) <= BACKOFF_BASE && backoff(0) >= BACKOFF_BASE / 2);
        assert!(backoff(3) >= BACKOFF_BASE * 4);
        assert!(backoff(30) <= BACKOFF_MAX);
    }
}
