//! A fake GitHub REST API for tests: an axum server on an ephemeral loopback port.
//!
//! It mints installation tokens (checking the app JWT against a fixed test key), serves the
//! endpoints the typed [`Client`] methods call, records every request, and can inject faults
//! (5xx, rate limits, revoked tokens, canned answers). Your tests and githubapp's own use it
//! the same way:
//!
//! ```no_run
//! use githubapp::testing::fake_github::FakeGitHub;
//!
//! # async fn demo() -> Result<(), githubapp::client::ClientError> {
//! let github = FakeGitHub::start().await;
//! let gh = github.client().installation(1);
//!
//! gh.create_issue_comment("Codertocat/Hello-World", 1, "Thanks!").await?;
//!
//! let comment = github
//!     .wait_for(|r| r.method == "POST" && r.path.ends_with("/issues/1/comments"), std::time::Duration::from_secs(5))
//!     .await
//!     .expect("the comment was posted");
//! assert_eq!(comment.body.as_ref().and_then(|b| b["body"].as_str()), Some("Thanks!"));
//! assert_eq!(github.token_mints(), 1);
//! # Ok(()) }
//! ```
//!
//! What it serves (also under `/api/v3`, like GitHub Enterprise Server; see
//! [`FakeGitHub::ghes_url`]):
//!
//! | endpoint | auth |
//! |---|---|
//! | `POST /app/installations/{id}/access_tokens` (mints `ghs_fake_<n>`, 1 h) | app JWT |
//! | `GET /app`, `GET /app/installations`, `GET /repos/{o}/{r}/installation` | app JWT |
//! | `GET /installation/repositories` | installation token |
//! | `POST /repos/{o}/{r}/issues`, `.../issues/{n}/comments`, `.../issues/{n}/labels` | token |
//! | `GET /repos/{o}/{r}/commits/{sha}`, `GET .../pulls/{n}/files` (paginated, `Link`) | token |
//! | `POST .../check-runs`, `.../deployments`, `.../deployments/{id}/statuses` | token |
//! | `GET .../collaborators/{user}/permission` | token |
//! | `GET /user`, `/user/repos`, `/user/orgs` | user token ([`FakeGitHub::user_token`]) |
//!
//! A missing or unknown token is a 401 with GitHub's error JSON; any other route is a recorded
//! 404 (or `200 {}` for [`FakeGitHub::dry_run`]). App JWTs are checked for RS256 with the test
//! key, `iss` = [`FakeGitHub::app_id`], and `exp` at most 10 minutes ahead.
//!
//! The key in [`FakeGitHub::private_key_pem`] is public test material: never use it for a real
//! app.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use http::Method;
use jsonwebtoken::DecodingKey;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use crate::client::{AppCredentials, Client, ClientConfig};

mod routes;

/// The test-only RSA private key (PKCS#1 PEM) the fake accepts app JWTs from.
const TEST_PRIVATE_KEY: &str = include_str!("test_key.pem");
/// Its public half.
const TEST_PUBLIC_KEY: &str = include_str!("test_key.pub.pem");
/// The app id the fake expects as the JWT's `iss`.
const FAKE_APP_ID: u64 = 4242;
/// The installation every fake GitHub starts with: on `Codertocat`, with `Hello-World` (the
/// account and repository of GitHub's example payloads).
pub const DEFAULT_INSTALLATION_ID: u64 = 1;
const DOCS_URL: &str = "https://docs.github.com/rest";

/// A request the fake received.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The path as received (with the `/api/v3` prefix for GHES-style calls).
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Headers, names lowercased (repeated headers joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
    /// The status the fake answered with.
    pub status: u16,
}

impl RecordedRequest {
    /// A header's value (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// A query parameter's (first) value.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// A rate limit to answer with, for [`FakeGitHub::rate_limit_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimit {
    /// `429` with `Retry-After: <seconds>` (a secondary rate limit).
    RetryAfter(u64),
    /// `403` with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` = now + `reset_in`
    /// seconds (the primary limit is used up).
    Exhausted {
        /// Seconds until the limit resets.
        reset_in: u64,
    },
}

