//! The `postgres` task queue backend: durable, shared by many `worker` processes.
//!
//! [`PostgresQueue`] keeps tasks in PostgreSQL tables, so any number of processes (web
//! servers enqueueing, `worker` processes leasing) share one queue. Scale out by running
//! more workers against the same database.
//!
//! ```no_run
//! # async fn example() -> Result<(), githubapp::tasks::QueueError> {
//! use std::time::Duration;
//! use githubapp::tasks::{NewTask, Queue};
//! use githubapp::tasks::postgres::PostgresQueue;
//!
//! // Creates (or migrates) the `my_app_*` tables on first use.
//! let q = PostgresQueue::connect("postgres://app:secret@db.internal/app", "my_app").await?;
//! q.enqueue(NewTask::new("hello", "{}").max_attempts(5)).await?;
//! for task in q.lease(16, Duration::from_secs(30)).await? {
//!     // ... run it ...
//!     q.complete(&task).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! * Tables are prefixed by the namespace: `<ns>_tasks`, `<ns>_idempotency`,
//!   `<ns>_deliveries` and `<ns>_meta` (the `schema_version` row, and the `completed` /
//!   `retried` counters). [`PostgresQueue::connect`] creates or migrates them in one
//!   transaction under an advisory lock, so processes starting together do not race; a
//!   schema newer than this code is refused.
//! * A task row is `waiting` (queued or scheduled, by its `due_at`), `running` (leased until
//!   `due_at`) or `dead` (since `due_at`). Leasing is one statement,
//!   `WITH c AS (SELECT ... ORDER BY due_at, id LIMIT n FOR UPDATE SKIP LOCKED) UPDATE ...
//!   RETURNING ...`, served by a partial index on `(due_at, id) WHERE status < 2`. A running
//!   task whose lease expired is due too: the same statement leases it again, or
//!   dead-letters it (error "lease expired ...") when that was its last attempt.
//! * Every lease writes a fresh random `lease` number into the row; heartbeat, complete and
//!   fail only touch the row while it carries the caller's number, so a stale worker's
//!   result is rejected with [`QueueError::LeaseLost`].
//! * Due times use the database clock (`now()`); only a `run_at` or retry time given by the
//!   caller comes from this machine's clock.
//! * Completed tasks are deleted at once (concurrent completions share one `DELETE`); dead
//!   tasks are kept 7 days, idempotency keys 4 days after enqueue (also after their task finished),
//!   delivery ids for the TTL given to [`Queue::mark_delivery`]. Expired rows are deleted in
//!   the background at most once a minute, started by [`Queue::lease`].
//! * Enqueue and retry wake this process's waiting workers at once and, through a coalesced
//!   `NOTIFY <ns>_tasks` sent after the commit, every other process's. Each queue keeps one
//!   `LISTEN` connection (re-established after a loss, pinged after 30 s of silence);
//!   [`Queue::wait_for_work`] otherwise waits for its timeout or for the next task's due
//!   time, and never fails.
//! * Worker bookkeeping (lease, heartbeat, complete) commits with `synchronous_commit = off`
//!   for that transaction only: it does not wait for the WAL flush, which is what makes
//!   thousands of tasks a second possible. A crash of the *database server* may forget the
//!   last fraction of a second of it; the affected tasks then run again, which at-least-once
//!   delivery allows anyway. Enqueue, fail, retry and delivery ids are committed durably.
//! * `completed` and `retried` are counted in memory and added to `<ns>_meta` at most once a
//!   second (and by [`Queue::stats`]), so other processes see them after a short lag.
//! * Background tasks (listener, notifier, batched completion, pruning) run on the Tokio
//!   runtime that created the queue and stop when the last clone is dropped.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use super::{BoxFuture, Enqueued, LeasedTask, NewTask, Queue, QueueError, QueueStats, TaskInfo};

/// The schema version this code creates and understands.
const SCHEMA_VERSION: i64 = 1;
/// How long an idempotency key is remembered after enqueue.
const IDEMPOTENCY_TTL_SECS: u64 = super::IDEMPOTENCY_TTL.as_secs();
/// How long dead tasks are kept for inspection.
const DEAD_TTL_SECS: u64 = 7 * 24 * 3600;
/// Expired rows are pruned at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Rows deleted per prune statement (repeated while full, up to `PRUNE_ROUNDS` times).
const PRUNE_BATCH: i64 = 10_000;
const PRUNE_ROUNDS: usize = 10;
/// Local counters are added to `<ns>_meta` at most this often.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// The first connection attempt gives up after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in the queue's pool (the listener has its own connection).
const POOL_SIZE: u32 = 16;
/// The listener checks its connection after this long without a notification.
const LISTENER_PING_AFTER: Duration = Duration::from_secs(30);
const LISTENER_PING_TIMEOUT: Duration = Duration::from_secs(5);
/// The shortest wait when a task is already due (it is locked by a concurrent lease).
const MIN_DUE_WAIT: Duration = Duration::from_millis(50);
/// Year 9999.
const MAX_EPOCH_SECS: f64 = 253_402_300_799.0;
const MAX_INTERVAL_SECS: f64 = 100.0 * 365.0 * 86_400.0;
/// Longer idempotency keys and delivery ids are stored by their hash.
const MAX_KEY_LEN: usize = 512;
/// Completions deleted by one statement, at most.
const COMPLETE_BATCH: usize = 256;
/// Batched completion statements in flight at once.
const COMPLETE_IN_FLIGHT: usize = 4;
/// Joined into the bookkeeping statements of workers (lease, heartbeat, complete): their
/// transaction commits without waiting for the WAL flush. See the module docs.
const ASYNC_COMMIT: &str = "(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit";
/// The error recorded when a lease expires on the last attempt.
const LEASE_EXPIRED: &str = "lease expired (worker crashed or stalled)";

const WAITING: i16 = 0;
const RUNNING: i16 = 1;
const DEAD: i16 = 2;

/// A task queue in PostgreSQL, shared by every process connected with the same namespace.
///
/// Cloning is cheap and shares the pool and the `LISTEN` connection. See the
/// [module docs](self) for the schema and how each rule is implemented.
#[derive(Clone)]
pub struct PostgresQueue {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    namespace: String,
    sql: Sql,
    /// Wakes this process's `wait_for_work` callers (from the listener, or directly).
    wake: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
    /// Asks the notifier task to send `NOTIFY` (coalesced; see `notify_loop`).
    notifier: Arc<NotifySignal>,
    /// Completions go to the completer task, which deletes them in batches.
    completer: mpsc::UnboundedSender<CompleteRequest>,
    /// Completions and retries not yet added to `<ns>_meta`.
    completed: AtomicU64,
    retried: AtomicU64,
    /// Held while counts are being added, so `stats` waits for a flush in flight.
    flushing: tokio::sync::Mutex<()>,
    /// Milliseconds since `start` of the last prune / counter flush (`u64::MAX`: never).
    start: Instant,
    last_prune: AtomicU64,
    last_flush: AtomicU64,
}

impl std::fmt::Debug for PostgresQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresQueue").field("namespace", &self.inner.namespace).finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
        // The notifier sends a pending notification, then ends; the completer ends once the
        // sender (in `self`) is gone.
        self.notifier.closed.store(true, Ordering::Release);
        self.notifier.trigger.notify_one();
        // Best effort: add the counts of this process before it goes away.
        let completed = self.completed.swap(0, Ordering::Relaxed);
        let retried = self.retried.swap(0, Ordering::Relaxed);
        if (completed, retried) != (0, 0)
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let pool = self.pool.clone();
            let sql = self.sql.add_counters.clone();
            rt.spawn(async move {
                let _ = sqlx::query(AssertSqlSafe(sql))
                    .bind(completed as i64)
                    .bind(retried as i64)
                    .execute(&pool)
                    .await;
            });
        }
    }
}

