//! Typed tasks: the [`Tasks`] handle, [`TaskCall`] (what `#[github::task]` generates a
//! constructor for), and the arguments a task function can have injected ([`FromTask`]).
//!
//! ```no_run
//! use githubapp::prelude::*;
//! use githubapp::events::PullRequestEvent;
//! use std::time::Duration;
//!
//! /// Runs on a worker: `repo` and `number` are serialized when enqueued; `gh` is injected,
//! /// authenticated as the installation the task was enqueued for.
//! #[github::task(retries = 5, timeout = "2m")]
//! async fn post_summary(#[inject] gh: Client, repo: String, number: u64) -> Result<()> {
//!     gh.create_issue_comment(&repo, number, "Summary: ...").await?;
//!     Ok(())
//! }
//!
//! #[github::on("pull_request.opened")]
//! async fn opened(event: PullRequestEvent, tasks: Tasks) -> Result<()> {
//!     let repo = event.repository.full_name.clone();
//!     // Now, for the delivery's installation:
//!     post_summary::enqueue(&tasks, repo.clone(), event.number).await?;
//!     // Or with options:
//!     post_summary::call(repo, event.number)
//!         .delay(Duration::from_secs(600))
//!         .idempotency_key(format!("summary-{}", event.number))
//!         .enqueue(&tasks)
//!         .await?;
//!     Ok(())
//! }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{Enqueued, LeasedTask, NewTask, Queue, QueueStats};
use crate::Error;
use crate::client::Client;
use crate::context::{AppContext, State};

/// The latest `run_at` kept: the end of year 9999.
const MAX_RUN_AT: Duration = Duration::from_secs(253_402_300_799);

/// Retries a task gets when its attribute does not say `retries = N`.
pub const DEFAULT_TASK_RETRIES: u32 = 3;

/// The task queue as handlers, routes and tasks see it: enqueue typed tasks with
/// `my_task::enqueue(&tasks, ...)`.
///
/// Taken as an argument it remembers the installation of the delivery (in a webhook handler)
/// or of the task (in a task), so tasks enqueued through it run with a [`Client`]
/// authenticated as that same installation. In a route there is no installation; set one
/// with [`Tasks::for_installation`] or [`TaskCall::installation`].
#[derive(Clone)]
pub struct Tasks {
    queue: Arc<dyn Queue>,
    named: Arc<BTreeMap<String, Arc<dyn Queue>>>,
    installation_id: Option<u64>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("backend", &self.queue.backend())
            .field("named_queues", &self.named.keys().collect::<Vec<_>>())
            .field("installation_id", &self.installation_id)
            .finish()
    }
}

impl Tasks {
    /// A handle on `queue` with no installation and no named queues.
    pub fn new(queue: Arc<dyn Queue>) -> Self {
        Tasks { queue, named: Arc::default(), installation_id: None }
    }

    pub(crate) fn with_named(queue: Arc<dyn Queue>, named: Arc<BTreeMap<String, Arc<dyn Queue>>>) -> Self {
        Tasks { queue, named, installation_id: None }
    }

    /// The same queues; tasks enqueued through the result act for installation `id`.
    pub fn for_installation(&self, id: u64) -> Self {
        Tasks { installation_id: Some(id), ..self.clone() }
    }

    /// The named queue `name` (tasks with `queue = "name"` run there).
    pub fn named_queue(&self, name: &str) -> Option<&Arc<dyn Queue>> {
        self.named.get(name)
    }

    /// The queue a task with `queue = name` (`None`: the default queue) is stored on.
    pub fn queue_for(&self, name: Option<&str>) -> Result<&Arc<dyn Queue>, Error> {
        match name {
            None => Ok(&self.queue),
            Some(name) => self.named.get(name).ok_or_else(|| {
                Error::handler(format!(
                    "task queue `{name}` is not connected on this `Tasks` handle; take `Tasks` as an \
                     argument or use `App::tasks()`, whose queues come from the registered tasks"
                ))
            }),
        }
    }

    /// The installation tasks enqueued through this handle act for.
    pub fn installation_id(&self) -> Option<u64> {
        self.installation_id
    }

    /// The default queue (for inspection: `stats`, `dead`, `pending`, ...).
    pub fn queue(&self) -> &Arc<dyn Queue> {
        &self.queue
    }

    /// Counts by state of the default queue: queue depth (`queued` + `scheduled`), in flight
    /// (`running`), retries and dead tasks. [`Tasks::named_queue`] gives the others.
    pub async fn stats(&self) -> Result<QueueStats, Error> {
        Ok(self.queue.stats().await?)
    }

