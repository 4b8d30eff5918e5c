//! Scale-out and crash tests against the real Redis and PostgreSQL: several `web` and
//! `worker` processes of this example share one queue, deliveries go to every web process,
//! workers are SIGKILLed and connections dropped mid-run, and the fake GitHub counts what
//! the background handler did for each delivery.
//!
//! Needs `GITHUBAPP_TEST_REDIS_URL` / `GITHUBAPP_TEST_DATABASE_URL` (`.ci/run` sets both).
//! Unset: the backend's tests are skipped with a message. Set but unreachable: they fail.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use githubapp::testing::{FakeGitHub, WebhookDelivery};
use tokio::sync::{Mutex, Semaphore};

const SECRET: &str = "scale-secret";

/// The tests share servers and one of them kills connections: run them one at a time.
static SERIAL: Mutex<()> = Mutex::const_new(());

#[derive(Clone, Copy, Debug)]
enum Backend {
    Redis,
    Postgres,
}

impl Backend {
    fn url(self) -> Option<String> {
        let var = match self {
            Backend::Redis => "GITHUBAPP_TEST_REDIS_URL",
            Backend::Postgres => "GITHUBAPP_TEST_DATABASE_URL",
        };
        match std::env::var(var) {
            Ok(u) if !u.is_empty() => Some(u),
            _ => {
                eprintln!("SKIPPED: {var} is not set; the {self:?} scale tests did not run");
                None
            }
        }
    }

