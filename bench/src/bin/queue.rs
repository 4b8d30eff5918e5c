//! Task queue benchmark (issue #3), driven by `bench/queue.sh`: for each backend, a no-op
//! `#[github::task]` through the real `Worker`.
//!
//! ```text
//! queue [memory] [sqlite] [redis] [postgres]      # default: every backend whose URL is set
//! ```
//!
//! Per backend, each step on a fresh namespace:
//!
//! 1. **enqueue, single**: `ENQUEUE_TASKS` typed enqueues, one caller awaiting each in turn;
//! 2. **enqueue, batch**: `BACKLOG` typed enqueues from 16 concurrent callers (what many
//!    webhook deliveries at once look like; Redis groups them into one round trip);
//! 3. **complete, concurrency 1 and 16**: a backlog of `BACKLOG` no-op tasks drained by one
//!    `Worker` with that concurrency, from start to the last completion;
//! 4. **idle pickup**: `PICKUPS` tasks enqueued one at a time onto an idle worker, 20 ms apart;
//!    the delay from just before `enqueue` to the task starting, p50 and p95;
//! 5. **drain**: `DRAIN` (100,000) tasks enqueued, then drained at concurrency 16; every task
//!    must complete, with no errors, no dead tasks and nothing left.
//!
//! Env: `BENCH_REDIS_URL` / `GITHUBAPP_TEST_REDIS_URL`, `BENCH_DATABASE_URL` /
//! `GITHUBAPP_TEST_DATABASE_URL` (PostgreSQL); SQLite uses a file in a temporary directory.
//! `ENQUEUE_TASKS` (default 20000), `BACKLOG` (20000), `DRAIN` (100000), `PICKUPS` (50).
//! Prints one table row per backend and fails (exit 1) if any task is lost or dead.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use githubapp::prelude::*;
use githubapp::tasks::{Queue, WorkerConfig};
use githubapp::{App, Registry};

/// No-op tasks run so far.
static DONE: AtomicU64 = AtomicU64::new(0);
/// Pickup delays measured so far, in microseconds.
static PICKUP_US: Mutex<Vec<u64>> = Mutex::new(Vec::new());

#[github::task(retries = 0)]
async fn noop() {
    DONE.fetch_add(1, Ordering::Relaxed);
}

#[github::task(retries = 0)]
async fn pickup(sent_us: u64) {
    let delay = now_us().saturating_sub(sent_us);
    PICKUP_US.lock().unwrap_or_else(|p| p.into_inner()).push(delay);
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn env_url(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Memory,
    Sqlite,
    Redis,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sqlite => "sqlite",
            Backend::Redis => "redis",
            Backend::Postgres => "postgres",
        }
    }
}

struct Bench {
    backend: Backend,
    run: String,
    dir: std::path::PathBuf,
    step: usize,
}

impl Bench {
    /// A fresh queue (new namespace, or new file) for the next step.
    async fn queue(&mut self) -> Result<Arc<dyn Queue>, BoxError> {
        self.step += 1;
        let ns = format!("qb{}s{}", self.run, self.step);
        Ok(match self.backend {
            Backend::Memory => Arc::new(githubapp::tasks::MemoryQueue::new()),
            Backend::Sqlite => {
                let path = self.dir.join(format!("{ns}.db"));
                Arc::new(githubapp::tasks::sqlite::SqliteQueue::open(&path.to_string_lossy(), &ns).await?)
            }
            Backend::Redis => {
                let url = env_url(&["BENCH_REDIS_URL", "GITHUBAPP_TEST_REDIS_URL"]).ok_or("no Redis URL")?;
                Arc::new(githubapp::tasks::redis::RedisQueue::connect(&url, &ns).await?)
            }
            Backend::Postgres => {
                let url = env_url(&["BENCH_DATABASE_URL", "GITHUBAPP_TEST_DATABASE_URL"])
                    .ok_or("no PostgreSQL URL")?;
                Arc::new(githubapp::tasks::postgres::PostgresQueue::connect(&url, &ns).await?)
            }
        })
    }
}

