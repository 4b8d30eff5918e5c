//! [`Client::octocrab`]: an [`octocrab::Octocrab`] that authenticates through this client.
//!
//! Octocrab covers the whole REST API with typed models; githubapp's [`Client`] covers what
//! GitHub Apps use most. With the `octocrab` feature the two share one authentication: each
//! request Octocrab sends asks this client for its credential (the cached installation token,
//! minted single-flight when missing or near expiry; the app JWT; or the user token), and goes
//! out on this client's `reqwest` connection pool. An `Octocrab` handed out here therefore
//! never holds a token that expires: keep it as long as you like.
//!
//! A 401 to an installation token is retried once, like githubapp's own requests: after a
//! second with the same token if it was minted moments ago (GitHub may not have replicated
//! it), else with a new token. Rate limits, 5xx and transport errors follow Octocrab's
//! `RetryConfig::HandleRateLimits` ([`ClientConfig::max_retries`](super::ClientConfig)
//! times; it waits out `Retry-After` and `x-ratelimit-reset` however long they ask).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::octocrab::service::middleware::base_uri::BaseUriLayer;
use ::octocrab::service::middleware::extra_headers::ExtraHeadersLayer;
use ::octocrab::service::middleware::reqwest_connector::ReqwestConnector;
use ::octocrab::service::middleware::retry::{NoOpRateLimitMetrics, RetryConfig};
use ::octocrab::{AuthState, OctoBody, Octocrab, OctocrabBuilder};
use http::header::AUTHORIZATION;
use std::time::Duration;

use http::{Request, StatusCode, Uri};
use tower::{Layer, Service, ServiceExt};

use super::auth::Secret;
use super::transport::Auth;
use super::{Client, ClientError};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Client {
    /// An [`Octocrab`] that acts as this client: as its installation (with its token scope),
    /// as the app, or as its user, on this client's API base URL (GitHub Enterprise Server
    /// included) and `reqwest` connection pool. Feature `octocrab`.
    ///
    /// Tokens come from this client's cache at each request, so the `Octocrab` can be kept
    /// for as long as you like: it never sends an expired installation token.
    ///
    /// ```no_run
    /// use githubapp::events::IssuesEvent;
    /// use githubapp::prelude::*;
    ///
    /// #[github::on("issues.opened")]
    /// async fn thank(event: IssuesEvent, gh: Client) -> Result<()> {
    ///     let octocrab = gh.octocrab()?;
    ///     let (owner, repo) = (&event.repository.owner.login, &event.repository.name);
    ///     octocrab.issues(owner, repo).create_comment(event.issue.number, "Thanks!").await?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// Build one per handler or task, or keep one: each call starts a small Tokio task (Octocrab
    /// buffers its service).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidRequest`] when the API base URL is not a URI (it was checked when
    /// the client was made, so in practice never).
    pub fn octocrab(&self) -> Result<Octocrab, ClientError> {
        let shared = &self.shared;
        let base: Uri = shared
            .base_str
            .parse()
            .map_err(|e| ClientError::InvalidRequest(format!("the API base URL is not a URI: {e}")))?;
        // Octocrab sends its own `X-GitHub-Api-Version`.
        let headers = self.identity_headers();
        let retries = usize::try_from(shared.config.max_retries).unwrap_or(usize::MAX);
        let connector = ReqwestConnector::new(shared.http.clone());
        let octocrab = OctocrabBuilder::new_empty()
            .with_service(connector)
            .with_layer(&retry_layer(retries))
            .with_layer(&AuthLayer { client: self.clone(), api: base.clone() })
            .with_layer(&ExtraHeadersLayer::new(Arc::new(headers)))
            .with_layer(&BaseUriLayer::new(base))
            .with_auth(AuthState::None)
            .build();
        match octocrab {
            Ok(octocrab) => Ok(octocrab),
            Err(never) => match never {},
        }
    }
}

/// Octocrab's rate-limit-aware policy: waits out `Retry-After` / `x-ratelimit-reset` on 403/429
/// (60 s without headers, on 429 only), retries 5xx and transport errors.
fn retry_layer(retries: usize) -> tower::retry::RetryLayer<RetryConfig> {
    tower::retry::RetryLayer::new(RetryConfig::HandleRateLimits {
        metrics: Arc::new(NoOpRateLimitMetrics),
        max_retries: retries,
        min_wait_seconds: 60,
        retry_on_forbidden: false,
    })
}

/// Sets `Authorization` from the githubapp [`Client`]'s credential, on requests to the API
/// host only (an absolute URL elsewhere gets no token), and retries a 401 once.
#[derive(Clone)]
struct AuthLayer {
    client: Client,
    api: Uri,
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService { inner, client: self.client.clone(), api: self.api.clone() }
    }
}

#[derive(Clone)]
struct AuthService<S> {
    inner: S,
    client: Client,
    api: Uri,
}

impl<S> AuthService<S> {
    fn is_on_api(&self, uri: &Uri) -> bool {
        uri.scheme() == self.api.scheme() && uri.authority() == self.api.authority()
    }
}

impl<S, B> Service<Request<OctoBody>> for AuthService<S>
where
    S: Service<Request<OctoBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<OctoBody>) -> Self::Future {
        // The service that was polled ready serves this request; its clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let mut spare = self.inner.clone();
        let client = self.client.clone();
        let on_api = self.is_on_api(req.uri());
        Box::pin(async move {
            let mut req = req;
            req.headers_mut().remove(AUTHORIZATION);
            if !on_api {
                return inner.call(req).await.map_err(Into::into);
            }
            let credential = client.credential(None).await?;
            if let Some(c) = &credential {
                authorize(&mut req, &c.token)?;
            }
            let again = match (&client.auth, &credential) {
                (Auth::Installation(_), Some(_)) => copy(&req),
                _ => None,
            };
            let resp = inner.call(req).await.map_err(Into::into)?;
            let (Some(credential), Some(mut again)) = (credential, again) else { return Ok(resp) };
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            // As githubapp's own requests: a token minted moments ago may not be replicated
            // yet (wait, same token); an older one is replaced. Either way, one retry.
            let window = client.shared.config.token_replication_window;
            if credential.may_be_unreplicated(window) {
                tokio::time::sleep(REPLICATION_RETRY_WAIT.min(window)).await;
            } else if let Some(fresh) = client.credential(Some(credential.token)).await? {
                authorize(&mut again, &fresh.token)?;
            }
            spare.ready().await.map_err(Into::into)?;
            spare.call(again).await.map_err(Into::into)
        })
    }
}

/// How long a retry waits for GitHub to replicate a token minted moments ago.
const REPLICATION_RETRY_WAIT: Duration = Duration::from_secs(1);

fn authorize(req: &mut Request<OctoBody>, token: &Secret) -> Result<(), ClientError> {
    req.headers_mut().insert(AUTHORIZATION, token.bearer_header()?);
    Ok(())
}

/// A copy of the request to send again, when its body can be copied (Octocrab's are: empty or
/// buffered).
fn copy(req: &Request<OctoBody>) -> Option<Request<OctoBody>> {
    let body = match req.body().try_clone() {
        Some(body) => body,
        None if axum::body::HttpBody::size_hint(req.body()).exact() == Some(0) => OctoBody::empty(),
        None => return None,
    };
    let mut again = Request::new(body);
    *again.method_mut() = req.method().clone();
    *again.uri_mut() = req.uri().clone();
    *again.version_mut() = req.version();
    *again.headers_mut() = req.headers().clone();
    *again.extensions_mut() = req.extensions().clone();
    Some(again)
}
