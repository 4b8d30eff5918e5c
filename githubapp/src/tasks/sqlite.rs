//! The `sqlite` task queue backend: durable, embedded, one process.
//!
//! [`SqliteQueue`] keeps tasks in a SQLite file, so background work survives a restart of
//! the process. It is meant for one process (the web server and its workers sharing the
//! file); to scale out to several `worker` processes use the `postgres` or `redis` backend.
//!
//! ```no_run
//! # async fn example() -> Result<(), githubapp::tasks::QueueError> {
//! use std::time::Duration;
//! use githubapp::tasks::{NewTask, Queue};
//! use githubapp::tasks::sqlite::SqliteQueue;
//!
//! // A plain path or a `sqlite://` URL; the file is created if it is missing.
//! let q = SqliteQueue::open("/var/lib/my-app/tasks.db", "my_app").await?;
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
//! * The file is opened in WAL mode with `synchronous=NORMAL` (a commit does not wait for
//!   `fsync`; a crash of the process loses nothing, a power loss may lose the last
//!   transactions) and a busy timeout.
//! * Every write goes through one writer connection (a pool of one), so concurrent workers
//!   queue in the process instead of spinning on `SQLITE_BUSY`; reads (`stats`, `get`,
//!   `pending`, `dead`) use a small pool of reader connections, which WAL lets run beside
//!   the writer.
//! * A lease is one `UPDATE ... WHERE id IN (SELECT ... ORDER BY run_at LIMIT n) RETURNING`,
//!   preceded by one that takes back expired leases; each holds SQLite's write lock from its
//!   first read, so two leasers never get the same task, even from two processes. Completing
//!   and heartbeating are one statement each, checked against the lease token.
//! * Tables are prefixed by the namespace (`<ns>_tasks`, `<ns>_idempotency`,
//!   `<ns>_deliveries`, `<ns>_meta`), so several apps can share one file. The schema is
//!   created by [`SqliteQueue::open`], versioned by the `schema_version` row of `<ns>_meta`.
//! * Times are integer milliseconds since the Unix epoch.
//! * Completed tasks are deleted at once; dead tasks are kept 7 days, idempotency keys
//!   [`IDEMPOTENCY_TTL`](super::IDEMPOTENCY_TTL) (4 days), delivery ids for the TTL given to
//!   [`Queue::mark_delivery`]. Expired rows are deleted at most once a minute, by whichever
//!   call comes first.
//! * A worker waiting in [`Queue::wait_for_work`] is woken by an enqueue through any
//!   [`SqliteQueue`] of this process open on the same file and namespace; an enqueue by
//!   another process is seen at the next poll.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::Notify;

use super::{BoxFuture, Enqueued, LeasedTask, NewTask, Queue, QueueError, QueueStats, TaskInfo};

/// The schema version this code creates and understands.
const SCHEMA_VERSION: i64 = 1;
/// How long an idempotency key is remembered after enqueue.
const IDEMPOTENCY_TTL_MS: i64 = super::IDEMPOTENCY_TTL.as_millis() as i64;
/// How long dead tasks are kept for inspection.
const DEAD_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Expired rows are deleted at most this often.
const PRUNE_EVERY_MS: i64 = 60_000;
/// How long a connection waits for SQLite's lock (another process writing) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call waits for the writer connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Reader connections (stats and inspection; leasing goes through the writer).
const READERS: u32 = 2;
/// The error kept on a task dead-lettered because its last lease expired.
const EXPIRED_ERROR: &str = "lease expired (worker crashed or stalled)";

/// `state` column values.
const WAITING: i64 = 0;
const RUNNING: i64 = 1;
const DEAD: i64 = 2;

