//! `#[github::task]`: typed enqueue from a handler, the installation carried to the task's
//! `Client`, retries, options (delay, idempotency key), timeouts, and stored arguments that
//! no longer fit the function.

use std::sync::Arc;
use std::time::Duration;

use githubapp::events::{IssuesEvent, PullRequestEvent};
use githubapp::prelude::*;
use githubapp::tasks::{Enqueued, NewTask, Queue, TaskMeta};
use githubapp::testing::{FakeGitHub, WebhookDelivery};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::common::{SECRET, Seen, SharedSeen, app, app_fixture};

const MODULE: &str = "it::tasks";

/// A user type as a task argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub title: String,
    pub lines: Vec<String>,
}

#[github::on("issues.opened")]
async fn schedule(event: IssuesEvent, tasks: Tasks) -> Result<()> {
    let summary = Summary { title: format!("Summary of #{}", event.issue.number), lines: vec!["a".into()] };
    post_summary::enqueue(&tasks, event.repository.full_name.clone(), event.issue.number, summary).await?;
    Ok(())
}

/// Fails its first attempt, then comments as the installation it was enqueued for.
#[github::task(retries = 2, timeout = "10s")]
async fn post_summary(
    #[inject] gh: Client,
    #[inject] meta: TaskMeta,
    #[inject] seen: State<SharedSeen>,
    repo: String,
    number: u64,
    summary: Summary,
) -> Result<()> {
    seen.push(format!("post_summary attempt {}", meta.attempt));
    if meta.attempt == 1 {
        return Err(Error::handler("transient"));
    }
    assert_eq!(summary.lines, vec!["a".to_string()]);
    gh.create_issue_comment(&repo, number, &summary.title).await?;
    seen.push(format!("post_summary installation {:?}", meta.installation_id));
    Ok(())
}

#[github::task(name = "it.sleepy", retries = 0, timeout = "100ms")]
async fn sleepy(#[inject] seen: State<SharedSeen>) {
    seen.push("sleepy started");
    tokio::time::sleep(Duration::from_secs(5)).await;
    seen.push("sleepy finished");
}

#[github::task(retries = 0)]
async fn record(#[inject] seen: State<SharedSeen>, what: String) {
    seen.push(what);
}

#[github::task(queue = "slow", retries = 0)]
async fn on_slow_queue(#[inject] seen: State<SharedSeen>, what: String) {
    seen.push(format!("slow:{what}"));
}

