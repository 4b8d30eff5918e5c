//! The GitHub REST client: app JWT, installation tokens, retries, rate limits, pagination.
//!
//! This module is the only code in githubapp that speaks HTTP to GitHub. One [`Client::new`]
//! makes one `reqwest` client (rustls, HTTP/2) and one installation-token cache; every client
//! derived from it ([`installation`](Client::installation), [`with_user_token`](Client::with_user_token),
//! [`with_delivery_id`](Client::with_delivery_id), clones) shares both.
//!
//! # Authentication
//!
//! - **App** ([`Client::new`] with [`AppCredentials`]): requests carry an RS256 app JWT
//!   (`iat` = now − 60 s, `exp` = now + 540 s, `iss` = app id), reused until a minute before
//!   it expires. Only `/app/*`-style endpoints accept it. When GitHub rejects a JWT for its
//!   `iat` or `exp` (this machine's clock is off), the client takes GitHub's time from the
//!   answer's `Date` header, signs on that clock from then on, and retries once.
//! - **Installation** ([`Client::installation`], [`Client::installation_scoped`]): requests
//!   carry an installation token, minted with `POST /app/installations/{id}/access_tokens` and
//!   cached per (installation, repositories, permissions) until 5 minutes before it expires.
//!   Concurrent callers share one mint. A 401 to a token minted less than
//!   [`ClientConfig::token_replication_window`] (5 s) ago means GitHub has not replicated it
//!   yet: the request is retried with it after 0.5 s, 1 s, 1.5 s and 2 s at most. A 401 that
//!   persists, or one to an older token, drops the token, a new one is minted and the request
//!   is retried once more. Purge the cache with
//!   [`Client::invalidate_installation`] when an `installation` event says the installation
//!   was deleted, suspended or got new permissions.
//! - **User** ([`Client::with_user_token`]): an OAuth user token, for acting as the user.
//!
//! # Retries and rate limits
//!
//! 5xx answers and transport errors are retried [`ClientConfig::max_retries`] times with
//! exponential backoff and jitter (note: this includes `POST`s, which GitHub may have carried
//! out before failing). A 403/429 rate limit is waited out when `Retry-After` or
//! `x-ratelimit-reset` asks for at most [`ClientConfig::max_rate_limit_wait`]; a longer wait is
//! [`ClientError::RateLimited`] with the reset time. A secondary limit without either header
//! asks for 60 s, doubled for each earlier one in the call. Other 4xx answers are never retried.
//!
//! # Example
//!
//! ```no_run
//! use githubapp::client::{AppCredentials, Client, ClientConfig};
//!
//! # async fn demo() -> Result<(), githubapp::client::ClientError> {
//! let key = std::fs::read("app.private-key.pem").expect("key file");
//! let app = Client::new(ClientConfig::default(), Some(AppCredentials::from_pem(123, &key)?))?;
//!
//! for installation in app.list_installations().await? {
//!     let gh = app.installation(installation.id);
//!     let issue = gh.create_issue("octo-org/hello-world", "Hello from Rust", None).await?;
//!     gh.add_labels("octo-org/hello-world", issue.number, &["greeting"]).await?;
//! }
//!
//! // Anything without a typed method: the generic calls with your own serde types.
//! let gh = app.installation(42);
//! let repo: serde_json::Value = gh.get("/repos/octo-org/hello-world").await?;
//! # Ok(()) }
//! ```
//!
//! For GitHub Enterprise Server set [`ClientConfig::api_url`] to `https://HOST/api/v3`.
//! With the `octocrab` feature, `Client::octocrab` hands out an `octocrab::Octocrab` for the
//! whole REST API on the same token cache and connection pool.
//! Tests run against [`FakeGitHub`](crate::testing::fake_github::FakeGitHub).

