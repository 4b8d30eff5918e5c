//! Client tests against the fake GitHub (loopback only; no timed assertions).

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use super::*;
use crate::testing::fake_github::{FakeGitHub, RateLimit, RecordedRequest};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const REPO: &str = "Codertocat/Hello-World";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Requests whose path (as received) ends with `suffix`.
fn to(fake: &FakeGitHub, method: &str, suffix: &str) -> Vec<RecordedRequest> {
    fake.requests().into_iter().filter(|r| r.method == method && r.path.ends_with(suffix)).collect()
}

fn statuses(reqs: &[RecordedRequest]) -> Vec<u16> {
    reqs.iter().map(|r| r.status).collect()
}

/// An app client that waits for GitHub to replicate new tokens for `window` (the fake's own
/// client does not wait).
fn with_replication_window(fake: &FakeGitHub, window: Duration) -> Result<Client, ClientError> {
    let config = ClientConfig { token_replication_window: window, ..fake.client_config() };
    Client::new(config, Some(fake.credentials()))
}

fn bearer(r: &RecordedRequest) -> String {
    r.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn jwt_claims_are_backdated_short_lived_and_verifiable() -> TestResult {
    let fake = FakeGitHub::start().await;
    let app = fake.client();
    let before = now();
    let installations = app.list_installations().await?;
    let after = now();
    assert_eq!(installations.first().map(|i| i.id), Some(1));

    let req = fake.requests().pop().expect("one request");
    assert_eq!(req.path, "/app/installations");
    let jwt = bearer(&req);
    let header = jsonwebtoken::decode_header(&jwt)?;
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);

    let key = jsonwebtoken::DecodingKey::from_rsa_pem(fake.public_key_pem().as_bytes())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[fake.app_id().to_string()]);
    let claims: Value = jsonwebtoken::decode(&jwt, &key, &validation)?.claims;
    let iat = claims["iat"].as_i64().expect("iat");
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(iat >= before - 61 && iat <= after - 59, "iat {iat} not backdated by 60 s");
    assert!(exp - iat <= 600, "JWT lives longer than 10 minutes");
    assert!(exp <= after + 540 && exp > after, "exp {exp} not now + 540 s");
    assert_eq!(claims["iss"], json!(fake.app_id().to_string()));

    // The JWT is reused, not signed per request.
    app.list_installations().await?;
    let jwts: Vec<String> = fake.requests().iter().map(bearer).collect();
    assert_eq!(jwts.len(), 2);
    assert_eq!(jwts[0], jwts[1]);
    Ok(())
}

#[tokio::test]
async fn installation_tokens_are_cached_and_shared() -> TestResult {
    let fake = FakeGitHub::start().await;
    let app = fake.client();
    let gh = app.installation(1);
    for i in 0..5 {
        gh.create_issue(REPO, &format!("issue {i}"), None).await?;
    }
    // Another client derived from the same app shares the cache.
    app.installation(1).create_issue_comment(REPO, 1, "hi").await?;
    assert_eq!(fake.token_mints(), 1);
    let issues = to(&fake, "POST", "/issues");
    assert_eq!(issues.len(), 5);
    assert!(issues.iter().all(|r| bearer(r) == bearer(&issues[0]) && bearer(r).starts_with("ghs_fake_")));
    let mint = to(&fake, "POST", "/access_tokens").pop().expect("a mint");
    assert_eq!(mint.path, "/app/installations/1/access_tokens");
    assert_eq!(mint.body, None, "an unscoped mint has no body");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_mint() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let gh = gh.clone();
            tokio::spawn(async move { gh.create_issue_comment(REPO, 1, &format!("comment {i}")).await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    assert_eq!(fake.token_mints(), 1);
    assert_eq!(to(&fake, "POST", "/comments").len(), 50);
    Ok(())
}

#[tokio::test]
async fn revoked_token_is_reminted_and_the_request_retried() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    gh.create_issue_comment(REPO, 1, "first").await?;
    fake.revoke_tokens();
    let comment = gh.create_issue_comment(REPO, 1, "second").await?;
    assert_eq!(comment.body.as_deref(), Some("second"));
    assert_eq!(fake.token_mints(), 2);
    assert_eq!(statuses(&to(&fake, "POST", "/comments")), [201, 401, 201]);
    // The new token is cached: no third mint.
    gh.create_issue_comment(REPO, 1, "third").await?;
    assert_eq!(fake.token_mints(), 2);
    Ok(())
}

#[tokio::test]
async fn persistent_401_is_retried_only_once() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    fake.fail_next("POST", "/repos/Codertocat/Hello-World/issues", 401, 10);
    let err = gh.create_issue(REPO, "x", None).await.expect_err("401 twice");
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert_eq!(to(&fake, "POST", "/issues").len(), 2);
    assert_eq!(fake.token_mints(), 2);
    Ok(())
}

