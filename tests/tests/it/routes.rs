//! `#[github::get]` & co. are served by the same router, with state and the app client.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use githubapp::prelude::*;
use githubapp::testing::FakeGitHub;
use http::{Request, StatusCode};
use tower::ServiceExt;

use crate::common::{Seen, SharedSeen, app};

#[github::get("/it/routes/hello/{name}")]
async fn hello(Path(name): Path<String>, seen: State<SharedSeen>) -> String {
    seen.push(format!("hello {name}"));
    format!("hello {name}")
}

#[github::post("/it/routes/installations")]
async fn installations(gh: Client) -> Result<axum::Json<Vec<u64>>, StatusCode> {
    let list = gh.list_installations().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(axum::Json(list.into_iter().map(|i| i.id).collect()))
}

async fn call(router: axum::Router, method: &str, path: &str) -> (StatusCode, String) {
    let res = router
        .oneshot(Request::builder().method(method).uri(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn registered_routes_are_served_with_state_and_client() {
    let github = FakeGitHub::start().await;
    let seen = Arc::new(Seen::default());
    // routes are not filtered by module: all routes of the binary are mounted
    let app = app(&github, "it::routes", seen.clone());
    let router = app.router().unwrap();
    assert_eq!(
        call(router.clone(), "GET", "/it/routes/hello/octo").await,
        (StatusCode::OK, "hello octo".into())
    );
    assert_eq!(seen.count("hello octo"), 1);
    let (status, body) = call(router.clone(), "POST", "/it/routes/installations").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "[1]");
    assert_eq!(call(router.clone(), "POST", "/it/routes/hello/octo").await.0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(call(router, "GET", "/it/routes/nope").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn routes_table_lists_handlers_and_routes_with_locations() {
    let table = githubapp::cli::routes_table(&githubapp::Registry::global(), "/webhooks/github");
    assert!(table.contains("GET     /it/routes/hello/{name}"), "{table}");
    assert!(table.contains("pull_request.opened"), "{table}");
    assert!(table.contains("background retries=2"), "{table}");
    assert!(table.contains("routes.rs:"), "{table}");
}
