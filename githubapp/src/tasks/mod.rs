//! Task queues: the [`Queue`] trait every backend implements, the in-process
//! [`MemoryQueue`], and the [`Worker`] that leases and runs tasks.
//!
//! Background webhook handlers are tasks: the delivery is enqueued before GitHub gets its
//! answer (202), and a worker runs the handler with retries, a lease (visibility timeout)
//! kept alive by heartbeats, exponential backoff with jitter, and a dead-letter state
//! that keeps the last error.
//!
//! Semantics are at-least-once: a task whose worker dies is leased again once its lease
//! expires, so a handler may run more than once for one delivery. Make side effects
//! idempotent (or check first, as with "comment already posted").

mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod typed;
mod worker;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

pub use memory::MemoryQueue;
pub use typed::{DEFAULT_TASK_RETRIES, FromTask, TaskArgument, TaskCall, TaskContext, TaskMeta, Tasks};
pub use worker::{Worker, WorkerConfig, backoff};
pub(crate) use worker::{deadline, deadline_after};

/// A two-part payload (see [`Queue::enqueue_parts`]) in one piece.
pub(crate) fn join_parts(head: &[u8], tail: &[u8]) -> Bytes {
    let mut joined = bytes::BytesMut::with_capacity(head.len() + tail.len());
    joined.extend_from_slice(head);
    joined.extend_from_slice(tail);
    joined.freeze()
}

/// How long every backend remembers an idempotency key after the enqueue that set it: 4 days,
/// longer than GitHub's 3-day redelivery window and the 80 h delivery-id dedupe, so a
/// redelivered webhook never enqueues a background handler twice. The in-process
/// [`MemoryQueue`] also bounds its memory: it keeps at least the most recent 229,376 keys, each
/// for at most this long, so under heavy load older keys can be forgotten sooner.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(4 * 24 * 3600);

/// A boxed, sendable future (the trait is object-safe so backends can be chosen at run time).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A queue failure. Enqueue failures during a webhook delivery answer 500, so GitHub's
/// delivery log shows it and the delivery can be redelivered: nothing is lost silently.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The backend could not be reached or answered an error.
    #[error("task queue backend error: {0}")]
    Backend(String),
    /// The task's lease expired and another worker took it over; this worker's result is
    /// discarded (the other run decides the outcome).
    #[error("lease on task {0} was lost")]
    LeaseLost(String),
    /// No task with this id.
    #[error("no task with id {0}")]
    NotFound(String),
}

/// A task to enqueue.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewTask {
    /// The registered task name (background handlers: `webhook:<module>::<fn>`).
    pub name: String,
    /// Opaque serialized arguments.
    pub payload: Bytes,
    /// Total attempts before the task is dead-lettered (>= 1).
    pub max_attempts: u32,
    /// Do not run before this time.
    pub run_at: Option<SystemTime>,
    /// Enqueueing twice with the same key yields one task (while the key is remembered).
    pub idempotency_key: Option<String>,
    /// The installation the task acts for, so its `Client` is authenticated the same way.
    pub installation_id: Option<u64>,
}

impl NewTask {
    /// A task with `max_attempts` 1 and no options.
    pub fn new(name: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        NewTask {
            name: name.into(),
            payload: payload.into(),
            max_attempts: 1,
            run_at: None,
            idempotency_key: None,
            installation_id: None,
        }
    }
    /// Sets the total number of attempts (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
    /// Delays the task until `at`.
    pub fn run_at(mut self, at: SystemTime) -> Self {
        self.run_at = Some(at);
        self
    }
    /// Delays the task by `delay`.
    pub fn delay(self, delay: Duration) -> Self {
        self.run_at(SystemTime::now() + delay)
    }
    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
    /// Sets the installation.
    pub fn installation(mut self, id: Option<u64>) -> Self {
        self.installation_id = id;
        self
    }
}

/// What enqueueing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new task with this id.
    New(String),
    /// A task with the same idempotency key already exists (its id).
    Duplicate(String),
}

