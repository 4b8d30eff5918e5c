//! `Client::octocrab()`: an Octocrab that authenticates through githubapp's token cache and
//! sends on githubapp's HTTP client, against the fake GitHub.

use githubapp::client::ClientConfig;
use githubapp::octocrab::Octocrab;
use githubapp::testing::FakeGitHub;
use serde_json::{Value, json};

async fn get(octocrab: &Octocrab, route: &str) -> Value {
    octocrab.get::<Value, _, ()>(route, None).await.unwrap()
}

#[tokio::test]
async fn octocrab_acts_as_the_installation_on_the_shared_token_cache() {
    let github = FakeGitHub::start().await;
    let app = github.client();
    let gh = app.installation(1).with_delivery_id("6a1c2b3c-0000-4000-8000-000000000001");

    // githubapp's client mints the token; Octocrab reuses it from the cache.
    gh.create_issue_comment("Codertocat/Hello-World", 1, "from githubapp").await.unwrap();
    let octocrab = gh.octocrab().unwrap();
    let repos = get(&octocrab, "/installation/repositories").await;
    assert_eq!(repos["repositories"][0]["name"], "Hello-World", "{repos}");
    let comment: Value = octocrab
        .post("/repos/Codertocat/Hello-World/issues/1/comments", Some(&json!({ "body": "from octocrab" })))
        .await
        .unwrap();
    assert_eq!(comment["body"], "from octocrab");
    assert_eq!(github.token_mints(), 1, "one token for both clients");

    let sent: Vec<_> =
        github.requests().into_iter().filter(|r| !r.path.ends_with("/access_tokens")).collect();
    assert_eq!(sent.len(), 3);
    let token = sent[0].header("authorization").unwrap().to_owned();
    assert!(token.starts_with("Bearer ghs_fake_"), "{token}");
    for r in &sent[1..] {
        assert_eq!(r.header("authorization"), Some(token.as_str()), "{} {}", r.method, r.path);
        assert_eq!(r.header("user-agent"), sent[0].header("user-agent"));
        assert_eq!(r.header("x-github-api-version"), Some(githubapp::client::API_VERSION));
        assert_eq!(r.header("x-github-delivery"), Some("6a1c2b3c-0000-4000-8000-000000000001"));
    }

    // Credentials are fetched per request: once the cache is cleared (say an
    // `installation_repositories` event arrived), the same Octocrab sends a new token.
    app.invalidate_all_tokens();
    get(&octocrab, "/installation/repositories").await;
    assert_eq!(github.token_mints(), 2);
    let last = github.requests().pop().unwrap();
    assert_ne!(last.header("authorization"), Some(token.as_str()));
    assert_eq!(last.status, 200);

    // A revoked token: GitHub answers 401, the request goes again, once, with a new token.
    github.revoke_tokens();
    let repos = get(&octocrab, "/installation/repositories").await;
    assert_eq!(repos["total_count"], 1, "{repos}");
    assert_eq!(github.token_mints(), 3);
    let tail: Vec<u16> = github.requests().iter().rev().take(3).map(|r| r.status).collect();
    assert_eq!(tail, [200, 201, 401], "resent after a new mint");
}

#[tokio::test]
async fn octocrab_as_the_app_uses_the_jwt_and_follows_a_ghes_base_url() {
    let github = FakeGitHub::start().await;
    let config = ClientConfig { api_url: github.ghes_url(), ..github.client_config() };
    let app = githubapp::client::Client::new(config, Some(github.credentials())).unwrap();

    let installations = get(&app.octocrab().unwrap(), "/app/installations").await;
    assert_eq!(installations[0]["id"], 1, "{installations}");
    let request = github.requests().pop().unwrap();
    assert_eq!(request.path, "/api/v3/app/installations");
    let jwt = request.header("authorization").unwrap().strip_prefix("Bearer ").unwrap();
    assert_eq!(jwt.split('.').count(), 3, "a JWT");

    // An installation Octocrab on the same base mints through githubapp (also under /api/v3).
    get(&app.installation(1).octocrab().unwrap(), "/installation/repositories").await;
    let paths: Vec<String> = github.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&"/api/v3/app/installations/1/access_tokens".to_string()), "{paths:?}");
    assert!(paths.contains(&"/api/v3/installation/repositories".to_string()), "{paths:?}");
}

#[tokio::test]
async fn octocrab_errors_carry_githubs_answer() {
    let github = FakeGitHub::start().await;
    let octocrab = github.client().installation(1).octocrab().unwrap();
    let err = octocrab.get::<Value, _, ()>("/repos/Codertocat/Hello-World/nope", None).await.unwrap_err();
    match err {
        githubapp::octocrab::Error::GitHub { source, .. } => {
            assert_eq!(source.status_code, http::StatusCode::NOT_FOUND);
            assert_eq!(source.message, "Not Found");
        }
        other => panic!("expected GitHub's 404, got {other:?}"),
    }
}
