//! Bench servers for the webhook load benchmark (DESIGN §12), driven by `bench/load.sh`.
//!
//! ```text
//! bench <mode> [port]        # serves POST /webhooks/github on 127.0.0.1:<port> (default 8787)
//! ```
//!
//! One mode per process, so each is measured alone (clean peak RSS):
//!
//! | mode          | what `POST /webhooks/github` does                                         | answer |
//! |---------------|---------------------------------------------------------------------------|--------|
//! | `bare`        | plain axum: read the body (25 MiB limit)                                  | 200    |
//! | `verify-scan` | hand-written reference: HMAC check, delivery headers, borrowed `action` scan | 202 |
//! | `value`       | as `verify-scan`, but parses the whole body into `serde_json::Value`      | 200    |
//! | `ingest`      | githubapp's router: verify, route, enqueue a background no-op handler; the memory-queue workers drain in this process | 202 |
//! | `typed`       | githubapp's router: a foreground no-op handler taking `PullRequestEvent`  | 200    |
//! | `noop`        | githubapp's router: a foreground no-op handler taking nothing (the pipeline without the queue) | 200 |
//!
//! `GET /bench/stats` answers `{"handled": N, ...}` (handler runs so far; for the githubapp
//! modes also the queue's counts), so the load script can check that work really ran.
//!
//! The webhook secret is `$BENCH_SECRET` (default `githubapp-bench-secret`); the tokio
//! runtime uses `$BENCH_THREADS` worker threads (default: the CPUs this process may run on,
//! so `taskset -c 1 bench ...` gives a one-thread runtime).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use githubapp::events::PullRequestEvent;
use githubapp::prelude::*;
use githubapp::webhook::MAX_BODY_BYTES;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

const DEFAULT_SECRET: &str = "githubapp-bench-secret";
const DEFAULT_PORT: u16 = 8787;
const WEBHOOK_PATH: &str = "/webhooks/github";
const MODES: &str = "bare | verify-scan | value | ingest | typed | noop";

type HmacSha256 = Hmac<Sha256>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Handler runs (githubapp modes) or accepted deliveries (reference modes).
static HANDLED: AtomicU64 = AtomicU64::new(0);

// ---- githubapp handlers (each mode keeps only its own with `Registry::filter`) ----