#[tokio::test]
async fn a_new_token_github_has_not_replicated_yet_is_retried_not_replaced() -> TestResult {
    let fake = FakeGitHub::start().await;
    fake.set_token_replication_delay(Duration::from_millis(1200));
    let gh = with_replication_window(&fake, Duration::from_secs(5))?.installation(1);
    let comment = gh.create_issue_comment(REPO, 1, "hello").await?;
    assert_eq!(comment.body.as_deref(), Some("hello"));
    assert_eq!(fake.token_mints(), 1, "the new token is waited for, not replaced by another new one");
    let comments = to(&fake, "POST", "/comments");
    let (last, before) = comments.split_last().expect("requests");
    assert_eq!(last.status, 201);
    assert!(!before.is_empty() && before.iter().all(|r| r.status == 401), "{:?}", statuses(&comments));
    assert!(comments.iter().all(|r| bearer(r) == bearer(last)), "the same token every time");
    Ok(())
}

#[tokio::test]
async fn replication_waits_end_with_the_window() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = with_replication_window(&fake, Duration::from_millis(700))?.installation(1);
    fake.fail_next("POST", "/repos/Codertocat/Hello-World/issues", 401, 1000);
    let err = gh.create_issue(REPO, "x", None).await.expect_err("always 401");
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    // Waited within each token's window, replaced the first token once, then gave up.
    assert_eq!(fake.token_mints(), 2);
    let tries = to(&fake, "POST", "/issues").len();
    assert!((3..=8).contains(&tries), "{tries} attempts");
    Ok(())
}

#[tokio::test]
async fn a_jwt_rejected_for_clock_skew_is_signed_again_on_githubs_clock() -> TestResult {
    for offset in [-3600i64, 3600] {
        let fake = FakeGitHub::start().await;
        fake.set_clock_offset(offset);
        let app = fake.client();
        // This machine's clock is an hour off GitHub's: the first JWT is rejected, the
        // client reads GitHub's `Date` and signs again.
        assert_eq!(app.list_installations().await?.len(), 1, "offset {offset}");
        let calls = to(&fake, "GET", "/app/installations");
        assert_eq!(statuses(&calls), [401, 200], "offset {offset}");
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(fake.public_key_pem().as_bytes())?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_exp = false;
        let iat = |r: &RecordedRequest| -> Result<i64, Box<dyn std::error::Error>> {
            let claims: Value = jsonwebtoken::decode(bearer(r), &key, &validation)?.claims;
            Ok(claims["iat"].as_i64().unwrap_or_default())
        };
        let github_now = now() + offset;
        assert!((iat(&calls[1])? - (github_now - 60)).abs() <= 5, "second JWT on GitHub's clock");

        // Later JWTs, and the token mint, use the learned clock from the start.
        fake.clear_requests();
        app.installation(1).create_issue_comment(REPO, 1, "hi").await?;
        assert_eq!(statuses(&to(&fake, "POST", "/access_tokens")), [201]);
        assert_eq!(statuses(&to(&fake, "POST", "/comments")), [201]);
    }
    Ok(())
}

#[tokio::test]
async fn user_token_401_is_not_retried() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().with_user_token("ghu_not_a_real_token");
    let err = gh.list_user_repos().await.expect_err("unknown token");
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert_eq!(err.message(), Some("Bad credentials"));
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(fake.token_mints(), 0);
    Ok(())
}

#[tokio::test]
async fn scoped_tokens_are_cached_apart_from_broad_ones() -> TestResult {
    let fake = FakeGitHub::start().await;
    let app = fake.client();
    app.installation(1).create_issue(REPO, "broad", None).await?;
    assert_eq!(fake.token_mints(), 1);

    let scoped = app.installation_scoped(1, &["Hello-World"], &[("issues", "write")]);
    scoped.create_issue(REPO, "scoped", None).await?;
    assert_eq!(fake.token_mints(), 2);
    let mint = to(&fake, "POST", "/access_tokens").pop().expect("a mint");
    assert_eq!(
        mint.body,
        Some(json!({ "repositories": ["Hello-World"], "permissions": { "issues": "write" } }))
    );

    // The broad token is still the broad one; the same scope in another order is a cache hit.
    app.installation(1).create_issue(REPO, "broad again", None).await?;
    app.installation_scoped(1, &["Codertocat/Hello-World", "Hello-World"], &[("issues", "write")])
        .create_issue(REPO, "scoped again", None)
        .await?;
    assert_eq!(fake.token_mints(), 2);

    // A token scoped to another repository is refused on this one (403, not retried).
    let other = app.installation_scoped(1, &["other"], &[]);
    let err = other.create_issue(REPO, "nope", None).await.expect_err("out of scope");
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    assert_eq!(fake.token_mints(), 3);
    Ok(())
}