mod api;
mod auth;
mod error;
mod models;
#[cfg(feature = "octocrab")]
mod octocrab;
mod pagination;
mod repo;
mod transport;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use auth::AppCredentials;
pub use error::{ApiError, ClientError};
pub use models::{
    CheckRun, CheckRunAnnotation, CheckRunConclusion, CheckRunOutput, CheckRunStatus, CommitFile, Deployment,
    DeploymentState, DeploymentStatus, Installation, Issue, IssueComment, Label, NewCheckRun, NewDeployment,
    NewDeploymentStatus, Organization, RepoPermission, RepositoryInfo, RepositoryPermissions, SimpleUser,
};
pub use pagination::{DEFAULT_MAX_PAGES, link_rel};
pub use repo::{RepoRef, split_full_name};
pub use transport::{ACCEPT_GITHUB_JSON, API_VERSION, Response, encode_segment};

use auth::{AppAuth, Secret, TokenCache, TokenScope};
use transport::{Auth, Shared};

/// The default `User-Agent`: `githubapp-rs/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("githubapp-rs/", env!("CARGO_PKG_VERSION"));

/// How the client talks to GitHub.
///
/// ```
/// use std::time::Duration;
/// use githubapp::client::ClientConfig;
///
/// let ghes = ClientConfig {
///     api_url: "https://github.example.com/api/v3".into(),
///     max_rate_limit_wait: Duration::from_secs(10),
///     ..ClientConfig::default()
/// };
/// assert_eq!(ClientConfig::default().api_url, "https://api.github.com");
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The REST API base: `https://api.github.com` (default) or `https://HOST/api/v3` for
    /// GitHub Enterprise Server.
    pub api_url: String,
    /// The `User-Agent` header (GitHub rejects requests without one); default
    /// [`DEFAULT_USER_AGENT`]. Visible ASCII: [`Client::new`] refuses anything else.
    pub user_agent: String,
    /// Retries after the first attempt for 5xx answers, transport errors and rate limits;
    /// default 3.
    pub max_retries: u32,
    /// The longest rate-limit wait the client sleeps through; beyond it the call fails with
    /// [`ClientError::RateLimited`]. Default 60 s.
    pub max_rate_limit_wait: Duration,
    /// The timeout of one HTTP request (GitHub itself stops at 10 s); default 30 s.
    pub timeout: Duration,
    /// For this long after an installation token is minted, a 401 to it is taken for
    /// GitHub not having replicated it yet: the request is retried with the same token after
    /// 0.5 s, 1 s, 1.5 s and 2 s at most, while the token is younger than this; a 401 that
    /// persists replaces the token once, as for any 401. Default 5 s, as octokit;
    /// `Duration::ZERO` turns the wait off.
    pub token_replication_window: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            api_url: "https://api.github.com".into(),
            user_agent: DEFAULT_USER_AGENT.into(),
            max_retries: 3,
            max_rate_limit_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            token_replication_window: Duration::from_secs(5),
        }
    }
}

/// An authenticated GitHub REST client. Cheap to clone (one `Arc`).
///
/// See the [module documentation](self) for authentication, retries and examples.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    auth: Auth,
    delivery_id: Option<Arc<str>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.shared.base_str)
            .field("app_id", &self.shared.app.as_ref().map(AppAuth::app_id))
            .field("auth", &self.auth)
            .field("delivery_id", &self.delivery_id)
            .finish()
    }
}