    fn env(self, url: &str) -> [(&'static str, String); 2] {
        match self {
            Backend::Redis => [("GITHUBAPP_TASK_QUEUE", "redis".into()), ("GITHUBAPP_REDIS_URL", url.into())],
            Backend::Postgres => {
                [("GITHUBAPP_TASK_QUEUE", "postgres".into()), ("GITHUBAPP_DATABASE_URL", url.into())]
            }
        }
    }

    /// Drops every client connection of the server (what a restart does to clients).
    fn drop_connections(self, url: &str) {
        let status = match self {
            Backend::Redis => {
                Command::new("redis-cli").args(["-u", url, "CLIENT", "KILL", "TYPE", "normal"]).status()
            }
            Backend::Postgres => Command::new("psql")
                .args([
                    url,
                    "-qAtc",
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                ])
                .status(),
        };
        assert!(status.unwrap().success(), "could not drop {self:?} connections");
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn sigkill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
    fn sigterm(&self) {
        Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status().unwrap();
    }
}

struct Cluster {
    github: FakeGitHub,
    backend: Backend,
    url: String,
    namespace: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    async fn new(backend: Backend) -> Option<Cluster> {
        let url = backend.url()?;
        let namespace = format!("scale{:08x}", fastrand_u32());
        Some(Cluster { github: FakeGitHub::start().await, backend, url, namespace })
    }

    fn spawn(&self, command: &str, port: Option<u16>) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
        cmd.arg(command)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GITHUBAPP_ID", self.github.app_id().to_string())
            .env("GITHUBAPP_PRIVATE_KEY", self.github.private_key_pem())
            .env("GITHUBAPP_WEBHOOK_SECRET", SECRET)
            .env("GITHUBAPP_API_URL", self.github.url())
            .env("GITHUBAPP_TASK_NAMESPACE", &self.namespace)
            .env("GITHUBAPP_WORKERS", "16")
            .env("GITHUBAPP_TASK_LEASE", "3s")
            .env("GITHUBAPP_BIND", format!("127.0.0.1:{}", port.unwrap_or(0)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in self.backend.env(&self.url) {
            cmd.env(k, v);
        }
        Proc(cmd.spawn().unwrap())
    }

    async fn web(&self) -> (Proc, String) {
        let port = free_port();
        let proc = self.spawn("web", Some(port));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
                return (proc, base);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("web process did not come up on {base}");
    }

    /// Sends `n` signed `pull_request.opened` deliveries, spread over `webs`; all must be 202.
    async fn send(&self, webs: &[String], n: usize) -> Vec<String> {
        let payload = std::fs::read(format!(
            "{}/../../fixtures/github-webhooks/payloads/pull_request/opened.with-organization.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let compact =
            serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&payload).unwrap()).unwrap();
        let http = reqwest::Client::new();
        let gate = Arc::new(Semaphore::new(16));
        let mut joins = Vec::new();
        let mut ids = Vec::new();
        for i in 0..n {
            let d = WebhookDelivery::new("pull_request", compact.clone()).secret(SECRET);
            ids.push(d.id().to_string());
            let url = format!("{}/webhooks/github", webs[i % webs.len()]);
            let http = http.clone();
            let permit = gate.clone().acquire_owned().await.unwrap();
            joins.push(tokio::spawn(async move {
                let mut req = http.post(url).body(d.body());
                for (k, v) in d.headers() {
                    req = req.header(k, v);
                }
                let status = req.send().await.unwrap().status().as_u16();
                drop(permit);
                status
            }));
        }
        for j in joins {
            assert_eq!(j.await.unwrap(), 202, "every delivery is accepted for background work");
        }
        ids
    }

    /// Label calls per delivery id seen by GitHub so far.
    fn labels(&self) -> HashMap<String, usize> {
        let mut seen = HashMap::new();
        for r in self.github.requests() {
            if !r.path.ends_with("/labels") {
                continue;
            }
            let labels = r.body.as_ref().and_then(|b| b["labels"].as_array().cloned()).unwrap_or_default();
            for l in labels {
                if let Some(id) = l.as_str().and_then(|s| s.strip_prefix("triage:")) {
                    *seen.entry(id.to_string()).or_default() += 1;
                }
            }
        }
        seen
    }

    async fn wait_all(&self, ids: &[String], limit: Duration) -> HashMap<String, usize> {
        let start = Instant::now();
        loop {
            let seen = self.labels();
            if ids.iter().all(|id| seen.contains_key(id)) || start.elapsed() > limit {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_some(&self, n: usize) {
        let start = Instant::now();
        while self.labels().len() < n && start.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn fastrand_u32() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    (t.subsec_nanos() ^ std::process::id().rotate_left(16)) as u32
}

fn report(seen: &HashMap<String, usize>, ids: &[String]) -> (usize, usize) {
    let lost = ids.iter().filter(|id| !seen.contains_key(*id)).count();
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    (lost, duplicates)
}

/// Two web and two worker processes: every delivery handled exactly once.
async fn exactly_once(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(c) = Cluster::new(backend).await else { return };
    let (w1, b1) = c.web().await;
    let (w2, b2) = c.web().await;
    let k1 = c.spawn("worker", None);
    let k2 = c.spawn("worker", None);
    let ids = c.send(&[b1, b2], 600).await;
    let seen = c.wait_all(&ids, Duration::from_secs(120)).await;
    let (lost, duplicates) = report(&seen, &ids);
    assert_eq!((lost, duplicates), (0, 0), "{backend:?}: lost and duplicated deliveries");
    for p in [&w1, &w2, &k1, &k2] {
        p.sigterm();
    }
}

/// A worker SIGKILLed mid-run: another takes over its leased tasks; nothing is lost and the
/// only duplicates are tasks that were running when it died.
async fn worker_crash(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(c) = Cluster::new(backend).await else { return };
    let (_w1, b1) = c.web().await;
    let k1 = c.spawn("worker", None);
    let ids = c.send(&[b1], 2000).await;
    c.wait_some(400).await;
    k1.sigkill();
    let _k2 = c.spawn("worker", None);
    let seen = c.wait_all(&ids, Duration::from_secs(180)).await;
    let (lost, duplicates) = report(&seen, &ids);
    eprintln!("{backend:?} worker crash: {} deliveries, {lost} lost, {duplicates} duplicates", ids.len());
    assert_eq!(lost, 0, "{backend:?}: tasks lost after a worker crash");
    assert!(duplicates <= 16, "{backend:?}: at most the 16 in-flight tasks run twice, got {duplicates}");
}

/// Every connection to the server is dropped mid-run: processes reconnect by themselves.
async fn connections_dropped(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(c) = Cluster::new(backend).await else { return };
    let (_w1, b1) = c.web().await;
    let _k1 = c.spawn("worker", None);
    let first = c.send(std::slice::from_ref(&b1), 600).await;
    c.wait_some(200).await;
    c.backend.drop_connections(&c.url);
    // the web process must also recover: more deliveries after the drop
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = c.send(&[b1], 300).await;
    let ids: Vec<String> = first.into_iter().chain(second).collect();
    let seen = c.wait_all(&ids, Duration::from_secs(180)).await;
    let (lost, duplicates) = report(&seen, &ids);
    eprintln!(
        "{backend:?} connections dropped: {} deliveries, {lost} lost, {duplicates} duplicates",
        ids.len()
    );
    assert_eq!(lost, 0, "{backend:?}: tasks lost after connections were dropped");
}

/// The web process dies right after answering 202: the delivery is in the queue, and a
/// worker started later runs it.
async fn web_dies_after_202(backend: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(c) = Cluster::new(backend).await else { return };
    let (web, base) = c.web().await;
    let ids = c.send(&[base], 50).await;
    web.sigkill();
    let _k = c.spawn("worker", None);
    let seen = c.wait_all(&ids, Duration::from_secs(60)).await;
    assert_eq!(report(&seen, &ids).0, 0, "{backend:?}: accepted deliveries lost with the web process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_two_web_two_workers_exactly_once() {
    exactly_once(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_web_two_workers_exactly_once() {
    exactly_once(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_worker_sigkill_loses_nothing() {
    worker_crash(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_worker_sigkill_loses_nothing() {
    worker_crash(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dropped_connections_lose_nothing() {
    connections_dropped(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dropped_connections_lose_nothing() {
    connections_dropped(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_accepted_delivery_survives_web_crash() {
    web_dies_after_202(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_accepted_delivery_survives_web_crash() {
    web_dies_after_202(Backend::Postgres).await;
}
