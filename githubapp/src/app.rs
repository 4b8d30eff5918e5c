//! [`App`] and its builder: everything `githubapp::run()` does, programmatically.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::client::{AppCredentials, Client, ClientConfig};
use crate::config::{Config, Secret};
use crate::context::{AppContext, AppInner};
use crate::registry::Registry;
use crate::tasks::{MemoryQueue, Queue, Worker, WorkerConfig, deadline, deadline_after};
use crate::webhook::Verifier;
use crate::{Error, Result};

/// A configured app: the router, the GitHub client, the queue and the workers.
///
/// ```no_run
/// # async fn f() -> githubapp::Result<()> {
/// // Mount the webhook route into an existing axum app:
/// let app = githubapp::App::builder().from_env()?.build()?;
/// let workers = app.spawn_workers(); // runs background handlers
/// let router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "my site" }))
///     .merge(app.router()?);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, router).await?;
/// workers.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct App {
    ctx: AppContext,
    worker: WorkerConfig,
}

/// Builds an [`App`]. Nothing is mounted and nothing runs until you ask.
#[must_use]
pub struct AppBuilder {
    config: Config,
    registry: Option<Registry>,
    states: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    queue: Option<Arc<dyn Queue>>,
    named_queues: std::collections::BTreeMap<String, Arc<dyn Queue>>,
    /// The default queue came from [`AppBuilder::queue`], not from the configuration.
    queue_given: bool,
    client_config: Option<ClientConfig>,
    worker: WorkerConfig,
}

impl std::fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl App {
    /// Starts a builder with default settings (nothing read from the environment until
    /// [`AppBuilder::from_env`]).
    pub fn builder() -> AppBuilder {
        AppBuilder {
            config: Config::default(),
            registry: None,
            states: HashMap::new(),
            queue: None,
            named_queues: std::collections::BTreeMap::new(),
            queue_given: false,
            client_config: None,
            worker: WorkerConfig::default(),
        }
    }

    /// The shared context (config, registry, client, queue, state).
    pub fn context(&self) -> &AppContext {
        &self.ctx
    }

    /// The task queue handle, to enqueue `#[github::task]`s from code outside handlers:
    /// `my_task::enqueue(&app.tasks(), ...)`.
    pub fn tasks(&self) -> crate::tasks::Tasks {
        self.ctx.tasks()
    }

    /// The axum router: webhook route, `/healthz`, registered routes. Merge it into an
    /// existing app, and call [`App::spawn_workers`] so background handlers run.
    pub fn router(&self) -> Result<axum::Router> {
        crate::server::router(self.ctx.clone())
    }

    /// Starts this process's workers, one pool per queue (the default queue and each named
    /// queue, each with the configured concurrency); they run until [`WorkerHandle::shutdown`].
    pub fn spawn_workers(&self) -> WorkerHandle {
        self.spawn_workers_for(None)
    }

    /// [`App::spawn_workers`] for some queues only: `"default"` is the default queue, other
    /// names are named queues (`None`: all of them). Unknown names are ignored here;
    /// [`App::run_worker_for`] rejects them.
    pub fn spawn_workers_for(&self, only: Option<&[String]>) -> WorkerHandle {
        // Carries the instant by which running tasks must be done, once shutdown begins.
        let (tx, rx) = tokio::sync::watch::channel(None);
        let grace = self.worker.shutdown_grace;
        let mut joins = Vec::new();
        for (name, queue) in self.queues(only) {
            let mut rx = rx.clone();
            let worker = Worker::for_queue(self.ctx.clone(), queue, self.worker.clone());
            tracing::debug!(queue = %name, "starting workers");
            joins.push(tokio::spawn(worker.run_until(async move {
                match rx.wait_for(Option::is_some).await {
                    Ok(at) => at.unwrap_or_else(|| deadline_after(grace)),
                    // The handle was dropped: stop as `shutdown` would.
                    Err(_) => deadline_after(grace),
                }
            })));
        }
        WorkerHandle { stop: tx, joins, grace }
    }

