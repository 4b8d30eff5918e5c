//! The fake's request handling: recording, injected faults, authentication and endpoints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Value, json};

use super::{
    DOCS_URL, FakeGitHub, FaultKind, Grant, InstallationFixture, RateLimit, RecordedRequest, Shared,
};

/// An answer before it becomes an HTTP response.
struct Reply {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: Value,
}

impl Reply {
    fn json(status: StatusCode, body: Value) -> Reply {
        Reply { status, headers: Vec::new(), body }
    }

    fn ok(body: Value) -> Reply {
        Reply::json(StatusCode::OK, body)
    }

    fn created(body: Value) -> Reply {
        Reply::json(StatusCode::CREATED, body)
    }

    fn error(status: StatusCode, message: &str) -> Reply {
        Reply::json(
            status,
            json!({ "message": message, "documentation_url": DOCS_URL, "status": status.as_u16().to_string() }),
        )
    }

    fn not_found() -> Reply {
        Reply::error(StatusCode::NOT_FOUND, "Not Found")
    }

    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        headers
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        headers.insert("x-github-media-type", HeaderValue::from_static("github.v3; format=json"));
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        let body = if self.status == StatusCode::NO_CONTENT { String::new() } else { self.body.to_string() };
        (self.status, headers, body).into_response()
    }
}

/// The single handler: records, applies faults and canned answers, then routes.
pub(super) async fn handle(
    State(fake): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_path = uri.path().to_owned();
    let (prefix, path) = match raw_path.strip_prefix("/api/v3") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => ("/api/v3", rest.to_owned()),
        _ => ("", raw_path.clone()),
    };
    let body_json: Option<Value> = if body.is_empty() { None } else { serde_json::from_slice(&body).ok() };
    let req = Req {
        method: method.clone(),
        path: path.clone(),
        link_base: format!("{}{prefix}{path}", fake.base_url),
        query: uri.query().map(str::to_owned),
        headers: &headers,
        body: body_json.clone().unwrap_or(Value::Null),
    };
    let reply = injected(&fake, &method, &path).unwrap_or_else(|| route(&fake, &req));
    let recorded = RecordedRequest {
        method,
        path: raw_path,
        query: uri.query().map(str::to_owned),
        headers: headers_map(&headers),
        body: body_json,
        status: reply.status.as_u16(),
    };
    fake.lock().requests.push(recorded);
    fake.recorded.send_modify(|n| *n += 1);
    let mut response = reply.into_response();
    // GitHub's clock, which the client measures token lifetimes and JWT skew against.
    if let Ok(date) = HeaderValue::from_str(&fake.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        response.headers_mut().insert(http::header::DATE, date);
    }
    response
}

fn headers_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    map
}

/// A canned answer or an injected fault for this request, if any.
fn injected(fake: &Shared, method: &Method, path: &str) -> Option<Reply> {
    let mut inner = fake.lock();
    if let Some((_, _, status, body)) =
        inner.overrides.iter().find(|(m, p, _, _)| m == method.as_str() && p == path)
    {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some(Reply::json(status, body.clone()));
    }
    let fault = inner.faults.iter_mut().find(|f| {
        f.remaining > 0
            && (f.method == "*" || f.method == method.as_str())
            && path.starts_with(&f.path_prefix)
    })?;
    fault.remaining -= 1;
    let kind = fault.kind.clone();
    inner.faults.retain(|f| f.remaining > 0);
    Some(match kind {
        FaultKind::Status(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Reply::error(status, status.canonical_reason().unwrap_or("Injected failure"))
        }
        FaultKind::RateLimit(RateLimit::RetryAfter(secs)) => {
            let mut r = Reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            );
            r.headers.push(("retry-after", secs.to_string()));
            r
        }
        FaultKind::RateLimit(RateLimit::Exhausted { reset_in }) => {
            let reset = fake.now().timestamp() + i64::try_from(reset_in).unwrap_or(i64::MAX / 2);
            let mut r = Reply::error(StatusCode::FORBIDDEN, "API rate limit exceeded for installation ID 1.");
            r.headers.push(("x-ratelimit-limit", "5000".into()));
            r.headers.push(("x-ratelimit-remaining", "0".into()));
            r.headers.push(("x-ratelimit-used", "5000".into()));
            r.headers.push(("x-ratelimit-reset", reset.to_string()));
            r.headers.push(("x-ratelimit-resource", "core".into()));
            r
        }
    })
}

