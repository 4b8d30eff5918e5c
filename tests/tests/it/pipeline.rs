//! DESIGN §5: every answer of the webhook route, and what handlers observe.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use githubapp::events::{IssuesEvent, PullRequestEvent};
use githubapp::prelude::*;
use githubapp::testing::{FakeGitHub, WebhookDelivery};
use http::{Request, StatusCode};
use tower::ServiceExt;

use crate::common::{
    SECRET, Seen, SharedSeen, app, app_builder, app_fixture, fixture, serve, stalled_request,
};

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
    Err(Error::handler("secret detail zq-not-hex"))
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
        send(&self.app, req).await
    }
    async fn deliver(&self, d: &WebhookDelivery) -> (StatusCode, serde_json::Value) {
        self.send(d.request()).await
    }
}

/// The PR `background` handles (the 24 KB `pull_request.opened` example).
fn pr_opened() -> WebhookDelivery {
    WebhookDelivery::new("pull_request", fixture("pull_request", "opened.with-organization")).secret(SECRET)
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
    let d = pr_opened();
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
    let d = pr_opened();
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
    // Not hex: a random delivery id in the body can never contain it by chance.
    assert!(!body.to_string().contains("secret detail"), "handler error text must not leak: {body}");
    assert!(!body.to_string().contains("zq-not-hex"), "handler error text must not leak: {body}");
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
    let d = pr_opened();
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
    let (addr, stop, server) = serve(h.app.clone()).await;
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

/// Shutdown waits for requests in flight, but not for ever: a client that sends the headers
/// of a POST and never its body is cut off after the grace period.
#[tokio::test]
async fn shutdown_does_not_wait_for_ever_on_a_client_that_never_sends_its_body() {
    let mut workers = githubapp::tasks::WorkerConfig::default();
    workers.shutdown_grace = Duration::from_millis(300);
    let github = FakeGitHub::start().await;
    let app =
        app_builder(&github, MODULE, Arc::default()).worker_config(workers).build().expect("app builds");
    let (addr, stop, server) = serve(app).await;
    let stalled = stalled_request(addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await; // the request is being read
    let _ = stop.send(());
    // Not a timing assertion: without the limit this never returns.
    let ended = tokio::time::timeout(Duration::from_secs(30), server).await;
    ended.expect("serve_with returned").unwrap().unwrap();
    drop(stalled);
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

/// A memory queue whose next `failures` enqueues fail as a backend error would (a dropped
/// connection), to check what the dispatcher does about it. With `stored`, a failing enqueue
/// stores the task first and only its answer is lost.
struct FailingEnqueue {
    inner: githubapp::tasks::MemoryQueue,
    failures: std::sync::atomic::AtomicU32,
    stored: bool,
    attempts: std::sync::atomic::AtomicU32,
    forgotten: std::sync::atomic::AtomicU32,
    /// The next `mark_delivery` calls that store the id, then fail (a lost answer).
    mark_failures: std::sync::atomic::AtomicU32,
    /// The next `forget_delivery` calls that fail without forgetting.
    forget_failures: std::sync::atomic::AtomicU32,
    /// How long every `mark_delivery` takes, in ms (a slow backend).
    mark_delay_ms: std::sync::atomic::AtomicU64,
    /// The next `fail` calls that panic (a bug in a backend's bookkeeping).
    fail_panics: std::sync::atomic::AtomicU32,
}

impl FailingEnqueue {
    fn new(failures: u32, stored: bool) -> Arc<Self> {
        Arc::new(FailingEnqueue {
            inner: githubapp::tasks::MemoryQueue::new(),
            failures: failures.into(),
            stored,
            attempts: 0.into(),
            forgotten: 0.into(),
            mark_failures: 0.into(),
            forget_failures: 0.into(),
            mark_delay_ms: 0.into(),
            fail_panics: 0.into(),
        })
    }
}

mod failing_enqueue {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, SystemTime};

    use githubapp::tasks::{
        BoxFuture, Enqueued, LeasedTask, NewTask, Queue, QueueError, QueueStats, TaskInfo,
    };

    /// Whether one more failure was due (and counts it).
    fn take(failures: &std::sync::atomic::AtomicU32) -> bool {
        failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    impl Queue for super::FailingEnqueue {
        fn enqueue(&self, task: NewTask) -> BoxFuture<'_, Result<Enqueued, QueueError>> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            if !take(&self.failures) {
                return self.inner.enqueue(task);
            }
            Box::pin(async move {
                if self.stored {
                    self.inner.enqueue(task).await?;
                }
                Err(QueueError::Backend("connection reset".into()))
            })
        }
        fn lease(
            &self,
            max: usize,
            lease_for: Duration,
        ) -> BoxFuture<'_, Result<Vec<LeasedTask>, QueueError>> {
            self.inner.lease(max, lease_for)
        }
        fn heartbeat<'a>(&'a self, t: &'a LeasedTask, d: Duration) -> BoxFuture<'a, Result<(), QueueError>> {
            self.inner.heartbeat(t, d)
        }
        fn complete<'a>(&'a self, t: &'a LeasedTask) -> BoxFuture<'a, Result<(), QueueError>> {
            self.inner.complete(t)
        }
        fn fail<'a>(
            &'a self,
            t: &'a LeasedTask,
            e: &'a str,
            at: Option<SystemTime>,
        ) -> BoxFuture<'a, Result<(), QueueError>> {
            if take(&self.fail_panics) {
                panic!("a bug in the queue's bookkeeping");
            }
            self.inner.fail(t, e, at)
        }
        fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'_, ()> {
            self.inner.wait_for_work(timeout)
        }
        fn mark_delivery<'a>(
            &'a self,
            id: &'a str,
            ttl: Duration,
        ) -> BoxFuture<'a, Result<bool, QueueError>> {
            let fail = take(&self.mark_failures);
            let delay = Duration::from_millis(self.mark_delay_ms.load(Ordering::SeqCst));
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                let first = self.inner.mark_delivery(id, ttl).await?;
                if fail {
                    return Err(QueueError::Backend("connection reset".into()));
                }
                Ok(first)
            })
        }
        fn forget_delivery<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
            self.forgotten.fetch_add(1, Ordering::SeqCst);
            if take(&self.forget_failures) {
                return Box::pin(async { Err(QueueError::Backend("connection reset".into())) });
            }
            self.inner.forget_delivery(id)
        }
        fn stats(&self) -> BoxFuture<'_, Result<QueueStats, QueueError>> {
            self.inner.stats()
        }
        fn dead(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
            self.inner.dead(limit)
        }
        fn pending(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
            self.inner.pending(limit)
        }
        fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<TaskInfo>, QueueError>> {
            self.inner.get(id)
        }
        fn retry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, QueueError>> {
            self.inner.retry(id)
        }
        fn retry_all_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
            self.inner.retry_all_dead()
        }
        fn purge_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
            self.inner.purge_dead()
        }
        fn backend(&self) -> &'static str {
            "failing-enqueue"
        }
    }
}