    /// The queues workers serve: `("default", default queue)` and each named queue, filtered.
    fn queues(&self, only: Option<&[String]>) -> Vec<(String, Arc<dyn Queue>)> {
        let mut all = vec![("default".to_owned(), self.ctx.queue().clone())];
        all.extend(self.ctx.named_queues().iter().map(|(n, q)| (n.clone(), q.clone())));
        match only {
            Some(names) => all.into_iter().filter(|(n, _)| names.contains(n)).collect(),
            None => all,
        }
    }

    /// Serves HTTP and runs workers on the configured address until ctrl-c / SIGTERM.
    pub async fn serve(self) -> Result<()> {
        let listener = bind(self.ctx.config().bind).await?;
        self.serve_with(listener, true, crate::server::shutdown_signal()).await
    }

    /// Runs workers only (no HTTP) until ctrl-c / SIGTERM: the `worker` subcommand.
    pub async fn run_worker(self) -> Result<()> {
        self.run_worker_for(None).await
    }

    /// [`App::run_worker`] for some queues only (see [`App::spawn_workers_for`]); an unknown
    /// queue name is an error.
    pub async fn run_worker_for(self, only: Option<&[String]>) -> Result<()> {
        for name in only.unwrap_or_default() {
            self.ctx.registry().check_queue_name(name)?;
        }
        let workers = self.spawn_workers_for(only);
        crate::server::shutdown_signal().await;
        workers.shutdown().await;
        Ok(())
    }

    /// Serves HTTP only (no workers) until ctrl-c / SIGTERM: the `web` subcommand.
    pub async fn serve_web(self) -> Result<()> {
        let listener = bind(self.ctx.config().bind).await?;
        self.serve_with(listener, false, crate::server::shutdown_signal()).await
    }

    /// Serves on `listener` until `shutdown` resolves, with or without workers; then stops
    /// accepting, finishes in-flight requests (so a client that never sends its body cannot
    /// hold the process) and stops the workers, all within one grace period
    /// ([`WorkerConfig::shutdown_grace`](crate::tasks::WorkerConfig)) from the signal: tasks
    /// still running then are abandoned and, on a durable queue, run again when their lease
    /// expires. Connections still open when it returns are not closed by it; they end with the
    /// tokio runtime (when `main` returns, for [`crate::run`]).
    pub async fn serve_with(
        self,
        listener: TcpListener,
        workers: bool,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let router = self.router()?;
        let addr = listener.local_addr()?;
        let workers = workers.then(|| self.spawn_workers());
        tracing::info!(
            %addr,
            webhook = %self.ctx.config().webhook_path,
            handlers = self.ctx.registry().handlers().len(),
            routes = self.ctx.registry().routes().len(),
            "listening"
        );
        // One grace period for the whole shutdown, from the signal: what the requests in flight
        // use of it is not given to the running tasks again.
        let (signalled, mut on_signal) = tokio::sync::oneshot::channel();
        let shutdown = async move {
            shutdown.await;
            let _ = signalled.send(tokio::time::Instant::now());
        };
        let server = std::future::IntoFuture::into_future(
            axum::serve(listener, router).with_graceful_shutdown(shutdown),
        );
        tokio::pin!(server);
        let grace = self.worker.shutdown_grace;
        // Without a signal (the server ended by itself) the workers get a whole grace period.
        let mut by = None;
        let served = tokio::select! {
            biased;
            served = &mut server => served,
            Ok(at) = &mut on_signal => {
                let limit = deadline(at, grace);
                by = Some(limit);
                match tokio::time::timeout_at(limit, &mut server).await {
                    Ok(served) => served,
                    Err(_) => {
                        tracing::warn!(?grace, "requests still open after the shutdown grace period; no longer waiting for them");
                        Ok(())
                    }
                }
            }
        };
        if let Some(w) = workers {
            w.shutdown_by(by.unwrap_or_else(|| deadline_after(grace))).await;
        }
        served.map_err(Error::from)
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        Error::Io(std::io::Error::new(e.kind(), format!("cannot listen on {addr} (GITHUBAPP_BIND): {e}")))
    })
}

/// Running workers started by [`App::spawn_workers`].
#[derive(Debug)]
pub struct WorkerHandle {
    stop: tokio::sync::watch::Sender<Option<tokio::time::Instant>>,
    joins: Vec<tokio::task::JoinHandle<()>>,
    grace: std::time::Duration,
}