/// Every statement, formatted once for the namespace (sqlx prepares and caches each one per
/// connection).
struct Sql {
    enqueue: Arc<str>,
    enqueue_keyed: Arc<str>,
    lease: Arc<str>,
    heartbeat: Arc<str>,
    complete: Arc<str>,
    fail: Arc<str>,
    next_due: Arc<str>,
    mark_delivery: Arc<str>,
    forget_delivery: Arc<str>,
    stats: Arc<str>,
    add_counters: Arc<str>,
    dead: Arc<str>,
    pending: Arc<str>,
    get: Arc<str>,
    retry: Arc<str>,
    retry_all: Arc<str>,
    notify: Arc<str>,
    purge_dead: Arc<str>,
    prune: [Arc<str>; 3],
}

impl Sql {
    fn new(ns: &str) -> Self {
        let s = |sql: String| -> Arc<str> { sql.into() };
        let channel = channel(ns);
        let task_cols = "t.id, t.name, t.status, t.due_at <= now(), t.attempts, t.max_attempts, t.last_error";
        Sql {
            enqueue: s(format!(
                "WITH t AS (
                    INSERT INTO {ns}_tasks (name, payload, status, attempts, max_attempts, installation_id, due_at)
                    VALUES ($1, $2, {WAITING}, 0, $3, $4, COALESCE(to_timestamp($5::float8), now()))
                    RETURNING id
                 )
                 SELECT t.id FROM t"
            )),
            // The key row is inserted, or taken over when it expired, pointing at a fresh id;
            // the task row is inserted only when the key row points at that fresh id.
            enqueue_keyed: s(format!(
                "WITH n AS (SELECT nextval('{ns}_tasks_id_seq') AS id),
                 k AS (
                    INSERT INTO {ns}_idempotency AS k (key, task_id, expires_at)
                    SELECT $6, n.id, now() + interval '{IDEMPOTENCY_TTL_SECS} seconds' FROM n
                    ON CONFLICT (key) DO UPDATE SET
                        task_id = CASE WHEN k.expires_at <= now() THEN EXCLUDED.task_id ELSE k.task_id END,
                        expires_at = CASE WHEN k.expires_at <= now() THEN EXCLUDED.expires_at
                                          ELSE k.expires_at END
                    RETURNING k.task_id
                 ),
                 t AS (
                    INSERT INTO {ns}_tasks (id, name, payload, status, attempts, max_attempts, installation_id, due_at)
                    SELECT n.id, $1, $2, {WAITING}, 0, $3, $4, COALESCE(to_timestamp($5::float8), now())
                    FROM n JOIN k ON k.task_id = n.id
                    RETURNING id
                 )
                 SELECT k.task_id, EXISTS (SELECT 1 FROM t) FROM k"
            )),
            // A running task is due when its lease expired: leased again, or dead-lettered on
            // its last attempt (returned with status dead, and not handed out).
            lease: s(format!(
                "WITH c AS (
                    SELECT id FROM {ns}_tasks
                    WHERE status < {DEAD} AND due_at <= now()
                    ORDER BY due_at, id
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED
                 )
                 UPDATE {ns}_tasks t SET
                    status = CASE WHEN t.status = {RUNNING} AND t.attempts >= t.max_attempts
                                  THEN {DEAD} ELSE {RUNNING} END,
                    attempts = CASE WHEN t.status = {RUNNING} AND t.attempts >= t.max_attempts
                                    THEN t.attempts ELSE t.attempts + 1 END,
                    due_at = CASE WHEN t.status = {RUNNING} AND t.attempts >= t.max_attempts
                                  THEN now() ELSE now() + make_interval(secs => $2::float8) END,
                    last_error = CASE WHEN t.status = {RUNNING} AND t.attempts >= t.max_attempts
                                      THEN '{LEASE_EXPIRED}' ELSE t.last_error END,
                    lease = $3
                 FROM c, {ASYNC_COMMIT} WHERE t.id = c.id
                 RETURNING t.id, t.status, t.name, t.payload, t.attempts, t.max_attempts,
                           t.installation_id, t.lease"
            )),
            heartbeat: s(format!(
                "UPDATE {ns}_tasks SET due_at = now() + make_interval(secs => $3::float8)
                 FROM {ASYNC_COMMIT}
                 WHERE id = $1 AND lease = $2 AND status = {RUNNING}"
            )),
            complete: s(format!(
                "DELETE FROM {ns}_tasks t USING unnest($1::int8[], $2::int8[]) AS c(id, lease), {ASYNC_COMMIT}
                 WHERE t.id = c.id AND t.lease = c.lease AND t.status = {RUNNING}
                 RETURNING t.id, t.lease"
            )),
            fail: s(format!(
                "UPDATE {ns}_tasks SET
                        last_error = $3,
                        status = CASE WHEN $4::float8 IS NOT NULL AND attempts < max_attempts
                                      THEN {WAITING} ELSE {DEAD} END,
                        due_at = CASE WHEN $4::float8 IS NOT NULL AND attempts < max_attempts
                                      THEN to_timestamp($4::float8) ELSE now() END
                    WHERE id = $1 AND lease = $2 AND status = {RUNNING}
                    RETURNING status"
            )),
            next_due: s(format!(
                "SELECT extract(epoch FROM min(due_at) - now())::float8 FROM {ns}_tasks WHERE status < {DEAD}"
            )),
            // Inserted, or taken over when the remembered id expired: `true`; else no row.
            mark_delivery: s(format!(
                "INSERT INTO {ns}_deliveries AS d (id, expires_at)
                 VALUES ($1, now() + make_interval(secs => $2::float8))
                 ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE d.expires_at <= now()
                 RETURNING true"
            )),
            forget_delivery: s(format!("DELETE FROM {ns}_deliveries WHERE id = $1")),
            stats: s(format!(
                "SELECT count(*) FILTER (WHERE status = {WAITING} AND due_at <= now()),
                        count(*) FILTER (WHERE status = {WAITING} AND due_at > now()),
                        count(*) FILTER (WHERE status = {RUNNING}),
                        count(*) FILTER (WHERE status = {DEAD}),
                        (SELECT value FROM {ns}_meta WHERE key = 'completed'),
                        (SELECT value FROM {ns}_meta WHERE key = 'retried')
                 FROM {ns}_tasks"
            )),
            add_counters: s(format!(
                "UPDATE {ns}_meta SET value = value + CASE WHEN key = 'completed' THEN $1::int8 ELSE $2::int8 END
                 WHERE key IN ('completed', 'retried')"
            )),
            dead: s(format!(
                "SELECT {task_cols} FROM {ns}_tasks t WHERE status = {DEAD}
                 ORDER BY due_at DESC, id DESC LIMIT $1"
            )),
            pending: s(format!("SELECT {task_cols} FROM {ns}_tasks t WHERE status < {DEAD} ORDER BY id LIMIT $1")),
            get: s(format!("SELECT {task_cols} FROM {ns}_tasks t WHERE id = $1")),
            retry: s(format!(
                "UPDATE {ns}_tasks SET status = {WAITING}, attempts = 0, due_at = now()
                 WHERE id = $1 AND status = {DEAD}"
            )),
            retry_all: s(format!(
                "UPDATE {ns}_tasks SET status = {WAITING}, attempts = 0, due_at = now() WHERE status = {DEAD}"
            )),
            notify: s(format!("SELECT pg_notify('{channel}', '')")),
            purge_dead: s(format!("DELETE FROM {ns}_tasks WHERE status = {DEAD}")),
            prune: [
                s(format!(
                    "DELETE FROM {ns}_idempotency WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM {ns}_idempotency WHERE expires_at <= now() LIMIT $1))
                     AND expires_at <= now()"
                )),
                s(format!(
                    "DELETE FROM {ns}_deliveries WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM {ns}_deliveries WHERE expires_at <= now() LIMIT $1))
                     AND expires_at <= now()"
                )),
                s(format!(
                    "DELETE FROM {ns}_tasks WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM {ns}_tasks
                        WHERE status = {DEAD} AND due_at <= now() - interval '{DEAD_TTL_SECS} seconds'
                        LIMIT $1))
                     AND status = {DEAD} AND due_at <= now() - interval '{DEAD_TTL_SECS} seconds'"
                )),
            ],
        }
    }
}