#[tokio::test]
async fn invalidate_installation_forces_a_new_mint() -> TestResult {
    let fake = FakeGitHub::start().await;
    let app = fake.client();
    let gh = app.installation(1);
    gh.create_issue(REPO, "a", None).await?;
    app.invalidate_installation(2);
    gh.create_issue(REPO, "b", None).await?;
    assert_eq!(fake.token_mints(), 1);
    app.invalidate_installation(1);
    gh.create_issue(REPO, "c", None).await?;
    assert_eq!(fake.token_mints(), 2);
    Ok(())
}

#[tokio::test]
async fn expired_tokens_are_not_reused() -> TestResult {
    let fake = FakeGitHub::start().await;
    fake.set_token_lifetime(0);
    let gh = fake.client().installation(1);
    gh.create_issue(REPO, "a", None).await?;
    gh.create_issue(REPO, "b", None).await?;
    assert_eq!(fake.token_mints(), 2);
    Ok(())
}

#[tokio::test]
async fn server_errors_are_retried_until_success() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    fake.set_permission(REPO, "octocat", "admin");
    fake.fail_next("GET", "/repos/Codertocat/Hello-World/collaborators", 502, 2);
    let perm = gh.get_repo_permission(REPO, "octocat").await?;
    assert!(perm.is_admin() && perm.can_write());
    assert_eq!(statuses(&to(&fake, "GET", "/permission")), [502, 502, 200]);
    Ok(())
}

#[tokio::test]
async fn server_errors_give_up_after_max_retries() -> TestResult {
    let fake = FakeGitHub::start().await;
    let config = ClientConfig { max_retries: 1, ..fake.client_config() };
    let gh = Client::new(config, Some(fake.credentials()))?.installation(1);
    fake.fail_next("POST", "/repos/Codertocat/Hello-World/issues", 500, 5);
    let err = gh.create_issue(REPO, "x", None).await.expect_err("always 500");
    assert_eq!(err.status(), Some(http::StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(to(&fake, "POST", "/issues").len(), 2);
    Ok(())
}

/// Callers waiting on one token mint share its result, failure included: a mint that failed
/// (after its own retries) is not repeated by each caller in turn. The next call mints again.
#[tokio::test]
async fn callers_waiting_on_a_failed_mint_share_its_error() -> TestResult {
    let fake = FakeGitHub::start().await;
    let config = ClientConfig { max_retries: 0, ..fake.client_config() };
    let gh = Client::new(config, Some(fake.credentials()))?.installation(1);
    fake.fail_next("POST", "/app/installations/1/access_tokens", 503, 1);
    let calls = (0..20).map(|i| {
        let gh = gh.clone();
        async move { gh.create_issue(REPO, &format!("issue {i}"), None).await }
    });
    let results = futures_util::future::join_all(calls).await;
    for r in &results {
        let err = r.as_ref().expect_err("the only mint failed");
        assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE), "{err}");
    }
    assert_eq!(statuses(&to(&fake, "POST", "/access_tokens")), [503], "one mint for all 20 callers");
    assert!(to(&fake, "POST", "/issues").is_empty());

    gh.create_issue(REPO, "later", None).await?;
    assert_eq!(statuses(&to(&fake, "POST", "/access_tokens")), [503, 201]);
    Ok(())
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_githubs_details() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);

    let err = gh.get::<Value>("/repos/Codertocat/Hello-World/nope").await.expect_err("404");
    assert!(err.is_not_found());
    assert_eq!(err.message(), Some("Not Found"));
    assert_eq!(err.documentation_url(), Some("https://docs.github.com/rest"));
    assert_eq!(err.request(), Some((&Method::GET, "/repos/Codertocat/Hello-World/nope")));
    assert_eq!(to(&fake, "GET", "/nope").len(), 1);

    // 422 from the fake's own validation.
    let err = gh.post::<_, Value>("/repos/Codertocat/Hello-World/issues", &json!({})).await.expect_err("422");
    assert_eq!(err.status(), Some(http::StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(err.message(), Some("Validation Failed"));
    let text = err.to_string();
    assert!(text.contains("POST /repos/Codertocat/Hello-World/issues"), "{text}");
    assert!(text.contains("Request title missing_field"), "{text}");
    assert_eq!(to(&fake, "POST", "/issues").len(), 1);

    // A canned 422 with GitHub's documentation URL.
    let docs = "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue";
    fake.respond(
        "POST",
        "/repos/Codertocat/Hello-World/issues/3/labels",
        422,
        json!({ "message": "Validation Failed", "documentation_url": docs }),
    );
    let err = gh.add_labels(REPO, 3, &["x"]).await.expect_err("422");
    assert_eq!(err.documentation_url(), Some(docs));
    let ClientError::Api(api) = &err else { panic!("not an API error: {err:?}") };
    assert_eq!(api.status.as_u16(), 422);
    assert_eq!(to(&fake, "POST", "/labels").len(), 1);

    // A 403 that is not a rate limit is not retried either.
    fake.fail_next("GET", "/repos/Codertocat/Hello-World/commits", 403, 1);
    let err = gh.get_commit_files(REPO, "abc").await.expect_err("403");
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    assert!(!err.is_rate_limited());
    assert_eq!(to(&fake, "GET", "/commits/abc").len(), 1);
    Ok(())
}

#[tokio::test]
async fn retry_after_is_waited_out() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    fake.rate_limit_next("POST", "/repos/Codertocat/Hello-World/issues", RateLimit::RetryAfter(1), 1);
    gh.create_issue(REPO, "patience", None).await?;
    assert_eq!(statuses(&to(&fake, "POST", "/issues")), [429, 201]);
    Ok(())
}