async fn wait_dead(tasks: &Tasks, n: u64) -> githubapp::tasks::QueueStats {
    for _ in 0..500 {
        let stats = tasks.stats().await.unwrap();
        if stats.dead >= n {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no dead task after 5 s: {:?}", tasks.stats().await.unwrap());
}

#[tokio::test]
async fn task_enqueued_from_a_handler_runs_as_the_same_installation() {
    let github = FakeGitHub::start().await;
    github.add_installation(77, "Codertocat", &["Hello-World"]);
    let seen = Arc::new(Seen::default());
    let app = app(&github, MODULE, seen.clone());
    let workers = app.spawn_workers();

    let d = WebhookDelivery::new("issues", app_fixture("issues", "opened", 77)).secret(SECRET);
    let res = app.router().unwrap().oneshot(d.request()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    assert!(seen.wait_for("post_summary installation Some(77)", 1).await, "task ran to completion");
    assert_eq!(seen.count("post_summary attempt 1"), 1);
    assert_eq!(seen.count("post_summary attempt 2"), 1);
    let requests = github.requests();
    assert!(requests.iter().any(|r| r.path == "/app/installations/77/access_tokens"), "token for 77");
    let comment = requests.iter().find(|r| r.path.ends_with("/comments")).expect("comment posted");
    assert_eq!(comment.body.as_ref().unwrap()["body"], "Summary of #1");
    workers.shutdown().await;
}

#[tokio::test]
async fn names_options_and_the_routes_table() {
    assert_eq!(post_summary::NAME, "it::tasks::post_summary");
    assert_eq!(sleepy::NAME, "it.sleepy");
    let call = record::call("x".into());
    assert_eq!(call.name(), "it::tasks::record");
    let task = call.into_new_task(Some(5)).unwrap();
    assert_eq!((task.max_attempts, task.installation_id), (1, Some(5)));
    assert_eq!(&task.payload[..], br#"["x"]"#);
    let task = post_summary::call("o/r".into(), 3, Summary { title: "t".into(), lines: vec![] })
        .installation(None)
        .into_new_task(Some(5))
        .unwrap();
    assert_eq!((task.max_attempts, task.installation_id), (3, None));

    let github = FakeGitHub::start().await;
    let seen = Arc::new(Seen::default());
    let app = app(&github, MODULE, seen.clone());
    let tasks = app.tasks().for_installation(9);
    // Delayed: scheduled, not queued.
    record::call("later".into()).delay(Duration::from_secs(3600)).enqueue(&tasks).await.unwrap();
    // The same idempotency key twice is one task.
    let first = record::call("once".into()).idempotency_key("k1").enqueue(&tasks).await.unwrap();
    let second = record::call("once".into()).idempotency_key("k1").enqueue(&tasks).await.unwrap();
    assert!(matches!(first, Enqueued::New(_)));
    assert_eq!(second, Enqueued::Duplicate(first.id().to_string()));
    let stats = tasks.stats().await.unwrap();
    assert_eq!((stats.queued, stats.scheduled), (1, 1));

    let workers = app.spawn_workers();
    assert!(seen.wait_for("once", 1).await);
    workers.shutdown().await;
    assert_eq!(seen.count("once"), 1);
    assert_eq!(seen.count("later"), 0);

    let table = githubapp::cli::routes_table(app.context().registry(), "/webhook");
    assert!(table.contains("it.sleepy") && table.contains("timeout=100ms"), "{table}");
    assert!(table.contains("it::tasks::post_summary") && table.contains("retries=2"), "{table}");
}

#[tokio::test]
async fn timeouts_and_unreadable_arguments_are_dead_lettered_with_the_reason() {
    for (backend, queue) in backends().await {
        timeouts_and_unreadable_arguments(backend, queue).await;
    }
}

async fn timeouts_and_unreadable_arguments(backend: &str, queue: Arc<dyn Queue>) {
    let seen = Arc::new(Seen::default());
    let app = app_with_worker(&seen, queue, Duration::from_secs(5), Duration::from_secs(30));
    let tasks = app.tasks();
    sleepy::enqueue(&tasks).await.unwrap();
    // Stored by an older version with other arguments, and a name nobody registered.
    let queue = tasks.queue();
    queue.enqueue(NewTask::new(record::NAME, &br#"["a", 2]"#[..])).await.unwrap();
    queue.enqueue(NewTask::new(record::NAME, &br#"[2]"#[..])).await.unwrap();
    queue.enqueue(NewTask::new(record::NAME, &b"not json"[..])).await.unwrap();
    queue.enqueue(NewTask::new("it::tasks::gone", &b"[]"[..])).await.unwrap();

    let workers = app.spawn_workers();
    wait_dead(&tasks, 5).await;
    workers.shutdown().await;
    assert_eq!(seen.count("sleepy started"), 1, "{backend}");
    assert_eq!(seen.count("sleepy finished"), 0, "{backend}");
    let dead = queue.dead(10).await.unwrap();
    let error = |needle: &str| {
        dead.iter()
            .filter_map(|t| t.last_error.clone())
            .find(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("{backend}: no dead task with {needle:?}: {dead:?}"))
    };
    assert!(error("timed out").contains("100ms"), "{backend}");
    error("task `it::tasks::record` takes 1 argument(s) but 2 were stored");
    error("cannot decode argument `what` of task `it::tasks::record`");
    error("not a JSON array");
    error("no task named `it::tasks::gone` is registered");
    assert_eq!(queue.purge_dead().await.unwrap(), 5, "{backend}");
}

#[tokio::test]
async fn named_queues_are_stored_apart_and_served_by_their_own_workers() {
    let github = FakeGitHub::start().await;
    let seen = Arc::new(Seen::default());
    let app = app(&github, MODULE, seen.clone());
    let tasks = app.tasks();
    assert_eq!(on_slow_queue::call("x".into()).queue(), Some("slow"));
    on_slow_queue::enqueue(&tasks, "x".into()).await.unwrap();
    assert_eq!(tasks.stats().await.unwrap().queued, 0, "not on the default queue");
    let slow = tasks.named_queue("slow").expect("the `slow` queue exists").clone();
    assert_eq!(slow.stats().await.unwrap().queued, 1);

    // Workers of the default queue alone leave it alone; the `slow` pool runs it.
    let workers = app.spawn_workers_for(Some(&["default".to_string()]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    workers.shutdown().await;
    assert_eq!(seen.count("slow:x"), 0);
    let workers = app.spawn_workers_for(Some(&["slow".to_string()]));
    assert!(seen.wait_for("slow:x", 1).await);
    workers.shutdown().await;

    let err = app.clone().run_worker_for(Some(&["nope".to_string()])).await.unwrap_err().to_string();
    assert_eq!(err, "no task queue named `nope`; this app's queues are: default, slow");

    // A bare handle knows no named queue: a clear error, nothing stored.
    let bare = Tasks::new(tasks.queue().clone());
    let err = on_slow_queue::enqueue(&bare, "y".into()).await.unwrap_err().to_string();
    assert!(err.contains("task queue `slow` is not connected"), "{err}");
    assert_eq!(tasks.queue().stats().await.unwrap().queued, 0);

    // A durable default queue given without the named queue: a startup error naming the task.
    let sqlite = githubapp::tasks::sqlite::SqliteQueue::open("sqlite::memory:", "it").await.unwrap();
    let err = githubapp::App::builder()
        .queue(Arc::new(sqlite))
        .registry(githubapp::Registry::global().filter(|n| n.starts_with("it::tasks::")))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("task queue `slow` (of task `it::tasks::on_slow_queue` at"), "{err}");
    assert!(err.contains("pass `.named_queue(\"slow\", ...)` too"), "{err}");
}

/// One retry: an attempt abandoned at shutdown counts as an attempt.
#[github::task(retries = 1)]
async fn slow_step(#[inject] seen: State<SharedSeen>, #[inject] meta: TaskMeta, millis: u64) {
    seen.push(format!("slow_step {millis} started (attempt {})", meta.attempt));
    tokio::time::sleep(Duration::from_millis(millis)).await;
    seen.push(format!("slow_step {millis} finished"));
}

/// A background handler: records the delivery a worker handed it.
#[github::on("pull_request.opened", background)]
async fn delivery_kept(event: PullRequestEvent, d: Delivery, seen: State<SharedSeen>) {
    seen.push(format!(
        "kept {} {} {:?} {:?} #{} attempt {}",
        d.id, d.event, d.action, d.installation_id, event.number, d.attempt
    ));
    seen.push(format!("body {}", String::from_utf8_lossy(&d.body)));
}

/// An app with one worker slot and the given shutdown grace and lease.
fn app_with_worker(
    seen: &Arc<Seen>,
    queue: Arc<dyn Queue>,
    grace: Duration,
    lease: Duration,
) -> githubapp::App {
    let mut worker = githubapp::tasks::WorkerConfig::default();
    worker.concurrency = 1;
    worker.shutdown_grace = grace;
    worker.lease = lease;
    worker.poll_interval = Duration::from_millis(20);
    app_with(seen, queue, worker)
}

/// An app with this module's tasks and handlers on `queue`, and these worker settings.
fn app_with(
    seen: &Arc<Seen>,
    queue: Arc<dyn Queue>,
    worker: githubapp::tasks::WorkerConfig,
) -> githubapp::App {
    githubapp::App::builder()
        .registry(githubapp::Registry::global().filter(|n| n.starts_with("it::tasks::")))
        .state(SharedSeen(seen.clone()))
        .worker_config(worker)
        .queue(queue)
        .named_queue("slow", Arc::new(githubapp::tasks::MemoryQueue::new()))
        .build()
        .unwrap()
}

/// A fresh queue on every backend the worker-level tests run on: memory, SQLite (in memory),
/// and Redis and PostgreSQL when `GITHUBAPP_TEST_REDIS_URL` / `GITHUBAPP_TEST_DATABASE_URL`
/// are set (then an unreachable server fails the test).
async fn backends() -> Vec<(&'static str, Arc<dyn Queue>)> {
    use githubapp::tasks::{MemoryQueue, postgres::PostgresQueue, redis::RedisQueue, sqlite::SqliteQueue};
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let ns = format!("it{nanos:x}{:x}", std::process::id());
    let mut out: Vec<(&'static str, Arc<dyn Queue>)> = vec![
        ("memory", Arc::new(MemoryQueue::new())),
        ("sqlite", Arc::new(SqliteQueue::open("sqlite::memory:", &ns).await.unwrap())),
    ];
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match var("GITHUBAPP_TEST_REDIS_URL") {
        Some(url) => out.push(("redis", Arc::new(RedisQueue::connect(&url, &ns).await.expect("Redis")))),
        None => eprintln!("SKIPPED redis: GITHUBAPP_TEST_REDIS_URL is not set"),
    }
    match var("GITHUBAPP_TEST_DATABASE_URL") {
        Some(url) => {
            out.push(("postgres", Arc::new(PostgresQueue::connect(&url, &ns).await.expect("PostgreSQL"))))
        }
        None => eprintln!("SKIPPED postgres: GITHUBAPP_TEST_DATABASE_URL is not set"),
    }
    out
}

/// A background handler gets the delivery it was enqueued from, byte for byte, on every
/// backend (a stored delivery is a metadata line followed by the body as received).
#[tokio::test]
async fn background_handlers_get_their_delivery_on_every_backend() {
    for (backend, queue) in backends().await {
        let seen = Arc::new(Seen::default());
        let mut worker = githubapp::tasks::WorkerConfig::default();
        worker.poll_interval = Duration::from_millis(20);
        let app = githubapp::App::builder()
            .webhook_secret(SECRET)
            .registry(githubapp::Registry::global().filter(|n| n == "it::tasks::delivery_kept"))
            .state(SharedSeen(seen.clone()))
            .worker_config(worker)
            .queue(queue)
            .named_queue("slow", Arc::new(githubapp::tasks::MemoryQueue::new()))
            .build()
            .unwrap();
        let body = app_fixture("pull_request", "opened.with-organization", 7);
        let d = WebhookDelivery::new("pull_request", body.clone()).secret(SECRET);
        let res = app.router().unwrap().oneshot(d.request()).await.unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED, "{backend}");
        let workers = app.spawn_workers();
        let want = format!(
            "kept {} pull_request Some(\"opened\") Some(7) #{} attempt 1",
            d.id(),
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()["number"]
        );
        assert!(seen.wait_for(&want, 1).await, "{backend}: the handler did not get the delivery ({want})");
        workers.shutdown().await;
        assert_eq!(
            seen.count(&format!("body {}", String::from_utf8(body).unwrap())),
            1,
            "{backend}: body changed"
        );
    }
}

/// Shutdown stops leasing, lets the running task finish within the grace period, and leaves
/// the rest queued; a task still running when the grace runs out is abandoned, and runs
/// again once its lease expires.
#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_work_and_loses_nothing() {
    for ((backend, first), (_, second)) in backends().await.into_iter().zip(backends().await) {
        graceful_shutdown(backend, first, second).await;
    }
}

async fn graceful_shutdown(backend: &str, first: Arc<dyn Queue>, second: Arc<dyn Queue>) {
    let seen = Arc::new(Seen::default());
    let app = app_with_worker(&seen, first, Duration::from_secs(5), Duration::from_secs(30));
    let tasks = app.tasks();
    slow_step::enqueue(&tasks, 300).await.unwrap();
    slow_step::enqueue(&tasks, 301).await.unwrap();
    let workers = app.spawn_workers();
    assert!(seen.wait_for("slow_step 300 started (attempt 1)", 1).await, "{backend}");
    workers.shutdown().await;
    assert_eq!(seen.count("slow_step 300 finished"), 1, "{backend}: the running task finished");
    assert_eq!(seen.count("slow_step 301 started (attempt 1)"), 0, "{backend}: nothing new was leased");
    let stats = tasks.stats().await.unwrap();
    assert_eq!((stats.queued, stats.running), (1, 0), "{backend}");
    let workers = app.spawn_workers(); // leave the namespace empty
    assert!(seen.wait_for("slow_step 301 finished", 1).await, "{backend}");
    workers.shutdown().await;

    let seen = Arc::new(Seen::default());
    let app = app_with_worker(&seen, second, Duration::from_millis(100), Duration::from_secs(1));
    let tasks = app.tasks();
    slow_step::enqueue(&tasks, 1500).await.unwrap();
    let workers = app.spawn_workers();
    assert!(seen.wait_for("slow_step 1500 started (attempt 1)", 1).await, "{backend}");
    let stopping = std::time::Instant::now();
    workers.shutdown().await;
    assert!(stopping.elapsed() < Duration::from_secs(1), "{backend}: the grace period bounds shutdown");
    assert_eq!(seen.count("slow_step 1500 finished"), 0, "{backend}: abandoned, not finished");
    assert_eq!(tasks.stats().await.unwrap().running, 1, "{backend}: still leased, not lost");
    // Another worker takes it over once the 1 s lease expires.
    let workers = app.spawn_workers();
    for _ in 0..800 {
        if seen.count("slow_step 1500 finished") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    workers.shutdown().await;
    assert_eq!(seen.count("slow_step 1500 started (attempt 2)"), 1, "{backend}");
    assert_eq!(seen.count("slow_step 1500 finished"), 1, "{backend}");
}

/// A worker never sleeps through work: with a poll interval longer than the test, tasks
/// enqueued while it is busy, and a delayed one when it falls due, run at once on its free
/// slots (not after the task it is busy with), on every backend. (The worker waits for more
/// work as soon as a lease brings fewer tasks than it has free slots, so every backend's
/// wake-up has to work; and a busy slot must not take the wake-up meant for an idle one.)
#[tokio::test]
async fn workers_wake_for_new_and_due_work_without_polling() {
    for (backend, queue) in backends().await {
        let seen = Arc::new(Seen::default());
        let mut worker = githubapp::tasks::WorkerConfig::default();
        worker.concurrency = 4;
        worker.poll_interval = Duration::from_secs(60);
        let app = app_with(&seen, queue, worker);
        let tasks = app.tasks();
        let workers = app.spawn_workers();
        // Idle, then one task: leased alone, so the worker waits for more while it runs.
        slow_step::enqueue(&tasks, 2000).await.unwrap();
        assert!(seen.wait_for("slow_step 2000 started (attempt 1)", 1).await, "{backend}");
        // One at a time, so each is handed to the next idle slot in turn, and then one to
        // the busy slot's turn (it must pass the wake-up on).
        for i in 0..6 {
            record::enqueue(&tasks, format!("busy {i}")).await.unwrap();
            assert!(
                seen.wait_for(&format!("busy {i}"), 1).await,
                "{backend}: work enqueued while busy waited"
            );
            assert_eq!(
                seen.count("slow_step 2000 finished"),
                0,
                "{backend}: busy {i} waited for the busy slot"
            );
        }
        record::call("due".into()).delay(Duration::from_millis(300)).enqueue(&tasks).await.unwrap();
        assert!(seen.wait_for("due", 1).await, "{backend}: a delayed task waited past its time");
        assert_eq!(
            seen.count("slow_step 2000 finished"),
            0,
            "{backend}: the others waited for the busy slot"
        );
        assert!(seen.wait_for("slow_step 2000 finished", 1).await, "{backend}");
        for i in 0..6 {
            assert_eq!(seen.count(&format!("busy {i}")), 1, "{backend}");
        }
        workers.shutdown().await;
    }
}
