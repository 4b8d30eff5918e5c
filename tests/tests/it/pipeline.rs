//! DESIGN §5: every answer of the webhook route, and what handlers observe.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use githubapp::events::{IssuesEvent, PullRequestEvent};
use githubapp::prelude::*;
use githubapp::testing::{FakeGitHub, WebhookDelivery};
use http::{Request, StatusCode};
use tower::ServiceExt;

use crate::common::{SECRET, Seen, SharedSeen, app, app_fixture, fixture};

const MODULE: &str = "it::pipeline";

#[github::on("issues.opened")]
async fn comment(event: IssuesEvent, gh: Client, seen: State<SharedSeen>) -> Result<()> {
    seen.push("comment");
    gh.create_issue_comment(&event.repository, event.issue.number, "Thanks!").await?;
    Ok(())
}

#[github::on("issues.deleted")]
async fn fails(_d: Delivery, seen: State<SharedSeen>) -> Result<()> {
    seen.push("fails");
    Err(Error::handler("secret detail 7f3a"))
}

#[github::on("issues.reopened")]
async fn panics(seen: State<SharedSeen>) -> Result<()> {
    seen.push("panics");
    panic!("handler bug");
}

#[github::on("pull_request.opened", background, retries = 2)]
async fn background(event: PullRequestEvent, gh: Client, d: Delivery, seen: State<SharedSeen>) -> Result<()> {
    seen.push(format!("background attempt {}", d.attempt));
    if d.attempt == 1 {
        return Err(Error::handler("transient"));
    }
    gh.add_labels(&event.repository, event.number, &["triage"]).await?;
    seen.push("background");
    Ok(())
}

#[github::on("label.created")]
async fn slow(seen: State<SharedSeen>) {
    tokio::time::sleep(Duration::from_millis(3000)).await;
    seen.push("slow");
}

#[github::on("*")]
async fn everything(d: Delivery, seen: State<SharedSeen>) {
    seen.push(format!("*:{}", d.event));
}

struct Harness {
    github: FakeGitHub,
    app: githubapp::App,
    seen: Arc<Seen>,
}

async fn harness() -> Harness {
    let github = FakeGitHub::start().await;
    let seen = Arc::new(Seen::default());
    let app = app(&github, MODULE, seen.clone());
    Harness { github, app, seen }
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let res = self.app.router().unwrap().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }
    async fn deliver(&self, d: &WebhookDelivery) -> (StatusCode, serde_json::Value) {
        self.send(d.request()).await
    }
}

fn issues(label: &str) -> WebhookDelivery {
    WebhookDelivery::new("issues", app_fixture("issues", label, 1)).secret(SECRET)
}

fn without(req: Request<Body>, header: &str) -> Request<Body> {
    let (mut parts, body) = req.into_parts();
    parts.headers.remove(header);
    Request::from_parts(parts, body)
}

fn with(req: Request<Body>, header: &'static str, value: &str) -> Request<Body> {
    let (mut parts, body) = req.into_parts();
    parts.headers.insert(header, value.parse().unwrap());
    Request::from_parts(parts, body)
}

#[tokio::test]
async fn opened_issue_gets_a_comment_from_the_installation() {
    let h = harness().await;
    let d = issues("opened");
    let (status, body) = h.deliver(&d).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivery"], d.id());
    assert_eq!(h.seen.count("comment"), 1);
    let call =
        h.github.requests().into_iter().find(|r| r.path.ends_with("/comments")).expect("comment posted");
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/repos/Codertocat/Hello-World/issues/1/comments");
    assert_eq!(call.body.as_ref().unwrap()["body"], "Thanks!");
    assert_eq!(call.headers.get("x-github-delivery").map(String::as_str), Some(d.id()));
    assert!(call.headers.get("authorization").unwrap().contains("ghs_"), "installation token used");
}