#[tokio::test]
async fn exhausted_primary_limit_waits_for_the_reset() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    fake.rate_limit_next(
        "POST",
        "/repos/Codertocat/Hello-World/issues",
        RateLimit::Exhausted { reset_in: 1 },
        1,
    );
    gh.create_issue(REPO, "patience", None).await?;
    assert_eq!(statuses(&to(&fake, "POST", "/issues")), [403, 201]);
    Ok(())
}

#[tokio::test]
async fn rate_limit_beyond_the_max_wait_fails_with_the_reset_time() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    fake.rate_limit_next("POST", "/repos/Codertocat/Hello-World/issues", RateLimit::RetryAfter(3600), 1);
    let err = gh.create_issue(REPO, "x", None).await.expect_err("too long a wait");
    let ClientError::RateLimited { reset_at, status, retry_after, .. } = &err else { panic!("{err:?}") };
    assert_eq!(status.as_u16(), 429);
    assert_eq!(*retry_after, Duration::from_secs(3600));
    assert!(reset_at.timestamp() > now() + 3000);
    assert!(err.is_rate_limited());

    fake.rate_limit_next(
        "POST",
        "/repos/Codertocat/Hello-World/issues",
        RateLimit::Exhausted { reset_in: 7200 },
        1,
    );
    let err = gh.create_issue(REPO, "x", None).await.expect_err("too long a wait");
    let ClientError::RateLimited { reset_at, status, .. } = &err else { panic!("{err:?}") };
    assert_eq!(status.as_u16(), 403);
    assert!(reset_at.timestamp() > now() + 7000);
    assert_eq!(statuses(&to(&fake, "POST", "/issues")), [429, 403]);
    Ok(())
}

#[tokio::test]
async fn an_absurd_retry_after_is_a_rate_limit_error_not_a_panic() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    let absurd = 99_999_999_999_999; // seconds: ~3 million years, past chrono's calendar
    fake.rate_limit_next("POST", "/repos/Codertocat/Hello-World/issues", RateLimit::RetryAfter(absurd), 1);
    let err = gh.create_issue(REPO, "x", None).await.expect_err("too long a wait");
    let ClientError::RateLimited { reset_at, retry_after, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*retry_after, Duration::from_secs(absurd));
    assert_eq!(*reset_at, chrono::DateTime::<chrono::Utc>::MAX_UTC);
    Ok(())
}

