//! App credentials, the app JWT and the installation-token cache.
//!
//! - The JWT is RS256 with `iat` = now − 60 s, `exp` = now + 540 s and `iss` = the app id; it is
//!   reused until 60 s before `exp`. When GitHub rejects it for its `iat` or `exp` (this
//!   machine's clock is off), the skew is read from the answer's `Date` header and later JWTs
//!   are signed on GitHub's clock.
//! - Installation tokens are cached per (installation, sorted repositories, sorted permissions)
//!   until 5 minutes before `expires_at`. A mint is single-flight: each cache key has its own
//!   async mutex, held across the mint, so concurrent callers wait for one request and share
//!   its token.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::ClientError;

/// Installs jsonwebtoken's RustCrypto provider for the process (once; "already installed" is
/// fine, whoever installed it).
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    });
}

/// A GitHub App's id and private key: what signs the app JWT.
///
/// `Debug` shows the app id only; the key is never printed.
///
/// ```no_run
/// use githubapp::client::AppCredentials;
///
/// let pem = std::fs::read("my-app.private-key.pem")?;
/// let app = AppCredentials::from_pem(123456, &pem)?;
/// assert_eq!(app.app_id(), 123456);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AppCredentials {
    app_id: u64,
    key: EncodingKey,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials").field("app_id", &self.app_id).field("key", &"[redacted]").finish()
    }
}

impl AppCredentials {
    /// Reads the app's RSA private key (the PEM file GitHub hands out, PKCS#1 or PKCS#8).
    ///
    /// Signs a throw-away JWT to prove the key works, so a bad key fails here, at startup,
    /// rather than on the first webhook. The error never contains the key.
    pub fn from_pem(app_id: u64, pem: &[u8]) -> Result<Self, ClientError> {
        install_crypto_provider();
        let key = EncodingKey::from_rsa_pem(pem).map_err(|e| {
            ClientError::Auth(format!("the app private key is not an RSA private key in PEM form ({e})"))
        })?;
        let creds = AppCredentials { app_id, key };
        creds.sign_jwt(unix_now())?;
        Ok(creds)
    }

    /// The app id (the JWT's `iss`).
    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// Signs an app JWT for the given Unix time; returns the token and its `exp`.
    fn sign_jwt(&self, now: u64) -> Result<(String, u64), ClientError> {
        #[derive(serde::Serialize)]
        struct Claims {
            iat: u64,
            exp: u64,
            iss: String,
        }
        let claims = Claims {
            iat: now.saturating_sub(JWT_BACKDATE),
            exp: now + JWT_LIFETIME,
            iss: self.app_id.to_string(),
        };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| ClientError::Auth(format!("cannot sign the app JWT ({e})")))?;
        Ok((jwt, claims.exp))
    }
}

/// Seconds `iat` is backdated by, against clock drift.
const JWT_BACKDATE: u64 = 60;
/// Seconds from now to `exp` (GitHub's limit is 600 on *its* clock).
const JWT_LIFETIME: u64 = 540;
/// A cached JWT is renewed this long before its `exp`.
const JWT_RENEW_BEFORE: Duration = Duration::from_secs(60);
/// An installation token is renewed this long before its `expires_at`.
const TOKEN_RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// Past this many cache keys, expired entries are swept on insert.
const SWEEP_THRESHOLD: usize = 256;

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A token that must not be printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Arc<str>);

