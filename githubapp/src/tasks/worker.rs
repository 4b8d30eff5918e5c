use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::TaskContext;
use super::{LeasedTask, Queue};
use crate::Error;
use crate::context::AppContext;
use crate::handler::HandlerContext;
use crate::webhook::dispatch_internals::{decode_envelope, guarded, run_handler};

/// The longest a busy worker waits for more free slots before leasing (see [`Worker::run`]).
const GATHER_WAIT: Duration = Duration::from_millis(5);

/// Worker settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Tasks this worker runs at once (`GITHUBAPP_WORKERS`; a process runs one worker per queue).
    pub concurrency: usize,
    /// How long a lease lasts without a heartbeat; a crashed worker's tasks are taken over
    /// after this.
    pub lease: Duration,
    /// How long shutdown waits for running tasks before leaving them to expire. `serve` fits
    /// its whole shutdown in it, counted from the signal: the requests in flight first, then
    /// the running tasks with what is left.
    pub shutdown_grace: Duration,
    /// Longest idle wait between polls (backends also wake the worker on enqueue).
    pub poll_interval: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 8,
            lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(25),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// The delay before retry number `attempt` (1-based): 1 s, 2 s, 4 s, ... capped at 10 minutes,
/// with "equal jitter" (between half and all of it) so retries of many tasks spread out.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(20)).min(Duration::from_secs(600));
    let half = base / 2;
    half + half.mul_f64(fastrand::f64())
}

/// Leases tasks from the queue and runs them.
#[derive(Clone)]
pub struct Worker {
    app: AppContext,
    queue: Arc<dyn Queue>,
    config: WorkerConfig,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("backend", &self.queue.backend())
            .field("config", &self.config)
            .finish()
    }
}

impl Worker {
    /// A worker for this app's default queue.
    pub fn new(app: AppContext, config: WorkerConfig) -> Self {
        let queue = app.queue().clone();
        Worker { app, queue, config }
    }

    /// A worker for one of this app's queues (a named queue: `queue = "..."` on tasks).
    pub fn for_queue(app: AppContext, queue: Arc<dyn Queue>, config: WorkerConfig) -> Self {
        Worker { app, queue, config }
    }