#[tokio::test]
async fn bad_signatures_are_401_and_run_nothing() {
    let h = harness().await;
    let d = issues("opened");
    let sha1_only = without(
        with(d.request(), "x-hub-signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"),
        "x-hub-signature-256",
    );
    let cases = vec![
        without(d.request(), "x-hub-signature-256"),
        with(d.request(), "x-hub-signature-256", "sha256=00"),
        with(d.request(), "x-hub-signature-256", &format!("sha256={}", "0".repeat(64))),
        with(d.request(), "x-hub-signature-256", "garbage"),
        WebhookDelivery::new("issues", fixture("issues", "opened")).secret("wrong").request(),
        sha1_only,
    ];
    for req in cases {
        let (status, body) = h.send(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, serde_json::json!({"error": "unauthorized"}));
    }
    // a tampered body with a valid signature of the original
    let (parts, _) = d.request().into_parts();
    let (status, _) = h.send(Request::from_parts(parts, Body::from("{\"action\":\"opened\"}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(h.seen.count("comment") == 0 && h.github.requests().is_empty());
}

#[tokio::test]
async fn previous_secret_is_accepted_during_rotation() {
    let github = FakeGitHub::start().await;
    let app = githubapp::App::builder()
        .webhook_secret("new")
        .webhook_secret_previous(SECRET)
        .registry(githubapp::Registry::empty())
        .build()
        .unwrap();
    let res = app
        .router()
        .unwrap()
        .oneshot(WebhookDelivery::new("ping", fixture("ping", "event.with-app_id")).secret(SECRET).request())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .router()
        .unwrap()
        .oneshot(WebhookDelivery::new("ping", fixture("ping", "event.with-app_id")).secret("new").request())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    drop(github);
}

#[tokio::test]
async fn bad_headers_and_bodies_are_400() {
    let h = harness().await;
    let d = issues("opened");
    let signed = |body: &str, ct: &str| {
        with(WebhookDelivery::new("issues", body.to_string()).secret(SECRET).request(), "content-type", ct)
    };
    let cases = vec![
        ("no event", without(d.request(), "x-github-event")),
        ("bad event", with(d.request(), "x-github-event", "Issues!")),
        ("no delivery", without(d.request(), "x-github-delivery")),
        ("bad delivery", with(d.request(), "x-github-delivery", "not-a-uuid")),
        ("truncated json", signed("{\"action\":", "application/json")),
        ("not an object", signed("[1,2]", "application/json")),
        ("form without payload", signed("x=1", "application/x-www-form-urlencoded")),
        ("other content type", signed("{}", "text/plain")),
    ];
    for (what, req) in cases {
        let (status, body) = h.send(req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert!(body["error"].is_string(), "{what}");
    }
    assert!(h.github.requests().is_empty());
}

#[tokio::test]
async fn only_post_and_at_most_25_mib() {
    let h = harness().await;
    let res = h
        .app
        .router()
        .unwrap()
        .oneshot(Request::get("/webhooks/github").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let big = vec![b' '; 25 * 1024 * 1024 + 1];
    let (status, _) = h.deliver(&WebhookDelivery::new("issues", big).secret(SECRET)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let res =
        h.app.router().unwrap().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// The request with its body sent in `size`-byte pieces, as a body arrives over a network.
async fn in_pieces(req: Request<Body>, size: usize) -> Request<Body> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> =
        bytes.chunks(size).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    Request::from_parts(parts, Body::from_stream(futures_util::stream::iter(pieces)))
}

#[tokio::test]
async fn bodies_arriving_in_pieces_are_handled_and_stored_whole() {
    let h = harness().await;
    // Foreground: the comment is posted from the typed event.
    let (status, body) = h.send(in_pieces(issues("opened").request(), 1000).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(h.github.requests().iter().any(|r| r.path.ends_with("/issues/1/comments")));

    // Background: the stored delivery decodes into the same typed event on the worker.
    let workers = h.app.spawn_workers();
    let d = WebhookDelivery::new("pull_request", fixture("pull_request", "opened.with-organization"))
        .secret(SECRET);
    let (status, body) = h.send(in_pieces(d.request(), 777).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(h.seen.wait_for("background attempt 1", 1).await, "background handler ran");
    workers.shutdown().await;

    // Too large, found out while reading (no Content-Length to refuse it by).
    let big = vec![b' '; 25 * 1024 * 1024 + 1];
    let req = in_pieces(WebhookDelivery::new("issues", big).secret(SECRET).request(), 1 << 20).await;
    assert_eq!(h.send(req).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    // Refused by its Content-Length, before reading.
    let req = with(issues("opened").request(), "content-length", &(25 * 1024 * 1024 + 1).to_string());
    assert_eq!(h.send(req).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    // A tighter limit layered in front of the app's router: still 413, not 400.
    let limited = h.app.router().unwrap().layer(tower_http::limit::RequestBodyLimitLayer::new(1000));
    let res = limited.oneshot(in_pieces(issues("opened").request(), 300).await).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn duplicate_delivery_is_200_and_not_run_again() {
    let h = harness().await;
    let d = issues("opened");
    assert_eq!(h.deliver(&d).await.0, StatusCode::OK);
    let (status, body) = h.deliver(&d).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcome"], "duplicate");
    assert_eq!(h.seen.count("comment"), 1);
}

/// The id was recorded but the background task never stored (the queue's answer to the first
/// attempt was lost): the redelivery enqueues it instead of being answered "duplicate"; a
/// second redelivery then is a plain duplicate.
#[tokio::test]
async fn recorded_delivery_without_its_background_task_is_enqueued_on_redelivery() {
    let h = harness().await;
    let d = WebhookDelivery::new("pull_request", fixture("pull_request", "opened.with-organization"))
        .secret(SECRET);
    let queue = h.app.context().queue();
    assert!(queue.mark_delivery(d.id(), Duration::from_secs(60)).await.unwrap());
    let (status, body) = h.deliver(&d).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(queue.stats().await.unwrap().queued, 1);
    let (status, body) = h.deliver(&d).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &serde_json::json!("duplicate")));
    assert_eq!(queue.stats().await.unwrap().queued, 1, "still one task");
}

#[tokio::test]
async fn ping_unknown_and_unhandled_events_are_200() {
    let h = harness().await;
    let (status, _) =
        h.deliver(&WebhookDelivery::new("ping", fixture("ping", "event.with-app_id")).secret(SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    // An event GitHub adds after this release still reaches `*` handlers.
    let (status, _) =
        h.deliver(&WebhookDelivery::new("brand_new_event", "{\"action\":\"made\"}").secret(SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.seen.count("*:brand_new_event"), 1);
    // An action nobody handles specifically.
    let (status, _) = h.deliver(&issues("labeled")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.seen.count("comment"), 0);
}

#[tokio::test]
async fn form_encoded_deliveries_work() {
    let h = harness().await;
    let (status, body) = h.deliver(&issues("opened").form_encoded()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.seen.count("comment"), 1);
}

#[tokio::test]
async fn failing_handler_is_500_without_its_error_and_redelivery_runs_again() {
    let h = harness().await;
    let d = issues("deleted");
    let (status, body) = h.deliver(&d).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["delivery"], d.id());
    assert!(!body.to_string().contains("7f3a"), "handler error text must not leak: {body}");
    // GitHub's "Redeliver" keeps the delivery id: it must run the handler again.
    let (status, _) = h.deliver(&d).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(h.seen.count("fails"), 2);
}

#[tokio::test]
async fn panicking_handler_is_500_and_the_server_keeps_serving() {
    let h = harness().await;
    let (status, body) = h.deliver(&issues("reopened")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(!body.to_string().contains("handler bug"));
    let (status, _) = h.deliver(&issues("opened")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn background_handler_is_202_then_retried_by_a_worker() {
    let h = harness().await;
    let workers = h.app.spawn_workers();
    let d = WebhookDelivery::new("pull_request", fixture("pull_request", "opened.with-organization"))
        .secret(SECRET);
    let (status, body) = h.deliver(&d).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // first attempt fails, the retry (after ~1 s backoff) labels the PR
    assert!(h.seen.wait_for("background", 1).await, "background handler finished");
    assert_eq!(h.seen.count("background attempt 1"), 1);
    assert_eq!(h.seen.count("background attempt 2"), 1);
    let call = h.github.requests().into_iter().find(|r| r.path.ends_with("/labels")).expect("labels added");
    assert_eq!(call.body.unwrap()["labels"], serde_json::json!(["triage"]));
    workers.shutdown().await;
}

#[tokio::test]
async fn slow_foreground_handler_answers_202_at_the_deadline_and_finishes() {
    let h = harness().await;
    let d = WebhookDelivery::new("label", fixture("label", "created")).secret(SECRET);
    let (status, _) = h.deliver(&d).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(h.seen.count("slow"), 0);
    assert!(h.seen.wait_for("slow", 1).await);
}

#[tokio::test]
async fn real_http_server_end_to_end() {
    let h = harness().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(h.app.clone().serve_with(listener, true, async move {
        let _ = stopped.await;
    }));
    let d = issues("opened");
    let client = reqwest::Client::new();
    let mut req = client.post(format!("http://{addr}/webhooks/github")).body(d.body());
    for (k, v) in d.headers() {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(h.seen.count("comment"), 1);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn installation_changes_drop_cached_tokens() {
    let h = harness().await;
    assert_eq!(h.deliver(&issues("opened")).await.0, StatusCode::OK);
    assert_eq!(h.deliver(&issues("opened")).await.0, StatusCode::OK);
    assert_eq!(h.github.token_mints(), 1, "the token is cached between deliveries");
    let changed =
        WebhookDelivery::new("installation", app_fixture("installation", "new_permissions_accepted", 1))
            .secret(SECRET);
    assert_eq!(h.deliver(&changed).await.0, StatusCode::OK);
    assert_eq!(h.deliver(&issues("opened")).await.0, StatusCode::OK);
    assert_eq!(h.github.token_mints(), 2, "a new token is minted after new_permissions_accepted");
}