fn app(queue: Arc<dyn Queue>, concurrency: usize) -> Result<App, BoxError> {
    let mut worker = WorkerConfig::default();
    worker.concurrency = concurrency;
    worker.poll_interval = Duration::from_secs(1);
    Ok(App::builder().queue(queue).registry(Registry::global()).worker_config(worker).build()?)
}

/// `n` no-op tasks from 16 concurrent callers; returns tasks/s.
async fn enqueue_concurrently(tasks: &Tasks, n: usize) -> Result<f64, BoxError> {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for caller in 0..16 {
        let tasks = tasks.clone();
        set.spawn(async move {
            for _ in (caller..n).step_by(16) {
                noop::enqueue(&tasks).await?;
            }
            Ok::<(), githubapp::Error>(())
        });
    }
    for r in set.join_all().await {
        r?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Runs a worker with `concurrency` until `DONE` grows by `n`; returns (tasks/s, elapsed).
async fn drain(queue: Arc<dyn Queue>, concurrency: usize, n: u64) -> Result<(f64, Duration), BoxError> {
    let app = app(queue.clone(), concurrency)?;
    let before = DONE.load(Ordering::Relaxed);
    let start = Instant::now();
    let workers = app.spawn_workers();
    let limit = Duration::from_secs(600);
    while DONE.load(Ordering::Relaxed) - before < n {
        if start.elapsed() > limit {
            return Err(
                format!("drain stalled: {} of {n} done", DONE.load(Ordering::Relaxed) - before).into()
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = start.elapsed();
    workers.shutdown().await;
    let stats = queue.stats().await?;
    if stats.queued + stats.running + stats.scheduled + stats.dead != 0 {
        return Err(format!("tasks left after the drain: {stats:?}").into());
    }
    Ok((n as f64 / elapsed.as_secs_f64(), elapsed))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

struct Row {
    enqueue_single: f64,
    enqueue_batch: f64,
    complete_1: f64,
    complete_16: f64,
    pickup_p50_ms: f64,
    pickup_p95_ms: f64,
    drain_n: usize,
    drain_s: f64,
}

async fn bench(backend: Backend, run: &str, dir: &std::path::Path) -> Result<Row, BoxError> {
    let single_n = env_usize("ENQUEUE_TASKS", 20_000);
    let backlog = env_usize("BACKLOG", 20_000);
    let drain_n = env_usize("DRAIN", 100_000);
    let pickups = env_usize("PICKUPS", 50);
    let mut b = Bench { backend, run: run.to_owned(), dir: dir.to_owned(), step: 0 };
    let say = |what: &str| eprintln!("  {}: {what}", backend.name());

    // 1. Enqueue, one caller.
    let q = b.queue().await?;
    let tasks = Tasks::new(q.clone());
    let start = Instant::now();
    for _ in 0..single_n {
        noop::enqueue(&tasks).await?;
    }
    let enqueue_single = single_n as f64 / start.elapsed().as_secs_f64();
    say(&format!("enqueue single {enqueue_single:.0}/s"));
    // Drained (not measured) so the namespace ends empty.
    drain(q, 16, single_n as u64).await?;

    // 2 + 3. Batch enqueue of the backlog, then drain at concurrency 1; again at 16.
    let q = b.queue().await?;
    let enqueue_batch = enqueue_concurrently(&Tasks::new(q.clone()), backlog).await?;
    say(&format!("enqueue batch {enqueue_batch:.0}/s"));
    let (complete_1, _) = drain(q, 1, backlog as u64).await?;
    say(&format!("complete c=1 {complete_1:.0}/s"));
    let q = b.queue().await?;
    enqueue_concurrently(&Tasks::new(q.clone()), backlog).await?;
    let (complete_16, _) = drain(q, 16, backlog as u64).await?;
    say(&format!("complete c=16 {complete_16:.0}/s"));

    // 4. Idle pickup.
    let q = b.queue().await?;
    let app = app(q.clone(), 16)?;
    let workers = app.spawn_workers();
    tokio::time::sleep(Duration::from_millis(500)).await; // the worker is idle, waiting
    PICKUP_US.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let tasks = app.tasks();
    for _ in 0..pickups {
        pickup::enqueue(&tasks, now_us()).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while PICKUP_US.lock().unwrap_or_else(|p| p.into_inner()).len() < pickups {
        if Instant::now() > deadline {
            return Err("idle pickup: tasks did not start within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    workers.shutdown().await;
    let mut delays = PICKUP_US.lock().unwrap_or_else(|p| p.into_inner()).clone();
    delays.sort_unstable();
    let (pickup_p50_ms, pickup_p95_ms) = (percentile(&delays, 0.5), percentile(&delays, 0.95));
    say(&format!("idle pickup p50 {pickup_p50_ms:.2} ms, p95 {pickup_p95_ms:.2} ms"));

    // 5. The 100,000-task drain.
    let q = b.queue().await?;
    enqueue_concurrently(&Tasks::new(q.clone()), drain_n).await?;
    let (_, elapsed) = drain(q, 16, drain_n as u64).await?;
    say(&format!("drained {drain_n} in {:.1} s", elapsed.as_secs_f64()));

    Ok(Row {
        enqueue_single,
        enqueue_batch,
        complete_1,
        complete_16,
        pickup_p50_ms,
        pickup_p95_ms,
        drain_n,
        drain_s: elapsed.as_secs_f64(),
    })
}

fn main() -> Result<(), BoxError> {
    let threads = std::env::var("BENCH_THREADS").ok().and_then(|v| v.parse().ok());
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        rt.worker_threads(n);
    }
    rt.enable_all().build()?.block_on(async_main())
}

async fn async_main() -> Result<(), BoxError> {
    let mut wanted: Vec<Backend> = Vec::new();
    for arg in std::env::args().skip(1) {
        wanted.push(match arg.as_str() {
            "memory" => Backend::Memory,
            "sqlite" => Backend::Sqlite,
            "redis" => Backend::Redis,
            "postgres" => Backend::Postgres,
            other => {
                return Err(format!("unknown backend `{other}`: memory | sqlite | redis | postgres").into());
            }
        });
    }
    if wanted.is_empty() {
        wanted = vec![Backend::Memory, Backend::Sqlite];
        if env_url(&["BENCH_REDIS_URL", "GITHUBAPP_TEST_REDIS_URL"]).is_some() {
            wanted.push(Backend::Redis);
        }
        if env_url(&["BENCH_DATABASE_URL", "GITHUBAPP_TEST_DATABASE_URL"]).is_some() {
            wanted.push(Backend::Postgres);
        }
    }
    let run = format!("{:06x}", fastrand_u32() & 0xff_ffff);
    let dir = std::env::temp_dir().join(format!("githubapp-queue-bench-{run}"));
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    let mut failed = false;
    for backend in wanted {
        eprintln!("== {}", backend.name());
        match bench(backend, &run, &dir).await {
            Ok(row) => rows.push((backend, row)),
            Err(e) => {
                eprintln!("  {}: FAILED: {e}", backend.name());
                failed = true;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!(
        "{:<9} {:>11} {:>11} {:>11} {:>11} {:>10} {:>10}  drain",
        "backend", "enq single", "enq batch", "done c=1", "done c=16", "pickup p50", "pickup p95"
    );
    println!(
        "{:<9} {:>11} {:>11} {:>11} {:>11} {:>10} {:>10}",
        "", "tasks/s", "tasks/s", "tasks/s", "tasks/s", "ms", "ms"
    );
    for (backend, r) in &rows {
        println!(
            "{:<9} {:>11.0} {:>11.0} {:>11.0} {:>11.0} {:>10.2} {:>10.2}  {} in {:.1} s ({:.0}/s), 0 lost",
            backend.name(),
            r.enqueue_single,
            r.enqueue_batch,
            r.complete_1,
            r.complete_16,
            r.pickup_p50_ms,
            r.pickup_p95_ms,
            r.drain_n,
            r.drain_s,
            r.drain_n as f64 / r.drain_s
        );
    }
    if failed {
        return Err("some backends failed (see above)".into());
    }
    Ok(())
}

fn fastrand_u32() -> u32 {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    t ^ std::process::id().rotate_left(16)
}