/// The schema, version 1. Every statement is idempotent.
fn schema_v1(ns: &str) -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {ns}_tasks (
                id bigserial PRIMARY KEY,
                name text NOT NULL,
                payload bytea NOT NULL,
                status smallint NOT NULL,
                attempts integer NOT NULL,
                max_attempts integer NOT NULL,
                installation_id bigint,
                due_at timestamptz NOT NULL,
                lease bigint NOT NULL DEFAULT 0,
                last_error text,
                created_at timestamptz NOT NULL DEFAULT now()
            ) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {ns}_tasks_due_idx ON {ns}_tasks (due_at, id) WHERE status < {DEAD}"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {ns}_tasks_dead_idx ON {ns}_tasks (due_at) WHERE status = {DEAD}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {ns}_idempotency (
                key text PRIMARY KEY,
                task_id bigint NOT NULL,
                expires_at timestamptz NOT NULL
            )"
        ),
        format!("CREATE INDEX IF NOT EXISTS {ns}_idempotency_expires_idx ON {ns}_idempotency (expires_at)"),
        format!(
            "CREATE TABLE IF NOT EXISTS {ns}_deliveries (
                id text PRIMARY KEY,
                expires_at timestamptz NOT NULL
            )"
        ),
        format!("CREATE INDEX IF NOT EXISTS {ns}_deliveries_expires_idx ON {ns}_deliveries (expires_at)"),
        format!(
            "INSERT INTO {ns}_meta (key, value) VALUES ('completed', 0), ('retried', 0) ON CONFLICT DO NOTHING"
        ),
    ]
}

fn channel(ns: &str) -> String {
    format!("{ns}_tasks")
}

/// `^[a-z][a-z0-9_]{0,39}$`: safe to splice into table names.
fn validate_namespace(ns: &str) -> Result<(), QueueError> {
    let ok = ns.len() <= 40
        && ns.as_bytes().first().is_some_and(|c| c.is_ascii_lowercase())
        && ns.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(QueueError::Backend(format!(
            "postgres task queue: invalid namespace {ns:?}: it must match ^[a-z][a-z0-9_]{{0,39}}$ \
             (a lowercase letter, then up to 39 lowercase letters, digits or underscores)"
        )))
    }
}

/// The URL without its password (in the user info or a `password=` parameter).
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable URL>".into();
    };
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let main = match main.rfind('@') {
        Some(at) => {
            let user = &main[..at];
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{user}@{}", &main[at + 1..])
        }
        None => main.to_string(),
    };
    let query = query.map(|q| {
        q.split('&')
            .filter(|kv| !kv.split_once('=').map_or(*kv, |(k, _)| k).eq_ignore_ascii_case("password"))
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(q) if !q.is_empty() => format!("{scheme}://{main}?{q}"),
        _ => format!("{scheme}://{main}"),
    }
}

/// A stable 64-bit hash (FNV-1a) for the advisory lock key.
fn lock_key(ns: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "githubapp-task-queue:".bytes().chain(ns.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

fn backend_err(e: sqlx::Error) -> QueueError {
    QueueError::Backend(format!("postgres: {e}"))
}

/// Seconds since the Unix epoch, within what `timestamptz` holds comfortably.
fn epoch_secs(t: SystemTime) -> f64 {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    secs.clamp(0.0, MAX_EPOCH_SECS)
}

/// A duration in seconds for `make_interval`, capped (an "infinite" lease or TTL is 100 years).
fn interval_secs(d: Duration) -> f64 {
    d.as_secs_f64().min(MAX_INTERVAL_SECS)
}

/// `text` cannot hold NUL characters.
fn text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') { s.replace('\0', "\u{fffd}").into() } else { s.into() }
}

/// Keys and delivery ids as stored: very long ones (beyond what a btree index entry may
/// hold) by their SHA-256.
fn key_text(key: &str) -> std::borrow::Cow<'_, str> {
    use sha2::Digest;
    if key.len() > MAX_KEY_LEN {
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(key.as_bytes()))).into()
    } else {
        text(key)
    }
}

