//! `ping` answers 200 (DESIGN §5), even when a background handler takes it.

use std::sync::Arc;

use githubapp::prelude::*;
use githubapp::testing::{FakeGitHub, WebhookDelivery};
use http::StatusCode;
use tower::ServiceExt;

use crate::common::{SECRET, SharedSeen, app_builder, fixture};

// `ping` rather than `*`, which would also take what other tests of this binary replay.
#[github::on("ping", background)]
async fn ping_later(d: Delivery, seen: State<SharedSeen>) {
    seen.push(format!("later:{}", d.event));
}

#[tokio::test]
async fn a_ping_taken_by_a_background_handler_is_200_and_its_work_runs() {
    let github = FakeGitHub::start().await;
    let seen = Arc::new(crate::common::Seen::default());
    let app = app_builder(&github, "it::ping", seen.clone()).build().unwrap();
    let _workers = app.spawn_workers();
    let ping = WebhookDelivery::new("ping", fixture("ping", "event.with-app_id")).secret(SECRET);
    let res = app.router().unwrap().oneshot(ping.request()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["outcome"], "accepted", "the body still says the work was enqueued");
    assert!(seen.wait_for("later:ping", 1).await, "the ping's background work ran");
}