impl WorkerHandle {
    /// Stops leasing, waits for running tasks (within the grace period), then returns.
    pub async fn shutdown(self) {
        let by = deadline_after(self.grace);
        self.shutdown_by(by).await;
    }

    /// As [`shutdown`](Self::shutdown), with running tasks given until `by`: those still
    /// running then are abandoned, and run again when their lease expires (durable queues).
    /// A lease already granted is not dropped: each worker finishes its call to the queue.
    pub(crate) async fn shutdown_by(self, by: tokio::time::Instant) {
        let _ = self.stop.send(Some(by));
        for join in self.joins {
            let _ = join.await;
        }
    }
}

impl AppBuilder {
    /// Reads `GITHUBAPP_*` variables and `.env` (see [`Config::from_env`]), replacing the
    /// configuration set so far.
    pub fn from_env(mut self) -> Result<Self> {
        self.config = Config::from_env()?;
        self.worker.concurrency = self.config.workers;
        self.worker.lease = self.config.task_lease;
        Ok(self)
    }

    /// Replaces the whole configuration, including the worker settings it holds
    /// (`workers`, `task_lease`): call [`worker_config`](Self::worker_config) after this one.
    pub fn config(mut self, config: Config) -> Self {
        self.worker.concurrency = config.workers;
        self.worker.lease = config.task_lease;
        self.config = config;
        self
    }

    /// The App's numeric id.
    pub fn app_id(mut self, id: u64) -> Self {
        self.config.app_id = Some(id);
        self
    }

    /// The App's private key (PEM).
    pub fn private_key(mut self, pem: impl Into<String>) -> Self {
        self.config.private_key = Some(Secret::new(pem));
        self
    }