impl Enqueued {
    /// The task id either way.
    pub fn id(&self) -> &str {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// A task leased by a worker.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LeasedTask {
    /// Task id.
    pub id: String,
    /// Task name.
    pub name: String,
    /// Serialized arguments. For a webhook's background handler leased from the
    /// [`MemoryQueue`], only the stored delivery's metadata line: that queue keeps the body
    /// apart, uncopied, and hands it to the worker beside this line.
    pub payload: Bytes,
    /// 1 on the first run.
    pub attempt: u32,
    /// Total attempts allowed.
    pub max_attempts: u32,
    /// The installation the task acts for.
    pub installation_id: Option<u64>,
    /// Identifies this lease; a stale lease cannot complete or fail the task.
    pub lease: u64,
    /// The rest of the payload when the backend kept it apart (see [`Queue::enqueue_parts`]):
    /// the whole payload is `payload` followed by `tail`. Empty for every other task.
    pub(crate) tail: Bytes,
}

/// Counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct QueueStats {
    /// Ready to run now.
    pub queued: u64,
    /// Waiting for their `run_at` (delayed or backing off before a retry).
    pub scheduled: u64,
    /// Leased by a worker.
    pub running: u64,
    /// Dead-lettered after their last attempt.
    pub dead: u64,
    /// Completed since the queue started (this process, for `memory`).
    pub completed: u64,
    /// Failed attempts that were scheduled for a retry.
    pub retried: u64,
}

/// A dead-lettered or pending task, for inspection.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct TaskInfo {
    /// Task id.
    pub id: String,
    /// Task name.
    pub name: String,
    /// `queued`, `scheduled`, `running` or `dead`.
    pub state: &'static str,
    /// Attempts made so far.
    pub attempts: u32,
    /// Total attempts allowed.
    pub max_attempts: u32,
    /// The last error, if an attempt failed.
    pub last_error: Option<String>,
}