#[derive(Debug, Clone)]
enum FaultKind {
    Status(u16),
    RateLimit(RateLimit),
}

#[derive(Debug)]
struct Fault {
    method: String,
    path_prefix: String,
    kind: FaultKind,
    remaining: usize,
}

#[derive(Debug, Clone)]
struct Grant {
    installation_id: Option<u64>,
    /// Empty: all repositories.
    repositories: Vec<String>,
    user: Option<String>,
    /// Before this instant the token is answered 401, like a token GitHub has not yet
    /// replicated ([`FakeGitHub::set_token_replication_delay`]).
    usable_from: Option<std::time::Instant>,
}

#[derive(Debug, Clone)]
struct InstallationFixture {
    account: String,
    repositories: Vec<String>,
}

#[derive(Default)]
struct Inner {
    requests: Vec<RecordedRequest>,
    tokens: HashMap<String, Grant>,
    installations: BTreeMap<u64, InstallationFixture>,
    faults: Vec<Fault>,
    overrides: Vec<(String, String, u16, Value)>,
    pr_files: HashMap<(String, u64), Vec<Value>>,
    commit_files: HashMap<(String, String), Vec<Value>>,
    permissions: HashMap<(String, String), String>,
    labels: HashMap<(String, u64), Vec<String>>,
    token_lifetime: Option<i64>,
    replication_delay: Duration,
}

struct Shared {
    app_id: u64,
    key: DecodingKey,
    base_url: String,
    dry_run: bool,
    next_id: AtomicU64,
    next_token: AtomicU64,
    mints: AtomicUsize,
    /// Seconds the fake's clock is ahead of the machine's ([`FakeGitHub::set_clock_offset`]).
    clock_offset: AtomicI64,
    inner: Mutex<Inner>,
    recorded: watch::Sender<usize>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The fake's clock: the machine's plus the configured offset.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::Duration::seconds(self.clock_offset.load(Ordering::Relaxed))
    }
}

/// A fake GitHub API server on `127.0.0.1`, for tests. Stops when dropped.
///
/// See the [module documentation](self) for what it serves and an example.
pub struct FakeGitHub {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for FakeGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGitHub").field("url", &self.shared.base_url).finish()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl FakeGitHub {
    /// Starts the fake on an ephemeral loopback port. Any other route answers a recorded 404.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (a broken test environment).
    pub async fn start() -> FakeGitHub {
        Self::start_with(false).await
    }

    /// Starts a fake whose unknown routes answer `200 {}` (for `receive --dry-run`: handlers
    /// run against it and nothing reaches GitHub).
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub async fn dry_run() -> FakeGitHub {
        Self::start_with(true).await
    }