impl Secret {
    pub(crate) fn new(s: impl Into<Arc<str>>) -> Self {
        Secret(s.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `Authorization: Bearer <token>`, marked sensitive (never printed by `http`).
    pub(crate) fn bearer_header(&self) -> Result<http::HeaderValue, ClientError> {
        let mut v = http::HeaderValue::from_str(&format!("Bearer {}", self.expose()))
            .map_err(|_| ClientError::Auth("the token is not a valid header value".into()))?;
        v.set_sensitive(true);
        Ok(v)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The app key plus its cached JWT.
pub(crate) struct AppAuth {
    creds: AppCredentials,
    jwt: Mutex<Option<(Secret, Instant)>>,
    /// Seconds GitHub's clock is ahead of this machine's (negative: behind), learned from a
    /// rejected JWT; JWTs are signed at local time plus this.
    skew: AtomicI64,
}

impl AppAuth {
    pub(crate) fn new(creds: AppCredentials) -> Self {
        AppAuth { creds, jwt: Mutex::new(None), skew: AtomicI64::new(0) }
    }

    /// Adopts GitHub's clock after it rejected a JWT for its `iat` or `exp`: `server_now` is
    /// the `Date` of that answer. The cached JWT is dropped so the next one is signed anew.
    pub(crate) fn adopt_server_clock(&self, server_now: chrono::DateTime<chrono::Utc>) {
        let local = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        let skew = server_now.timestamp().saturating_sub(local);
        self.skew.store(skew, Ordering::Relaxed);
        *lock(&self.jwt) = None;
        tracing::warn!(
            skew_seconds = skew,
            "GitHub rejected the app JWT's timestamps: this machine's clock differs from GitHub's; \
             signing JWTs on GitHub's clock from now on (fix the clock: run NTP)"
        );
    }

    pub(crate) fn app_id(&self) -> u64 {
        self.creds.app_id
    }

    /// The current app JWT, signed anew when the cached one is within a minute of `exp`.
    pub(crate) fn jwt(&self) -> Result<Secret, ClientError> {
        let mut slot = lock(&self.jwt);
        if let Some((jwt, renew_at)) = &*slot
            && Instant::now() < *renew_at
        {
            return Ok(jwt.clone());
        }
        let now = unix_now().saturating_add_signed(self.skew.load(Ordering::Relaxed));
        let (jwt, exp) = self.creds.sign_jwt(now)?;
        let lifetime = Duration::from_secs(exp.saturating_sub(now));
        let renew_at = Instant::now() + lifetime.saturating_sub(JWT_RENEW_BEFORE);
        let jwt = Secret::new(jwt);
        *slot = Some((jwt.clone(), renew_at));
        Ok(jwt)
    }
}

/// What an installation token is scoped to; part of the cache key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TokenScope {
    pub(crate) installation_id: u64,
    /// Repository names, sorted and deduplicated; empty = all of the installation's.
    pub(crate) repositories: Vec<String>,
    /// `(permission, level)`, sorted by permission; empty = all of the installation's.
    pub(crate) permissions: Vec<(String, String)>,
}

impl TokenScope {
    pub(crate) fn new(installation_id: u64, repositories: &[&str], permissions: &[(&str, &str)]) -> Self {
        let mut repos: Vec<String> = repositories
            .iter()
            // GitHub wants bare names; accept "owner/name" too.
            .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
            .filter(|r| !r.is_empty())
            .collect();
        repos.sort();
        repos.dedup();
        let perms: BTreeMap<String, String> =
            permissions.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        TokenScope { installation_id, repositories: repos, permissions: perms.into_iter().collect() }
    }

    /// The body of `POST /app/installations/{id}/access_tokens`, `None` for an unscoped token.
    pub(crate) fn request_body(&self) -> Option<serde_json::Value> {
        if self.repositories.is_empty() && self.permissions.is_empty() {
            return None;
        }
        let mut body = serde_json::Map::new();
        if !self.repositories.is_empty() {
            body.insert("repositories".into(), self.repositories.clone().into());
        }
        if !self.permissions.is_empty() {
            let perms: serde_json::Map<String, serde_json::Value> =
                self.permissions.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
            body.insert("permissions".into(), perms.into());
        }
        Some(body.into())
    }
}

/// An installation token and when to renew it.
#[derive(Clone, Debug)]
pub(crate) struct CachedToken {
    pub(crate) token: Secret,
    pub(crate) renew_at: Instant,
    /// When it was minted: GitHub may answer 401 to a token for a few seconds after, until
    /// it has replicated.
    pub(crate) minted_at: Instant,
}

impl CachedToken {
    /// Builds the cache entry from `expires_at`, measured against GitHub's `Date` header when
    /// present (so a skewed local clock does not matter), else against the local clock.
    pub(crate) fn new(
        token: Secret,
        expires_at: chrono::DateTime<chrono::Utc>,
        server_now: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Self {
        let now = server_now.unwrap_or_else(chrono::Utc::now);
        let lifetime = (expires_at - now).to_std().unwrap_or(Duration::ZERO).min(Duration::from_secs(3600));
        let usable =
            if lifetime > TOKEN_RENEW_BEFORE * 2 { lifetime - TOKEN_RENEW_BEFORE } else { lifetime / 2 };
        let minted_at = Instant::now();
        CachedToken { token, renew_at: minted_at + usable, minted_at }
    }

    fn is_fresh(&self) -> bool {
        Instant::now() < self.renew_at
    }
}

/// One scope's token, minted by one caller at a time.
#[derive(Default)]
struct SlotInner {
    state: Arc<tokio::sync::Mutex<SlotState>>,
    /// Mints that failed so far: a caller that waited through a failed mint gets its error
    /// instead of minting again (during an outage, N waiting callers would otherwise mint one
    /// after another, the last waiting N times as long).
    failures: AtomicU64,
    /// Removed from the cache by an installation change: callers that waited on it go to the
    /// scope's new slot (a token minted across the change may predate it).
    invalidated: AtomicBool,
}

#[derive(Default)]
struct SlotState {
    token: Option<CachedToken>,
    last_error: Option<ClientError>,
}

type Slot = Arc<SlotInner>;

/// The installation-token cache shared by every [`Client`](super::Client) made from one
/// [`Client::new`](super::Client::new).
#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<TokenScope, Slot>>,
}

impl TokenCache {
    fn slot(&self, scope: &TokenScope) -> Slot {
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get(scope) {
            return slot.clone();
        }
        if slots.len() >= SWEEP_THRESHOLD {
            // Drop entries nobody is minting into whose token is gone or stale.
            slots.retain(|_, slot| match slot.state.try_lock() {
                Ok(state) => state.token.as_ref().is_some_and(CachedToken::is_fresh),
                Err(_) => true,
            });
        }
        let slot = Slot::default();
        slots.insert(scope.clone(), slot.clone());
        slot
    }

    /// The cached token for `scope`, or the result of `mint` (run by at most one caller at a
    /// time per scope; callers that waited through a failed mint get its error). With
    /// `failed` set (a token GitHub just answered 401 to), that token is not reused: unless
    /// another caller already replaced it, a new one is minted.
    pub(crate) async fn get<F, Fut>(
        &self,
        scope: &TokenScope,
        failed: Option<&Secret>,
        mint: F,
    ) -> Result<CachedToken, ClientError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CachedToken, ClientError>>,
    {
        let (slot, failures_before, mut state) = loop {
            let slot = self.slot(scope);
            let failures_before = slot.failures.load(Ordering::SeqCst);
            let state = slot.state.clone().lock_owned().await;
            if !slot.invalidated.load(Ordering::SeqCst) {
                break (slot, failures_before, state);
            }
        };
        if let Some(tok) = &state.token
            && tok.is_fresh()
            && failed != Some(&tok.token)
        {
            return Ok(tok.clone());
        }
        if slot.failures.load(Ordering::SeqCst) != failures_before
            && let Some(e) = &state.last_error
        {
            return Err(e.shared_copy());
        }
        state.token = None;
        match mint().await {
            Ok(fresh) => {
                state.token = Some(fresh.clone());
                state.last_error = None;
                Ok(fresh)
            }
            Err(e) => {
                state.last_error = Some(e.shared_copy());
                slot.failures.fetch_add(1, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    /// Forgets every token of one installation (all scopes).
    pub(crate) fn invalidate_installation(&self, installation_id: u64) {
        self.drop_slots(|scope| scope.installation_id == installation_id);
    }

    /// Forgets every cached token.
    pub(crate) fn clear(&self) {
        self.drop_slots(|_| true);
    }

    /// Removes the slots of the scopes `which` selects. Callers already holding one must not
    /// use its token either, nor one being minted into it: the slot is marked, and they go
    /// to the scope's new slot (see [`get`](Self::get)).
    fn drop_slots(&self, which: impl Fn(&TokenScope) -> bool) {
        let removed: Vec<Slot> = {
            let mut slots = lock(&self.slots);
            let keys: Vec<TokenScope> = slots.keys().filter(|k| which(k)).cloned().collect();
            let removed: Vec<Slot> = keys.iter().filter_map(|k| slots.remove(k)).collect();
            // Marked under the cache's lock: whoever finds the slot after this sees the mark.
            for slot in &removed {
                slot.invalidated.store(true, Ordering::SeqCst);
            }
            removed
        };
        for slot in removed {
            if let Ok(mut state) = slot.state.try_lock() {
                state.token = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(value: &str) -> CachedToken {
        CachedToken::new(Secret::new(value.to_owned()), chrono::Utc::now() + chrono::Duration::hours(1), None)
    }

    /// What waiters get of a failed mint: GitHub's answers as they are; errors that cannot be
    /// copied as `TokenUnavailable` (transient), never as `Auth` (which means bad credentials).
    #[test]
    fn shared_errors_keep_their_kind() {
        let decode = ClientError::Decode {
            method: http::Method::POST,
            path: "/app/installations/1/access_tokens".into(),
            source: serde_json::from_str::<u8>("x").unwrap_err(),
        };
        let shared = decode.shared_copy();
        assert!(
            matches!(&shared, ClientError::TokenUnavailable(m) if m.contains("cannot decode")),
            "{shared:?}"
        );
        let auth = ClientError::Auth("bad key".into()).shared_copy();
        assert!(matches!(auth, ClientError::Auth(ref m) if m == "bad key"));
    }

    /// A caller that queued behind a mint which an installation change (or a full clear) then
    /// overtook does not get that mint's token, which may carry the old permissions: it mints
    /// anew, and its token is the one cached.
    #[tokio::test]
    async fn callers_waiting_across_an_invalidation_mint_anew() {
        let by_installation: fn(&TokenCache) = |cache| cache.invalidate_installation(7);
        let everything: fn(&TokenCache) = TokenCache::clear;
        for drop_tokens in [by_installation, everything] {
            let cache = Arc::new(TokenCache::default());
            let scope = TokenScope::new(7, &[], &[]);
            let (release, released) = tokio::sync::oneshot::channel::<()>();
            let first = tokio::spawn({
                let (cache, scope) = (cache.clone(), scope.clone());
                async move {
                    cache
                        .get(&scope, None, || async move {
                            let _ = released.await;
                            Ok(token("before"))
                        })
                        .await
                }
            });
            tokio::time::sleep(Duration::from_millis(50)).await; // `first` is minting
            let second = tokio::spawn({
                let (cache, scope) = (cache.clone(), scope.clone());
                async move { cache.get(&scope, None, || async { Ok(token("after")) }).await }
            });
            tokio::time::sleep(Duration::from_millis(50)).await; // `second` waits on the slot
            drop_tokens(&cache);
            let _ = release.send(());
            assert_eq!(first.await.unwrap().unwrap().token.expose(), "before");
            assert_eq!(second.await.unwrap().unwrap().token.expose(), "after");
            let cached = cache.get(&scope, None, || async { Ok(token("unexpected")) }).await.unwrap();
            assert_eq!(cached.token.expose(), "after");
        }
    }
}