/// The parts of a request the routes look at.
struct Req<'a> {
    method: Method,
    path: String,
    /// Absolute URL of this path (with the GHES prefix if used), for `Link` headers.
    link_base: String,
    query: Option<String>,
    headers: &'a HeaderMap,
    body: Value,
}

impl Req<'_> {
    fn query_u64(&self, name: &str) -> Option<u64> {
        let q = self.query.as_deref()?;
        form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).and_then(|(_, v)| v.parse().ok())
    }

    fn body_str(&self, field: &str) -> Option<&str> {
        self.body.get(field).and_then(Value::as_str)
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) =
                std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(fake: &Shared, req: &Req<'_>) -> Reply {
    let segs: Vec<String> = req.path.trim_matches('/').split('/').map(percent_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = &req.method;
    let result = match (m.as_str(), segs.as_slice()) {
        ("POST", ["app", "installations", id, "access_tokens"]) => {
            app(fake, req).and_then(|()| mint(fake, req, id))
        }
        ("GET", ["app"]) => app(fake, req).map(|()| get_app(fake)),
        ("GET", ["app", "installations"]) => app(fake, req).map(|()| list_installations(fake, req)),
        ("GET", ["repos", owner, _, "installation"]) => {
            app(fake, req).and_then(|()| installation_for(fake, owner))
        }
        ("GET", ["installation", "repositories"]) => {
            token(fake, req).and_then(|g| installation_repos(fake, req, &g))
        }
        ("GET", ["user"]) => user(fake, req).map(|login| Reply::ok(user_json(&login, "User"))),
        ("GET", ["user", "repos"]) => user(fake, req).map(|login| user_repos(fake, req, &login)),
        ("GET", ["user", "orgs"]) => user(fake, req).map(|_| user_orgs(fake, req)),
        (_, ["repos", owner, repo, rest @ ..]) if !rest.is_empty() => {
            repo_route(fake, req, owner, repo, rest)
                .map(|handler| {
                    token(fake, req).and_then(|g| check_repo(&g, repo)).and_then(|()| handler(fake, req))
                })
                .unwrap_or_else(|| Err(fallback(fake)))
        }
        _ => Err(fallback(fake)),
    };
    result.unwrap_or_else(|reply| reply)
}

fn fallback(fake: &Shared) -> Reply {
    if fake.dry_run { Reply::ok(json!({})) } else { Reply::not_found() }
}

type Handler = Box<dyn FnOnce(&Shared, &Req<'_>) -> Result<Reply, Reply>>;

/// Routes under `/repos/{owner}/{repo}/...` (all installation- or user-token authenticated).
fn repo_route(_fake: &Shared, req: &Req<'_>, owner: &str, repo: &str, rest: &[&str]) -> Option<Handler> {
    let full = format!("{owner}/{repo}");
    let m = req.method.as_str();
    let h: Handler = match (m, rest) {
        ("POST", ["issues"]) => Box::new(move |f, r| create_issue(f, r, &full)),
        ("POST", ["issues", n, "comments"]) => {
            let n = n.parse::<u64>().ok()?;
            Box::new(move |f, r| create_comment(f, r, &full, n))
        }
        ("POST", ["issues", n, "labels"]) => {
            let n = n.parse::<u64>().ok()?;
            Box::new(move |f, r| add_labels(f, r, &full, n))
        }
        ("GET", ["commits", sha]) => {
            let sha = (*sha).to_owned();
            Box::new(move |f, r| get_commit(f, r, &full, &sha))
        }
        ("GET", ["pulls", n, "files"]) => {
            let n = n.parse::<u64>().ok()?;
            Box::new(move |f, r| {
                let files = f.lock().pr_files.get(&(full.clone(), n)).cloned();
                let files = files.unwrap_or_else(|| vec![FakeGitHub::fake_file("README.md", "modified")]);
                Ok(paginate(r, files, 30))
            })
        }
        ("POST", ["check-runs"]) => Box::new(move |f, r| create_check_run(f, r, &full)),
        ("POST", ["deployments"]) => Box::new(move |f, r| create_deployment(f, r, &full)),
        ("POST", ["deployments", id, "statuses"]) => {
            let id = id.parse::<u64>().ok()?;
            Box::new(move |f, r| create_deployment_status(f, r, &full, id))
        }
        ("GET", ["collaborators", user, "permission"]) => {
            let user = (*user).to_owned();
            Box::new(move |f, _| {
                let perm = f.lock().permissions.get(&(full.clone(), user.clone())).cloned();
                let perm = perm.unwrap_or_else(|| "read".into());
                Ok(Reply::ok(
                    json!({ "permission": perm, "role_name": perm, "user": user_json(&user, "User") }),
                ))
            })
        }
        _ => return None,
    };
    Some(h)
}

// ---------------------------------------------------------------------------------------
// Authentication

fn bearer<'a>(req: &'a Req<'_>) -> Option<&'a str> {
    let v = req.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")).then(|| token.trim())
}

/// Checks the app JWT: RS256 with the test key, `iss` = app id, `exp` ≤ 10 min ahead.
fn app(fake: &Shared, req: &Req<'_>) -> Result<(), Reply> {
    #[derive(serde::Deserialize)]
    struct Claims {
        iat: i64,
        exp: i64,
    }
    let unauthorized = |m: &str| Reply::error(StatusCode::UNAUTHORIZED, m);
    let jwt = bearer(req).ok_or_else(|| unauthorized("Requires authentication"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[fake.app_id.to_string()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    // Checked below against the fake's clock, with GitHub's messages.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Claims>(jwt, &fake.key, &validation)
        .map_err(|_| unauthorized("A JSON web token could not be decoded"))?
        .claims;
    let now = fake.now().timestamp();
    if claims.exp <= now {
        return Err(unauthorized(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
        ));
    }
    if claims.exp > now + 600 {
        return Err(unauthorized("'Expiration time' claim ('exp') is too far in the future"));
    }
    if claims.iat > now + 60 {
        return Err(unauthorized(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
        ));
    }
    Ok(())
}

/// Checks an installation or user token.
fn token(fake: &Shared, req: &Req<'_>) -> Result<Grant, Reply> {
    let token =
        bearer(req).ok_or_else(|| Reply::error(StatusCode::UNAUTHORIZED, "Requires authentication"))?;
    fake.lock()
        .tokens
        .get(token)
        .filter(|g| g.usable_from.is_none_or(|t| std::time::Instant::now() >= t))
        .cloned()
        .ok_or_else(|| Reply::error(StatusCode::UNAUTHORIZED, "Bad credentials"))
}

fn user(fake: &Shared, req: &Req<'_>) -> Result<String, Reply> {
    token(fake, req)?
        .user
        .ok_or_else(|| Reply::error(StatusCode::FORBIDDEN, "Resource not accessible by integration"))
}

fn check_repo(grant: &Grant, repo: &str) -> Result<(), Reply> {
    if grant.repositories.is_empty() || grant.repositories.iter().any(|r| r.eq_ignore_ascii_case(repo)) {
        Ok(())
    } else {
        Err(Reply::error(StatusCode::FORBIDDEN, "Resource not accessible by integration"))
    }
}

// ---------------------------------------------------------------------------------------
// Endpoints

fn timestamp_in(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn now_rfc3339() -> String {
    timestamp_in(0)
}

fn user_json(login: &str, kind: &str) -> Value {
    let id = login.bytes().fold(1u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) % 10_000_000;
    json!({ "login": login, "id": id, "type": kind, "html_url": format!("https://github.com/{login}") })
}

fn bot() -> Value {
    user_json("fake-app[bot]", "Bot")
}

fn mint(fake: &Shared, req: &Req<'_>, id: &str) -> Result<Reply, Reply> {
    let installation_id: u64 = id.parse().map_err(|_| Reply::not_found())?;
    let repositories: Vec<String> = req
        .body
        .get("repositories")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let permissions = req
        .body
        .get("permissions")
        .cloned()
        .unwrap_or_else(|| json!({ "issues": "write", "contents": "read", "metadata": "read", "pull_requests": "write", "checks": "write", "deployments": "write" }));
    let token = format!("ghs_fake_{}", fake.next_token.fetch_add(1, Ordering::Relaxed));
    let lifetime = {
        let mut inner = fake.lock();
        let usable_from = std::time::Instant::now() + inner.replication_delay;
        inner.tokens.insert(
            token.clone(),
            Grant {
                installation_id: Some(installation_id),
                repositories: repositories.clone(),
                user: None,
                usable_from: Some(usable_from),
            },
        );
        inner.token_lifetime.unwrap_or(3600)
    };
    fake.mints.fetch_add(1, Ordering::SeqCst);
    let mut body = json!({
        "token": token,
        "expires_at": (fake.now() + chrono::Duration::seconds(lifetime)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "permissions": permissions,
        "repository_selection": if repositories.is_empty() { "all" } else { "selected" },
    });
    if !repositories.is_empty() {
        body["repositories"] = repositories.iter().map(|r| json!({ "name": r })).collect::<Vec<_>>().into();
    }
    Ok(Reply::created(body))
}

fn get_app(fake: &Shared) -> Reply {
    Reply::ok(
        json!({ "id": fake.app_id, "slug": "fake-app", "name": "Fake App", "owner": user_json("Codertocat", "User") }),
    )
}

fn installation_json(fake: &Shared, id: u64, fixture: &InstallationFixture) -> Value {
    json!({
        "id": id,
        "app_id": fake.app_id,
        "app_slug": "fake-app",
        "account": user_json(&fixture.account, "Organization"),
        "target_type": "Organization",
        "repository_selection": if fixture.repositories.is_empty() { "all" } else { "selected" },
        "permissions": { "issues": "write", "contents": "read", "metadata": "read" },
        "events": ["issues", "pull_request", "push"],
        "html_url": format!("https://github.com/settings/installations/{id}"),
        "created_at": now_rfc3339(),
    })
}

fn list_installations(fake: &Shared, req: &Req<'_>) -> Reply {
    let all: Vec<Value> =
        fake.lock().installations.clone().iter().map(|(id, f)| installation_json(fake, *id, f)).collect();
    paginate(req, all, 30)
}

fn installation_for(fake: &Shared, owner: &str) -> Result<Reply, Reply> {
    let found = fake
        .lock()
        .installations
        .iter()
        .find(|(_, f)| f.account.eq_ignore_ascii_case(owner))
        .map(|(id, f)| (*id, f.clone()));
    found.map(|(id, f)| Reply::ok(installation_json(fake, id, &f))).ok_or_else(Reply::not_found)
}

fn repo_json(fake: &Shared, owner: &str, name: &str) -> Value {
    json!({
        "id": fake.id(),
        "name": name,
        "full_name": format!("{owner}/{name}"),
        "owner": user_json(owner, "Organization"),
        "private": false,
        "html_url": format!("https://github.com/{owner}/{name}"),
        "default_branch": "main",
        "archived": false,
        "permissions": { "admin": false, "maintain": false, "push": true, "triage": true, "pull": true },
    })
}

fn installation_repos(fake: &Shared, req: &Req<'_>, grant: &Grant) -> Result<Reply, Reply> {
    let fixture = grant.installation_id.and_then(|id| fake.lock().installations.get(&id).cloned());
    let Some(fixture) = fixture else {
        return Err(Reply::error(StatusCode::FORBIDDEN, "Resource not accessible by integration"));
    };
    let names =
        if grant.repositories.is_empty() { fixture.repositories.clone() } else { grant.repositories.clone() };
    let repos: Vec<Value> = names.iter().map(|n| repo_json(fake, &fixture.account, n)).collect();
    let total = repos.len();
    let mut reply = paginate(req, repos, 30);
    reply.body =
        json!({ "total_count": total, "repository_selection": "selected", "repositories": reply.body });
    Ok(reply)
}

fn user_repos(fake: &Shared, req: &Req<'_>, login: &str) -> Reply {
    let repos = vec![repo_json(fake, login, "hello-world"), repo_json(fake, "octo-org", "octo-repo")];
    paginate(req, repos, 30)
}

fn user_orgs(fake: &Shared, req: &Req<'_>) -> Reply {
    let orgs = vec![
        json!({ "login": "octo-org", "id": 6811672, "description": "A fake organization", "url": format!("{}/orgs/octo-org", fake.base_url) }),
    ];
    paginate(req, orgs, 30)
}

fn unprocessable(field: &str) -> Reply {
    Reply::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "message": "Validation Failed",
            "errors": [{ "resource": "Request", "field": field, "code": "missing_field" }],
            "documentation_url": DOCS_URL,
            "status": "422",
        }),
    )
}

fn create_issue(fake: &Shared, req: &Req<'_>, full: &str) -> Result<Reply, Reply> {
    let title = req.body_str("title").ok_or_else(|| unprocessable("title"))?;
    let id = fake.id();
    Ok(Reply::created(json!({
        "id": id,
        "number": id,
        "title": title,
        "body": req.body.get("body").cloned().unwrap_or(Value::Null),
        "state": "open",
        "url": format!("{}/repos/{full}/issues/{id}", fake.base_url),
        "html_url": format!("https://github.com/{full}/issues/{id}"),
        "user": bot(),
        "labels": [],
        "created_at": now_rfc3339(),
    })))
}

fn create_comment(fake: &Shared, req: &Req<'_>, full: &str, number: u64) -> Result<Reply, Reply> {
    let body = req.body_str("body").ok_or_else(|| unprocessable("body"))?;
    let id = fake.id();
    Ok(Reply::created(json!({
        "id": id,
        "body": body,
        "url": format!("{}/repos/{full}/issues/comments/{id}", fake.base_url),
        "html_url": format!("https://github.com/{full}/issues/{number}#issuecomment-{id}"),
        "issue_url": format!("{}/repos/{full}/issues/{number}", fake.base_url),
        "user": bot(),
        "created_at": now_rfc3339(),
    })))
}

fn add_labels(fake: &Shared, req: &Req<'_>, full: &str, number: u64) -> Result<Reply, Reply> {
    let new: Vec<String> = req
        .body
        .get("labels")
        .and_then(Value::as_array)
        .ok_or_else(|| unprocessable("labels"))?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let all = {
        let mut inner = fake.lock();
        let labels = inner.labels.entry((full.to_owned(), number)).or_default();
        for l in new {
            if !labels.contains(&l) {
                labels.push(l);
            }
        }
        labels.clone()
    };
    let body: Vec<Value> = all
        .iter()
        .map(|name| json!({ "id": fake.id(), "name": name, "color": "ededed", "description": null, "default": false }))
        .collect();
    Ok(Reply::ok(body.into()))
}

fn get_commit(fake: &Shared, req: &Req<'_>, full: &str, sha: &str) -> Result<Reply, Reply> {
    let files = fake.lock().commit_files.get(&(full.to_owned(), sha.to_owned())).cloned();
    let files = files.unwrap_or_else(|| vec![FakeGitHub::fake_file("README.md", "modified")]);
    let mut reply = paginate(req, files, 300);
    reply.body = json!({
        "sha": sha,
        "url": format!("{}/repos/{full}/commits/{sha}", fake.base_url),
        "html_url": format!("https://github.com/{full}/commit/{sha}"),
        "commit": { "message": "A fake commit" },
        "files": reply.body,
    });
    Ok(reply)
}

fn create_check_run(fake: &Shared, req: &Req<'_>, full: &str) -> Result<Reply, Reply> {
    let name = req.body_str("name").ok_or_else(|| unprocessable("name"))?;
    let head_sha = req.body_str("head_sha").ok_or_else(|| unprocessable("head_sha"))?;
    let id = fake.id();
    let conclusion = req.body.get("conclusion").cloned().unwrap_or(Value::Null);
    let status = match req.body_str("status") {
        Some(s) => s.to_owned(),
        None if !conclusion.is_null() => "completed".to_owned(),
        None => "queued".to_owned(),
    };
    Ok(Reply::created(json!({
        "id": id,
        "name": name,
        "head_sha": head_sha,
        "status": status,
        "conclusion": conclusion,
        "external_id": req.body.get("external_id").cloned().unwrap_or(Value::Null),
        "details_url": req.body.get("details_url").cloned().unwrap_or(Value::Null),
        "url": format!("{}/repos/{full}/check-runs/{id}", fake.base_url),
        "html_url": format!("https://github.com/{full}/runs/{id}"),
        "started_at": req.body.get("started_at").cloned().unwrap_or_else(|| now_rfc3339().into()),
        "completed_at": req.body.get("completed_at").cloned().unwrap_or(Value::Null),
        "output": req.body.get("output").cloned().unwrap_or(Value::Null),
    })))
}

fn create_deployment(fake: &Shared, req: &Req<'_>, full: &str) -> Result<Reply, Reply> {
    let git_ref = req.body_str("ref").ok_or_else(|| unprocessable("ref"))?;
    let id = fake.id();
    Ok(Reply::created(json!({
        "id": id,
        "sha": "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
        "ref": git_ref,
        "task": req.body_str("task").unwrap_or("deploy"),
        "environment": req.body_str("environment").unwrap_or("production"),
        "description": req.body.get("description").cloned().unwrap_or(Value::Null),
        "payload": req.body.get("payload").cloned().unwrap_or_else(|| json!({})),
        "creator": bot(),
        "url": format!("{}/repos/{full}/deployments/{id}", fake.base_url),
        "statuses_url": format!("{}/repos/{full}/deployments/{id}/statuses", fake.base_url),
        "created_at": now_rfc3339(),
    })))
}

fn create_deployment_status(
    fake: &Shared,
    req: &Req<'_>,
    full: &str,
    deployment: u64,
) -> Result<Reply, Reply> {
    let state = req.body_str("state").ok_or_else(|| unprocessable("state"))?;
    let id = fake.id();
    Ok(Reply::created(json!({
        "id": id,
        "state": state,
        "description": req.body.get("description").cloned().unwrap_or(Value::Null),
        "environment": req.body.get("environment").cloned().unwrap_or_else(|| "production".into()),
        "environment_url": req.body.get("environment_url").cloned().unwrap_or(Value::Null),
        "log_url": req.body.get("log_url").cloned().unwrap_or(Value::Null),
        "creator": bot(),
        "url": format!("{}/repos/{full}/deployments/{deployment}/statuses/{id}", fake.base_url),
        "deployment_url": format!("{}/repos/{full}/deployments/{deployment}", fake.base_url),
        "created_at": now_rfc3339(),
    })))
}

/// One page of `items` by `page` / `per_page` (default `default_per_page`, at most 100 — 300
/// for commit files), with GitHub's `Link` header.
fn paginate(req: &Req<'_>, items: Vec<Value>, default_per_page: u64) -> Reply {
    let cap = default_per_page.max(100);
    let per_page = req.query_u64("per_page").unwrap_or(default_per_page).clamp(1, cap);
    let page = req.query_u64("page").unwrap_or(1).max(1);
    let total = items.len() as u64;
    let last = total.div_ceil(per_page).max(1);
    let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let slice: Vec<Value> =
        items.into_iter().skip(start).take(usize::try_from(per_page).unwrap_or(usize::MAX)).collect();
    let link = |p: u64, rel: &str| format!("<{}?per_page={per_page}&page={p}>; rel=\"{rel}\"", req.link_base);
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
        links.push(link(1, "first"));
    }
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    let mut reply = Reply::ok(slice.into());
    if !links.is_empty() {
        reply.headers.push(("link", links.join(", ")));
    }
    reply
}