/// A durable task queue in a SQLite file (see the [module docs](self)).
pub struct SqliteQueue {
    writer: SqlitePool,
    reader: SqlitePool,
    sql: Sql,
    notify: Arc<Notify>,
    last_prune: AtomicI64,
    /// The path or URL as given, for error messages.
    shown: String,
    namespace: String,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("path", &self.shown)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Checks `^[a-z][a-z0-9_]{0,39}$`.
fn validate_namespace(ns: &str) -> Result<(), QueueError> {
    let mut chars = ns.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && ns.len() <= 40;
    if ok {
        Ok(())
    } else {
        Err(QueueError::Backend(format!(
            "sqlite: invalid queue namespace {ns:?}: use 1 to 40 characters of a-z, 0-9 and _, starting with a letter"
        )))
    }
}

/// Wake-ups by (file, namespace).
type Wakers = Mutex<HashMap<(String, String), Weak<Notify>>>;

/// The wake-up for each (file, namespace) in this process, shared by every queue open on it.
fn shared_notify(key: (String, String)) -> Arc<Notify> {
    static WAKERS: OnceLock<Wakers> = OnceLock::new();
    let mut map = WAKERS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = map.get(&key).and_then(Weak::upgrade) {
        return n;
    }
    map.retain(|_, w| w.strong_count() > 0);
    let n = Arc::new(Notify::new());
    map.insert(key, Arc::downgrade(&n));
    n
}

/// The statements, with the namespace's table names filled in (built once per queue; sqlx
/// caches the prepared statements per connection).
struct Sql {
    insert: Arc<str>,
    idem_get: Arc<str>,
    idem_put: Arc<str>,
    lease: Arc<str>,
    heartbeat: Arc<str>,
    complete: Arc<str>,
    fail: Arc<str>,
    count_retried: Arc<str>,
    next_due: Arc<str>,
    mark_delivery: Arc<str>,
    forget_delivery: Arc<str>,
    stats: Arc<str>,
    dead: Arc<str>,
    pending: Arc<str>,
    get: Arc<str>,
    retry: Arc<str>,
    retry_all: Arc<str>,
    purge: Arc<str>,
    prune_idem: Arc<str>,
    prune_deliveries: Arc<str>,
    prune_dead: Arc<str>,
    meta_create: String,
    version_get: String,
    version_set: String,
    schema_v1: Vec<String>,
}

impl Sql {
    fn new(ns: &str) -> Self {
        let fill = |s: &str| -> String {
            s.replace("$T", &format!("{ns}_tasks"))
                .replace("$I", &format!("{ns}_idempotency"))
                .replace("$D", &format!("{ns}_deliveries"))
                .replace("$M", &format!("{ns}_meta"))
        };
        let arc = |s: &str| -> Arc<str> { Arc::from(fill(s)) };
        let info_cols = "id, name, state, run_at, attempts, max_attempts, last_error";
        Sql {
            insert: arc("INSERT INTO $T (name, payload, run_at, max_attempts, installation_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id"),
            idem_get: arc("SELECT task_id FROM $I WHERE key = ?1 AND expires_at > ?2"),
            idem_put: arc("INSERT OR REPLACE INTO $I (key, task_id, expires_at) VALUES (?1, ?2, ?3)"),
            // Two statements sent as one command (one round trip to SQLite's thread). Each
            // runs in its own implicit transaction, which takes the write lock before its
            // first read (what `BEGIN IMMEDIATE` does for an explicit one), so no two leasers
            // (connections or processes) can pick the same row.
            // 1. Expired leases: runnable again, or dead when that was the last attempt.
            // 2. Lease the due tasks, oldest `run_at` first; for a running task `run_at` is
            //    the lease expiry.
            lease: arc(&format!(
                "UPDATE $T SET \
                   state = CASE WHEN attempts >= max_attempts THEN {DEAD} ELSE {WAITING} END, \
                   last_error = CASE WHEN attempts >= max_attempts THEN '{EXPIRED_ERROR}' ELSE last_error END, \
                   run_at = ?1 \
                 WHERE state = {RUNNING} AND run_at <= ?1; \
                 UPDATE $T SET state = {RUNNING}, attempts = attempts + 1, lease = lease + 1, run_at = ?2 \
                 WHERE id IN (SELECT id FROM $T WHERE state = {WAITING} AND run_at <= ?1 \
                              ORDER BY run_at, id LIMIT ?3) \
                 RETURNING id, name, payload, attempts, max_attempts, installation_id, lease"
            )),
            heartbeat: arc(&format!(
                "UPDATE $T SET run_at = ?1 WHERE id = ?2 AND state = {RUNNING} AND lease = ?3"
            )),
            // The `completed` counter is kept by a trigger on this delete.
            complete: arc(&format!("DELETE FROM $T WHERE id = ?1 AND state = {RUNNING} AND lease = ?2")),
            // For a dead task `run_at` is when it died (dead tasks expire from then).
            fail: arc(&format!(
                "UPDATE $T SET last_error = ?1, \
                   state = CASE WHEN ?2 IS NOT NULL AND attempts < max_attempts THEN {WAITING} ELSE {DEAD} END, \
                   run_at = CASE WHEN ?2 IS NOT NULL AND attempts < max_attempts THEN ?2 ELSE ?3 END \
                 WHERE id = ?4 AND state = {RUNNING} AND lease = ?5 \
                 RETURNING state"
            )),
            count_retried: arc("UPDATE $M SET value = value + 1 WHERE key = 'retried'"),
            next_due: arc(&format!(
                "SELECT MIN(at) FROM (SELECT MIN(run_at) AS at FROM $T WHERE state = {WAITING} \
                 UNION ALL SELECT MIN(run_at) FROM $T WHERE state = {RUNNING})"
            )),
            // Inserts a new id, or renews an expired one; a live id changes nothing.
            mark_delivery: arc("INSERT INTO $D (id, expires_at) VALUES (?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE $D.expires_at <= ?3"),
            forget_delivery: arc("DELETE FROM $D WHERE id = ?1"),
            stats: arc(&format!(
                "SELECT \
                   (SELECT COUNT(*) FROM $T WHERE state = {WAITING} AND run_at <= ?1), \
                   (SELECT COUNT(*) FROM $T WHERE state = {WAITING} AND run_at > ?1), \
                   (SELECT COUNT(*) FROM $T WHERE state = {RUNNING}), \
                   (SELECT COUNT(*) FROM $T WHERE state = {DEAD}), \
                   COALESCE((SELECT value FROM $M WHERE key = 'completed'), 0), \
                   COALESCE((SELECT value FROM $M WHERE key = 'retried'), 0)"
            )),
            dead: arc(&format!(
                "SELECT {info_cols} FROM $T WHERE state = {DEAD} ORDER BY run_at DESC, id DESC LIMIT ?1"
            )),
            pending: arc(&format!(
                "SELECT {info_cols} FROM $T WHERE state IN ({WAITING}, {RUNNING}) ORDER BY id LIMIT ?1"
            )),
            get: arc(&format!("SELECT {info_cols} FROM $T WHERE id = ?1")),
            retry: arc(&format!(
                "UPDATE $T SET state = {WAITING}, attempts = 0, run_at = ?1 WHERE id = ?2 AND state = {DEAD}"
            )),
            retry_all: arc(&format!(
                "UPDATE $T SET state = {WAITING}, attempts = 0, run_at = ?1 WHERE state = {DEAD}"
            )),
            purge: arc(&format!("DELETE FROM $T WHERE state = {DEAD}")),
            prune_idem: arc("DELETE FROM $I WHERE expires_at <= ?1"),
            prune_deliveries: arc("DELETE FROM $D WHERE expires_at <= ?1"),
            prune_dead: arc(&format!("DELETE FROM $T WHERE state = {DEAD} AND run_at <= ?1")),
            meta_create: fill(
                "CREATE TABLE IF NOT EXISTS $M (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
            ),
            version_get: fill("SELECT value FROM $M WHERE key = 'schema_version'"),
            version_set: fill("INSERT OR REPLACE INTO $M (key, value) VALUES ('schema_version', ?1)"),
            schema_v1: [
                // AUTOINCREMENT: ids are never reused, so a finished task's id (and a stale
                // lease on it) never names a newer task.
                "CREATE TABLE IF NOT EXISTS $T (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    state INTEGER NOT NULL DEFAULT 0,
                    run_at INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    max_attempts INTEGER NOT NULL,
                    installation_id INTEGER,
                    lease INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT,
                    created_at INTEGER NOT NULL
                )",
                // Serves the lease, reclaim, dead listing, expiry and the per-state counts.
                "CREATE INDEX IF NOT EXISTS $T_state_run_at ON $T (state, run_at)",
                "CREATE TABLE IF NOT EXISTS $I (
                    key TEXT PRIMARY KEY,
                    task_id INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL
                ) WITHOUT ROWID",
                "CREATE INDEX IF NOT EXISTS $I_expires_at ON $I (expires_at)",
                "CREATE TABLE IF NOT EXISTS $D (
                    id TEXT PRIMARY KEY,
                    expires_at INTEGER NOT NULL
                ) WITHOUT ROWID",
                "CREATE INDEX IF NOT EXISTS $D_expires_at ON $D (expires_at)",
                "INSERT OR IGNORE INTO $M (key, value) VALUES ('completed', 0), ('retried', 0)",
                // Only `complete` deletes a running task: count it in the same statement.
                "CREATE TRIGGER IF NOT EXISTS $T_completed AFTER DELETE ON $T WHEN OLD.state = 1
                 BEGIN UPDATE $M SET value = value + 1 WHERE key = 'completed'; END",
            ]
            .iter()
            .map(|s| fill(s))
            .collect(),
        }
    }
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