/// An app whose queue fails its next `failures` enqueues (no workers: the test leases what
/// was stored).
async fn on_failing_queue(failures: u32, stored: bool) -> (FakeGitHub, Arc<FailingEnqueue>, githubapp::App) {
    let github = FakeGitHub::start().await;
    let queue = FailingEnqueue::new(failures, stored);
    let app = with_queue(app_builder(&github, MODULE, Arc::default()), &queue).build().expect("app builds");
    (github, queue, app)
}

/// `app` with `queue` as its default queue.
fn with_queue(app: githubapp::AppBuilder, queue: &Arc<FailingEnqueue>) -> githubapp::AppBuilder {
    app.queue(queue.clone())
        // A task elsewhere in this test binary has `queue = "slow"`.
        .named_queue("slow", Arc::new(githubapp::tasks::MemoryQueue::new()))
}

/// A backend error on enqueue is retried, whether the failed call stored nothing or stored
/// the task and lost its answer: the delivery is accepted, and exactly one task is stored, the
/// whole background handler (name, attempts, installation). The same delivery again is a
/// duplicate and stores nothing new (the idempotency key is the delivery's).
#[tokio::test]
async fn enqueue_failing_once_is_retried_and_stores_the_task_once() {
    use githubapp::tasks::Queue;
    use std::sync::atomic::Ordering;
    for stored in [false, true] {
        let (_github, queue, app) = on_failing_queue(1, stored).await;
        let d = pr_opened();
        let (status, body) = send(&app, d.request()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "stored {stored}: {body}");
        assert_eq!(body["outcome"], "accepted");
        assert_eq!(queue.attempts.load(Ordering::SeqCst), 2, "one failure, one retry");
        assert_eq!(queue.forgotten.load(Ordering::SeqCst), 0, "the delivery stays recorded");

        let leased = queue.lease(10, Duration::from_secs(30)).await.unwrap();
        assert_eq!(leased.len(), 1, "stored {stored}: {leased:?}");
        assert_eq!(leased[0].name, format!("webhook:{MODULE}::background"));
        assert_eq!(leased[0].max_attempts, 3, "retries = 2");
        assert_eq!(leased[0].installation_id, Some(1), "the fixture's installation");
        let (status, body) = send(&app, d.request()).await;
        assert_eq!((status, &body["outcome"]), (StatusCode::OK, &serde_json::json!("duplicate")));
        let stats = queue.stats().await.unwrap();
        assert_eq!((stats.running, stats.queued), (1, 0), "stored {stored}: {stats:?}");
    }
}

