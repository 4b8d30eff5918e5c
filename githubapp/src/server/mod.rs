//! Assembles the axum [`Router`](axum::Router): the webhook route, the health route and every
//! registered route, sharing one [`AppContext`] as state.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::Error;
use crate::context::AppContext;
use crate::webhook::{
    DeliveryHeaders, DeliveryOutcome, Dispatcher, MAX_BODY_BYTES, WebhookError, X_HUB_SIGNATURE_256,
    parse_delivery,
};

/// The built-in health route: `GET /healthz` answers 200 `ok`.
pub const HEALTH_PATH: &str = "/healthz";

/// The router for an app: webhook route, health route, registered routes.
pub(crate) fn router(ctx: AppContext) -> Result<axum::Router, Error> {
    if ctx.inner.verifier.is_none() {
        // The builder only leaves it unset when no secret was configured.
        return Err(crate::ConfigError::Missing {
            var: "GITHUBAPP_WEBHOOK_SECRET",
            hint: "set it to the webhook secret of your GitHub App; the webhook route never accepts unsigned deliveries",
        }
        .into());
    }
    let path = ctx.config().webhook_path.clone();
    let mut router: axum::Router<AppContext> =
        axum::Router::new().route(&path, post(webhook)).route(HEALTH_PATH, get(|| async { "ok" }));
    for r in ctx.registry().routes() {
        router = (r.register)(router);
    }
    Ok(router.with_state(ctx))
}

/// The webhook endpoint, checks in the order of the [`crate::webhook`] module docs.
async fn webhook(State(ctx): State<AppContext>, headers: HeaderMap, body: Body) -> Response {
    let body = match read_body(&headers, body).await {
        Ok(body) => body,
        Err(e) => return reject(e),
    };
    // The builder guarantees a verifier before the route exists.
    let Some(verifier) = ctx.inner.verifier.as_ref() else {
        return reject(WebhookError::Signature);
    };
    let mut sigs = headers.get_all(&X_HUB_SIGNATURE_256).iter();
    let sig = match (sigs.next(), sigs.next()) {
        (Some(one), None) => Some(one.as_bytes()),
        _ => None,
    };
    if let Err(e) = verifier.verify(sig, &body) {
        return reject(e);
    }
    let meta = match DeliveryHeaders::from_headers(&headers) {
        Ok(m) => m,
        Err(e) => return reject(e),
    };
    let delivery = match parse_delivery(meta, body) {
        Ok(d) => d,
        Err(e) => return reject(e),
    };
    let (id, event) = (delivery.id.clone(), delivery.event.clone());
    let outcome = Dispatcher::deliver(&ctx, delivery).await;
    let status =
        StatusCode::from_u16(outcome.status_for(&event)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // The delivery id was validated as a UUID, so it needs no JSON escaping.
    let body = match outcome {
        DeliveryOutcome::Failed => [
            r#"{"error":"a handler failed; see the app's logs for this delivery","delivery":""#,
            &id,
            r#""}"#,
        ]
        .concat(),
        other => [r#"{"ok":true,"delivery":""#, &id, r#"","outcome":""#, other.as_str(), r#""}"#].concat(),
    };
    (status, [(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Reads the body, at most [`MAX_BODY_BYTES`]: a larger `Content-Length` is refused before
/// reading, a body that runs past the limit while it arrives is cut off. (A body that arrives
/// in one piece is not copied.)
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, WebhookError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(WebhookError::TooLarge);
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(read_error)
}

/// 413 when our limit or one layered in front of this route (tower-http's
/// `RequestBodyLimitLayer`, say) cut the body short, else 400.
fn read_error(err: axum::Error) -> WebhookError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return WebhookError::TooLarge;
        }
        source = e.source();
    }
    WebhookError::Payload("cannot read the request body".into())
}

fn reject(err: WebhookError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
    tracing::warn!(status = status.as_u16(), reason = %err, "webhook delivery rejected");
    let message = match err {
        // No detail on authentication failures.
        WebhookError::Signature => "unauthorized".to_string(),
        other => other.to_string(),
    };
    (status, Json(json!({ "error": message }))).into_response()
}

/// Resolves on ctrl-c or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