#[tokio::test]
async fn pagination_follows_link_headers() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    let files: Vec<Value> =
        (0..250).map(|i| FakeGitHub::fake_file(&format!("src/f{i}.rs"), "added")).collect();
    fake.set_pull_request_files(REPO, 7, files);

    let got = gh.list_pull_request_files(REPO, 7).await?;
    assert_eq!(got.len(), 250);
    assert_eq!(got[0].filename, "src/f0.rs");
    assert_eq!(got[249].filename, "src/f249.rs");
    let pages = to(&fake, "GET", "/pulls/7/files");
    assert_eq!(pages.len(), 3);
    let page_numbers: Vec<Option<String>> = pages.iter().map(|r| r.query_param("page")).collect();
    assert_eq!(page_numbers, [None, Some("2".into()), Some("3".into())]);
    assert!(pages.iter().all(|r| r.query_param("per_page").as_deref() == Some("100")));

    // The caller's page size is kept.
    let small: Vec<CommitFile> =
        gh.paginate("/repos/Codertocat/Hello-World/pulls/7/files?per_page=50").await?;
    assert_eq!(small.len(), 250);
    assert_eq!(to(&fake, "GET", "/pulls/7/files").len(), 3 + 5);

    // The page cap.
    let err = gh
        .paginate_with_limit::<CommitFile>("/repos/Codertocat/Hello-World/pulls/7/files", None, 2)
        .await
        .expect_err("3 pages > 2");
    assert!(matches!(err, ClientError::TooManyPages { max_pages: 2, .. }), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn paginate_field_unwraps_wrapped_pages() -> TestResult {
    let fake = FakeGitHub::start().await;
    let app = fake.client();
    let gh = app.installation(1);
    let files: Vec<Value> = (0..650).map(|i| FakeGitHub::fake_file(&format!("f{i}"), "modified")).collect();
    fake.set_commit_files(REPO, "deadbeef", files);
    let got = gh.get_commit_files(REPO, "deadbeef").await?;
    assert_eq!(got.len(), 650);
    assert_eq!(to(&fake, "GET", "/commits/deadbeef").len(), 7);

    fake.add_installation(9, "octo-org", &["a", "b", "c"]);
    let repos = app.installation(9).list_installation_repos().await?;
    let names: Vec<String> = repos.iter().map(|r| r.full_name.clone()).collect();
    assert_eq!(names, ["octo-org/a", "octo-org/b", "octo-org/c"]);
    assert_eq!(repos[0].owner(), "octo-org");
    Ok(())
}

#[tokio::test]
async fn next_links_off_the_api_host_are_refused() -> TestResult {
    let gh = Client::new(ClientConfig::default(), None)?;
    assert!(gh.shared.resolve("https://api.github.com/repos/o/r?page=2").is_ok());
    assert!(gh.shared.resolve("/repos/o/r").is_ok());
    assert!(gh.shared.resolve("repos/o/r").is_ok());
    for bad in ["https://evil.example/repos", "http://api.github.com/repos", "https://api.github.com:444/x"] {
        let err = gh.shared.resolve(bad).expect_err(bad);
        assert!(matches!(err, ClientError::InvalidRequest(_)), "{bad}: {err:?}");
    }
    let ghes = Client::new(
        ClientConfig { api_url: "https://ghe.example.com/api/v3/".into(), ..Default::default() },
        None,
    )?;
    assert_eq!(ghes.api_url(), "https://ghe.example.com/api/v3");
    assert!(ghes.shared.resolve("https://ghe.example.com/api/v3/repos/o/r").is_ok());
    assert!(ghes.shared.resolve("https://ghe.example.com/login").is_err());
    assert!(ghes.shared.resolve("https://ghe.example.com/api/v30/x").is_err());
    assert!(ghes.shared.resolve("/../../login").is_err());

    assert!(Client::new(ClientConfig { api_url: "not a url".into(), ..Default::default() }, None).is_err());
    assert!(Client::new(ClientConfig { api_url: "ftp://x".into(), ..Default::default() }, None).is_err());
    Ok(())
}

#[tokio::test]
async fn ghes_base_url_with_api_v3_prefix_works() -> TestResult {
    let fake = FakeGitHub::start().await;
    let config = ClientConfig { api_url: fake.ghes_url(), ..fake.client_config() };
    let app = Client::new(config, Some(fake.credentials()))?;
    let gh = app.installation(1);
    gh.create_issue(REPO, "on GHES", None).await?;
    let files: Vec<Value> = (0..120).map(|i| FakeGitHub::fake_file(&format!("f{i}"), "added")).collect();
    fake.set_pull_request_files(REPO, 2, files);
    assert_eq!(gh.list_pull_request_files(REPO, 2).await?.len(), 120);
    assert_eq!(app.get_installation_for_repo(REPO).await?.id, 1);

    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths[0], "/api/v3/app/installations/1/access_tokens");
    assert_eq!(paths[1], "/api/v3/repos/Codertocat/Hello-World/issues");
    assert!(paths.iter().all(|p| p.starts_with("/api/v3/")), "{paths:?}");
    assert_eq!(paths.len(), 5);
    Ok(())
}