    /// Runs until `shutdown` resolves, then stops leasing and waits up to
    /// [`WorkerConfig::shutdown_grace`] for running tasks; tasks still running after that are
    /// abandoned and their leases expire, so another worker runs them again: nothing is lost.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        let grace = self.config.shutdown_grace;
        self.run_until(async move {
            shutdown.await;
            deadline_after(grace)
        })
        .await
    }

    /// [`Worker::run`], where `shutdown` resolves to the instant by which running tasks must
    /// be done (an app's whole shutdown shares one grace period).
    ///
    /// One loop leases; `concurrency` runners, spawned once, run what it hands them (a task
    /// spawned per leased task cost more than most handlers: its allocation alone is an
    /// aligned one, the allocator's slow path).
    pub(crate) async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = tokio::time::Instant> + Send,
    ) {
        let queue = self.queue.clone();
        let concurrency = self.config.concurrency.max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        let handoff = Arc::new(Handoff::default());
        let mut runners = JoinSet::new();
        for _ in 0..concurrency {
            runners.spawn(runner(self.app.clone(), queue.clone(), self.config.lease, handoff.clone()));
        }
        tokio::pin!(shutdown);
        let mut deadline = None;
        tracing::info!(backend = queue.backend(), concurrency, "worker started");
        loop {
            // Wait for a free slot (or shutdown, which wins when both are ready: no new lease
            // once shutdown began).
            let first = tokio::select! {
                biased;
                at = &mut shutdown => { deadline = Some(at); break }
                p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            // While busy, lease in batches: wait (briefly) until half of the slots are
            // free, so one round trip to the backend brings several tasks instead of one per
            // finished task. Idle, the first free slot leases at once.
            let min_batch = (concurrency / 2).max(1);
            let gather_until = tokio::time::Instant::now() + GATHER_WAIT;
            while permits.available_permits() + 1 < min_batch {
                if tokio::time::timeout_at(gather_until, handoff.finished.notified()).await.is_err() {
                    break;
                }
            }
            let want = permits.available_permits() + 1;
            // Not raced against shutdown: a lease the backend granted is never dropped
            // unrun (every backend bounds the call with its own timeouts).
            let leased = queue.lease(want, self.config.lease).await;
            let tasks = match leased {
                Ok(tasks) => tasks,
                Err(e) => {
                    tracing::error!(error = %e, "cannot lease tasks; retrying");
                    drop(first);
                    tokio::select! {
                        at = &mut shutdown => { deadline = Some(at); break }
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                    continue;
                }
            };
            // Fewer tasks than free slots: the queue had no more ready work a moment ago, so
            // wait for more now rather than asking again (every backend's `wait_for_work`
            // returns at once when work is due, and notices what is enqueued meanwhile).
            let drained = tasks.len() < want;
            let mut first = Some(first);
            for task in tasks {
                let permit = match first.take() {
                    Some(p) => p,
                    // We leased at most the free slots, so one is free; waiting for one all
                    // the same (never dropping a leased task) if that ever changes.
                    None => match permits.clone().try_acquire_owned() {
                        Ok(p) => p,
                        Err(_) => match permits.clone().acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => break,
                        },
                    },
                };
                handoff.push(task, permit);
            }
            drop(first);
            if drained {
                tokio::select! {
                    biased;
                    at = &mut shutdown => { deadline = Some(at); break }
                    _ = queue.wait_for_work(self.config.poll_interval) => {}
                }
            }
        }
        // Runners finish what they hold and what was handed to them, then stop.
        handoff.close();
        let running = concurrency - permits.available_permits();
        tracing::info!(running, "worker stopping; waiting for running tasks");
        let deadline = deadline.unwrap_or_else(|| deadline_after(self.config.shutdown_grace));
        let drained =
            tokio::time::timeout_at(deadline, async { while runners.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                abandoned = concurrency - permits.available_permits(),
                "shutdown grace elapsed; abandoned tasks run again when their lease expires"
            );
            runners.abort_all();
        }
    }
}

/// Leased tasks on their way from the leasing loop to the runners.
#[derive(Default)]
struct Handoff {
    /// Each with the slot it holds.
    tasks: std::sync::Mutex<VecDeque<(LeasedTask, OwnedSemaphorePermit)>>,
    /// A task was handed over (one runner is woken per task), or the worker is stopping.
    ready: Notify,
    /// No more tasks: runners stop once `tasks` is empty.
    closed: AtomicBool,
    /// A runner finished a task (the leasing loop gathers free slots on it).
    finished: Notify,
}

impl Handoff {
    fn push(&self, task: LeasedTask, permit: OwnedSemaphorePermit) {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).push_back((task, permit));
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<(LeasedTask, OwnedSemaphorePermit)> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_waiters();
    }
}

/// Runs handed-over tasks one at a time until the worker stops.
async fn runner(app: AppContext, queue: Arc<dyn Queue>, lease: Duration, handoff: Arc<Handoff>) {
    use futures_util::FutureExt;
    loop {
        let (task, permit) = match handoff.pop() {
            Some(next) => next,
            None => {
                // Idle: registered before looking again, so a task handed over (or `close`) in
                // between wakes us. Only while idle: a registration kept while running a task
                // could take the wake-up meant for an idle runner. (Dropping a registration
                // that was woken passes the wake-up on.)
                let ready = handoff.ready.notified();
                tokio::pin!(ready);
                ready.as_mut().enable();
                match handoff.pop() {
                    Some(next) => next,
                    None if handoff.closed.load(Ordering::Acquire) => return,
                    None => {
                        ready.await;
                        continue;
                    }
                }
            }
        };
        // Handlers' panics are caught in `run_task`; one anywhere else must not cost the
        // worker a runner.
        let run = std::panic::AssertUnwindSafe(execute(app.clone(), queue.clone(), task, lease, permit));
        if run.catch_unwind().await.is_err() {
            tracing::error!("a task's bookkeeping panicked; its lease expires and it runs again");
        }
        handoff.finished.notify_one();
    }
}

