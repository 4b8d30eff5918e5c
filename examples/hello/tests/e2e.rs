//! End to end: start the `hello` binary against the fake GitHub, send it real signed
//! deliveries over HTTP, and check the comment reached GitHub.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use githubapp::testing::{FakeGitHub, WebhookDelivery};

const SECRET: &str = "e2e-secret";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../fixtures/github-webhooks/payloads/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

/// A real `issues.opened` payload as an App receives it (with `installation.id`).
fn issue_opened() -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&fixture("issues/opened.json")).unwrap();
    v["installation"] = serde_json::json!({ "id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" });
    serde_json::to_vec(&v).unwrap()
}

async fn start(github: &FakeGitHub) -> (Server, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_hello"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUBAPP_ID", github.app_id().to_string())
        .env("GITHUBAPP_PRIVATE_KEY", github.private_key_pem())
        .env("GITHUBAPP_WEBHOOK_SECRET", SECRET)
        .env("GITHUBAPP_API_URL", github.url())
        .env("GITHUBAPP_BIND", format!("127.0.0.1:{port}"))
        .env("GITHUBAPP_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            return (server, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("hello did not start listening on {base}");
}

async fn post(base: &str, d: &WebhookDelivery) -> u16 {
    let mut req = reqwest::Client::new().post(format!("{base}/webhooks/github")).body(d.body());
    for (k, v) in d.headers() {
        req = req.header(k, v);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn hello_comments_on_opened_issues() {
    let github = FakeGitHub::start().await;
    let (mut server, base) = start(&github).await;

    let opened = WebhookDelivery::new("issues", issue_opened()).secret(SECRET);
    assert_eq!(post(&base, &opened).await, 200);
    let comment = github
        .wait_for(|r| r.path.ends_with("/comments"), Duration::from_secs(5))
        .await
        .expect("the comment reached GitHub");
    assert_eq!(comment.path, "/repos/Codertocat/Hello-World/issues/1/comments");
    assert_eq!(comment.body.unwrap()["body"], "Thanks for opening this issue!");

    // Redelivery of the same delivery: acknowledged, not commented twice.
    assert_eq!(post(&base, &opened).await, 200);
    // Other events and bad signatures.
    let labeled = WebhookDelivery::new("issues", fixture("issues/labeled.json")).secret(SECRET);
    assert_eq!(post(&base, &labeled).await, 200);
    let forged = WebhookDelivery::new("issues", issue_opened()).secret("not-the-secret");
    assert_eq!(post(&base, &forged).await, 401);
    let comments = github.requests().into_iter().filter(|r| r.path.ends_with("/comments")).count();
    assert_eq!(comments, 1);

    // SIGTERM: graceful shutdown, exit 0.
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = server.0.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(status.expect("exited after SIGTERM").success());
}

#[test]
fn serve_without_a_secret_fails_with_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_hello"))
        .env_clear()
        .env("GITHUBAPP_BIND", "127.0.0.1:0")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GITHUBAPP_WEBHOOK_SECRET is not set"), "{stderr}");
}

#[test]
fn receive_dry_run_replays_a_payload_offline() {
    let payload =
        format!("{}/../../fixtures/github-webhooks/payloads/issues/opened.json", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_hello"))
        .env_clear()
        .args(["receive", "--event", "issues", "--payload", &payload, "--dry-run"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("ok      hello::greet"), "{stdout}");
    assert!(stdout.contains("POST /repos/Codertocat/Hello-World/issues/1/comments"), "{stdout}");

    // A handler failure is a non-zero exit: the action nobody handles is fine, a broken
    // payload file is not.
    let out = Command::new(env!("CARGO_BIN_EXE_hello"))
        .env_clear()
        .args(["receive", "--event", "issues", "--payload", "/nonexistent.json", "--dry-run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read payload"));
}

#[test]
fn routes_lists_handlers_without_configuration() {
    let out = Command::new(env!("CARGO_BIN_EXE_hello")).env_clear().arg("routes").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("issues.opened") && stdout.contains("hello::greet") && stdout.contains("main.rs:"),
        "{stdout}"
    );
}

/// The logging settings may come from `.env` like every other setting.
#[test]
fn log_settings_are_read_from_dot_env() {
    let dir = std::env::temp_dir().join(format!("hello-dotenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), "GITHUBAPP_LOG_FORMAT=json\nRUST_LOG=hello=debug,githubapp=debug\n")
        .unwrap();
    let payload =
        format!("{}/../../fixtures/github-webhooks/payloads/issues/opened.json", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_hello"))
        .env_clear()
        .current_dir(&dir)
        .args(["receive", "--event", "issues", "--payload", &payload, "--dry-run"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(
        lines.iter().any(|l| l["level"] == "DEBUG"),
        "expected JSON debug logs on stderr, got:\n{stderr}"
    );
}

/// A `.env` line that does not parse is a configuration error naming its line and variable,
/// and never showing the value (it may be a secret): whether the bad line has a `NAME=` or
/// not, and after valid lines that dotenvy would refuse alone (a trailing space, a multi-line
/// quoted value).
#[test]
fn malformed_dot_env_is_a_clear_error_without_the_value() {
    let cases = [
        (
            "GITHUBAPP_ID=1 \nGITHUBAPP_WEBHOOK_SECRET=two words\n",
            "line 2 (`GITHUBAPP_WEBHOOK_SECRET`)",
            "two words",
        ),
        (
            "GITHUBAPP_PRIVATE_KEY=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\n# c\nGITHUBAPP_WEBHOOK_SECRET=s3cr3t v\n",
            "line 5 (`GITHUBAPP_WEBHOOK_SECRET`)",
            "s3cr3t",
        ),
        (
            "GITHUBAPP_WEBHOOK_SECRET=\n0123456789abcdef0123456789abcdef01234567\n",
            "line 2 of",
            "0123456789abcdef",
        ),
    ];
    for (i, (dotenv, expected, secret)) in cases.into_iter().enumerate() {
        let dir = std::env::temp_dir().join(format!("hello-bad-dotenv-{}-{i}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".env"), dotenv).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_hello"))
            .env_clear()
            .current_dir(&dir)
            .args(["check", "--offline"])
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!out.status.success(), "case {i}");
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(all.contains(&format!(".env is invalid: {expected}")), "case {i}: {all}");
        assert!(!all.contains(secret), "case {i}: the value leaked: {all}");
    }
}