    /// Enqueues a prepared call; the same as [`TaskCall::enqueue`].
    pub async fn enqueue(&self, call: TaskCall) -> Result<Enqueued, Error> {
        call.enqueue(self).await
    }
}

/// One call of a `#[github::task]` function, ready to enqueue: `my_task::call(args...)`
/// returns it, the options below adjust it, [`TaskCall::enqueue`] stores it.
#[derive(Debug, Clone)]
#[must_use = "a task call does nothing until `.enqueue(&tasks)` is awaited"]
pub struct TaskCall {
    name: &'static str,
    queue: Option<&'static str>,
    payload: Result<Bytes, Arc<serde_json::Error>>,
    max_attempts: u32,
    run_at: Option<SystemTime>,
    idempotency_key: Option<String>,
    installation_id: Option<Option<u64>>,
}

impl TaskCall {
    /// Used by generated code: the arguments, each encoded by `TaskArgument::__encode`, are
    /// stored as one JSON array. `retries` is the attribute's (default
    /// [`DEFAULT_TASK_RETRIES`]).
    #[doc(hidden)]
    pub fn __new<const N: usize>(
        name: &'static str,
        retries: Option<u32>,
        queue: Option<&'static str>,
        args: [Result<serde_json::Value, serde_json::Error>; N],
    ) -> Self {
        let payload = args
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .and_then(|values| serde_json::to_vec(&values))
            .map(Bytes::from)
            .map_err(Arc::new);
        TaskCall {
            name,
            queue,
            payload,
            max_attempts: retries.unwrap_or(DEFAULT_TASK_RETRIES).saturating_add(1),
            run_at: None,
            idempotency_key: None,
            installation_id: None,
        }
    }

    /// The task's registered name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The named queue the task runs on (`queue = "..."`), or `None` for the default queue.
    pub fn queue(&self) -> Option<&'static str> {
        self.queue
    }

    /// Runs the task no earlier than `delay` from now.
    pub fn delay(mut self, delay: Duration) -> Self {
        // A delay past what `SystemTime` holds means "as late as possible", not "now".
        self.run_at = Some(SystemTime::now().checked_add(delay).unwrap_or(UNIX_EPOCH + MAX_RUN_AT));
        self
    }

    /// Runs the task no earlier than `at`.
    pub fn run_at(mut self, at: SystemTime) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Enqueueing twice with the same key within [`IDEMPOTENCY_TTL`](super::IDEMPOTENCY_TTL)
    /// (4 days, counted from the first enqueue, whatever the task's state; the memory queue
    /// keeps at least the most recent 229,376 keys) yields one task: [`Enqueued::Duplicate`]
    /// the second time.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Runs the task for this installation (or none), whatever the [`Tasks`] handle says.
    pub fn installation(mut self, id: Option<u64>) -> Self {
        self.installation_id = Some(id);
        self
    }

    /// Overrides the attempts the task's `retries = N` gave (`retries + 1`; at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The queue record this call becomes, with `installation` unless the call sets its own.
    pub fn into_new_task(self, installation: Option<u64>) -> Result<NewTask, Error> {
        let payload = self.payload.map_err(|e| {
            Error::handler(format!("cannot serialize the arguments of task `{}`: {e}", self.name))
        })?;
        let mut task = NewTask::new(self.name, payload)
            .max_attempts(self.max_attempts)
            .installation(self.installation_id.unwrap_or(installation));
        task.run_at = self.run_at;
        task.idempotency_key = self.idempotency_key;
        Ok(task)
    }

    /// Stores the task; a worker runs it. Fails if the arguments cannot be serialized or the
    /// queue cannot be reached (nothing is stored then).
    pub async fn enqueue(self, tasks: &Tasks) -> Result<Enqueued, Error> {
        let name = self.name;
        let queue = tasks.queue_for(self.queue)?;
        let task = self.into_new_task(tasks.installation_id)?;
        let installation = task.installation_id;
        let enqueued = queue.enqueue(task).await?;
        tracing::debug!(
            task = name,
            id = enqueued.id(),
            installation = installation.unwrap_or(0),
            duplicate = matches!(enqueued, Enqueued::Duplicate(_)),
            "task enqueued"
        );
        Ok(enqueued)
    }
}