#[tokio::test]
async fn github_headers_and_delivery_id_are_sent() -> TestResult {
    let fake = FakeGitHub::start().await;
    let app = fake.client();
    let delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    let gh = app.installation(1).with_delivery_id(delivery);
    assert_eq!(gh.delivery_id(), Some(delivery));
    gh.create_issue(REPO, "hello", Some("body")).await?;
    let req = to(&fake, "POST", "/issues").pop().expect("issue request");
    assert_eq!(req.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(req.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(req.header("user-agent"), Some(DEFAULT_USER_AGENT));
    assert!(DEFAULT_USER_AGENT.starts_with("githubapp-rs/"));
    assert_eq!(req.header("x-github-delivery"), Some(delivery));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.body, Some(json!({ "title": "hello", "body": "body" })));

    // Clients made without a delivery don't send the header.
    app.installation(1).create_issue(REPO, "plain", None).await?;
    let req = to(&fake, "POST", "/issues").pop().expect("issue request");
    assert_eq!(req.header("x-github-delivery"), None);

    let custom = ClientConfig { user_agent: "my-app/1.2".into(), ..fake.client_config() };
    Client::new(custom, Some(fake.credentials()))?.list_installations().await?;
    assert_eq!(
        fake.requests().pop().and_then(|r| r.header("user-agent").map(str::to_owned)).as_deref(),
        Some("my-app/1.2")
    );

    // A user agent no request could carry is refused when the client is made.
    let broken = ClientConfig { user_agent: "my-app\n1.2".into(), ..fake.client_config() };
    let Err(err) = Client::new(broken, Some(fake.credentials())) else {
        panic!("a user agent with a newline must be refused")
    };
    assert!(err.to_string().contains("user_agent"), "{err}");
    Ok(())
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_display() -> TestResult {
    let fake = FakeGitHub::start().await;
    let creds = fake.credentials();
    let key_line = fake.private_key_pem().lines().nth(2).expect("a base64 line of the key");
    let shown = format!("{creds:?}");
    assert!(shown.contains("4242") && shown.contains("redacted"), "{shown}");
    assert!(!shown.contains(key_line) && !shown.contains("BEGIN"), "{shown}");

    let app = Client::new(fake.client_config(), Some(creds))?;
    let gh = app.installation(1).with_delivery_id("d-1");
    gh.create_issue(REPO, "x", None).await?;
    let token = bearer(&to(&fake, "POST", "/issues")[0]);
    let jwt = bearer(&to(&fake, "POST", "/access_tokens")[0]);
    assert!(token.starts_with("ghs_fake_"));
    let user = app.with_user_token("ghu_very_secret");

    // A 401 error and a decode error, after the token was used.
    fake.fail_next("POST", "/repos/Codertocat/Hello-World/issues", 401, 2);
    let unauthorized = gh.create_issue(REPO, "x", None).await.expect_err("401");
    let decode = gh
        .get::<Vec<u8>>("/repos/Codertocat/Hello-World/collaborators/x/permission")
        .await
        .expect_err("decode");
    assert!(matches!(decode, ClientError::Decode { .. }), "{decode:?}");

    for text in [
        format!("{app:?}"),
        format!("{gh:?}"),
        format!("{user:?}"),
        format!("{unauthorized:?}"),
        unauthorized.to_string(),
        format!("{decode:?}"),
        decode.to_string(),
    ] {
        assert!(!text.contains(&token), "token leaked: {text}");
        assert!(!text.contains(&jwt), "JWT leaked: {text}");
        assert!(!text.contains("ghu_very_secret"), "user token leaked: {text}");
        assert!(!text.contains(key_line), "key leaked: {text}");
    }
    assert!(format!("{gh:?}").contains("Installation"));
    Ok(())
}

#[tokio::test]
async fn bad_keys_and_wrong_app_ids_are_auth_errors() -> TestResult {
    let err = AppCredentials::from_pem(
        1,
        b"-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----\n",
    )
    .expect_err("garbage");
    assert!(matches!(err, ClientError::Auth(_)), "{err:?}");
    assert!(!err.to_string().contains("not base64"));
    let fake = FakeGitHub::start().await;
    assert!(matches!(
        AppCredentials::from_pem(1, fake.public_key_pem().as_bytes()),
        Err(ClientError::Auth(_))
    ));
    assert!(matches!(AppCredentials::from_pem(1, b""), Err(ClientError::Auth(_))));

    // The right key under the wrong app id: GitHub (the fake) refuses the JWT.
    let wrong = AppCredentials::from_pem(fake.app_id() + 1, fake.private_key_pem().as_bytes())?;
    let gh = Client::new(fake.client_config(), Some(wrong))?.installation(1);
    let err = gh.create_issue(REPO, "x", None).await.expect_err("bad JWT");
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert_eq!(err.message(), Some("A JSON web token could not be decoded"));
    assert_eq!(err.request().map(|(_, p)| p), Some("/app/installations/1/access_tokens"));
    assert_eq!(fake.token_mints(), 0);
    assert!(to(&fake, "POST", "/issues").is_empty());
    Ok(())
}

#[tokio::test]
async fn operations_check_the_kind_of_client_first() -> TestResult {
    let fake = FakeGitHub::start().await;
    let app = fake.client();
    let err = app.create_issue(REPO, "x", None).await.expect_err("app-level");
    assert!(matches!(err, ClientError::NoInstallation { operation: "create_issue" }), "{err:?}");
    assert!(matches!(app.list_installation_repos().await, Err(ClientError::NoInstallation { .. })));
    assert!(matches!(app.installation_token().await, Err(ClientError::NoInstallation { .. })));
    assert!(matches!(app.installation(1).list_user_repos().await, Err(ClientError::Auth(_))));
    let err = app.create_issue("no-slash", "x", None).await;
    assert!(matches!(err, Err(ClientError::NoInstallation { .. })));
    let err = app.installation(1).create_issue("no-slash", "x", None).await.expect_err("bad repo");
    assert!(matches!(err, ClientError::InvalidRequest(_)), "{err:?}");

    let keyless = Client::new(fake.client_config(), None)?;
    let err = keyless.installation(1).create_issue(REPO, "x", None).await.expect_err("no key");
    assert!(matches!(err, ClientError::Auth(_)), "{err:?}");
    assert!(matches!(keyless.list_installations().await, Err(ClientError::Auth(_))));
    assert!(fake.requests().is_empty(), "nothing was sent");
    Ok(())
}

#[tokio::test]
async fn app_endpoints_use_the_jwt_from_any_client() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    let installation = gh.get_installation_for_repo(("Codertocat", "Hello-World")).await?;
    assert_eq!(installation.id, 1);
    assert_eq!(installation.account.map(|a| a.login).as_deref(), Some("Codertocat"));
    assert!(bearer(&fake.requests()[0]).starts_with("ey"), "a JWT, not a token");
    assert_eq!(fake.token_mints(), 0);
    let err = gh.get_installation_for_repo("someone-else/repo").await.expect_err("not installed");
    assert!(err.is_not_found());
    let token = gh.installation_token().await?;
    assert!(token.starts_with("ghs_fake_"));
    Ok(())
}

#[tokio::test]
async fn user_token_clients_list_repos_and_orgs() -> TestResult {
    let fake = FakeGitHub::start().await;
    let token = fake.user_token("octocat");
    let user = fake.client().with_user_token(token.clone());
    assert_eq!(user.installation_id(), None);
    let repos = user.list_user_repos().await?;
    assert_eq!(repos.len(), 2);
    assert_eq!(repos[0].full_name, "octocat/hello-world");
    assert!(repos[0].permissions.is_some_and(|p| p.push));
    let orgs = user.list_user_orgs().await?;
    assert_eq!(orgs[0].login, "octo-org");
    assert!(fake.requests().iter().all(|r| bearer(r) == token));
    assert_eq!(fake.token_mints(), 0);
    // An installation token is not a user token.
    let installation = fake.client().installation(1);
    let err = installation.get::<Value>("/user/repos").await.expect_err("integration");
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    Ok(())
}

#[tokio::test]
async fn typed_endpoints_round_trip() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    let owned = String::from(REPO);

    let issue = gh.create_issue(&owned, "Bug", Some("details")).await?;
    assert!(issue.id > 0 && issue.number > 0);
    assert_eq!(issue.title, "Bug");
    assert_eq!(issue.state.as_deref(), Some("open"));
    assert!(issue.created_at.is_some());

    let comment = gh.create_issue_comment(owned.clone(), issue.number, "Thanks!").await?;
    assert_eq!(comment.body.as_deref(), Some("Thanks!"));
    assert_eq!(comment.user.map(|u| u.login).as_deref(), Some("fake-app[bot]"));

    gh.add_labels(("Codertocat", "Hello-World"), issue.number, &["bug"]).await?;
    let labels = gh.add_labels(REPO, issue.number, &["triage", "bug"]).await?;
    let names: Vec<&str> = labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["bug", "triage"]);

    let files = gh.get_commit_files(REPO, "6dcb09b5b57875f334f61aebed695e2e4193db5e").await?;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].filename, "README.md");
    assert_eq!(files[0].additions, 1);

    let run = NewCheckRun {
        conclusion: Some(CheckRunConclusion::Success),
        output: Some(CheckRunOutput::new("Lint", "All good")),
        ..NewCheckRun::new("lint", "6dcb09b5b57875f334f61aebed695e2e4193db5e")
    };
    let created = gh.create_check_run(REPO, &run).await?;
    assert_eq!(created.status.as_deref(), Some("completed"));
    assert_eq!(created.conclusion.as_deref(), Some("success"));
    let sent = to(&fake, "POST", "/check-runs").pop().and_then(|r| r.body).expect("body");
    assert_eq!(
        sent,
        json!({ "name": "lint", "head_sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "conclusion": "success",
                "output": { "title": "Lint", "summary": "All good" } })
    );

    let deployment = NewDeployment {
        environment: Some("staging".into()),
        required_contexts: Some(vec![]),
        ..NewDeployment::new("main")
    };
    let deployment = gh.create_deployment(REPO, &deployment).await?;
    assert_eq!(deployment.git_ref.as_deref(), Some("main"));
    assert_eq!(deployment.environment.as_deref(), Some("staging"));
    let sent = to(&fake, "POST", "/deployments").pop().and_then(|r| r.body).expect("body");
    assert_eq!(sent, json!({ "ref": "main", "required_contexts": [], "environment": "staging" }));

    let status = NewDeploymentStatus {
        environment_url: Some("https://staging.example.com".into()),
        ..NewDeploymentStatus::new(DeploymentState::InProgress)
    };
    let status = gh.create_deployment_status(REPO, deployment.id, &status).await?;
    assert_eq!(status.state, "in_progress");
    assert!(to(&fake, "POST", &format!("/deployments/{}/statuses", deployment.id)).len() == 1);

    fake.set_permission(REPO, "some user", "write");
    let perm = gh.get_repo_permission(REPO, "some user").await?;
    assert!(perm.can_write() && !perm.is_admin() && perm.can_read());
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path == "/repos/Codertocat/Hello-World/collaborators/some%20user/permission")
    );
    let perm = gh.get_repo_permission(REPO, "stranger").await?;
    assert_eq!(perm.permission, "read");
    Ok(())
}