/// `ingest`: enqueued by the webhook route, run by a memory-queue worker.
#[github::on("pull_request.opened", background)]
async fn ingest_noop() -> Result<()> {
    HANDLED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// `noop`: runs before the answer and takes nothing: verify, dedupe, route, run, answer.
#[github::on("pull_request.opened")]
async fn noop_() -> Result<()> {
    HANDLED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// `typed`: runs before the answer; the payload is deserialized into the typed event.
#[github::on("pull_request.opened")]
async fn typed_noop(event: PullRequestEvent) -> Result<()> {
    std::hint::black_box(&event);
    HANDLED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

// ---- hand-written references ----

/// The minimal scan: `action` borrowed from the body, every other field skipped
/// (serde ignores unknown fields through `IgnoredAny`, without building them).
#[derive(Deserialize)]
struct Scan<'a> {
    #[serde(borrow, default)]
    action: Option<&'a str>,
}

/// Shared by the two reference endpoints: the keyed HMAC state, cloned per request.
#[derive(Clone)]
struct Reference {
    key: Arc<HmacSha256>,
}

impl Reference {
    /// `X-Hub-Signature-256: sha256=<64 hex>` over the raw body, constant-time compare.
    fn verified(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let Some(value) = headers.get("x-hub-signature-256") else { return false };
        let Some(hex_sig) = value.as_bytes().strip_prefix(b"sha256=") else { return false };
        let mut expected = [0u8; 32];
        if hex::decode_to_slice(hex_sig, &mut expected).is_err() {
            return false;
        }
        let mut mac = (*self.key).clone();
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    }

    /// Signature (401), then `X-GitHub-Event` / `X-GitHub-Delivery` present (400).
    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), StatusCode> {
        if !self.verified(headers, body) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        let present = |name: &str| headers.get(name).is_some_and(|v| !v.is_empty());
        if !present("x-github-event") || !present("x-github-delivery") {
            return Err(StatusCode::BAD_REQUEST);
        }
        Ok(())
    }
}

async fn verify_scan(State(r): State<Reference>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if let Err(status) = r.check(&headers, &body) {
        return status;
    }
    match serde_json::from_slice::<Scan<'_>>(&body) {
        Ok(scan) => {
            std::hint::black_box(scan.action);
            HANDLED.fetch_add(1, Ordering::Relaxed);
            StatusCode::ACCEPTED
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

async fn value(State(r): State<Reference>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if let Err(status) = r.check(&headers, &body) {
        return status;
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => {
            std::hint::black_box(&v);
            HANDLED.fetch_add(1, Ordering::Relaxed);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

async fn bare(body: Bytes) -> StatusCode {
    std::hint::black_box(&body);
    HANDLED.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

fn reference_router(secret: &str, scan: bool) -> Result<Router, BoxError> {
    let r = Reference { key: Arc::new(HmacSha256::new_from_slice(secret.as_bytes())?) };
    let route = if scan { post(verify_scan) } else { post(value) };
    Ok(Router::new()
        .route(WEBHOOK_PATH, route.layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
        .with_state(r)
        .merge(stats_router(None)))
}

/// githubapp's real router with only the handlers whose name contains `only`, and its
/// workers (background handlers run in this process, on the memory queue).
fn githubapp_router(secret: &str, only: &'static str) -> Result<(Router, githubapp::WorkerHandle), BoxError> {
    let registry = githubapp::Registry::global().filter(|name| name.contains(only));
    if registry.handlers().len() != 1 {
        return Err(format!("expected exactly one handler matching `{only}`, found {:?}", registry).into());
    }
    let app = githubapp::App::builder()
        .webhook_secret(secret)
        // Far beyond any request: a foreground handler is always awaited, never cut to 202.
        .webhook_deadline(Duration::from_secs(60))
        .registry(registry)
        .build()?;
    let workers = app.spawn_workers();
    let router = app.router()?.merge(stats_router(Some(app.context().clone())));
    Ok((router, workers))
}

fn stats_router(ctx: Option<githubapp::AppContext>) -> Router {
    Router::new().route(
        "/bench/stats",
        get(move || {
            let ctx = ctx.clone();
            async move {
                let handled = HANDLED.load(Ordering::Relaxed);
                let queue = match &ctx {
                    Some(ctx) => ctx.queue().stats().await.ok().and_then(|s| serde_json::to_value(s).ok()),
                    None => None,
                };
                Json(serde_json::json!({ "handled": handled, "queue": queue }))
            }
        }),
    )
}

fn main() -> std::result::Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let Some(mode) = args.next() else {
        return Err(format!("usage: bench <{MODES}> [port]").into());
    };
    let port: u16 = match args.next() {
        Some(p) => p.parse().map_err(|e| format!("bad port `{p}`: {e}"))?,
        None => DEFAULT_PORT,
    };
    let secret = std::env::var("BENCH_SECRET").unwrap_or_else(|_| DEFAULT_SECRET.to_string());

    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = std::env::var("BENCH_THREADS").ok().and_then(|v| v.parse::<usize>().ok()) {
        rt.worker_threads(n.max(1));
    }
    rt.build()?.block_on(serve(mode, port, secret))
}

async fn serve(mode: String, port: u16, secret: String) -> std::result::Result<(), BoxError> {
    let mut _workers = None;
    let router = match mode.as_str() {
        "bare" => Router::new()
            .route(WEBHOOK_PATH, post(bare).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
            .merge(stats_router(None)),
        "verify-scan" => reference_router(&secret, true)?,
        "value" => reference_router(&secret, false)?,
        "ingest" => {
            let (router, workers) = githubapp_router(&secret, "::ingest_")?;
            _workers = Some(workers);
            router
        }
        "typed" => githubapp_router(&secret, "::typed_")?.0,
        "noop" => githubapp_router(&secret, "::noop_")?.0,
        other => return Err(format!("unknown mode `{other}`; expected one of: {MODES}").into()),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("bench: mode {mode} listening on http://{addr}{WEBHOOK_PATH}");
    // Runs until the load script stops the process (SIGTERM).
    axum::serve(listener, router).await?;
    Ok(())
}