/// What a running task knows about itself; also an injectable argument.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskMeta {
    /// Task id.
    pub id: String,
    /// Registered name.
    pub name: String,
    /// 1 on the first run.
    pub attempt: u32,
    /// Total attempts allowed.
    pub max_attempts: u32,
    /// The installation the task acts for.
    pub installation_id: Option<u64>,
}

/// The context injected task arguments are taken from.
#[derive(Clone)]
pub struct TaskContext {
    app: AppContext,
    meta: TaskMeta,
    payload: Bytes,
}

impl TaskContext {
    pub(crate) fn new(app: AppContext, task: &LeasedTask) -> Self {
        TaskContext {
            app,
            meta: TaskMeta {
                id: task.id.clone(),
                name: task.name.clone(),
                attempt: task.attempt,
                max_attempts: task.max_attempts,
                installation_id: task.installation_id,
            },
            payload: task.payload.clone(),
        }
    }

    /// The running task.
    pub fn meta(&self) -> &TaskMeta {
        &self.meta
    }

    /// The app context.
    pub fn app(&self) -> &AppContext {
        &self.app
    }

    /// Used by generated code: the stored arguments, `n` of them.
    #[doc(hidden)]
    pub fn __args(&self, n: usize) -> Result<std::vec::IntoIter<serde_json::Value>, Error> {
        let values: Vec<serde_json::Value> = serde_json::from_slice(&self.payload).map_err(|e| {
            Error::handler(format!(
                "the stored arguments of task `{}` are not a JSON array: {e}",
                self.meta.name
            ))
        })?;
        if values.len() != n {
            return Err(Error::handler(format!(
                "task `{}` takes {n} argument(s) but {} were stored (was it enqueued by a version \
                 with other arguments?)",
                self.meta.name,
                values.len()
            )));
        }
        Ok(values.into_iter())
    }
}

/// Arguments a `#[github::task]` function can have injected with `#[inject]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected into a task",
    label = "not injectable",
    note = "`#[inject]` task arguments are `Client`, `Tasks`, `TaskMeta`, `State<T>` or types implementing `githubapp::tasks::FromTask`; remove `#[inject]` to pass the value as a serialized argument"
)]
pub trait FromTask: Sized + Send {
    /// Extracts the argument.
    fn from_task(ctx: &TaskContext) -> impl Future<Output = Result<Self, Error>> + Send;
}

impl FromTask for Client {
    async fn from_task(ctx: &TaskContext) -> Result<Self, Error> {
        ctx.app.installation_client(ctx.meta.installation_id)
    }
}

impl FromTask for Tasks {
    async fn from_task(ctx: &TaskContext) -> Result<Self, Error> {
        Ok(Tasks { installation_id: ctx.meta.installation_id, ..ctx.app.tasks() })
    }
}

impl FromTask for TaskMeta {
    async fn from_task(ctx: &TaskContext) -> Result<Self, Error> {
        Ok(ctx.meta.clone())
    }
}

impl<T: Send + Sync + 'static> FromTask for State<T> {
    async fn from_task(ctx: &TaskContext) -> Result<Self, Error> {
        State::from_context(&ctx.app)
    }
}

impl FromTask for AppContext {
    async fn from_task(ctx: &TaskContext) -> Result<Self, Error> {
        Ok(ctx.app.clone())
    }
}

/// Types a `#[github::task]` function can take as (serialized) arguments: every type with
/// serde's `Serialize` and `Deserialize` that owns its data.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a task argument: it is not serializable",
    label = "task arguments are stored in the queue",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it, or mark the argument `#[inject]` if it is a `Client`, `Tasks`, `TaskMeta` or `State<T>`"
)]
pub trait TaskArgument: Sized + Send + 'static {
    #[doc(hidden)]
    fn __encode(&self) -> Result<serde_json::Value, serde_json::Error>;
    #[doc(hidden)]
    fn __decode(value: serde_json::Value) -> Result<Self, serde_json::Error>;

    /// Used by generated code: decodes the next stored argument, called `name`.
    #[doc(hidden)]
    fn __decode_next(
        args: &mut std::vec::IntoIter<serde_json::Value>,
        name: &'static str,
        ctx: &TaskContext,
    ) -> Result<Self, Error> {
        Self::__decode(args.next().unwrap_or_default()).map_err(|e| {
            Error::handler(format!(
                "cannot decode argument `{name}` of task `{}` (was it enqueued by a version with \
                 other arguments?): {e}",
                ctx.meta.name
            ))
        })
    }
}

impl<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static> TaskArgument for T {
    fn __encode(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    fn __decode(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}