#[tokio::test]
async fn generic_verbs_and_raw_requests() -> TestResult {
    let fake = FakeGitHub::start().await;
    let app = fake.client();
    let gh = app.installation(1);
    fake.respond("DELETE", "/repos/Codertocat/Hello-World/issues/1/labels/bug", 204, Value::Null);
    gh.delete("/repos/Codertocat/Hello-World/issues/1/labels/bug").await?;
    fake.respond("PUT", "/repos/Codertocat/Hello-World/issues/1/lock", 204, Value::Null);
    let () = gh.put("/repos/Codertocat/Hello-World/issues/1/lock", &json!({ "lock_reason": "spam" })).await?;
    fake.respond("PATCH", "/repos/Codertocat/Hello-World/issues/1", 200, json!({ "state": "closed" }));
    let patched: Value =
        gh.patch("/repos/Codertocat/Hello-World/issues/1", &json!({ "state": "closed" })).await?;
    assert_eq!(patched["state"], "closed");
    let resp = app.request::<()>(Method::GET, "/app", None).await?;
    assert_eq!(resp.status(), http::StatusCode::OK);
    assert_eq!(resp.json::<Value>()?["id"], json!(fake.app_id()));
    assert!(resp.headers().contains_key("content-type"));
    let absolute = format!("{}/app", fake.url());
    assert_eq!(app.get::<Value>(&absolute).await?["slug"], "fake-app");
    Ok(())
}