impl Client {
    /// Makes an app-level client: with `app`, requests carry the app JWT; without, they are
    /// unauthenticated until you derive an installation or user client. Builds one `reqwest`
    /// client; derive every other client from this one to share it and the token cache.
    ///
    /// ```
    /// use githubapp::client::{Client, ClientConfig};
    ///
    /// let gh = Client::new(ClientConfig::default(), None)?;
    /// assert_eq!(gh.api_url(), "https://api.github.com");
    /// assert_eq!(gh.installation(7).installation_id(), Some(7));
    /// # Ok::<(), githubapp::client::ClientError>(())
    /// ```
    pub fn new(config: ClientConfig, app: Option<AppCredentials>) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| ClientError::InvalidRequest(format!("cannot build the HTTP client: {e}")))?;
        Client::with_http_client(http, config, app)
    }

    /// Like [`new`](Self::new), on a `reqwest::Client` you built (for shared connection pools
    /// or custom TLS roots). Its timeout and redirect settings are yours; `User-Agent` and
    /// GitHub's headers are set on every request regardless.
    pub fn with_http_client(
        http: reqwest::Client,
        config: ClientConfig,
        app: Option<AppCredentials>,
    ) -> Result<Client, ClientError> {
        auth::install_crypto_provider();
        let trimmed = config.api_url.trim().trim_end_matches('/').to_owned();
        let base = Url::parse(&trimmed).map_err(|e| {
            ClientError::InvalidRequest(format!("api_url {:?} is not a URL: {e}", config.api_url))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(ClientError::InvalidRequest(format!(
                "api_url {:?} must be an http(s) URL such as https://api.github.com",
                config.api_url
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(ClientError::InvalidRequest(format!(
                "api_url {:?} must not have a query or fragment",
                config.api_url
            )));
        }
        let user_agent = http::HeaderValue::from_str(&config.user_agent).map_err(|_| {
            ClientError::InvalidRequest(format!(
                "user_agent {:?} is not a valid header value (visible ASCII only)",
                config.user_agent
            ))
        })?;
        let shared = Shared {
            http,
            config: ClientConfig { api_url: trimmed.clone(), ..config },
            base,
            base_str: trimmed,
            user_agent,
            app: app.map(AppAuth::new),
            tokens: TokenCache::default(),
        };
        let auth = if shared.app.is_some() { Auth::App } else { Auth::None };
        Ok(Client { shared: Arc::new(shared), auth, delivery_id: None })
    }

    fn derive(&self, auth: Auth) -> Client {
        Client { shared: self.shared.clone(), auth, delivery_id: self.delivery_id.clone() }
    }

    /// A client authenticated as an installation, with a token for all of the installation's
    /// repositories and permissions. Shares the HTTP client and token cache.
    pub fn installation(&self, installation_id: u64) -> Client {
        self.installation_scoped(installation_id, &[], &[])
    }

    /// A client whose installation token is limited to some repositories (names; `owner/name`
    /// is accepted and the owner dropped) and/or permissions (`("issues", "write")`). Scoped
    /// tokens are cached apart from broad ones and never stand in for them.
    ///
    /// ```
    /// # let app = githubapp::client::Client::new(Default::default(), None)?;
    /// let gh = app.installation_scoped(42, &["hello-world"], &[("contents", "read")]);
    /// assert_eq!(gh.installation_id(), Some(42));
    /// # Ok::<(), githubapp::client::ClientError>(())
    /// ```
    pub fn installation_scoped(
        &self,
        installation_id: u64,
        repositories: &[&str],
        permissions: &[(&str, &str)],
    ) -> Client {
        self.derive(Auth::Installation(Arc::new(TokenScope::new(installation_id, repositories, permissions))))
    }

    /// A client acting as a user, with an OAuth user token (never printed).
    pub fn with_user_token(&self, token: impl Into<String>) -> Client {
        self.derive(Auth::User(Secret::new(token.into())))
    }

    /// The app-level (JWT) client this one was derived from.
    pub fn as_app(&self) -> Client {
        self.derive(if self.shared.app.is_some() { Auth::App } else { Auth::None })
    }

    /// The same client, sending `X-GitHub-Delivery: id` with every request (set by the
    /// framework for clients handed to webhook handlers, so GitHub-side logs can be joined
    /// with the delivery).
    pub fn with_delivery_id(&self, id: &str) -> Client {
        Client { delivery_id: Some(Arc::from(id)), ..self.clone() }
    }

    /// The installation this client is authenticated as, if any.
    pub fn installation_id(&self) -> Option<u64> {
        match &self.auth {
            Auth::Installation(scope) => Some(scope.installation_id),
            _ => None,
        }
    }

    /// The app id, when the client has app credentials.
    pub fn app_id(&self) -> Option<u64> {
        self.shared.app.as_ref().map(AppAuth::app_id)
    }

    /// The delivery id sent as `X-GitHub-Delivery`, if any.
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery_id.as_deref()
    }

    /// The API base URL, without a trailing slash.
    pub fn api_url(&self) -> &str {
        &self.shared.base_str
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// The underlying `reqwest` client, to reuse its connection pool for other HTTP calls
    /// (OAuth, OIDC keys). Requests made with it carry no GitHub credentials.
    pub fn http(&self) -> &reqwest::Client {
        &self.shared.http
    }

    /// Forgets every cached token of an installation (all scopes); the next call mints anew.
    /// Call it on `installation` events `deleted`, `suspend`, `new_permissions_accepted` and on
    /// `installation_repositories`.
    pub fn invalidate_installation(&self, installation_id: u64) {
        self.shared.tokens.invalidate_installation(installation_id);
    }

    /// Forgets every cached installation token.
    pub fn invalidate_all_tokens(&self) {
        self.shared.tokens.clear();
    }

    /// An installation token for this client's installation and scope (cached or minted), to
    /// hand to tools such as `git` (`https://x-access-token:TOKEN@github.com/o/r.git`).
    /// Treat it as a secret.
    pub async fn installation_token(&self) -> Result<String, ClientError> {
        match &self.auth {
            Auth::Installation(_) => {}
            _ => return Err(ClientError::NoInstallation { operation: "installation_token" }),
        }
        let token = self.credential(None).await?;
        Ok(token.map(|c| c.token.expose().to_owned()).unwrap_or_default())
    }

    fn encode_body<B: Serialize + ?Sized>(body: &B) -> Result<Bytes, ClientError> {
        serde_json::to_vec(body)
            .map(Bytes::from)
            .map_err(|e| ClientError::InvalidRequest(format!("cannot serialize the request body: {e}")))
    }

    /// Sends a request and returns GitHub's success answer as is (errors are
    /// [`ClientError`]s, after the retries). `path` is relative to the API base
    /// (`/repos/o/r`), or an absolute URL on it.
    ///
    /// ```no_run
    /// use githubapp::client::Method;
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let resp = gh.request::<()>(Method::GET, "/rate_limit", None).await?;
    /// println!("{:?}", resp.headers().get("x-ratelimit-remaining"));
    /// # Ok(()) }
    /// ```
    pub async fn request<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, ClientError> {
        let body = body.map(Self::encode_body).transpose()?;
        self.send(method, path, body).await
    }

    /// `GET` and decode JSON.
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// #[derive(serde::Deserialize)]
    /// struct Repo { default_branch: String }
    /// let repo: Repo = gh.get("/repos/octo-org/hello-world").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(Method::GET, path, None).await?.json()
    }

    /// `POST` a JSON body and decode JSON.
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let reaction: serde_json::Value = gh
    ///     .post("/repos/octo-org/hello-world/issues/1/reactions", &serde_json::json!({"content": "+1"}))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(Method::POST, path, Some(Self::encode_body(body)?)).await?.json()
    }

    /// `PUT` a JSON body and decode JSON (an empty answer decodes as `()` or `None`).
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(Method::PUT, path, Some(Self::encode_body(body)?)).await?.json()
    }

    /// `PATCH` a JSON body and decode JSON.
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let _: serde_json::Value = gh
    ///     .patch("/repos/octo-org/hello-world/issues/1", &serde_json::json!({"state": "closed"}))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(Method::PATCH, path, Some(Self::encode_body(body)?)).await?.json()
    }

    /// `DELETE`; the answer's body is ignored.
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// gh.delete("/repos/octo-org/hello-world/issues/1/labels/bug").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, path: &str) -> Result<(), ClientError> {
        self.send(Method::DELETE, path, None).await.map(|_| ())
    }
}

/// Re-exported so [`Client::request`] callers need no `http` dependency.
pub use http::Method;