fn q(sql: &Arc<str>) -> Query<'static> {
    sqlx::query(AssertSqlSafe(sql.clone()))
}

fn state_name(state: i64, run_at: i64, now: i64) -> &'static str {
    match state {
        WAITING if run_at <= now => "queued",
        WAITING => "scheduled",
        RUNNING => "running",
        _ => "dead",
    }
}

fn parse_id(id: &str) -> Option<i64> {
    id.parse::<i64>().ok().filter(|n| *n > 0)
}

impl SqliteQueue {
    /// Opens (creating if needed) the queue in the SQLite file `path_or_url` — a plain path
    /// or a `sqlite://` URL (`sqlite::memory:` gives a queue that is not durable) — for
    /// `namespace` (`^[a-z][a-z0-9_]{0,39}$`, the prefix of this queue's tables), and creates
    /// or migrates the schema.
    pub async fn open(path_or_url: &str, namespace: &str) -> Result<Self, QueueError> {
        Self::open_with(path_or_url, namespace, 1).await
    }

    /// [`open`](Self::open) with `writers` writer connections (1 is what `open` uses; more
    /// only make writers contend for SQLite's lock — kept for the measurement in the tests).
    async fn open_with(path_or_url: &str, namespace: &str, writers: u32) -> Result<Self, QueueError> {
        validate_namespace(namespace)?;
        let shown = path_or_url.to_string();
        let open_err = |e: sqlx::Error| QueueError::Backend(format!("sqlite: cannot open {shown}: {e}"));
        let is_url = path_or_url.starts_with("sqlite:");
        let base = if is_url {
            path_or_url.parse::<SqliteConnectOptions>().map_err(open_err)?
        } else {
            SqliteConnectOptions::new().filename(path_or_url)
        };
        let in_memory = is_url && (path_or_url.contains(":memory:") || path_or_url.contains("mode=memory"));
        let options = base
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(writers.max(1))
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        let reader = if in_memory {
            // A shared-cache in-memory database locks whole tables: keep to one connection.
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READERS)
                .min_connections(0)
                .test_before_acquire(false)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options.clone())
        };
        let file = options.get_filename();
        let file_key = if in_memory {
            format!("memory:{}", file.display())
        } else {
            std::fs::canonicalize(file).unwrap_or_else(|_| PathBuf::from(file)).display().to_string()
        };
        let queue = SqliteQueue {
            writer,
            reader,
            sql: Sql::new(namespace),
            notify: shared_notify((file_key, namespace.to_string())),
            last_prune: AtomicI64::new(0),
            shown,
            namespace: namespace.to_string(),
        };
        queue.migrate().await?;
        Ok(queue)
    }

    /// Closes the connections (waiting for running statements); later calls fail.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    fn err(&self, e: sqlx::Error) -> QueueError {
        QueueError::Backend(format!("sqlite ({}, namespace {}): {e}", self.shown, self.namespace))
    }

    /// Creates the schema, or brings it up to [`SCHEMA_VERSION`], in one transaction.
    async fn migrate(&self) -> Result<(), QueueError> {
        let e = |e| self.err(e);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(e)?;
        sqlx::query(AssertSqlSafe(self.sql.meta_create.as_str())).execute(&mut *tx).await.map_err(e)?;
        let version: i64 = sqlx::query_scalar(AssertSqlSafe(self.sql.version_get.as_str()))
            .fetch_optional(&mut *tx)
            .await
            .map_err(e)?
            .unwrap_or(0);
        if version > SCHEMA_VERSION {
            return Err(QueueError::Backend(format!(
                "sqlite ({}): namespace {} has schema version {version}, newer than this githubapp \
                 understands ({SCHEMA_VERSION}); upgrade githubapp",
                self.shown, self.namespace
            )));
        }
        if version < 1 {
            for stmt in &self.sql.schema_v1 {
                sqlx::query(AssertSqlSafe(stmt.as_str())).execute(&mut *tx).await.map_err(e)?;
            }
        }
        if version < SCHEMA_VERSION {
            sqlx::query(AssertSqlSafe(self.sql.version_set.as_str()))
                .bind(SCHEMA_VERSION)
                .execute(&mut *tx)
                .await
                .map_err(e)?;
        }
        tx.commit().await.map_err(e)
    }

    /// Deletes expired rows, at most once a minute per queue (the first call that finds the
    /// minute over does it; errors are logged, not returned: the caller's work goes on).
    async fn maybe_prune(&self) {
        let now = now_ms();
        let last = self.last_prune.load(Ordering::Relaxed);
        if now - last < PRUNE_EVERY_MS
            || self.last_prune.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        if let Err(e) = self.prune(now).await {
            tracing::warn!(error = %e, "sqlite queue: cannot delete expired rows");
        }
    }

    /// Deletes idempotency keys and delivery ids expired at `now`, and tasks dead for 7 days.
    async fn prune(&self, now: i64) -> Result<u64, QueueError> {
        let mut n = 0;
        for (sql, at) in [
            (&self.sql.prune_idem, now),
            (&self.sql.prune_deliveries, now),
            (&self.sql.prune_dead, now - DEAD_TTL_MS),
        ] {
            n += q(sql).bind(at).execute(&self.writer).await.map_err(|e| self.err(e))?.rows_affected();
        }
        Ok(n)
    }

    async fn insert(
        &self,
        exec: &mut sqlx::SqliteConnection,
        task: &NewTask,
        now: i64,
    ) -> Result<i64, sqlx::Error> {
        q(&self.sql.insert)
            .bind(task.name.as_str())
            .bind(task.payload.as_ref())
            .bind(task.run_at.map(to_ms).unwrap_or(now))
            .bind(i64::from(task.max_attempts.max(1)))
            .bind(task.installation_id.map(|i| i as i64))
            .bind(now)
            .fetch_one(exec)
            .await?
            .try_get(0)
    }

    async fn enqueue_task(&self, task: NewTask) -> Result<Enqueued, QueueError> {
        self.maybe_prune().await;
        let e = |e| self.err(e);
        let out = match &task.idempotency_key {
            None => {
                let mut conn = self.writer.acquire().await.map_err(e)?;
                Enqueued::New(self.insert(&mut conn, &task, now_ms()).await.map_err(e)?.to_string())
            }
            Some(key) => {
                let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(e)?;
                let now = now_ms();
                let existing: Option<i64> = sqlx::query_scalar(AssertSqlSafe(self.sql.idem_get.clone()))
                    .bind(key.as_str())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(e)?;
                if let Some(id) = existing {
                    tx.commit().await.map_err(e)?;
                    return Ok(Enqueued::Duplicate(id.to_string()));
                }
                let id = self.insert(&mut tx, &task, now).await.map_err(e)?;
                q(&self.sql.idem_put)
                    .bind(key.as_str())
                    .bind(id)
                    .bind(now + IDEMPOTENCY_TTL_MS)
                    .execute(&mut *tx)
                    .await
                    .map_err(e)?;
                tx.commit().await.map_err(e)?;
                Enqueued::New(id.to_string())
            }
        };
        self.notify.notify_one();
        Ok(out)
    }

    async fn lease_tasks(&self, max: usize, lease_for: Duration) -> Result<Vec<LeasedTask>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.maybe_prune().await;
        let e = |e| self.err(e);
        let now = now_ms();
        let rows = q(&self.sql.lease)
            .bind(now)
            .bind(now.saturating_add(dur_ms(lease_for)))
            .bind(limit(max))
            .fetch_all(&self.writer)
            .await
            .map_err(e)?;
        let mut out = rows.iter().map(leased_from_row).collect::<Result<Vec<_>, _>>().map_err(e)?;
        out.sort_by_key(|(id, _)| *id);
        Ok(out.into_iter().map(|(_, t)| t).collect())
    }

    async fn heartbeat_task(&self, task: &LeasedTask, lease_for: Duration) -> Result<(), QueueError> {
        let id = parse_id(&task.id).ok_or_else(|| QueueError::NotFound(task.id.clone()))?;
        let done = q(&self.sql.heartbeat)
            .bind(now_ms().saturating_add(dur_ms(lease_for)))
            .bind(id)
            .bind(task.lease as i64)
            .execute(&self.writer)
            .await
            .map_err(|e| self.err(e))?;
        if done.rows_affected() == 1 { Ok(()) } else { Err(QueueError::LeaseLost(task.id.clone())) }
    }

    async fn complete_task(&self, task: &LeasedTask) -> Result<(), QueueError> {
        let id = parse_id(&task.id).ok_or_else(|| QueueError::NotFound(task.id.clone()))?;
        let done = q(&self.sql.complete)
            .bind(id)
            .bind(task.lease as i64)
            .execute(&self.writer)
            .await
            .map_err(|e| self.err(e))?;
        if done.rows_affected() == 1 { Ok(()) } else { Err(QueueError::LeaseLost(task.id.clone())) }
    }

    async fn fail_task(
        &self,
        task: &LeasedTask,
        error: &str,
        retry_at: Option<SystemTime>,
    ) -> Result<(), QueueError> {
        let id = parse_id(&task.id).ok_or_else(|| QueueError::NotFound(task.id.clone()))?;
        let e = |e| self.err(e);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(e)?;
        let state: Option<i64> = sqlx::query_scalar(AssertSqlSafe(self.sql.fail.clone()))
            .bind(error)
            .bind(retry_at.map(to_ms))
            .bind(now_ms())
            .bind(id)
            .bind(task.lease as i64)
            .fetch_optional(&mut *tx)
            .await
            .map_err(e)?;
        let Some(state) = state else {
            tx.commit().await.map_err(e)?;
            return Err(QueueError::LeaseLost(task.id.clone()));
        };
        if state == WAITING {
            q(&self.sql.count_retried).execute(&mut *tx).await.map_err(e)?;
        }
        tx.commit().await.map_err(e)?;
        if state == WAITING {
            self.notify.notify_one();
        }
        Ok(())
    }

    async fn wait(&self, timeout: Duration) {
        let next: Option<i64> = sqlx::query_scalar(AssertSqlSafe(self.sql.next_due.clone()))
            .fetch_one(&self.reader)
            .await
            .unwrap_or(None);
        let timeout = match next {
            Some(at) => timeout.min(Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0))),
            None => timeout,
        };
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }

    async fn mark(&self, delivery_id: &str, ttl: Duration) -> Result<bool, QueueError> {
        self.maybe_prune().await;
        let now = now_ms();
        let done = q(&self.sql.mark_delivery)
            .bind(delivery_id)
            .bind(now.saturating_add(dur_ms(ttl)))
            .bind(now)
            .execute(&self.writer)
            .await
            .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn forget(&self, delivery_id: &str) -> Result<(), QueueError> {
        q(&self.sql.forget_delivery)
            .bind(delivery_id)
            .execute(&self.writer)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn read_stats(&self) -> Result<QueueStats, QueueError> {
        let e = |e| self.err(e);
        let row = q(&self.sql.stats).bind(now_ms()).fetch_one(&self.reader).await.map_err(e)?;
        let n =
            |i: usize| -> Result<u64, QueueError> { Ok(row.try_get::<i64, _>(i).map_err(e)?.max(0) as u64) };
        Ok(QueueStats {
            queued: n(0)?,
            scheduled: n(1)?,
            running: n(2)?,
            dead: n(3)?,
            completed: n(4)?,
            retried: n(5)?,
        })
    }

    async fn infos(&self, sql: &Arc<str>, limit_to: usize) -> Result<Vec<TaskInfo>, QueueError> {
        let e = |e| self.err(e);
        let rows = q(sql).bind(limit(limit_to)).fetch_all(&self.reader).await.map_err(e)?;
        let now = now_ms();
        rows.iter().map(|r| info_from_row(r, now)).collect::<Result<_, _>>().map_err(e)
    }

    async fn get_task(&self, id: &str) -> Result<Option<TaskInfo>, QueueError> {
        let Some(id) = parse_id(id) else { return Ok(None) };
        let e = |e| self.err(e);
        let row = q(&self.sql.get).bind(id).fetch_optional(&self.reader).await.map_err(e)?;
        row.map(|r| info_from_row(&r, now_ms())).transpose().map_err(e)
    }

    async fn retry_task(&self, id: &str) -> Result<bool, QueueError> {
        let Some(id) = parse_id(id) else { return Ok(false) };
        let done = q(&self.sql.retry)
            .bind(now_ms())
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(|e| self.err(e))?;
        let revived = done.rows_affected() == 1;
        if revived {
            self.notify.notify_one();
        }
        Ok(revived)
    }

    async fn retry_dead(&self) -> Result<u64, QueueError> {
        let done =
            q(&self.sql.retry_all).bind(now_ms()).execute(&self.writer).await.map_err(|e| self.err(e))?;
        if done.rows_affected() > 0 {
            self.notify.notify_one();
        }
        Ok(done.rows_affected())
    }

    async fn purge(&self) -> Result<u64, QueueError> {
        let done = q(&self.sql.purge).execute(&self.writer).await.map_err(|e| self.err(e))?;
        Ok(done.rows_affected())
    }
}

fn leased_from_row(r: &SqliteRow) -> Result<(i64, LeasedTask), sqlx::Error> {
    let id: i64 = r.try_get("id")?;
    let payload: Vec<u8> = r.try_get("payload")?;
    Ok((
        id,
        LeasedTask {
            id: id.to_string(),
            name: r.try_get("name")?,
            payload: Bytes::from(payload),
            attempt: r.try_get::<i64, _>("attempts")?.clamp(0, u32::MAX.into()) as u32,
            max_attempts: r.try_get::<i64, _>("max_attempts")?.clamp(0, u32::MAX.into()) as u32,
            installation_id: r.try_get::<Option<i64>, _>("installation_id")?.map(|i| i as u64),
            lease: r.try_get::<i64, _>("lease")? as u64,
            tail: Bytes::new(),
        },
    ))
}

fn info_from_row(r: &SqliteRow, now: i64) -> Result<TaskInfo, sqlx::Error> {
    Ok(TaskInfo {
        id: r.try_get::<i64, _>("id")?.to_string(),
        name: r.try_get("name")?,
        state: state_name(r.try_get("state")?, r.try_get("run_at")?, now),
        attempts: r.try_get::<i64, _>("attempts")?.clamp(0, u32::MAX.into()) as u32,
        max_attempts: r.try_get::<i64, _>("max_attempts")?.clamp(0, u32::MAX.into()) as u32,
        last_error: r.try_get("last_error")?,
    })
}

impl Queue for SqliteQueue {
    fn enqueue(&self, task: NewTask) -> BoxFuture<'_, Result<Enqueued, QueueError>> {
        Box::pin(self.enqueue_task(task))
    }

    fn lease(&self, max: usize, lease_for: Duration) -> BoxFuture<'_, Result<Vec<LeasedTask>, QueueError>> {
        Box::pin(self.lease_tasks(max, lease_for))
    }

    fn heartbeat<'a>(
        &'a self,
        task: &'a LeasedTask,
        lease_for: Duration,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(self.heartbeat_task(task, lease_for))
    }

    fn complete<'a>(&'a self, task: &'a LeasedTask) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(self.complete_task(task))
    }

    fn fail<'a>(
        &'a self,
        task: &'a LeasedTask,
        error: &'a str,
        retry_at: Option<SystemTime>,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(self.fail_task(task, error, retry_at))
    }

    fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'_, ()> {
        Box::pin(self.wait(timeout))
    }

    fn mark_delivery<'a>(
        &'a self,
        delivery_id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(self.mark(delivery_id, ttl))
    }

    fn forget_delivery<'a>(&'a self, delivery_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(self.forget(delivery_id))
    }

    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, QueueError>> {
        Box::pin(self.read_stats())
    }

    fn dead(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
        Box::pin(self.infos(&self.sql.dead, limit))
    }

    fn pending(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
        Box::pin(self.infos(&self.sql.pending, limit))
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<TaskInfo>, QueueError>> {
        Box::pin(self.get_task(id))
    }

    fn retry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(self.retry_task(id))
    }

    fn retry_all_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.retry_dead())
    }

    fn purge_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.purge())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Instant;

    const LEASE: Duration = Duration::from_secs(30);

    /// A database file in the temp directory, deleted (with its WAL files) on drop.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new(tag: &str) -> Self {
            let name = format!("githubapp-sqlite-{tag}-{}-{:016x}.db", std::process::id(), fastrand::u64(..));
            TempDb(std::env::temp_dir().join(name))
        }
        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = self.0.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(Path::new(&p));
            }
        }
    }

    #[tokio::test]
    async fn conformance() {
        let db = TempDb::new("conformance");
        // Every check's namespace lives in the same file, opened through a `sqlite://` URL.
        let url = format!("sqlite://{}", db.path());
        crate::testing::queue_conformance::run_all(|ns| {
            let url = url.clone();
            async move { Arc::new(SqliteQueue::open(&url, &ns).await.unwrap()) as Arc<dyn Queue> }
        })
        .await;
    }

    #[tokio::test]
    async fn in_memory_url_passes_conformance() {
        crate::testing::queue_conformance::run_all(|ns| async move {
            Arc::new(SqliteQueue::open("sqlite::memory:", &ns).await.unwrap()) as Arc<dyn Queue>
        })
        .await;
    }

    #[tokio::test]
    async fn unopenable_path_is_a_clear_backend_error_quickly() {
        let path = "/nonexistent-githubapp-dir/sub/tasks.db";
        let start = Instant::now();
        let err = SqliteQueue::open(path, "app").await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        let QueueError::Backend(msg) = &err else { panic!("not a backend error: {err:?}") };
        assert!(msg.contains("sqlite") && msg.contains(path), "{msg}");
    }

    #[tokio::test]
    async fn bad_namespace_is_rejected() {
        let db = TempDb::new("badns");
        for ns in ["", "App", "1app", "my-app", "a b", "ns;drop", &"a".repeat(41)] {
            let err = SqliteQueue::open(db.path(), ns).await.unwrap_err();
            let QueueError::Backend(msg) = &err else { panic!("not a backend error: {err:?}") };
            assert!(msg.contains("namespace"), "{msg}");
        }
        SqliteQueue::open(db.path(), &"a".repeat(40)).await.unwrap();
        SqliteQueue::open(db.path(), "a").await.unwrap();
        SqliteQueue::open(db.path(), "app_2").await.unwrap();
    }

    #[tokio::test]
    async fn file_is_created_and_tasks_survive_reopening() {
        let db = TempDb::new("durable");
        assert!(!db.0.exists());
        let q = SqliteQueue::open(db.path(), "app").await.unwrap();
        assert!(db.0.exists(), "the file is created");
        let payload = Bytes::from_static(b"\x00\xffdurable");
        let id = q
            .enqueue(
                NewTask::new("keep", payload.clone())
                    .max_attempts(3)
                    .idempotency_key("k1")
                    .installation(Some(7)),
            )
            .await
            .unwrap();
        assert!(q.mark_delivery("d1", Duration::from_secs(600)).await.unwrap());
        drop(q);

        let q = SqliteQueue::open(db.path(), "app").await.unwrap();
        let pending = q.pending(10).await.unwrap();
        assert_eq!(pending.len(), 1, "the task is still there");
        assert_eq!(pending[0].id, id.id());
        assert_eq!(
            q.enqueue(NewTask::new("keep", "x").idempotency_key("k1")).await.unwrap(),
            Enqueued::Duplicate(id.id().to_string()),
            "the idempotency key is remembered"
        );
        assert!(
            !q.mark_delivery("d1", Duration::from_secs(600)).await.unwrap(),
            "the delivery id is remembered"
        );
        let t = q.lease(10, LEASE).await.unwrap().pop().unwrap();
        assert_eq!(
            (t.name.as_str(), &t.payload, t.max_attempts, t.installation_id),
            ("keep", &payload, 3, Some(7))
        );
        q.complete(&t).await.unwrap();
        q.close().await;

        let q = SqliteQueue::open(&format!("sqlite://{}", db.path()), "app").await.unwrap();
        let st = q.stats().await.unwrap();
        assert_eq!((st.queued, st.running, st.completed), (0, 0, 1), "{st:?}");
    }

    #[tokio::test]
    async fn schema_is_versioned_and_idempotent() {
        let db = TempDb::new("schema");
        let a = SqliteQueue::open(db.path(), "app").await.unwrap();
        a.enqueue(NewTask::new("a", "1")).await.unwrap();
        let b = SqliteQueue::open(db.path(), "app").await.unwrap();
        assert_eq!(b.pending(10).await.unwrap().len(), 1, "opening again keeps the data");
        let v: i64 = sqlx::query_scalar("SELECT value FROM app_meta WHERE key = 'schema_version'")
            .fetch_one(&b.reader)
            .await
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        sqlx::query("UPDATE app_meta SET value = 99 WHERE key = 'schema_version'")
            .execute(&b.writer)
            .await
            .unwrap();
        let err = SqliteQueue::open(db.path(), "app").await.unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[tokio::test]
    async fn expired_rows_are_pruned() {
        let db = TempDb::new("prune");
        let q = SqliteQueue::open(db.path(), "app").await.unwrap();
        q.enqueue(NewTask::new("k", "1").idempotency_key("key")).await.unwrap();
        q.mark_delivery("short", Duration::from_millis(1)).await.unwrap();
        q.mark_delivery("long", Duration::from_secs(3600)).await.unwrap();
        let t = q.lease(1, LEASE).await.unwrap().pop().unwrap();
        q.fail(&t, "dead", None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let count = |sql: &'static str| {
            let pool = q.reader.clone();
            async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
        };
        // Now: only the short delivery id has expired.
        assert_eq!(q.prune(now_ms()).await.unwrap(), 1);
        assert_eq!(count("SELECT COUNT(*) FROM app_deliveries").await, 1);
        assert_eq!(count("SELECT COUNT(*) FROM app_idempotency").await, 1);
        // A day later the key and the 1-hour delivery id are gone; 7 days later the dead task too.
        assert_eq!(q.prune(now_ms() + IDEMPOTENCY_TTL_MS + 1).await.unwrap(), 2);
        assert_eq!(q.dead(10).await.unwrap().len(), 1, "dead tasks are kept for 7 days");
        assert_eq!(q.prune(now_ms() + DEAD_TTL_MS + 1).await.unwrap(), 1);
        assert!(q.dead(10).await.unwrap().is_empty());
        // Pruning runs at most once a minute from the normal calls.
        q.last_prune.store(0, Ordering::Relaxed);
        q.mark_delivery("x", Duration::ZERO).await.unwrap();
        let after_first = q.last_prune.load(Ordering::Relaxed);
        assert!(after_first > 0);
        q.mark_delivery("y", Duration::ZERO).await.unwrap();
        assert_eq!(q.last_prune.load(Ordering::Relaxed), after_first);
        assert_eq!(
            count("SELECT COUNT(*) FROM app_deliveries").await,
            2,
            "x (marked after that prune) and y stay: no second prune within the minute"
        );
    }

    #[tokio::test]
    async fn finished_ids_are_never_reused() {
        let db = TempDb::new("ids");
        let q = SqliteQueue::open(db.path(), "app").await.unwrap();
        q.enqueue(NewTask::new("a", "1")).await.unwrap();
        let a = q.lease(1, LEASE).await.unwrap().pop().unwrap();
        q.complete(&a).await.unwrap();
        let b = q.enqueue(NewTask::new("b", "1")).await.unwrap();
        assert_ne!(b.id(), a.id, "a finished task's id names no newer task");
        let b = q.lease(1, LEASE).await.unwrap().pop().unwrap();
        assert!(matches!(q.complete(&a).await, Err(QueueError::LeaseLost(_))));
        q.complete(&b).await.unwrap();
    }

    #[tokio::test]
    async fn a_second_queue_on_the_same_file_wakes_the_first() {
        let db = TempDb::new("wake2");
        let waiter = SqliteQueue::open(db.path(), "app").await.unwrap();
        let enqueuer = SqliteQueue::open(db.path(), "app").await.unwrap();
        let other_ns = SqliteQueue::open(db.path(), "other").await.unwrap();
        let start = Instant::now();
        let (_, ()) = tokio::join!(
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                other_ns.enqueue(NewTask::new("elsewhere", "1")).await.unwrap();
                tokio::time::sleep(Duration::from_millis(150)).await;
                enqueuer.enqueue(NewTask::new("a", "1")).await.unwrap();
            },
            waiter.wait_for_work(Duration::from_secs(10))
        );
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(190), "not woken by another namespace: {waited:?}");
        assert!(waited < Duration::from_secs(2), "woken by the enqueue: {waited:?}");
        assert_eq!(waiter.lease(10, LEASE).await.unwrap().len(), 1);
    }

    /// 16 concurrent lease/complete loops (with some failures and retries) finish every
    /// task exactly once, without SQLITE_BUSY or any other error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sixteen_concurrent_workers_drain_without_errors() {
        let db = TempDb::new("concurrent");
        let q = Arc::new(SqliteQueue::open(db.path(), "app").await.unwrap());
        let n = 2000;
        for i in 0..n {
            q.enqueue(NewTask::new(format!("t{i}"), "{}").max_attempts(2)).await.unwrap();
        }
        let mut loops = tokio::task::JoinSet::new();
        for w in 0..16 {
            let q = q.clone();
            loops.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let got = q.lease(8, LEASE).await.unwrap();
                    if got.is_empty() {
                        if q.stats().await.unwrap().queued == 0 {
                            break done;
                        }
                        continue;
                    }
                    for t in got {
                        if t.attempt == 1 && fastrand::u8(..) < 16 {
                            q.fail(&t, "flaky", Some(SystemTime::now())).await.unwrap();
                        } else {
                            q.heartbeat(&t, LEASE).await.unwrap();
                            q.complete(&t).await.unwrap();
                            done.push(t.name);
                        }
                    }
                    if w == 0 {
                        q.mark_delivery(&format!("d{}", done.len()), Duration::from_secs(60)).await.unwrap();
                    }
                }
            });
        }
        let mut all = Vec::new();
        while let Some(r) = loops.join_next().await {
            all.extend(r.unwrap());
        }
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "every task completed once");
        let st = q.stats().await.unwrap();
        assert_eq!((st.queued, st.running, st.dead, st.completed), (0, 0, 0, n as u64), "{st:?}");
    }

    /// Two queues on one file (two writer connections, as two processes would have) lease
    /// concurrently: SQLite's write lock keeps every lease exclusive, and the busy timeout
    /// turns lock waits into waits, not errors.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leases_are_exclusive_across_connections() {
        let db = TempDb::new("twoconn");
        let a = Arc::new(SqliteQueue::open(db.path(), "app").await.unwrap());
        let b = Arc::new(SqliteQueue::open(db.path(), "app").await.unwrap());
        let n = 1000;
        for i in 0..n {
            a.enqueue(NewTask::new(format!("t{i}"), "{}")).await.unwrap();
        }
        let mut loops = tokio::task::JoinSet::new();
        for i in 0..8 {
            let q = if i % 2 == 0 { a.clone() } else { b.clone() };
            loops.spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let got = q.lease(5, LEASE).await.unwrap();
                    if got.is_empty() {
                        break ids;
                    }
                    for t in got {
                        q.complete(&t).await.unwrap();
                        ids.push(t.id);
                    }
                }
            });
        }
        let mut all = Vec::new();
        while let Some(r) = loops.join_next().await {
            all.extend(r.unwrap());
        }
        let leased = all.len();
        all.sort();
        all.dedup();
        assert_eq!((leased, all.len()), (n, n), "every task leased exactly once");
        assert_eq!(b.stats().await.unwrap().completed, n as u64);
    }

    /// Throughput and idle pickup latency. Run with
    /// `cargo test -p githubapp --lib --release --features sqlite tasks::sqlite::tests::bench -- --ignored --nocapture`
    /// (`GITHUBAPP_BENCH_TASKS` sets the backlog, `GITHUBAPP_BENCH_WRITERS` the writer connections).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark"]
    async fn bench() {
        let tasks: usize =
            std::env::var("GITHUBAPP_BENCH_TASKS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        let writers: u32 =
            std::env::var("GITHUBAPP_BENCH_WRITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
        let db = TempDb::new("bench");
        let q = Arc::new(SqliteQueue::open_with(db.path(), "bench", writers).await.unwrap());

        let start = Instant::now();
        for i in 0..tasks {
            q.enqueue(NewTask::new("noop", format!("{{\"i\":{i}}}"))).await.unwrap();
        }
        let enq = start.elapsed();

        let start = Instant::now();
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let q = q.clone();
            loops.spawn(async move {
                let (mut done, mut errors, mut slowest) = (0u64, 0u64, Duration::ZERO);
                loop {
                    let t0 = Instant::now();
                    let leased = q.lease(16, LEASE).await;
                    slowest = slowest.max(t0.elapsed());
                    match leased {
                        Ok(got) if got.is_empty() => break (done, errors, slowest),
                        Ok(got) => {
                            for t in got {
                                let t0 = Instant::now();
                                let completed = q.complete(&t).await;
                                slowest = slowest.max(t0.elapsed());
                                match completed {
                                    Ok(()) => done += 1,
                                    Err(e) => {
                                        errors += 1;
                                        eprintln!("complete: {e}");
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            errors += 1;
                            eprintln!("lease: {e}");
                        }
                    }
                }
            });
        }
        let (mut done, mut errors, mut slowest) = (0, 0, Duration::ZERO);
        while let Some(r) = loops.join_next().await {
            let (d, e, s) = r.unwrap();
            done += d;
            errors += e;
            slowest = slowest.max(s);
        }
        let drain = start.elapsed();
        let st = q.stats().await.unwrap();

        let mut pickups = Vec::new();
        for _ in 0..50 {
            let q2 = q.clone();
            let waiter = tokio::spawn(async move {
                loop {
                    q2.wait_for_work(Duration::from_secs(1)).await;
                    let got = q2.lease(1, LEASE).await.unwrap();
                    if let Some(t) = got.first() {
                        q2.complete(t).await.unwrap();
                        break Instant::now();
                    }
                }
            });
            tokio::time::sleep(Duration::from_millis(20)).await;
            let sent = Instant::now();
            q.enqueue(NewTask::new("noop", "{}")).await.unwrap();
            pickups.push(waiter.await.unwrap() - sent);
        }
        pickups.sort();
        println!(
            "sqlite bench: writers={writers} tasks={tasks}: enqueued {:.0}/s ({enq:?}); completed {:.0}/s \
             ({drain:?}, {done} done, {errors} errors, slowest call {slowest:?}); idle pickup p50 {:?} p90 {:?}; stats {st:?}",
            tasks as f64 / enq.as_secs_f64(),
            done as f64 / drain.as_secs_f64(),
            pickups[pickups.len() / 2],
            pickups[pickups.len() * 9 / 10],
        );
        assert_eq!((done, errors), (tasks as u64, 0));
    }
}