/// A backend that keeps failing: 500 after the retries, and the delivery id is forgotten, so
/// GitHub's redelivery is not answered "duplicate" but tries again (and stores the task).
#[tokio::test]
async fn enqueue_failing_for_good_is_500_and_the_redelivery_stores_the_task() {
    use githubapp::tasks::Queue;
    use std::sync::atomic::Ordering;
    let (_github, queue, app) = on_failing_queue(4, false).await;
    let d = pr_opened();
    let (status, body) = send(&app, d.request()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(queue.attempts.load(Ordering::SeqCst), 4, "the first call and three retries");
    assert_eq!(queue.forgotten.load(Ordering::SeqCst), 1, "the delivery id is forgotten");
    assert_eq!(queue.stats().await.unwrap().queued, 0);

    let (status, body) = send(&app, d.request()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(queue.stats().await.unwrap().queued, 1);
}

/// Marking the delivery id stores it but loses the answer: the retry answers "seen", which
/// must not make the first delivery a duplicate. Its foreground handlers run and its
/// background handler is stored; only a real redelivery is a duplicate.
#[tokio::test]
async fn a_lost_answer_to_marking_the_delivery_does_not_make_it_a_duplicate() {
    use std::sync::atomic::Ordering;
    let (_github, queue, app) = on_failing_queue(0, false).await;
    queue.mark_failures.store(1, Ordering::SeqCst);
    let seen = app.context().state::<SharedSeen>().expect("state");
    let d = pr_opened();
    let (status, body) = send(&app, d.request()).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::ACCEPTED, &serde_json::json!("accepted")), "{body}");
    assert_eq!(seen.count("*:pull_request"), 1, "the foreground handler ran");
    assert_eq!(queue.attempts.load(Ordering::SeqCst), 1, "the background handler is stored");

    let (status, body) = send(&app, d.request()).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &serde_json::json!("duplicate")));
    assert_eq!(seen.count("*:pull_request"), 1);
}

/// Forgetting a failed delivery's id is retried like the other queue calls: a backend that
/// fails once there still lets the redelivery run everything.
#[tokio::test]
async fn forgetting_a_failed_delivery_is_retried() {
    use std::sync::atomic::Ordering;
    let (_github, queue, app) = on_failing_queue(4, false).await;
    queue.forget_failures.store(1, Ordering::SeqCst);
    let seen = app.context().state::<SharedSeen>().expect("state");
    let d = pr_opened();
    let (status, body) = send(&app, d.request()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(queue.forgotten.load(Ordering::SeqCst), 2, "one failure, one retry");
    assert_eq!(seen.count("*:pull_request"), 0, "nothing ran: the background work was not stored");

    let (status, body) = send(&app, d.request()).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::ACCEPTED, &serde_json::json!("accepted")), "{body}");
    assert_eq!(seen.count("*:pull_request"), 1, "the redelivery ran the foreground handler");
}

/// The deadline counts from the delivery's arrival: a backend that takes 1 s to record it
/// leaves a 3 s foreground handler 2.5 s of a 3.5 s deadline, so the answer is 202 (the
/// handler then finishes in the background). Counted from after the queue, it would be 200.
#[tokio::test]
async fn the_queues_time_counts_against_the_deadline() {
    use std::sync::atomic::Ordering;
    let queue = FailingEnqueue::new(0, false);
    queue.mark_delay_ms.store(1000, Ordering::SeqCst);
    let seen = Arc::new(Seen::default());
    let github = FakeGitHub::start().await;
    let app = with_queue(app_builder(&github, MODULE, seen.clone()), &queue)
        .webhook_deadline(Duration::from_millis(3500))
        .build()
        .expect("app builds");
    let d = WebhookDelivery::new("label", fixture("label", "created")).secret(SECRET);
    let (status, body) = send(&app, d.request()).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::ACCEPTED, &serde_json::json!("accepted")), "{body}");
    assert_eq!(seen.count("slow"), 0, "answered before the handler finished");
    assert!(seen.wait_for("slow", 1).await, "and it finished after the answer");
}

/// The app's answer to `req`: status and JSON body (`null` if not JSON).
async fn send(app: &githubapp::App, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let res = app.router().unwrap().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

/// A panic in a task's bookkeeping (here the queue's `fail`; handlers' own panics are caught
/// where they run) does not cost the worker its only slot: the next task still runs.
#[tokio::test]
async fn a_panic_in_the_queue_does_not_cost_the_worker_a_slot() {
    use githubapp::tasks::{NewTask, Queue};
    let github = FakeGitHub::start().await;
    let queue = FailingEnqueue::new(0, false);
    queue.fail_panics.store(1, std::sync::atomic::Ordering::SeqCst);
    let mut workers = githubapp::tasks::WorkerConfig::default();
    workers.concurrency = 1;
    let app = with_queue(app_builder(&github, MODULE, Arc::default()), &queue)
        .worker_config(workers)
        .build()
        .expect("app builds");
    let running = app.spawn_workers();
    // No such task is registered: each run fails, and `fail` dead-letters it (no retries).
    for name in ["first", "second"] {
        queue.enqueue(NewTask::new(name, "{}").max_attempts(1)).await.unwrap();
    }
    let mut stats = queue.stats().await.unwrap();
    for _ in 0..500 {
        if stats.dead == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        stats = queue.stats().await.unwrap();
    }
    // The first task's `fail` panicked: it stays leased until its lease expires.
    assert_eq!((stats.dead, stats.running, stats.queued), (1, 1, 0), "{stats:?}");
    running.shutdown().await;
}
