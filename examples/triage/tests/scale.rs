//! Scale-out and crash tests against the real Redis and PostgreSQL: several `web` and
//! `worker` processes of this example share one queue, deliveries go to every web process,
//! workers are SIGKILLed, connections dropped and a Redis server restarted mid-run, and the
//! fake GitHub counts what the background handler did for each delivery.
//!
//! Needs `GITHUBAPP_TEST_REDIS_URL` / `GITHUBAPP_TEST_DATABASE_URL` (`.ci/run` sets both).
//! Unset: the backend's tests are skipped with a message. Set but unreachable: they fail.
//! The Redis restart test runs its own `redis-server` (it must be on `PATH` then). Also here,
//! to share the binary: `receive` with a durable (SQLite) queue configured.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
        Some(Cluster::with_url(backend, backend.url()?).await)
    }

    /// A cluster on the server at `url` (for tests that run their own server).
    async fn with_url(backend: Backend, url: String) -> Cluster {
        let namespace = format!("scale{:08x}", fastrand_u32());
        Cluster { github: FakeGitHub::start().await, backend, url, namespace }
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
        let http = reqwest::Client::new();
        let gate = Arc::new(Semaphore::new(16));
        let mut joins = Vec::new();
        let mut ids = Vec::new();
        for (i, d) in deliveries(n).into_iter().enumerate() {
            ids.push(d.id().to_string());
            let url = format!("{}/webhooks/github", webs[i % webs.len()]);
            let http = http.clone();
            let permit = gate.clone().acquire_owned().await.unwrap();
            joins.push(tokio::spawn(async move {
                let status = post(&http, &url, &d).await.unwrap();
                drop(permit);
                status
            }));
        }
        for j in joins {
            assert_eq!(j.await.unwrap(), 202, "every delivery is accepted for background work");
        }
        ids
    }

    /// Sends `n` deliveries to `web`, one every `every`, and resends each one that is not
    /// answered 2xx (what GitHub's redelivery does) until it is, for at most `limit`.
    /// `accepted` counts the deliveries answered 2xx so far. Returns every id with its final
    /// status, and how many resends were needed.
    async fn send_until_accepted(
        &self,
        web: &str,
        n: usize,
        every: Duration,
        limit: Duration,
        accepted: Arc<AtomicUsize>,
    ) -> (Vec<(String, u16)>, usize) {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
        let deadline = Instant::now() + limit;
        let gate = Arc::new(Semaphore::new(16));
        let mut joins = Vec::new();
        for d in deliveries(n) {
            let url = format!("{web}/webhooks/github");
            let (http, accepted) = (http.clone(), accepted.clone());
            let permit = gate.clone().acquire_owned().await.unwrap();
            joins.push(tokio::spawn(async move {
                let mut resent = 0;
                loop {
                    match post(&http, &url, &d).await {
                        Ok(status) if (200..300).contains(&status) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            drop(permit);
                            return (d.id().to_string(), status, resent);
                        }
                        other => {
                            assert!(
                                Instant::now() < deadline,
                                "delivery {} still not accepted after {limit:?}; last answer: {other:?}",
                                d.id()
                            );
                            resent += 1;
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                    }
                }
            }));
            tokio::time::sleep(every).await;
        }
        let mut out = Vec::new();
        let mut resends = 0;
        for j in joins {
            let (id, status, resent) = j.await.unwrap();
            out.push((id, status));
            resends += resent;
        }
        (out, resends)
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

/// `n` signed `pull_request.opened` deliveries with fresh ids.
fn deliveries(n: usize) -> Vec<WebhookDelivery> {
    let payload = std::fs::read(format!(
        "{}/../../fixtures/github-webhooks/payloads/pull_request/opened.with-organization.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let compact =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&payload).unwrap()).unwrap();
    (0..n).map(|_| WebhookDelivery::new("pull_request", compact.clone()).secret(SECRET)).collect()
}

/// Posts one delivery to `url`: its HTTP status, or the error if no answer came.
async fn post(http: &reqwest::Client, url: &str, d: &WebhookDelivery) -> reqwest::Result<u16> {
    let mut req = http.post(url).body(d.body());
    for (k, v) in d.headers() {
        req = req.header(k, v);
    }
    Ok(req.send().await?.status().as_u16())
}

/// A private `redis-server` on a free port that writes every acknowledged write to an
/// append-only file before answering (`appendfsync always`), so it can be SIGKILLed and
/// started again without losing what it acknowledged. Killed, and its directory removed, on
/// drop.
struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts the server; fails (does not skip) if `redis-server` or `redis-cli` is missing.
    async fn start() -> RedisServer {
        for tool in ["redis-server", "redis-cli"] {
            let found = Command::new(tool).arg("--version").stdout(Stdio::null()).status();
            assert!(
                found.is_ok_and(|s| s.success()),
                "GITHUBAPP_TEST_REDIS_URL is set, but `{tool}` is not on PATH: the Redis restart test \
                 runs its own server and needs it (install Redis, or unset the variable to skip)"
            );
        }
        let dir = std::env::temp_dir().join(format!(
            "githubapp-redis-restart-{}-{:08x}",
            std::process::id(),
            fastrand_u32()
        ));
        std::fs::create_dir(&dir).unwrap();
        let mut server = RedisServer { port: free_port(), dir, child: None };
        server.launch().await;
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on its port and directory (again, after `sigkill`) and waits until
    /// it answers PING (after it has loaded the append-only file).
    async fn launch(&mut self) {
        let log = self.dir.join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let child = self.child.insert(child);
        let start = Instant::now();
        loop {
            let pong = Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "ping"])
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"PONG"));
            if pong {
                return;
            }
            let exited = child.try_wait().unwrap();
            if exited.is_some() || start.elapsed() > Duration::from_secs(20) {
                panic!(
                    "private redis-server on port {} did not answer PING ({exited:?}); its log:\n{}",
                    self.port,
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Tasks of `namespace` queued or running (leased) right now.
    fn unfinished_tasks(&self, namespace: &str) -> usize {
        let count = |set: &str| {
            let out = Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "ZCARD"])
                .arg(format!("githubapp:{{{namespace}}}:{set}"))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse::<usize>().unwrap_or(0)
        };
        count("ready") + count("leased")
    }

    fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.sigkill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `done` until it holds, for at most a minute.
async fn wait_until(mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
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

/// The Redis server itself is SIGKILLed mid-run and started again a second later (on the
/// same port, from its append-only file): the web and worker processes reconnect by
/// themselves, and every delivery answered 2xx (after resending what was refused while the
/// server was down, as GitHub's redelivery would) is handled at least once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_server_restart_loses_nothing() {
    let _serial = SERIAL.lock().await;
    // The variable decides whether Redis tests run; this one restarts a private server (the
    // shared one keeps nothing on disk).
    if Backend::Redis.url().is_none() {
        return;
    }
    let started = Instant::now();
    let mut server = RedisServer::start().await;
    let c = Cluster::with_url(Backend::Redis, server.url()).await;
    let (_web, base) = c.web().await;

    let n = 1000;
    let accepted = Arc::new(AtomicUsize::new(0));
    let every = Duration::from_millis(4);
    let sender = c.send_until_accepted(&base, n, every, Duration::from_secs(90), accepted.clone());
    let restart = async {
        // A backlog first, then two workers work it off while more deliveries come in.
        wait_until(|| accepted.load(Ordering::Relaxed) >= 200).await;
        let workers = [c.spawn("worker", None), c.spawn("worker", None)];
        // Kill with deliveries handled, others queued or running, and more still to come.
        let mut unfinished = 0;
        wait_until(|| {
            c.labels().len() >= 100 && {
                unfinished = server.unfinished_tasks(&c.namespace);
                unfinished > 0
            }
        })
        .await;
        let (sent, handled) = (accepted.load(Ordering::Relaxed), c.labels().len());
        server.sigkill();
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.launch().await;
        (workers, sent, handled, unfinished)
    };
    let ((answers, resends), (_workers, sent, handled, unfinished)) = tokio::join!(sender, restart);
    assert!(
        handled >= 100 && unfinished > 0 && sent < n,
        "the restart came mid-run: {handled} handled, {unfinished} queued or running, {sent} of {n} sent"
    );

    let ids: Vec<String> = answers.iter().map(|(id, _)| id.clone()).collect();
    let seen = c.wait_all(&ids, Duration::from_secs(180)).await;
    let (lost, duplicates) = report(&seen, &ids);
    let answered_200 = answers.iter().filter(|(_, s)| *s == 200).count();
    eprintln!(
        "Redis server restart: {n} deliveries ({sent} accepted, {handled} handled and {unfinished} \
         queued or running at the kill), {resends} resends, {answered_200} answered 200 (duplicate \
         delivery), {lost} lost, {duplicates} duplicates, {:?}",
        started.elapsed()
    );
    let missing: Vec<_> = answers.iter().filter(|(id, _)| !seen.contains_key(id)).take(10).collect();
    assert_eq!(
        lost, 0,
        "accepted deliveries lost across a Redis server restart, e.g. (id, answer): {missing:?}"
    );
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

/// `receive` (no dry run) with a durable queue configured: the handlers run here, inline (a
/// background one too), as the configured app; the app connects the configured queue, so
/// tasks they enqueue would go there (before, the builder refused to build: not connected).
#[tokio::test]
async fn receive_runs_handlers_with_a_durable_queue_configured() {
    let github = FakeGitHub::start().await;
    let dir = std::env::temp_dir().join(format!("triage-receive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let payload = format!(
        "{}/../../fixtures/github-webhooks/payloads/pull_request/opened.with-organization.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .env_clear()
        .env("GITHUBAPP_ID", github.app_id().to_string())
        .env("GITHUBAPP_PRIVATE_KEY", github.private_key_pem())
        .env("GITHUBAPP_API_URL", github.url())
        .env("GITHUBAPP_TASK_QUEUE", "sqlite")
        .env("GITHUBAPP_DATABASE_URL", format!("sqlite://{}/queue.db", dir.display()))
        .env("RUST_LOG", "warn")
        .args(["receive", "--event", "pull_request", "--payload", &payload])
        .output()
        .await
        .unwrap();
    let connected = dir.join("queue.db").is_file();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("ok      triage::triage (background"), "{stdout}");
    assert!(github.requests().iter().any(|r| r.path.ends_with("/labels")), "labels added");
    assert!(connected, "the configured SQLite queue was opened");
}
