//! `serve_with`'s shutdown: the requests in flight and the running tasks share one grace
//! period, counted from the signal.

use std::sync::Arc;
use std::time::Duration;

use githubapp::prelude::*;
use githubapp::testing::{FakeGitHub, WebhookDelivery};
use tower::ServiceExt;

use crate::common::{SECRET, Seen, SharedSeen, app_builder, fixture, serve, stalled_request};

// An event no other test of this binary replays (the `cli` test runs every `issues.opened`
// handler of the binary).
#[github::on("milestone.created", background)]
async fn outlives_the_grace(seen: State<SharedSeen>) {
    seen.push("started");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test]
async fn requests_in_flight_and_running_tasks_share_one_grace_period() {
    let grace = Duration::from_secs(2);
    let mut workers = githubapp::tasks::WorkerConfig::default();
    workers.shutdown_grace = grace;
    workers.poll_interval = Duration::from_millis(20);
    let github = FakeGitHub::start().await;
    let seen = Arc::new(Seen::default());
    let app = app_builder(&github, "it::shutdown", seen.clone()).worker_config(workers).build().unwrap();
    // A task that runs past any grace period (enqueued through the same app's router)...
    let delivery = WebhookDelivery::new("milestone", fixture("milestone", "created")).secret(SECRET);
    let res = app.router().unwrap().oneshot(delivery.request()).await.unwrap();
    assert_eq!(res.status(), http::StatusCode::ACCEPTED);
    let (addr, stop, server) = serve(app).await;
    assert!(seen.wait_for("started", 1).await, "the background task started");
    // ...and a request that holds the HTTP drain for the whole grace period.
    let stalled = stalled_request(addr).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // the request is being read
    let signalled = tokio::time::Instant::now();
    let _ = stop.send(());
    let ended = tokio::time::timeout(Duration::from_secs(30), server).await;
    ended.expect("serve_with returned").unwrap().unwrap();
    // The drain takes the whole grace (else this test checks nothing), so the task gets none
    // of it: one grace in all, not one for the requests and another for the tasks (4 s).
    let took = signalled.elapsed();
    assert!(
        took >= grace - Duration::from_millis(100),
        "the stalled request did not hold the drain: {took:?}"
    );
    assert!(took < grace + Duration::from_secs(1), "shutdown took {took:?} for a grace of {grace:?}");
    drop(stalled);
}