fn ms_since(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// Claims a periodic job: `true` if `every` passed since the last claim (or never claimed).
fn claim(last: &AtomicU64, now: u64, every: Duration) -> bool {
    let prev = last.load(Ordering::Relaxed);
    if prev != u64::MAX && now.saturating_sub(prev) < every.as_millis() as u64 {
        return false;
    }
    last.compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
}

type TaskRow = (i64, String, i16, bool, i32, i32, Option<String>);

fn task_info(row: TaskRow) -> TaskInfo {
    let (id, name, status, due, attempts, max_attempts, last_error) = row;
    let state = match status {
        WAITING if due => "queued",
        WAITING => "scheduled",
        RUNNING => "running",
        _ => "dead",
    };
    TaskInfo {
        id: id.to_string(),
        name,
        state,
        attempts: attempts.max(0) as u32,
        max_attempts: max_attempts.max(0) as u32,
        last_error,
    }
}

fn parse_id(id: &str) -> Option<i64> {
    id.parse::<i64>().ok()
}

impl PostgresQueue {
    /// Connects to PostgreSQL at `url` (`postgres://user:password@host:port/database`,
    /// with the usual `sslmode=...` and other parameters), creating or migrating the tables
    /// of `namespace` (`^[a-z][a-z0-9_]{0,39}$`; the tables are `<namespace>_tasks`, ...).
    ///
    /// The server must be reachable now: a refused or timed-out connection is a
    /// [`QueueError::Backend`] naming the URL (without its password). Later connection
    /// losses are recovered by the pool.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, QueueError> {
        validate_namespace(namespace)?;
        let shown = redact_url(url);
        let opts: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
            QueueError::Backend(format!(
                "postgres task queue: invalid URL {shown}: {}",
                scrub(&e.to_string(), url)
            ))
        })?;
        // One direct attempt first (the pool would retry until its acquire timeout): an
        // unreachable server is reported at once, with the URL.
        let opts = opts.application_name(&format!("githubapp-queue:{namespace}"));
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&opts))
            .await
            .map_err(|_| {
                QueueError::Backend(format!(
                    "postgres task queue: timed out after {CONNECT_TIMEOUT:?} connecting to {shown}"
                ))
            })?
            .map_err(|e| {
                QueueError::Backend(format!(
                    "postgres task queue: cannot connect to {shown}: {}",
                    scrub(&e.to_string(), url)
                ))
            })?;
        let migrated = migrate(&mut conn, namespace).await;
        let _ = conn.close().await;
        migrated.map_err(|e| match e {
            QueueError::Backend(m) => QueueError::Backend(format!("{m} (at {shown})")),
            e => e,
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            // Pinging before every acquire doubles the round trips; ping only connections
            // that sat idle for a while (the ones a server restart or a NAT may have killed).
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= Duration::from_secs(10) {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(opts);
        Self::start(pool, namespace).await
    }

    /// Uses an existing pool (its connect options also serve the `LISTEN` connection),
    /// creating or migrating the tables of `namespace`.
    pub async fn with_pool(pool: PgPool, namespace: &str) -> Result<Self, QueueError> {
        validate_namespace(namespace)?;
        let mut conn = pool.acquire().await.map_err(|e| {
            QueueError::Backend(format!("postgres task queue: cannot get a connection from the pool: {e}"))
        })?;
        migrate(&mut conn, namespace).await?;
        drop(conn);
        Self::start(pool, namespace).await
    }

    async fn start(pool: PgPool, namespace: &str) -> Result<Self, QueueError> {
        let opts = (*pool.connect_options()).clone();
        let channel = channel(namespace);
        let wake = Arc::new(Notify::new());
        // LISTEN before returning, so a wait right after connecting already gets woken.
        let listener = open_listener(&opts, &channel).await.map_err(|e| {
            QueueError::Backend(format!("postgres task queue: cannot LISTEN on {channel}: {e}"))
        })?;
        let task = tokio::spawn(listen_loop(opts, channel, wake.clone(), Some(listener)));
        let sql = Sql::new(namespace);
        let notifier = Arc::new(NotifySignal::default());
        tokio::spawn(notify_loop(pool.clone(), sql.notify.clone(), notifier.clone()));
        let (completer, requests) = mpsc::unbounded_channel();
        tokio::spawn(complete_loop(pool.clone(), sql.complete.clone(), requests));
        Ok(PostgresQueue {
            inner: Arc::new(Inner {
                sql,
                pool,
                namespace: namespace.to_string(),
                wake,
                listener: task,
                notifier,
                completer,
                completed: AtomicU64::new(0),
                retried: AtomicU64::new(0),
                flushing: tokio::sync::Mutex::new(()),
                start: Instant::now(),
                last_prune: AtomicU64::new(u64::MAX),
                last_flush: AtomicU64::new(u64::MAX),
            }),
        })
    }

    /// The connection pool (for health checks, or to share with other code).
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The namespace (table prefix).
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    fn q(sql: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
        // The namespace spliced into every statement was validated (`[a-z0-9_]`).
        AssertSqlSafe(sql.clone())
    }

    async fn do_enqueue(&self, task: NewTask) -> Result<Enqueued, QueueError> {
        let i = &self.inner;
        let max_attempts = task.max_attempts.clamp(1, i32::MAX as u32) as i32;
        let installation = task.installation_id.map(|id| id as i64);
        let run_at = task.run_at.map(epoch_secs);
        match &task.idempotency_key {
            None => {
                let (id,): (i64,) = sqlx::query_as(Self::q(&i.sql.enqueue))
                    .bind(text(&task.name))
                    .bind(task.payload.as_ref())
                    .bind(max_attempts)
                    .bind(installation)
                    .bind(run_at)
                    .fetch_one(&i.pool)
                    .await
                    .map_err(backend_err)?;
                self.work_added();
                Ok(Enqueued::New(id.to_string()))
            }
            Some(key) => {
                let (id, new): (i64, bool) = sqlx::query_as(Self::q(&i.sql.enqueue_keyed))
                    .bind(text(&task.name))
                    .bind(task.payload.as_ref())
                    .bind(max_attempts)
                    .bind(installation)
                    .bind(run_at)
                    .bind(key_text(key))
                    .fetch_one(&i.pool)
                    .await
                    .map_err(backend_err)?;
                if !new {
                    return Ok(Enqueued::Duplicate(id.to_string()));
                }
                self.work_added();
                Ok(Enqueued::New(id.to_string()))
            }
        }
    }

    async fn do_lease(&self, max: usize, lease_for: Duration) -> Result<Vec<LeasedTask>, QueueError> {
        self.housekeeping();
        let i = &self.inner;
        let mut out = Vec::new();
        // A lease statement may dead-letter expired tasks instead of handing them out; go on
        // until `max` tasks are leased or nothing more is due.
        for _ in 0..8 {
            let want = max - out.len();
            if want == 0 {
                break;
            }
            type Row = (i64, i16, String, Vec<u8>, i32, i32, Option<i64>, i64);
            let rows: Vec<Row> = match sqlx::query_as(Self::q(&i.sql.lease))
                .bind(want.min(i64::MAX as usize) as i64)
                .bind(interval_secs(lease_for))
                .bind(fastrand::i64(1..))
                .fetch_all(&i.pool)
                .await
            {
                Ok(rows) => rows,
                // Hand out what is leased already rather than leaving it to expire.
                Err(_) if !out.is_empty() => break,
                Err(e) => return Err(backend_err(e)),
            };
            let got = rows.len();
            let mut died = 0;
            for (id, status, name, payload, attempts, max_attempts, installation, lease) in rows {
                if status == DEAD {
                    died += 1;
                    continue;
                }
                out.push(LeasedTask {
                    id: id.to_string(),
                    name,
                    payload: Bytes::from(payload),
                    attempt: attempts.max(0) as u32,
                    max_attempts: max_attempts.max(0) as u32,
                    installation_id: installation.map(|i| i as u64),
                    lease: lease as u64,
                    tail: Bytes::new(),
                });
            }
            if died == 0 || got < want {
                break;
            }
        }
        out.sort_by_key(|t| t.id.parse::<i64>().unwrap_or(0));
        Ok(out)
    }

    /// Starts the periodic background jobs that are due: pruning expired rows (once a
    /// minute) and adding this process's counters to `<ns>_meta` (once a second).
    fn housekeeping(&self) {
        let i = &self.inner;
        let now = ms_since(i.start);
        if claim(&i.last_prune, now, PRUNE_EVERY) {
            let this = self.clone();
            tokio::spawn(async move {
                if let Err(e) = this.prune().await {
                    tracing::warn!(error = %e, namespace = %this.inner.namespace, "pruning expired task rows failed");
                }
            });
        }
        let pending = i.completed.load(Ordering::Relaxed) + i.retried.load(Ordering::Relaxed);
        if pending > 0 && claim(&i.last_flush, now, FLUSH_EVERY) {
            let this = self.clone();
            tokio::spawn(async move {
                if let Err(e) = this.flush_counters().await {
                    tracing::debug!(error = %e, "adding queue counters failed; will retry");
                }
            });
        }
    }

    /// Deletes expired idempotency keys, delivery ids and dead tasks; returns how many rows.
    async fn prune(&self) -> Result<u64, QueueError> {
        let i = &self.inner;
        let mut total = 0;
        for sql in &i.sql.prune {
            for _ in 0..PRUNE_ROUNDS {
                let n = sqlx::query(Self::q(sql))
                    .bind(PRUNE_BATCH)
                    .execute(&i.pool)
                    .await
                    .map_err(backend_err)?
                    .rows_affected();
                total += n;
                if n < PRUNE_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(total)
    }

    async fn flush_counters(&self) -> Result<(), QueueError> {
        let i = &self.inner;
        let _flushing = i.flushing.lock().await;
        let completed = i.completed.swap(0, Ordering::Relaxed);
        let retried = i.retried.swap(0, Ordering::Relaxed);
        if (completed, retried) == (0, 0) {
            return Ok(());
        }
        let r = sqlx::query(Self::q(&i.sql.add_counters))
            .bind(completed as i64)
            .bind(retried as i64)
            .execute(&i.pool)
            .await;
        if let Err(e) = r {
            i.completed.fetch_add(completed, Ordering::Relaxed);
            i.retried.fetch_add(retried, Ordering::Relaxed);
            return Err(backend_err(e));
        }
        Ok(())
    }

    fn lease_ids(task: &LeasedTask) -> Result<(i64, i64), QueueError> {
        let id = parse_id(&task.id).ok_or_else(|| QueueError::NotFound(task.id.clone()))?;
        Ok((id, task.lease as i64))
    }

    async fn do_heartbeat(&self, task: &LeasedTask, lease_for: Duration) -> Result<(), QueueError> {
        let (id, lease) = Self::lease_ids(task)?;
        let n = sqlx::query(Self::q(&self.inner.sql.heartbeat))
            .bind(id)
            .bind(lease)
            .bind(interval_secs(lease_for))
            .execute(&self.inner.pool)
            .await
            .map_err(backend_err)?
            .rows_affected();
        if n == 0 { Err(QueueError::LeaseLost(task.id.clone())) } else { Ok(()) }
    }

    async fn do_complete(&self, task: &LeasedTask) -> Result<(), QueueError> {
        let (id, lease) = Self::lease_ids(task)?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .completer
            .send(CompleteRequest { id, lease, reply })
            .map_err(|_| QueueError::Backend("postgres: the completion task stopped".into()))?;
        let deleted = answer
            .await
            .map_err(|_| QueueError::Backend("postgres: the completion task stopped".into()))??;
        if !deleted {
            return Err(QueueError::LeaseLost(task.id.clone()));
        }
        self.inner.completed.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Wakes waiting workers: this process's at once, other processes' through `NOTIFY`.
    fn work_added(&self) {
        wake_all(&self.inner.wake);
        self.inner.notifier.dirty.store(true, Ordering::Release);
        self.inner.notifier.trigger.notify_one();
    }

    async fn do_fail(
        &self,
        task: &LeasedTask,
        error: &str,
        retry_at: Option<SystemTime>,
    ) -> Result<(), QueueError> {
        let (id, lease) = Self::lease_ids(task)?;
        let row: Option<(i16,)> = sqlx::query_as(Self::q(&self.inner.sql.fail))
            .bind(id)
            .bind(lease)
            .bind(text(error))
            .bind(retry_at.map(epoch_secs))
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(backend_err)?;
        match row {
            None => Err(QueueError::LeaseLost(task.id.clone())),
            Some((status,)) => {
                if status == WAITING {
                    self.inner.retried.fetch_add(1, Ordering::Relaxed);
                    self.work_added();
                }
                Ok(())
            }
        }
    }

    async fn do_wait(&self, timeout: Duration) {
        let notified = self.inner.wake.notified();
        tokio::pin!(notified);
        // Registered before looking at the table, so a notification from here on wakes us.
        notified.as_mut().enable();
        let deadline = tokio::time::Instant::now() + timeout;
        let next_due = tokio::time::timeout(
            timeout,
            sqlx::query_as::<_, (Option<f64>,)>(Self::q(&self.inner.sql.next_due))
                .fetch_one(&self.inner.pool),
        )
        .await;
        let wait = match next_due {
            // Something is due already (locked by a concurrent lease, or about to be): look
            // again shortly rather than spinning.
            Ok(Ok((Some(secs),))) if secs <= 0.0 => MIN_DUE_WAIT,
            Ok(Ok((Some(secs),))) => Duration::try_from_secs_f64(secs).unwrap_or(timeout),
            // Nothing waiting, or the database is unreachable: the notification or the timeout.
            _ => timeout,
        };
        let until = deadline.min(tokio::time::Instant::now() + wait);
        let _ = tokio::time::timeout_at(until, notified).await;
    }

    async fn do_mark_delivery(&self, delivery_id: &str, ttl: Duration) -> Result<bool, QueueError> {
        let row: Option<(bool,)> = sqlx::query_as(Self::q(&self.inner.sql.mark_delivery))
            .bind(key_text(delivery_id))
            .bind(interval_secs(ttl))
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(backend_err)?;
        Ok(row.is_some())
    }

    async fn do_forget_delivery(&self, delivery_id: &str) -> Result<(), QueueError> {
        sqlx::query(Self::q(&self.inner.sql.forget_delivery))
            .bind(key_text(delivery_id))
            .execute(&self.inner.pool)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn do_stats(&self) -> Result<QueueStats, QueueError> {
        self.flush_counters().await?;
        let (queued, scheduled, running, dead, completed, retried): (
            i64,
            i64,
            i64,
            i64,
            Option<i64>,
            Option<i64>,
        ) = sqlx::query_as(Self::q(&self.inner.sql.stats))
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend_err)?;
        let n = |v: i64| v.max(0) as u64;
        Ok(QueueStats {
            queued: n(queued),
            scheduled: n(scheduled),
            running: n(running),
            dead: n(dead),
            completed: n(completed.unwrap_or(0)),
            retried: n(retried.unwrap_or(0)),
        })
    }

    async fn task_list(&self, sql: &Arc<str>, limit: usize) -> Result<Vec<TaskInfo>, QueueError> {
        let rows: Vec<TaskRow> = sqlx::query_as(Self::q(sql))
            .bind(limit.min(i64::MAX as usize) as i64)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(backend_err)?;
        Ok(rows.into_iter().map(task_info).collect())
    }

    async fn do_get(&self, id: &str) -> Result<Option<TaskInfo>, QueueError> {
        let Some(id) = parse_id(id) else { return Ok(None) };
        let row: Option<TaskRow> = sqlx::query_as(Self::q(&self.inner.sql.get))
            .bind(id)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(backend_err)?;
        Ok(row.map(task_info))
    }

    async fn do_retry(&self, id: &str) -> Result<bool, QueueError> {
        let Some(id) = parse_id(id) else { return Ok(false) };
        let n = sqlx::query(Self::q(&self.inner.sql.retry))
            .bind(id)
            .execute(&self.inner.pool)
            .await
            .map_err(backend_err)?
            .rows_affected();
        if n > 0 {
            self.work_added();
        }
        Ok(n > 0)
    }

    async fn do_retry_all(&self) -> Result<u64, QueueError> {
        let n = sqlx::query(Self::q(&self.inner.sql.retry_all))
            .execute(&self.inner.pool)
            .await
            .map_err(backend_err)?
            .rows_affected();
        if n > 0 {
            self.work_added();
        }
        Ok(n)
    }

    async fn do_purge_dead(&self) -> Result<u64, QueueError> {
        let n = sqlx::query(Self::q(&self.inner.sql.purge_dead))
            .execute(&self.inner.pool)
            .await
            .map_err(backend_err)?
            .rows_affected();
        Ok(n)
    }
}

/// Removes the password of `url` from an error message, should a driver ever echo it.
fn scrub(msg: &str, url: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .and_then(|auth| auth.rsplit_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty());
    match password {
        Some(p) => msg.replace(p, "***"),
        None => msg.to_string(),
    }
}

/// Creates or migrates the namespace's tables, serialized across processes by an advisory
/// lock held for the transaction.
async fn migrate(conn: &mut PgConnection, ns: &str) -> Result<(), QueueError> {
    let err = |e: sqlx::Error| {
        QueueError::Backend(format!("postgres task queue: creating the schema of {ns:?}: {e}"))
    };
    let mut tx = conn.begin().await.map_err(err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock_key(ns))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    tx.execute(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {ns}_meta (key text PRIMARY KEY, value bigint NOT NULL)"
    )))
    .await
    .map_err(err)?;
    let version: Option<(i64,)> =
        sqlx::query_as(AssertSqlSafe(format!("SELECT value FROM {ns}_meta WHERE key = 'schema_version'")))
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
    let version = version.map_or(0, |(v,)| v);
    if version > SCHEMA_VERSION {
        return Err(QueueError::Backend(format!(
            "postgres task queue: the tables of namespace {ns:?} have schema version {version}, newer than \
             this library's {SCHEMA_VERSION}; upgrade githubapp"
        )));
    }
    if version < 1 {
        for stmt in schema_v1(ns) {
            tx.execute(AssertSqlSafe(stmt)).await.map_err(err)?;
        }
    }
    // Later versions: `if version < 2 { ... }`.
    if version < SCHEMA_VERSION {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {ns}_meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        )))
        .bind(SCHEMA_VERSION)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}