#[tokio::test]
async fn transport_errors_are_retried_then_reported() -> TestResult {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let config =
        ClientConfig { api_url: format!("http://127.0.0.1:{port}"), max_retries: 1, ..Default::default() };
    let gh = Client::new(config, None)?;
    let err = gh.get::<Value>("/meta").await.expect_err("connection refused");
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
    assert_eq!(err.request(), Some((&Method::GET, "/meta")));
    Ok(())
}

#[tokio::test]
async fn fake_records_requests_and_answers_unknown_routes() -> TestResult {
    let fake = FakeGitHub::start().await;
    let gh = fake.client().installation(1);
    let err = gh.get::<Value>("/nowhere?x=1").await.expect_err("404");
    assert!(err.is_not_found());
    let seen = fake.wait_for(|r| r.path == "/nowhere", Duration::from_secs(5)).await.expect("recorded");
    assert_eq!(seen.status, 404);
    assert_eq!(seen.query.as_deref(), Some("x=1"));
    assert!(fake.wait_for(|r| r.path == "/never", Duration::from_millis(50)).await.is_none());

    // wait_for also sees requests made after it starts waiting.
    let later = {
        let gh = gh.clone();
        tokio::spawn(async move { gh.create_issue_comment(REPO, 5, "later").await })
    };
    let seen = fake.wait_for(|r| r.path.ends_with("/issues/5/comments"), Duration::from_secs(30)).await;
    assert_eq!(seen.map(|r| r.status), Some(201));
    later.await??;

    let dry = FakeGitHub::dry_run().await;
    let gh = dry.client().installation(1);
    let answer: Value = gh.post("/repos/o/r/anything/at/all", &json!({ "x": 1 })).await?;
    assert_eq!(answer, json!({}));
    assert_eq!(dry.requests().last().map(|r| r.status), Some(200));
    Ok(())
}