    async fn start_with(dry_run: bool) -> FakeGitHub {
        crate::client::AppCredentials::from_pem(FAKE_APP_ID, TEST_PRIVATE_KEY.as_bytes())
            .expect("the bundled test key is valid");
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address of a bound listener");
        let key = DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY.as_bytes())
            .expect("the bundled test public key is valid");
        let mut inner = Inner::default();
        inner.installations.insert(
            DEFAULT_INSTALLATION_ID,
            InstallationFixture { account: "Codertocat".into(), repositories: vec!["Hello-World".into()] },
        );
        let shared = Arc::new(Shared {
            app_id: FAKE_APP_ID,
            key,
            base_url: format!("http://{addr}"),
            dry_run,
            next_id: AtomicU64::new(1000),
            next_token: AtomicU64::new(1),
            mints: AtomicUsize::new(0),
            clock_offset: AtomicI64::new(0),
            inner: Mutex::new(inner),
            recorded: watch::channel(0).0,
        });
        let app = Router::new().fallback(routes::handle).with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = server.await {
                tracing::warn!(error = %e, "fake GitHub server stopped");
            }
        });
        FakeGitHub { shared, addr, shutdown: Some(tx) }
    }

    /// The API base URL, `http://127.0.0.1:PORT` (use as [`ClientConfig::api_url`]).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The same API under `/api/v3`, as GitHub Enterprise Server serves it.
    pub fn ghes_url(&self) -> String {
        format!("{}/api/v3", self.shared.base_url)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The app id the fake expects in JWTs.
    pub fn app_id(&self) -> u64 {
        self.shared.app_id
    }

    /// The test-only private key (PEM) that signs accepted JWTs. Public: never use it for a
    /// real app.
    pub fn private_key_pem(&self) -> &'static str {
        TEST_PRIVATE_KEY
    }

    /// The public half of [`private_key_pem`](Self::private_key_pem), to verify JWTs.
    pub fn public_key_pem(&self) -> &'static str {
        TEST_PUBLIC_KEY
    }

    /// Credentials the fake accepts ([`app_id`](Self::app_id) + the test key).
    ///
    /// # Panics
    ///
    /// Never: the bundled key is checked when the fake starts.
    pub fn credentials(&self) -> AppCredentials {
        AppCredentials::from_pem(self.shared.app_id, TEST_PRIVATE_KEY.as_bytes())
            .expect("the bundled test key is valid")
    }

    /// A client configuration pointing at the fake, with the wait for token replication off
    /// ([`ClientConfig::token_replication_window`] zero), so a test that revokes a token sees
    /// it replaced at once. Tests of that wait set the window (and
    /// [`set_token_replication_delay`](Self::set_token_replication_delay)).
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            api_url: self.url(),
            token_replication_window: Duration::ZERO,
            ..ClientConfig::default()
        }
    }

    /// An app-level client for the fake (derive installation clients with
    /// [`Client::installation`]).
    ///
    /// # Panics
    ///
    /// Never in practice: the configuration is known-good.
    pub fn client(&self) -> Client {
        Client::new(self.client_config(), Some(self.credentials())).expect("a client for the fake")
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Waits until a request matching `pred` has been received (including earlier ones) and
    /// returns the first such; `None` after `timeout`.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&RecordedRequest) -> bool,
        timeout: Duration,
    ) -> Option<RecordedRequest> {
        let mut seen = self.shared.recorded.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            seen.borrow_and_update();
            if let Some(found) = self.shared.lock().requests.iter().find(|r| pred(r)) {
                return Some(found.clone());
            }
            match tokio::time::timeout_at(deadline, seen.changed()).await {
                Ok(Ok(())) => continue,
                _ => return self.shared.lock().requests.iter().find(|r| pred(r)).cloned(),
            }
        }
    }

    /// How many installation tokens were minted.
    pub fn token_mints(&self) -> usize {
        self.shared.mints.load(Ordering::SeqCst)
    }

    /// Answers the next `n` requests whose method is `method` (`"*"` for any) and whose path
    /// (without `/api/v3`) starts with `path_prefix` with `status` and GitHub's error JSON.
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, n: usize) {
        self.push_fault(method, path_prefix, FaultKind::Status(status), n);
    }

    /// Answers the next `n` matching requests (as for [`fail_next`](Self::fail_next)) with a
    /// rate limit.
    pub fn rate_limit_next(&self, method: &str, path_prefix: &str, limit: RateLimit, n: usize) {
        self.push_fault(method, path_prefix, FaultKind::RateLimit(limit), n);
    }

    fn push_fault(&self, method: &str, path_prefix: &str, kind: FaultKind, n: usize) {
        self.shared.lock().faults.push(Fault {
            method: method.to_ascii_uppercase(),
            path_prefix: path_prefix.to_owned(),
            kind,
            remaining: n,
        });
    }

    /// Always answers `method path` (exact path without `/api/v3` and query) with `status`
    /// and `body`, before authentication; a later call for the same route replaces it.
    pub fn respond(&self, method: &str, path: &str, status: u16, body: Value) {
        let mut inner = self.shared.lock();
        let method = method.to_ascii_uppercase();
        inner.overrides.retain(|(m, p, _, _)| !(m == &method && p == path));
        inner.overrides.push((method, path.to_owned(), status, body));
    }

    /// Drops pending faults and canned answers.
    pub fn clear_faults(&self) {
        let mut inner = self.shared.lock();
        inner.faults.clear();
        inner.overrides.clear();
    }

    /// Invalidates every installation token minted so far: the next call with one gets a 401.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.retain(|_, g| g.installation_id.is_none());
    }

    /// Makes minted tokens expire `seconds` after minting (default 3600).
    pub fn set_token_lifetime(&self, seconds: i64) {
        self.shared.lock().token_lifetime = Some(seconds);
    }

    /// Sets the fake's clock `seconds` ahead of this machine's (negative: behind), as when the
    /// machine's clock has drifted. App JWTs are checked against the fake's clock (`iat` at
    /// most 60 s ahead of it, `exp` at most 10 minutes), every answer carries it in its
    /// `Date` header, and minted tokens expire by it.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.shared.clock_offset.store(seconds, Ordering::Relaxed);
    }

    /// Makes every token minted from now on answer `401 Bad credentials` for `delay` after it
    /// was minted, like a token GitHub has not yet replicated to the server a request reaches.
    pub fn set_token_replication_delay(&self, delay: Duration) {
        self.shared.lock().replication_delay = delay;
    }

    /// Registers an installation on `account` with some repositories (names). Installation 1
    /// on `Codertocat` with `Hello-World` exists from the start (the account of GitHub's
    /// example payloads). Tokens can be minted for any installation id.
    pub fn add_installation(&self, id: u64, account: &str, repositories: &[&str]) {
        self.shared.lock().installations.insert(
            id,
            InstallationFixture {
                account: account.to_owned(),
                repositories: repositories.iter().map(|r| (*r).to_owned()).collect(),
            },
        );
    }

    /// A user (OAuth) token for `login`, accepted by `/user/*` and repository endpoints.
    pub fn user_token(&self, login: &str) -> String {
        let token = format!("ghu_fake_{}", self.shared.next_token.fetch_add(1, Ordering::Relaxed));
        self.shared.lock().tokens.insert(
            token.clone(),
            Grant {
                installation_id: None,
                repositories: Vec::new(),
                user: Some(login.to_owned()),
                usable_from: None,
            },
        );
        token
    }

    /// The files `GET /repos/{repo}/pulls/{number}/files` returns (objects with `filename`,
    /// `status`, ...; see [`fake_file`](Self::fake_file)). Default: one modified `README.md`.
    pub fn set_pull_request_files(&self, repo: &str, number: u64, files: Vec<Value>) {
        self.shared.lock().pr_files.insert((repo.to_owned(), number), files);
    }

    /// The files of `GET /repos/{repo}/commits/{sha}`. Default: one modified `README.md`.
    pub fn set_commit_files(&self, repo: &str, sha: &str, files: Vec<Value>) {
        self.shared.lock().commit_files.insert((repo.to_owned(), sha.to_owned()), files);
    }

    /// A plausible changed-file object.
    pub fn fake_file(filename: &str, status: &str) -> Value {
        json!({
            "sha": "bbcd538c8e72b8c175046e27cc8f907076331401",
            "filename": filename,
            "status": status,
            "additions": 1,
            "deletions": 0,
            "changes": 1,
            "patch": "@@ -0,0 +1 @@\n+hello",
        })
    }

    /// What `GET /repos/{repo}/collaborators/{username}/permission` answers (`admin`,
    /// `write`, `read`, `none`). Default: `read`.
    pub fn set_permission(&self, repo: &str, username: &str, permission: &str) {
        self.shared.lock().permissions.insert((repo.to_owned(), username.to_owned()), permission.to_owned());
    }
}