/// `grace` from now (see [`deadline`]).
pub(crate) fn deadline_after(grace: Duration) -> tokio::time::Instant {
    deadline(tokio::time::Instant::now(), grace)
}

/// `grace` after `from`, or 30 years after it if that overflows (a grace of `Duration::MAX`).
pub(crate) fn deadline(from: tokio::time::Instant, grace: Duration) -> tokio::time::Instant {
    from.checked_add(grace).unwrap_or_else(|| from + Duration::from_secs(30 * 365 * 24 * 3600))
}

/// Runs one leased task with heartbeats, then completes, retries or dead-letters it, and
/// frees its slot (`permit`).
async fn execute(
    app: AppContext,
    queue: Arc<dyn Queue>,
    task: LeasedTask,
    lease: Duration,
    permit: OwnedSemaphorePermit,
) {
    let span = tracing::info_span!(
        "task",
        name = %task.name,
        id = %task.id,
        attempt = task.attempt,
        installation = task.installation_id.unwrap_or(0),
    );
    async {
        let heartbeat_every = lease / 3;
        let work = run_task(&app, &task);
        tokio::pin!(work);
        // A task that finishes on its first poll needs no heartbeat timer. (Polling with a
        // no-op waker first is fine: every later poll hands the real waker over.)
        let result = match futures_util::FutureExt::now_or_never(&mut work) {
            Some(r) => r,
            None => loop {
                tokio::select! {
                    r = &mut work => break r,
                    _ = tokio::time::sleep(heartbeat_every) => {
                        if let Err(e) = queue.heartbeat(&task, lease).await {
                            tracing::warn!(error = %e, "heartbeat failed");
                        }
                    }
                }
            },
        };
        let outcome = match &result {
            Ok(()) => queue.complete(&task).await,
            Err(e) => {
                let retry_at =
                    (task.attempt < task.max_attempts).then(|| SystemTime::now() + backoff(task.attempt));
                if retry_at.is_some() {
                    tracing::warn!(error = %e, "task failed; will retry");
                } else {
                    tracing::error!(error = %e, "task failed on its last attempt; dead-lettered");
                }
                queue.fail(&task, &e.to_string(), retry_at).await
            }
        };
        match outcome {
            Ok(()) if result.is_ok() => tracing::info!("task done"),
            Ok(()) => {}
            Err(e) => tracing::warn!(error = %e, "could not record the task's outcome"),
        }
    }
    .instrument(span)
    .await;
    drop(permit);
}

async fn run_task(app: &AppContext, task: &LeasedTask) -> Result<(), Error> {
    if let Some(h) = app.registry().background_handler(&task.name) {
        let delivery = decode_envelope(&task.payload, &task.tail, task.attempt)?;
        return run_handler(h, HandlerContext::new(delivery, app.clone(), 1)).await;
    }
    let Some(t) = app.registry().task(&task.name) else {
        return Err(Error::handler(format!("no task named `{}` is registered in this binary", task.name)));
    };
    guarded((t.call)(TaskContext::new(app.clone(), task)), t.timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_grace_too_long_to_add_is_far_away_not_a_panic() {
        let now = tokio::time::Instant::now();
        assert_eq!(deadline(now, Duration::from_secs(5)), now + Duration::from_secs(5));
        assert!(deadline(now, Duration::MAX) > now + Duration::from_secs(365 * 24 * 3600));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..30 {
            let d = backoff(attempt);
            let base = Duration::from_secs(1u64 << (attempt - 1).min(20)).min(Duration::from_secs(600));
            assert!(d >= base / 2 && d <= base, "attempt {attempt}: {d:?}");
        }
    }
}