async fn open_listener(opts: &PgConnectOptions, channel: &str) -> Result<PgListener, sqlx::Error> {
    // A pool of one of its own: the listener's connection never counts against the queue's
    // pool, and the listener reconnects through it.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(opts.clone().application_name(&format!("githubapp-listen:{channel}")));
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

/// A request to send `NOTIFY <ns>_tasks`.
#[derive(Default)]
struct NotifySignal {
    dirty: AtomicBool,
    closed: AtomicBool,
    trigger: Notify,
}

/// Sends `NOTIFY` after writes that add runnable work, outside their transactions and
/// coalesced: at most one notification in flight per queue, and one more after it if work
/// was added meanwhile. (A `NOTIFY` inside the enqueue would serialize every enqueueing
/// commit on PostgreSQL's notification queue lock, fsync included.) Each notification is
/// sent after the writes it announces were committed, so a woken worker sees them.
async fn notify_loop(pool: PgPool, sql: Arc<str>, signal: Arc<NotifySignal>) {
    loop {
        if signal.dirty.swap(false, Ordering::AcqRel) {
            if let Err(e) = sqlx::query(AssertSqlSafe(sql.clone())).execute(&pool).await {
                // Workers of other processes fall back to their poll interval.
                tracing::debug!(error = %e, "task queue NOTIFY failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            continue;
        }
        if signal.closed.load(Ordering::Acquire) {
            break;
        }
        signal.trigger.notified().await;
    }
}

struct CompleteRequest {
    id: i64,
    lease: i64,
    /// Whether the row was deleted (`false`: the lease was lost).
    reply: oneshot::Sender<Result<bool, QueueError>>,
}

/// Deletes completed tasks in batches: completions that arrive while earlier batches are
/// being committed share one statement (and one commit), up to `COMPLETE_IN_FLIGHT`
/// statements at once. Ends when the queue is dropped.
async fn complete_loop(pool: PgPool, sql: Arc<str>, mut requests: mpsc::UnboundedReceiver<CompleteRequest>) {
    let slots = Arc::new(Semaphore::new(COMPLETE_IN_FLIGHT));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { break };
        let Some(first) = requests.recv().await else { break };
        let mut batch = vec![first];
        while batch.len() < COMPLETE_BATCH {
            match requests.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let (pool, sql) = (pool.clone(), sql.clone());
        tokio::spawn(async move {
            let ids: Vec<i64> = batch.iter().map(|r| r.id).collect();
            let leases: Vec<i64> = batch.iter().map(|r| r.lease).collect();
            let result: Result<Vec<(i64, i64)>, _> =
                sqlx::query_as(AssertSqlSafe(sql)).bind(ids).bind(leases).fetch_all(&pool).await;
            drop(slot);
            match result {
                Ok(rows) => {
                    // Each deleted row answers its first request (completing one lease twice
                    // at once succeeds once).
                    let mut deleted: HashSet<(i64, i64)> = rows.into_iter().collect();
                    for r in batch {
                        let _ = r.reply.send(Ok(deleted.remove(&(r.id, r.lease))));
                    }
                }
                Err(e) => {
                    let msg = format!("postgres: {e}");
                    for r in batch {
                        let _ = r.reply.send(Err(QueueError::Backend(msg.clone())));
                    }
                }
            }
        });
    }
}

fn wake_all(wake: &Notify) {
    // Every current waiter, plus a permit for the next one (a worker between an empty lease
    // and its wait would otherwise miss this notification).
    wake.notify_waiters();
    wake.notify_one();
}

/// Receives notifications for the life of the queue; reconnects (with backoff) after any
/// failure and checks a silent connection, so waiting workers are woken whenever possible
/// and fall back to their poll timeout otherwise.
async fn listen_loop(
    opts: PgConnectOptions,
    channel: String,
    wake: Arc<Notify>,
    mut current: Option<PgListener>,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        let mut listener = match current.take() {
            Some(l) => l,
            None => match open_listener(&opts, &channel).await {
                Ok(l) => {
                    delay = Duration::from_millis(100);
                    tracing::info!(%channel, "task queue listener reconnected");
                    // Notifications sent while disconnected are lost: let waiters look.
                    wake_all(&wake);
                    l
                }
                Err(e) => {
                    tracing::warn!(%channel, error = %e, retry_in = ?delay, "task queue listener cannot connect");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        loop {
            match tokio::time::timeout(LISTENER_PING_AFTER, listener.try_recv()).await {
                Ok(Ok(Some(_))) => {
                    while listener.next_buffered().is_some() {}
                    wake_all(&wake);
                }
                // The connection was lost and re-established: notifications may be lost.
                Ok(Ok(None)) => wake_all(&wake),
                Ok(Err(e)) => {
                    tracing::warn!(%channel, error = %e, "task queue listener failed; reconnecting");
                    break;
                }
                // Silence: make sure the connection is still there (a half-open TCP
                // connection would otherwise swallow notifications forever).
                Err(_) => {
                    let ping =
                        tokio::time::timeout(LISTENER_PING_TIMEOUT, listener.execute("SELECT 1")).await;
                    if !matches!(ping, Ok(Ok(_))) {
                        tracing::warn!(%channel, "task queue listener connection is unresponsive; reconnecting");
                        break;
                    }
                }
            }
        }
        drop(listener);
        wake_all(&wake);
    }
}

impl Queue for PostgresQueue {
    fn enqueue(&self, task: NewTask) -> BoxFuture<'_, Result<Enqueued, QueueError>> {
        Box::pin(self.do_enqueue(task))
    }

    fn lease(&self, max: usize, lease_for: Duration) -> BoxFuture<'_, Result<Vec<LeasedTask>, QueueError>> {
        Box::pin(self.do_lease(max, lease_for))
    }

    fn heartbeat<'a>(
        &'a self,
        task: &'a LeasedTask,
        lease_for: Duration,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(self.do_heartbeat(task, lease_for))
    }

    fn complete<'a>(&'a self, task: &'a LeasedTask) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(self.do_complete(task))
    }

    fn fail<'a>(
        &'a self,
        task: &'a LeasedTask,
        error: &'a str,
        retry_at: Option<SystemTime>,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(self.do_fail(task, error, retry_at))
    }

    fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'_, ()> {
        Box::pin(self.do_wait(timeout))
    }

    fn mark_delivery<'a>(
        &'a self,
        delivery_id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(self.do_mark_delivery(delivery_id, ttl))
    }

    fn forget_delivery<'a>(&'a self, delivery_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(self.do_forget_delivery(delivery_id))
    }

    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, QueueError>> {
        Box::pin(self.do_stats())
    }

    fn dead(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
        Box::pin(self.task_list(&self.inner.sql.dead, limit))
    }

    fn pending(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
        Box::pin(self.task_list(&self.inner.sql.pending, limit))
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<TaskInfo>, QueueError>> {
        Box::pin(self.do_get(id))
    }

    fn retry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(self.do_retry(id))
    }

    fn retry_all_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.do_retry_all())
    }

    fn purge_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.do_purge_dead())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const LEASE: Duration = Duration::from_secs(30);

    /// The test server, or `None` (with a loud note) when `GITHUBAPP_TEST_DATABASE_URL` is
    /// unset. When it is set, an unreachable server fails the tests.
    fn test_url() -> Option<String> {
        match std::env::var("GITHUBAPP_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                eprintln!(
                    "\n!!!!! SKIPPED: GITHUBAPP_TEST_DATABASE_URL is not set; the PostgreSQL queue tests \
                     did not run against a server !!!!!\n"
                );
                None
            }
        }
    }

    fn unique_ns(name: &str) -> String {
        format!("t{:08x}_{name}", fastrand::u32(..))
    }

    async fn drop_namespace(url: &str, ns: &str) {
        let mut conn = PgConnection::connect(url).await.expect("connect for cleanup");
        for table in ["tasks", "idempotency", "deliveries", "meta"] {
            conn.execute(AssertSqlSafe(format!("DROP TABLE IF EXISTS {ns}_{table}")))
                .await
                .expect("drop table");
        }
    }

    #[tokio::test]
    async fn conformance() {
        let Some(url) = test_url() else { return };
        let made = Arc::new(Mutex::new(Vec::new()));
        let m = made.clone();
        let u = url.clone();
        crate::testing::queue_conformance::run_all(move |ns: String| {
            let url = u.clone();
            m.lock().unwrap().push(ns.clone());
            async move { Arc::new(PostgresQueue::connect(&url, &ns).await.unwrap()) as Arc<dyn Queue> }
        })
        .await;
        let namespaces = made.lock().unwrap().clone();
        for ns in namespaces {
            drop_namespace(&url, &ns).await;
        }
    }

    #[tokio::test]
    async fn dead_address_is_a_clear_backend_error() {
        // Nothing listens on port 1 of the loopback interface.
        let start = Instant::now();
        let err =
            PostgresQueue::connect("postgres://app:hunter2@127.0.0.1:1/db", "dead_addr").await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        let QueueError::Backend(msg) = err else { panic!("expected a backend error, got {err:?}") };
        assert!(msg.contains("postgres"), "{msg}");
        assert!(msg.contains("postgres://app@127.0.0.1:1/db"), "names the URL: {msg}");
        assert!(!msg.contains("hunter2"), "no password: {msg}");
    }

    #[tokio::test]
    async fn bad_namespace_is_rejected() {
        // Validated before connecting, so no server is needed.
        for ns in ["", "1abc", "Abc", "a-b", "a b", "a;drop", "é", &"a".repeat(41)] {
            let err = PostgresQueue::connect("postgres://app@127.0.0.1:1/db", ns).await.unwrap_err();
            let QueueError::Backend(msg) = err else { panic!("expected a backend error for {ns:?}") };
            assert!(msg.contains("invalid namespace"), "{ns:?}: {msg}");
        }
        for ns in ["a", "my_app", "a0_", &"a".repeat(40)] {
            validate_namespace(ns).unwrap();
        }
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("postgres://u:p%40ss@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redact_url("postgresql://u:pw@h/db?sslmode=require&password=pw&x=1"),
            "postgresql://u@h/db?sslmode=require&x=1"
        );
        assert_eq!(redact_url("postgres://h/db?password=pw"), "postgres://h/db");
        assert_eq!(scrub("auth failed for pw", "postgres://u:pw@h/db"), "auth failed for ***");
    }

    #[tokio::test]
    async fn schema_creation_is_idempotent_and_concurrent() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("schema");
        let (a, b, c) = tokio::join!(
            PostgresQueue::connect(&url, &ns),
            PostgresQueue::connect(&url, &ns),
            PostgresQueue::connect(&url, &ns)
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        a.enqueue(NewTask::new("x", "1")).await.unwrap();
        drop((a, b, c));
        let q = PostgresQueue::connect(&url, &ns).await.unwrap();
        assert_eq!(q.stats().await.unwrap().queued, 1, "reconnecting keeps the tasks");
        let (v,): (i64,) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT value FROM {ns}_meta WHERE key = 'schema_version'"
        )))
        .fetch_one(q.pool())
        .await
        .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        // A newer schema than this code knows is refused.
        sqlx::query(AssertSqlSafe(format!("UPDATE {ns}_meta SET value = 99 WHERE key = 'schema_version'")))
            .execute(q.pool())
            .await
            .unwrap();
        let err = PostgresQueue::connect(&url, &ns).await.unwrap_err();
        assert!(err.to_string().contains("schema version 99"), "{err}");
        drop(q);
        drop_namespace(&url, &ns).await;
    }

    #[tokio::test]
    async fn async_commit_stays_in_its_statement() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("async");
        let q = PostgresQueue::connect(&url, &ns).await.unwrap();
        let mut conn = PgConnection::connect(&url).await.unwrap();
        let show = "SHOW synchronous_commit";
        let before: (String,) = sqlx::query_as(show).fetch_one(&mut conn).await.unwrap();
        sqlx::query(PostgresQueue::q(&q.inner.sql.complete))
            .bind(vec![1i64])
            .bind(vec![1i64])
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(PostgresQueue::q(&q.inner.sql.lease))
            .bind(1i64)
            .bind(1.0)
            .bind(1i64)
            .execute(&mut conn)
            .await
            .unwrap();
        let after: (String,) = sqlx::query_as(show).fetch_one(&mut conn).await.unwrap();
        assert_eq!(before, after, "the setting is local to the bookkeeping transaction");
        drop(q);
        drop_namespace(&url, &ns).await;
    }

    #[tokio::test]
    async fn awkward_inputs_are_stored() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("awkward");
        let q = PostgresQueue::connect(&url, &ns).await.unwrap();
        let long_key = "k".repeat(10_000);
        let a = q
            .enqueue(NewTask::new("a", "1").idempotency_key(&long_key).max_attempts(u32::MAX))
            .await
            .unwrap();
        let b = q.enqueue(NewTask::new("a", "1").idempotency_key(&long_key)).await.unwrap();
        assert_eq!(b, Enqueued::Duplicate(a.id().to_string()), "long keys dedupe too");
        q.enqueue(
            NewTask::new("far", "1").run_at(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)),
        )
        .await
        .unwrap();
        let t = q.lease(10, Duration::MAX).await.unwrap().remove(0);
        q.heartbeat(&t, Duration::MAX).await.unwrap();
        q.fail(&t, "nul \0 in the error", Some(SystemTime::now() + Duration::from_secs(1 << 40)))
            .await
            .unwrap();
        assert_eq!(q.stats().await.unwrap().scheduled, 2);
        assert!(q.mark_delivery(&long_key, Duration::MAX).await.unwrap());
        assert!(!q.mark_delivery(&long_key, Duration::MAX).await.unwrap());
        q.forget_delivery(&long_key).await.unwrap();
        assert!(q.mark_delivery(&long_key, Duration::MAX).await.unwrap());
        drop(q);
        drop_namespace(&url, &ns).await;
    }

    #[tokio::test]
    async fn with_pool_shares_a_pool() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("pool");
        let pool = PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
        let q = PostgresQueue::with_pool(pool.clone(), &ns).await.unwrap();
        q.enqueue(NewTask::new("a", "1")).await.unwrap();
        let t = q.lease(1, LEASE).await.unwrap().remove(0);
        q.complete(&t).await.unwrap();
        assert_eq!(q.stats().await.unwrap().completed, 1);
        assert!(matches!(PostgresQueue::with_pool(pool, "Bad").await, Err(QueueError::Backend(_))));
        drop(q);
        drop_namespace(&url, &ns).await;
    }

    #[tokio::test]
    async fn counters_are_shared_between_processes() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("counters");
        let a = PostgresQueue::connect(&url, &ns).await.unwrap();
        let b = PostgresQueue::connect(&url, &ns).await.unwrap();
        a.enqueue(NewTask::new("x", "1").max_attempts(2)).await.unwrap();
        a.enqueue(NewTask::new("y", "1")).await.unwrap();
        for t in a.lease(10, LEASE).await.unwrap() {
            if t.name == "x" {
                a.fail(&t, "e", Some(SystemTime::now() + Duration::from_secs(3600))).await.unwrap();
            } else {
                a.complete(&t).await.unwrap();
            }
        }
        a.stats().await.unwrap(); // flushes a's counters
        let st = b.stats().await.unwrap();
        assert_eq!((st.completed, st.retried, st.scheduled), (1, 1, 1), "{st:?}");
        drop((a, b));
        drop_namespace(&url, &ns).await;
    }

    #[tokio::test]
    async fn expired_rows_are_pruned() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("prune");
        let q = PostgresQueue::connect(&url, &ns).await.unwrap();
        let a = q.enqueue(NewTask::new("a", "1").idempotency_key("k1")).await.unwrap();
        q.enqueue(NewTask::new("b", "1").idempotency_key("k2")).await.unwrap();
        for t in q.lease(10, LEASE).await.unwrap() {
            q.fail(&t, "dead", None).await.unwrap();
        }
        // (that first lease started a background prune: let it finish)
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(q.mark_delivery("d1", Duration::ZERO).await.unwrap());
        assert!(q.mark_delivery("d2", Duration::from_secs(3600)).await.unwrap());
        // Age the key of `a` and one dead task past their TTLs.
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {ns}_idempotency SET expires_at = now() - interval '1 second' WHERE key = 'k1'"
        )))
        .execute(q.pool())
        .await
        .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {ns}_tasks SET due_at = now() - interval '8 days' WHERE id = $1"
        )))
        .bind(a.id().parse::<i64>().unwrap())
        .execute(q.pool())
        .await
        .unwrap();
        assert_eq!(q.prune().await.unwrap(), 3, "one key, one delivery id, one dead task");
        assert_eq!(q.dead(10).await.unwrap().len(), 1);
        assert!(q.get(a.id()).await.unwrap().is_none());
        // The forgotten key makes a new task; the remembered one is still a duplicate.
        assert!(matches!(
            q.enqueue(NewTask::new("a", "1").idempotency_key("k1")).await.unwrap(),
            Enqueued::New(_)
        ));
        assert!(matches!(
            q.enqueue(NewTask::new("b", "1").idempotency_key("k2")).await.unwrap(),
            Enqueued::Duplicate(_)
        ));
        assert!(!q.mark_delivery("d2", Duration::from_secs(3600)).await.unwrap());
        drop(q);
        drop_namespace(&url, &ns).await;
    }

    #[tokio::test]
    async fn idempotency_key_survives_completion_and_races() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("idem");
        let q = PostgresQueue::connect(&url, &ns).await.unwrap();
        let first = q.enqueue(NewTask::new("a", "1").idempotency_key("k")).await.unwrap();
        let t = q.lease(1, LEASE).await.unwrap().remove(0);
        q.complete(&t).await.unwrap();
        assert_eq!(
            q.enqueue(NewTask::new("a", "1").idempotency_key("k")).await.unwrap(),
            Enqueued::Duplicate(first.id().to_string()),
            "a completed task's key is still remembered"
        );
        // Concurrent enqueues of one key make one task.
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let q = q.clone();
            set.spawn(
                async move { q.enqueue(NewTask::new("r", "1").idempotency_key("race")).await.unwrap() },
            );
        }
        let results = set.join_all().await;
        assert_eq!(results.iter().filter(|r| matches!(r, Enqueued::New(_))).count(), 1);
        assert!(results.iter().all(|r| r.id() == results[0].id()));
        drop(q);
        drop_namespace(&url, &ns).await;
    }

    #[tokio::test]
    async fn listener_survives_connection_loss() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("listen");
        // Two queues stand for two processes: `q` waits, `other` enqueues, so only the
        // NOTIFY through the server can wake `q` early.
        let q = PostgresQueue::connect(&url, &ns).await.unwrap();
        let other = PostgresQueue::connect(&url, &ns).await.unwrap();
        let kill = || async {
            let mut conn = PgConnection::connect(&url).await.unwrap();
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
            )
            .bind(format!("githubapp-listen:{ns}_tasks"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
            n
        };
        assert!(kill().await >= 2, "the listener connections were found and terminated");
        for round in 0..2 {
            // wait_for_work never fails; after the loss (and a reconnect) an enqueue wakes a
            // waiter well before its poll timeout again.
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut picked_up = None;
            while picked_up.is_none() && Instant::now() < deadline {
                let q2 = other.clone();
                let enq = tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    q2.enqueue(NewTask::new("wake", "1")).await.unwrap();
                });
                let start = Instant::now();
                let mut got = Vec::new();
                while got.is_empty() && start.elapsed() < Duration::from_secs(10) {
                    q.wait_for_work(Duration::from_secs(3)).await;
                    got = q.lease(10, LEASE).await.unwrap();
                }
                enq.await.unwrap();
                for t in &got {
                    q.complete(t).await.unwrap();
                }
                let took = start.elapsed();
                if took < Duration::from_secs(2) {
                    picked_up = Some(took);
                }
            }
            assert!(picked_up.is_some(), "round {round}: notifications work again after the connection loss");
            if round == 0 {
                assert!(kill().await >= 2);
            }
        }
        drop((q, other));
        drop_namespace(&url, &ns).await;
    }

    #[tokio::test]
    async fn wait_for_work_is_bounded_by_the_next_due_task() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("due");
        let q = PostgresQueue::connect(&url, &ns).await.unwrap();
        q.enqueue(NewTask::new("soon", "1").delay(Duration::from_millis(300))).await.unwrap();
        let start = Instant::now();
        let mut got = Vec::new();
        while got.is_empty() && start.elapsed() < Duration::from_secs(10) {
            // (the first wake-up may be the enqueue's notification)
            q.wait_for_work(Duration::from_secs(5)).await;
            got = q.lease(10, LEASE).await.unwrap();
        }
        assert_eq!(got.len(), 1);
        assert!(start.elapsed() < Duration::from_secs(2), "woken when due: {:?}", start.elapsed());
        drop(q);
        drop_namespace(&url, &ns).await;
    }

    /// `GITHUBAPP_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test --release
    /// -p githubapp --lib --features postgres tasks::postgres::tests::throughput -- --ignored --nocapture`
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark"]
    async fn throughput() {
        let Some(url) = test_url() else { return };
        let ns = unique_ns("bench");
        let q = Arc::new(PostgresQueue::connect(&url, &ns).await.unwrap());
        let total: usize = std::env::var("BENCH_TASKS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        let batch: usize = std::env::var("BENCH_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(16);

        // Enqueue from 16 concurrent producers.
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for p in 0..16 {
            let q = q.clone();
            set.spawn(async move {
                for i in (p..total).step_by(16) {
                    q.enqueue(NewTask::new("noop", format!("{{\"i\":{i}}}"))).await.unwrap();
                }
            });
        }
        set.join_all().await;
        let enq = start.elapsed();
        println!("enqueued {total} in {enq:?}: {:.0}/s", total as f64 / enq.as_secs_f64());

        // Drain with 16 lease/complete loops.
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let q = q.clone();
            set.spawn(async move {
                let (mut n, mut in_lease, mut in_complete) = (0usize, Duration::ZERO, Duration::ZERO);
                loop {
                    let t0 = Instant::now();
                    let got = q.lease(batch, LEASE).await.unwrap();
                    in_lease += t0.elapsed();
                    if got.is_empty() {
                        break (n, in_lease, in_complete);
                    }
                    let t0 = Instant::now();
                    for t in &got {
                        q.complete(t).await.unwrap();
                    }
                    in_complete += t0.elapsed();
                    n += got.len();
                }
            });
        }
        let per_loop = set.join_all().await;
        let done: usize = per_loop.iter().map(|r| r.0).sum();
        let in_lease: Duration = per_loop.iter().map(|r| r.1).sum();
        let in_complete: Duration = per_loop.iter().map(|r| r.2).sum();
        let drain = start.elapsed();
        println!("time in lease {in_lease:?}, in complete {in_complete:?} (summed over loops)");
        println!(
            "completed {done} in {drain:?}: {:.0}/s (16 loops, lease batch {batch})",
            done as f64 / drain.as_secs_f64()
        );
        assert_eq!(done, total);

        // Idle pickup latency: one loop waits in wait_for_work; enqueue into the idle queue,
        // through the same queue (woken in-process) and through another connected queue (as
        // another process would: woken by NOTIFY).
        let other = Arc::new(PostgresQueue::connect(&url, &ns).await.unwrap());
        for (label, producer) in [("same process", q.clone()), ("other process (NOTIFY)", other.clone())] {
            let mut samples = Vec::new();
            for _ in 0..50 {
                let waiter = {
                    let q = q.clone();
                    tokio::spawn(async move {
                        loop {
                            q.wait_for_work(Duration::from_secs(1)).await;
                            let got = q.lease(1, LEASE).await.unwrap();
                            if let Some(t) = got.first() {
                                let at = Instant::now();
                                q.complete(t).await.unwrap();
                                break at;
                            }
                        }
                    })
                };
                tokio::time::sleep(Duration::from_millis(30)).await;
                let sent = Instant::now();
                producer.enqueue(NewTask::new("idle", "1")).await.unwrap();
                let picked = waiter.await.unwrap();
                samples.push(picked.saturating_duration_since(sent));
            }
            samples.sort();
            println!(
                "idle pickup, {label}: p50 {:?}, p90 {:?}, max {:?} (50 samples)",
                samples[25], samples[45], samples[49]
            );
        }
        drop(other);
        let st = q.stats().await.unwrap();
        println!("stats: {st:?}");
        drop(q);
        drop_namespace(&url, &ns).await;
    }
}
