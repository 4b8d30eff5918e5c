//! `serve_with`'s shutdown: the requests in flight and the running tasks share one grace
//! period, counted from the signal.

use std::sync::Arc;
use std::time::Duration;

use githubapp::prelude::*;
use githubapp::testing::{FakeGitHub, WebhookDelivery};
use tokio::io::AsyncWriteExt;

use crate::common::{SECRET, Seen, SharedSeen, app_builder, fixture};

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_with(listener, true, async move {
        let _ = stopped.await;
    }));
    // A task that runs past any grace period...
    let delivery =
        WebhookDelivery::new("milestone", fixture("milestone", "created")).secret(SECRET).request();
    let (parts, body) = delivery.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut head = format!("POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n", parts.uri, body.len());
    for (name, value) in &parts.headers {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client.write_all(format!("{head}\r\n").as_bytes()).await.unwrap();
    client.write_all(&body).await.unwrap();
    assert!(seen.wait_for("started", 1).await, "the background task started");
    // ...and a request that holds the HTTP drain for the whole grace period.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
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
    drop((stalled, client));
}