    /// The webhook secret.
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.config.webhook_secret = Some(Secret::new(secret));
        self
    }

    /// The previous webhook secret, still accepted while GitHub switches to the new one.
    pub fn webhook_secret_previous(mut self, secret: impl Into<String>) -> Self {
        self.config.webhook_secret_previous = Some(Secret::new(secret));
        self
    }

    /// The webhook route (default `/webhooks/github`).
    pub fn webhook_path(mut self, path: impl Into<String>) -> Self {
        self.config.webhook_path = path.into();
        self
    }

    /// The REST API base URL (GHES: `https://HOST/api/v3`).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.config.api_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The web URL (GHES: `https://HOST`).
    pub fn web_url(mut self, url: impl Into<String>) -> Self {
        self.config.web_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The address to listen on.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.bind = addr;
        self
    }

    /// Concurrent tasks per queue per process.
    pub fn workers(mut self, n: usize) -> Self {
        self.config.workers = n.max(1);
        self.worker.concurrency = n.max(1);
        self
    }

    /// Worker lease, grace and polling settings.
    pub fn worker_config(mut self, config: WorkerConfig) -> Self {
        self.worker = config;
        self
    }

    /// How long foreground handlers may run before the delivery is answered 202.
    pub fn webhook_deadline(mut self, deadline: Duration) -> Self {
        self.config.webhook_deadline = deadline;
        self
    }

    /// The queue of tasks with `queue = "name"` (default: connected by
    /// [`connect_queue`](Self::connect_queue), or a new [`MemoryQueue`] on the memory backend).
    pub fn named_queue(mut self, name: impl Into<String>, queue: Arc<dyn Queue>) -> Self {
        self.named_queues.insert(name.into(), queue);
        self
    }

    /// The task queue (default: a new [`MemoryQueue`] when the configured backend is `memory`;
    /// for the others, [`connect_queue`](Self::connect_queue) or this).
    pub fn queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.queue = Some(queue);
        self.queue_given = true;
        self
    }

    /// HTTP client settings for calls to GitHub (retries, timeouts, user agent). The API URL
    /// comes from the configuration.
    pub fn client_config(mut self, config: ClientConfig) -> Self {
        self.client_config = Some(config);
        self
    }

    /// Handlers and routes to use instead of everything registered in the binary.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// User state, available to handlers, tasks and routes as [`State<T>`](crate::State).
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.states.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// The configuration as set so far (for the CLI's checks after the user's settings).
    pub(crate) fn current_config(&self) -> &Config {
        &self.config
    }

    /// The registry as set so far (the binary's, unless [`registry`](Self::registry) set one).
    pub(crate) fn current_registry(&self) -> Registry {
        self.registry.clone().unwrap_or_else(Registry::global)
    }

    /// Whether a default queue was given with [`queue`](Self::queue).
    pub(crate) fn has_queue(&self) -> bool {
        self.queue_given
    }

    /// Validates everything and builds the app. Fails on a malformed private key, an app id
    /// without a key (or the reverse), duplicate registrations, an empty webhook secret, or a
    /// durable queue backend configured but not connected.
    pub fn build(self) -> Result<App> {
        let registry = self.registry.unwrap_or_else(Registry::global);
        registry.validate(&self.config.webhook_path)?;
        if !self.config.webhook_path.starts_with('/') {
            return Err(crate::ConfigError::Invalid {
                var: "GITHUBAPP_WEBHOOK_PATH",
                reason: format!("`{}` must start with `/`", self.config.webhook_path),
            }
            .into());
        }
        let verifier = match &self.config.webhook_secret {
            Some(_) => Some(Verifier::new(&self.config.require_webhook()?)?),
            None => None,
        };
        let client = match (self.config.app_id, &self.config.private_key) {
            (Some(id), Some(key)) => {
                let creds = AppCredentials::from_pem(id, key.expose().as_bytes()).map_err(|e| {
                    crate::ConfigError::Invalid { var: "GITHUBAPP_PRIVATE_KEY", reason: e.to_string() }
                })?;
                let mut cc = self.client_config.unwrap_or_default();
                cc.api_url = self.config.api_url.clone();
                Some(Client::new(cc, Some(creds))?)
            }
            (Some(_), None) | (None, Some(_)) => {
                let (_id, _key) = self.config.require_app()?;
                None
            }
            (None, None) => None,
        };
        let queue = match self.queue {
            Some(q) => q,
            None if self.config.task_queue == crate::config::QueueKind::Memory => {
                Arc::new(MemoryQueue::new())
            }
            None => {
                return Err(Error::Registry(format!(
                    "GITHUBAPP_TASK_QUEUE is `{}`: call `.connect_queue().await?` before `.build()` (or pass `.queue(...)`)",
                    self.config.task_queue.as_str()
                )));
            }
        };
        let mut named_queues = self.named_queues;
        for (name, task) in registry.task_queues() {
            if named_queues.contains_key(name) {
                continue;
            }
            if queue.backend() != "memory" || self.queue_given {
                let fix = if self.queue_given {
                    format!(
                        "the default queue was given with `.queue(...)`: pass `.named_queue(\"{name}\", ...)` too"
                    )
                } else {
                    "call `.connect_queue().await?` before `.build()`".to_owned()
                };
                return Err(Error::Registry(format!(
                    "task queue `{name}` (of task `{}` at {}:{}) is not connected: {fix}",
                    task.name, task.file, task.line
                )));
            }
            named_queues.insert(name.to_owned(), Arc::new(MemoryQueue::new()));
        }
        let ctx = AppContext {
            inner: Arc::new(AppInner {
                config: self.config,
                registry,
                client,
                queue,
                named_queues: Arc::new(named_queues),
                verifier,
                states: self.states,
            }),
        };
        Ok(App { ctx, worker: self.worker })
    }

    /// Connects the task queue the configuration names (`GITHUBAPP_TASK_QUEUE`), unless
    /// [`queue`](Self::queue) already set one. `run()` does this; call it yourself when you
    /// use the builder with a durable backend.
    pub async fn connect_queue(mut self) -> Result<Self> {
        if self.queue_given {
            // Named queues cannot be derived from a queue the configuration did not describe:
            // they come from `.named_queue(...)` (checked by `build`).
            return Ok(self);
        }
        if self.queue.is_none() {
            self.queue = Some(crate::tasks::connect(&self.config).await?);
        }
        let registry = self.registry.get_or_insert_with(Registry::global);
        let names: Vec<&'static str> = registry.task_queues().into_keys().collect();
        for name in names {
            if !self.named_queues.contains_key(name) {
                let queue = crate::tasks::connect_named(&self.config, name).await?;
                self.named_queues.insert(name.to_owned(), queue);
            }
        }
        Ok(self)
    }

    /// `build()?.router()`.
    pub fn router(self) -> Result<axum::Router> {
        self.build()?.router()
    }
}