/// A task queue backend. Every backend offers the same semantics (see the module docs).
pub trait Queue: Send + Sync + 'static {
    /// Adds a task (or finds the one with the same idempotency key).
    fn enqueue(&self, task: NewTask) -> BoxFuture<'_, Result<Enqueued, QueueError>>;
    /// Whether [`Queue::enqueue_parts`] stores the two parts apart (`true`: the in-process
    /// [`MemoryQueue`]) or joins them (the default), so that a caller with several tasks for
    /// one body joins it once itself.
    #[doc(hidden)]
    fn keeps_parts(&self) -> bool {
        false
    }
    /// Adds a task whose payload is `task.payload` followed by `tail`: how a webhook delivery's
    /// background handler is stored (a line of metadata, then the body as GitHub sent it).
    /// This default joins the two parts (one copy of the body) and calls [`Queue::enqueue`];
    /// the in-process [`MemoryQueue`] keeps them apart, so the body is never copied.
    #[doc(hidden)]
    fn enqueue_parts(&self, mut task: NewTask, tail: Bytes) -> BoxFuture<'_, Result<Enqueued, QueueError>> {
        if !tail.is_empty() {
            task.payload = join_parts(&task.payload, &tail);
        }
        self.enqueue(task)
    }
    /// Leases up to `max` runnable tasks for `lease_for`.
    fn lease(&self, max: usize, lease_for: Duration) -> BoxFuture<'_, Result<Vec<LeasedTask>, QueueError>>;
    /// Extends a lease.
    fn heartbeat<'a>(
        &'a self,
        task: &'a LeasedTask,
        lease_for: Duration,
    ) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Marks a task done.
    fn complete<'a>(&'a self, task: &'a LeasedTask) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Records a failed attempt: retried at `retry_at`, or dead-lettered when `None`.
    fn fail<'a>(
        &'a self,
        task: &'a LeasedTask,
        error: &'a str,
        retry_at: Option<SystemTime>,
    ) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Waits until a task may be runnable (a wake-up after enqueue, or `timeout`).
    fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'_, ()>;
    /// Records a webhook delivery id; `true` the first time it is seen within `ttl`.
    fn mark_delivery<'a>(
        &'a self,
        delivery_id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, QueueError>>;
    /// Forgets a delivery id (after a failed delivery, so GitHub's redelivery runs again).
    fn forget_delivery<'a>(&'a self, delivery_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Counts by state.
    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, QueueError>>;
    /// Dead-lettered tasks, newest first, at most `limit`.
    fn dead(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>>;
    /// Unfinished tasks (queued, scheduled, running), oldest first, at most `limit`.
    fn pending(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>>;
    /// One task by id, unless it finished (finished tasks are not kept).
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<TaskInfo>, QueueError>>;
    /// Moves a dead task back to the queue with a fresh set of attempts; `false` if `id` is
    /// not a dead task.
    fn retry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, QueueError>>;
    /// Retries every dead task; returns how many.
    fn retry_all_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>>;
    /// Deletes every dead task; returns how many.
    fn purge_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>>;
    /// A short name for logs and `check` (`memory`, ...).
    fn backend(&self) -> &'static str;
}

/// Connects the backend the configuration names (`GITHUBAPP_TASK_QUEUE`), creating or
/// migrating its schema. A backend whose cargo feature is off explains how to turn it on.
pub async fn connect(config: &crate::Config) -> Result<std::sync::Arc<dyn Queue>, crate::Error> {
    connect_namespace(config, &config.task_namespace).await
}

/// The namespace of the named queue `name` (`queue = "name"` on a task):
/// `<GITHUBAPP_TASK_NAMESPACE>__<name>`, so each named queue is stored apart from the others.
pub fn named_namespace(config: &crate::Config, name: &str) -> Result<String, crate::Error> {
    let ns = format!("{}__{name}", config.task_namespace);
    if ns.len() > 40 {
        return Err(crate::ConfigError::Invalid {
            var: "GITHUBAPP_TASK_NAMESPACE",
            reason: format!(
                "the namespace of queue `{name}` would be `{ns}`, longer than 40 characters; \
                 shorten GITHUBAPP_TASK_NAMESPACE or the queue name"
            ),
        }
        .into());
    }
    Ok(ns)
}

/// Connects the named queue `name` of the configured backend (see [`named_namespace`]).
pub async fn connect_named(
    config: &crate::Config,
    name: &str,
) -> Result<std::sync::Arc<dyn Queue>, crate::Error> {
    connect_namespace(config, &named_namespace(config, name)?).await
}

async fn connect_namespace(
    config: &crate::Config,
    ns: &str,
) -> Result<std::sync::Arc<dyn Queue>, crate::Error> {
    use crate::config::{ConfigError, QueueKind};
    use std::sync::Arc;
    let _ = ns; // unused when no durable backend is compiled in
    #[allow(unused_variables)]
    let url = |var: &'static str, value: &Option<crate::config::Secret>, hint: &'static str| {
        value.as_ref().map(|s| s.expose().to_string()).ok_or(ConfigError::Missing { var, hint })
    };
    #[allow(unused_variables)]
    let disabled = |feature: &str| ConfigError::Invalid {
        var: "GITHUBAPP_TASK_QUEUE",
        reason: format!(
            "the `{feature}` backend is not compiled in; enable githubapp's `{feature}` feature: \
             githubapp = {{ version = \"0.1\", features = [\"{feature}\"] }}"
        ),
    };
    let queue: Arc<dyn Queue> = match config.task_queue {
        QueueKind::Memory => Arc::new(MemoryQueue::new()),
        QueueKind::Redis => {
            #[cfg(feature = "redis")]
            {
                let u =
                    url("GITHUBAPP_REDIS_URL", &config.redis_url, "set it to e.g. redis://127.0.0.1:6379")?;
                Arc::new(redis::RedisQueue::connect(&u, ns).await?)
            }
            #[cfg(not(feature = "redis"))]
            return Err(disabled("redis").into());
        }
        QueueKind::Postgres => {
            #[cfg(feature = "postgres")]
            {
                let u = url(
                    "GITHUBAPP_DATABASE_URL",
                    &config.database_url,
                    "set it to e.g. postgres://user@host/db",
                )?;
                Arc::new(postgres::PostgresQueue::connect(&u, ns).await?)
            }
            #[cfg(not(feature = "postgres"))]
            return Err(disabled("postgres").into());
        }
        QueueKind::Sqlite => {
            #[cfg(feature = "sqlite")]
            {
                let u = url(
                    "GITHUBAPP_DATABASE_URL",
                    &config.database_url,
                    "set it to e.g. sqlite://githubapp.db",
                )?;
                Arc::new(sqlite::SqliteQueue::open(&u, ns).await?)
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(disabled("sqlite").into());
        }
    };
    Ok(queue)
}
