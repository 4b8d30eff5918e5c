//! The command line every app binary gets from [`crate::run`].
//!
//! ```text
//! myapp [serve]                 web server + workers (default)
//! myapp web                     web server only
//! myapp worker [--queue NAME]   workers only, against a shared queue (redis, postgres, sqlite)
//! myapp tasks list|show|retry|purge|stats   inspect and repair the task queue
//! myapp receive --event issues --payload issue.json [--action opened] [--dry-run]
//! myapp routes                  every handler and route with file:line
//! myapp check [--offline]       configuration, key, secrets, queue, GitHub reachability
//! ```

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat};
use crate::registry::{EMPTY_REGISTRY_HELP, Registry};
use crate::webhook::{Delivery, Dispatcher};
use crate::{App, AppBuilder, Error, Result};

#[derive(Debug, Parser)]
#[command(about = "A GitHub App built with githubapp", disable_version_flag = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve webhooks and routes, and run background workers (the default).
    Serve,
    /// Serve webhooks and routes without running workers.
    Web,
    /// Run background work from the shared task queue, without HTTP. Start as many as you
    /// need, on as many machines, against one Redis or PostgreSQL (or SQLite, on one machine).
    Worker {
        /// Serve only this queue (`default`, or a `queue = "..."` of a task); repeat for
        /// several. Default: every queue.
        #[arg(long = "queue", value_name = "NAME")]
        queues: Vec<String>,
    },
    /// Inspect and repair the task queue.
    Tasks {
        /// The queue: `default`, or a `queue = "..."` of a task.
        #[arg(long, global = true, default_value = "default", value_name = "NAME")]
        queue: String,
        #[command(subcommand)]
        command: TasksCommand,
    },
    /// Run the registered handlers on one payload, locally, and print what ran.
    Receive {
        /// The event name (`X-GitHub-Event`), e.g. `issues`.
        #[arg(long)]
        event: String,
        /// A JSON payload file (e.g. saved from the App's "Advanced" delivery log).
        #[arg(long)]
        payload: PathBuf,
        /// Override the payload's `action`.
        #[arg(long)]
        action: Option<String>,
        /// The installation to act as, when the payload has no `installation.id` (payloads
        /// saved from a repository webhook have none).
        #[arg(long)]
        installation: Option<u64>,
        /// Answer GitHub API calls with a built-in fake GitHub and print them: no
        /// credentials and no network needed.
        #[arg(long)]
        dry_run: bool,
    },
    /// List every handler and route with its source location.
    Routes,
    /// Check configuration, private key, webhook secret and queue, then reach GitHub.
    Check {
        /// Skip the call to GitHub.
        #[arg(long)]
        offline: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TasksCommand {
    /// Unfinished tasks (or dead ones with `--dead`).
    List {
        /// List dead-lettered tasks instead.
        #[arg(long)]
        dead: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One task.
    Show {
        /// The task id.
        id: String,
    },
    /// Put a dead task (or all of them) back on the queue with fresh attempts.
    Retry {
        /// The task id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<String>,
        /// Retry every dead task.
        #[arg(long)]
        all_dead: bool,
    },
    /// Delete dead tasks.
    Purge {
        /// Required: purge dead-lettered tasks.
        #[arg(long, required = true)]
        dead: bool,
    },
    /// Counts by state.
    Stats,
}

/// Parses `args` and runs the subcommand (what [`crate::run`] does with the process's
/// arguments).
pub async fn run<I, T>(args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, |app| app).await
}

/// [`run`], with `customize` applied to the [`AppBuilder`] of the subcommands that build the
/// app (`serve`, `web`, `worker`, `receive`, `check`), after the configuration from the
/// environment and before the queue is connected: state for `State<T>`, settings such as
/// the webhook secret or client options, a queue. It is not called for `--help`, `routes`
/// and `tasks` (which work on the registry and the configured queues), so set up state in
/// it, lazily if that needs I/O. `check` checks the configuration with these settings applied.
pub async fn run_with<I, T, F>(args: I, customize: F) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
    F: FnOnce(AppBuilder) -> AppBuilder,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // The logging settings may come from `.env` too. (The subcommands that read the
    // configuration load it again, harmlessly: variables already set are never overridden,
    // and fail on a malformed file; the others warn.)
    let dotenv = crate::config::load_dotenv();
    init_tracing();
    if let Err(e) = dotenv {
        tracing::warn!(error = %e, "settings from .env not (all) loaded");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server_app(Registry::global(), Config::from_env()?, customize).await?.serve().await,
        Command::Web => {
            server_app(Registry::global(), Config::from_env()?, customize).await?.serve_web().await
        }
        Command::Worker { queues } => {
            let only = (!queues.is_empty()).then_some(queues);
            let app = worker_app(Registry::global(), Config::from_env()?, customize).await?;
            app.run_worker_for(only.as_deref()).await
        }
        Command::Tasks { queue, command } => tasks(&queue, command).await,
        Command::Receive { event, payload, action, installation, dry_run } => {
            receive(&event, &payload, action, installation, dry_run, customize).await
        }
        Command::Routes => {
            print!("{}", routes_table(&Registry::global(), &webhook_path()));
            Ok(())
        }
        Command::Check { offline } => check(offline, customize).await,
    }
}

/// An error that says why, when the app's registry (the binary's, unless the user's settings
/// gave one) has nothing in it.
fn non_empty(builder: AppBuilder) -> Result<AppBuilder> {
    if builder.current_registry().is_empty() {
        return Err(Error::Registry(EMPTY_REGISTRY_HELP.into()));
    }
    Ok(builder)
}

/// The app of `serve` and `web`: the registry, the environment's configuration, then the
/// user's settings, which may supply the webhook secret the environment lacks.
async fn server_app(
    registry: Registry,
    config: Config,
    customize: impl FnOnce(AppBuilder) -> AppBuilder,
) -> Result<App> {
    let builder = non_empty(customize(App::builder().config(config).registry(registry)))?;
    // Before connecting the queue: fail fast, on the secret the user's settings left.
    builder.current_config().require_webhook()?;
    builder.connect_queue().await?.build()
}

/// The app of `worker`: as [`server_app`]; the user's settings may supply the shared queue.
async fn worker_app(
    registry: Registry,
    config: Config,
    customize: impl FnOnce(AppBuilder) -> AppBuilder,
) -> Result<App> {
    let builder = non_empty(customize(App::builder().config(config).registry(registry)))?;
    if builder.current_config().task_queue == crate::config::QueueKind::Memory && !builder.has_queue() {
        return Err(crate::ConfigError::Invalid {
            var: "GITHUBAPP_TASK_QUEUE",
            reason:
                "`worker` runs tasks from a shared queue, but `memory` tasks only exist inside the `serve` \
                     process; set GITHUBAPP_TASK_QUEUE=redis or postgres (or sqlite on one machine)"
                    .into(),
        }
        .into());
    }
    builder.connect_queue().await?.build()
}

async fn tasks(queue_name: &str, command: TasksCommand) -> Result<()> {
    let config = Config::from_env()?;
    Registry::global().check_queue_name(queue_name)?;
    let (queue, namespace) = if queue_name == "default" {
        (crate::tasks::connect(&config).await?, config.task_namespace.clone())
    } else {
        let namespace = crate::tasks::named_namespace(&config, queue_name)?;
        (crate::tasks::connect_named(&config, queue_name).await?, namespace)
    };
    let print = |t: &crate::tasks::TaskInfo| {
        println!(
            "{:<24} {:<10} {}/{}  {}{}",
            t.id,
            t.state,
            t.attempts,
            t.max_attempts,
            t.name,
            t.last_error.as_deref().map(|e| format!("\n    last error: {e}")).unwrap_or_default()
        );
    };
    match command {
        TasksCommand::List { dead, limit } => {
            let list = if dead { queue.dead(limit).await? } else { queue.pending(limit).await? };
            println!(
                "{} {} task(s) in `{}` ({})",
                list.len(),
                if dead { "dead" } else { "pending" },
                namespace,
                queue.backend()
            );
            list.iter().for_each(print);
        }
        TasksCommand::Show { id } => match queue.get(&id).await? {
            Some(t) => print(&t),
            None => return Err(crate::tasks::QueueError::NotFound(id).into()),
        },
        TasksCommand::Retry { id: Some(id), .. } => {
            if !queue.retry(&id).await? {
                return Err(Error::handler(format!("task {id} is not a dead task")));
            }
            println!("task {id} is queued again");
        }
        TasksCommand::Retry { id: None, .. } => {
            println!("{} dead task(s) queued again", queue.retry_all_dead().await?)
        }
        TasksCommand::Purge { .. } => println!("{} dead task(s) deleted", queue.purge_dead().await?),
        TasksCommand::Stats => {
            let s = queue.stats().await?;
            println!(
                "queued {}  scheduled {}  running {}  dead {}  (backend {}, namespace `{}`)",
                s.queued,
                s.scheduled,
                s.running,
                s.dead,
                queue.backend(),
                namespace
            );
        }
    }
    Ok(())
}

fn webhook_path() -> String {
    Config::from_env().map(|c| c.webhook_path).unwrap_or_else(|_| Config::default().webhook_path)
}

/// Installs the `tracing` subscriber: `RUST_LOG` filter (default `info`), format from
/// `GITHUBAPP_LOG_FORMAT`. Does nothing if one is already installed.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = matches!(std::env::var("GITHUBAPP_LOG_FORMAT").as_deref(), Ok("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
    let _ = LogFormat::Json; // the variable is validated by Config
}

/// The `routes` listing.
pub fn routes_table(registry: &Registry, webhook_path: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!("webhook  POST {webhook_path}\n"));
    out.push_str(&format!("health   GET  {}\n", crate::server::HEALTH_PATH));
    out.push_str(&format!("\nhandlers ({}):\n", registry.handlers().len()));
    for h in registry.handlers() {
        let mut flags = Vec::new();
        if h.background {
            flags.push("background".to_string());
        }
        if let Some(r) = h.retries {
            flags.push(format!("retries={r}"));
        }
        if let Some(t) = h.timeout {
            flags.push(format!("timeout={t:?}"));
        }
        out.push_str(&format!(
            "  {:<40} {:<30} {:<24} {}:{}\n",
            h.spec_strings().join(", "),
            h.qualified_name(),
            flags.join(" "),
            h.file,
            h.line
        ));
    }
    out.push_str(&format!("\ntasks ({}):\n", registry.tasks().len()));
    for t in registry.tasks() {
        let mut flags = Vec::new();
        if let Some(r) = t.retries {
            flags.push(format!("retries={r}"));
        }
        if let Some(d) = t.timeout {
            flags.push(format!("timeout={d:?}"));
        }
        if let Some(q) = t.queue {
            flags.push(format!("queue={q}"));
        }
        out.push_str(&format!(
            "  {:<40} {}::{:<20} {:<24} {}:{}\n",
            t.name,
            t.module_path,
            t.fn_name,
            flags.join(" "),
            t.file,
            t.line
        ));
    }
    out.push_str(&format!("\nroutes ({}):\n", registry.routes().len()));
    for r in registry.routes() {
        out.push_str(&format!(
            "  {:<7} {:<32} {}::{:<20} {}:{}\n",
            r.method, r.path, r.module_path, r.name, r.file, r.line
        ));
    }
    out
}

async fn receive(
    event: &str,
    payload: &PathBuf,
    action: Option<String>,
    installation: Option<u64>,
    dry_run: bool,
    customize: impl FnOnce(AppBuilder) -> AppBuilder,
) -> Result<()> {
    let body = std::fs::read(payload).map_err(|e| {
        Error::Io(std::io::Error::new(e.kind(), format!("cannot read payload `{}`: {e}", payload.display())))
    })?;
    let meta = crate::webhook::DeliveryHeaders::from_headers(&{
        let mut h = http::HeaderMap::new();
        h.insert("x-github-event", event.parse().map_err(|_| bad_event(event))?);
        h.insert(
            "x-github-delivery",
            crate::testing::random_delivery_id().parse().map_err(|_| bad_event(event))?,
        );
        h
    })
    .map_err(|_| bad_event(event))?;
    let mut delivery: Delivery = crate::webhook::parse_delivery(meta, body.into())
        .map_err(|e| Error::handler(format!("`{}`: {e}", payload.display())))?;
    if action.is_some() {
        delivery.action = action;
    }
    if installation.is_some() {
        delivery.installation_id = installation;
    } else if dry_run && delivery.installation_id.is_none() {
        // The fake GitHub's default installation, so `Client` calls can be shown.
        delivery.installation_id = Some(crate::testing::DEFAULT_INSTALLATION_ID);
        println!(
            "the payload has no installation; acting as installation {} of the dry-run fake (set --installation)",
            crate::testing::DEFAULT_INSTALLATION_ID
        );
    }

    let registry = Registry::global();
    let fake = if dry_run { Some(crate::testing::FakeGitHub::dry_run().await) } else { None };
    let app = match &fake {
        // The fake's credentials and URL after the user's settings: a dry run never calls
        // GitHub. (State or a queue given by the user's settings are the real ones.)
        Some(fake) => customize(App::builder().registry(registry))
            .app_id(fake.app_id())
            .private_key(fake.private_key_pem())
            .api_url(fake.url()),
        // Tasks the handlers enqueue go to the configured queue, for its workers.
        None => {
            customize(App::builder().config(Config::from_env()?).registry(registry)).connect_queue().await?
        }
    }
    .build()?;

    println!("delivery {} ({})", delivery.id, delivery.spec());
    let reports = Dispatcher::run_inline(app.context(), delivery).await;
    if reports.is_empty() {
        println!("no handler is registered for this event");
    }
    let mut failed = 0;
    for r in &reports {
        let kind = if r.background { "background" } else { "foreground" };
        match &r.result {
            Ok(()) => println!("  ok      {} ({kind}, {:?})", r.handler, r.elapsed),
            Err(e) => {
                failed += 1;
                println!("  FAILED  {} ({kind}, {:?}): {e}", r.handler, r.elapsed);
            }
        }
    }
    if let Some(fake) = &fake {
        let calls: Vec<_> =
            fake.requests().into_iter().filter(|r| !r.path.ends_with("/access_tokens")).collect();
        println!("GitHub API calls ({}), answered by the dry-run fake:", calls.len());
        for c in calls {
            let body = c.body.map(|b| format!(" {b}")).unwrap_or_default();
            println!("  {} {}{}", c.method, c.path, body);
        }
    }
    if failed > 0 {
        return Err(Error::handler(format!("{failed} of {} handlers failed", reports.len())));
    }
    Ok(())
}

fn bad_event(event: &str) -> Error {
    Error::handler(format!(
        "`{event}` is not an event name (lowercase letters, digits and `_`, e.g. `pull_request`)"
    ))
}

async fn check(offline: bool, customize: impl FnOnce(AppBuilder) -> AppBuilder) -> Result<()> {
    check_app(Config::from_env(), Registry::global(), offline, customize).await
}

/// `check`, given the environment's configuration and the binary's registry.
async fn check_app(
    env: std::result::Result<Config, crate::ConfigError>,
    registry: Registry,
    offline: bool,
    customize: impl FnOnce(AppBuilder) -> AppBuilder,
) -> Result<()> {
    let mut ok = true;
    let mut line = |good: bool, what: &str, detail: String| {
        ok &= good;
        println!(
            "{} {what}{}",
            if good { "ok  " } else { "FAIL" },
            if detail.is_empty() { detail } else { format!(": {detail}") }
        );
    };
    let env = match env {
        Ok(c) => {
            line(true, "configuration", String::new());
            c
        }
        Err(e) => {
            line(false, "configuration", e.to_string());
            return Err(e.into());
        }
    };
    // Check what the other subcommands would run with: the user's settings applied.
    let builder = customize(App::builder().config(env).registry(registry));
    let config = builder.current_config().clone();
    match config.require_webhook() {
        Ok(s) => line(true, "webhook secret", format!("{} secret(s) accepted", s.len())),
        Err(e) => line(false, "webhook secret", e.to_string()),
    }
    let registry = builder.current_registry();
    match registry.validate(&config.webhook_path) {
        Ok(()) if registry.is_empty() => line(false, "registry", EMPTY_REGISTRY_HELP.into()),
        Ok(()) => line(
            true,
            "registry",
            format!("{} handlers, {} routes", registry.handlers().len(), registry.routes().len()),
        ),
        Err(e) => line(false, "registry", e.to_string()),
    }
    let builder = match builder.connect_queue().await {
        Ok(builder) => builder,
        Err(e) => {
            line(false, &format!("task queue ({})", config.task_queue.as_str()), e.to_string());
            return Err(e);
        }
    };
    let app = match builder.build() {
        Ok(app) => app,
        Err(e) => {
            line(false, "app", e.to_string());
            return Err(e);
        }
    };
    match config.require_app() {
        Ok(_) => line(true, "app id and private key", "key parsed".into()),
        Err(e) => line(false, "app id and private key", e.to_string()),
    }
    match app.context().queue().stats().await {
        Ok(s) => line(true, &format!("task queue ({})", app.context().queue().backend()), format!("{s:?}")),
        Err(e) => line(false, "task queue", e.to_string()),
    }
    for (name, queue) in app.context().named_queues() {
        match queue.stats().await {
            Ok(s) => line(true, &format!("task queue `{name}` ({})", queue.backend()), format!("{s:?}")),
            Err(e) => line(false, &format!("task queue `{name}`"), e.to_string()),
        }
    }
    if !offline && let Some(client) = app.context().app_client() {
        {
            let start = Instant::now();
            match client.get::<serde_json::Value>("/app").await {
                Ok(v) => line(
                    true,
                    "GitHub",
                    format!(
                        "authenticated as app `{}` in {:?}",
                        v.get("slug").and_then(|s| s.as_str()).unwrap_or("?"),
                        start.elapsed()
                    ),
                ),
                Err(e) => line(false, "GitHub", e.to_string()),
            }
        }
    }
    if ok { Ok(()) } else { Err(Error::handler("some checks failed")) }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::__private::{HandlerFuture, TaskContext, TaskDescriptor};
    use crate::tasks::MemoryQueue;

    fn run(_: TaskContext) -> HandlerFuture {
        Box::pin(async { Ok(()) })
    }

    static TASK: TaskDescriptor = TaskDescriptor {
        name: "sync",
        fn_name: "sync",
        module_path: "app",
        file: "src/main.rs",
        line: 1,
        retries: None,
        timeout: None,
        queue: None,
        call: run,
    };

    fn registry() -> Registry {
        Registry::empty().with_tasks(vec![&TASK])
    }

    /// The environment's configuration without a webhook secret (or with `secret`).
    fn config(secret: Option<&str>) -> Config {
        let mut config = Config::default();
        config.webhook_secret = secret.map(|s| crate::config::Secret::new(s.to_string()));
        config
    }

    #[tokio::test]
    async fn the_users_settings_are_applied_before_the_secret_is_required() {
        let err = server_app(registry(), config(None), |app| app).await.unwrap_err().to_string();
        assert!(err.contains("GITHUBAPP_WEBHOOK_SECRET"), "{err}");

        // The secret set by `run_with` alone is enough...
        let app = server_app(registry(), config(None), |app| app.webhook_secret("from-code")).await.unwrap();
        assert!(app.router().is_ok());
        // ...and it replaces the environment's: an empty one is refused, whatever the
        // environment said.
        let err = server_app(registry(), config(Some("from-env")), |app| app.webhook_secret(""))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("GITHUBAPP_WEBHOOK_SECRET") && err.contains("empty"), "{err}");
    }

    #[tokio::test]
    async fn a_worker_takes_its_shared_queue_from_the_users_settings() {
        let err = worker_app(registry(), config(None), |app| app).await.unwrap_err().to_string();
        assert!(
            err.contains("GITHUBAPP_TASK_QUEUE") && err.contains("only exist inside the `serve`"),
            "{err}"
        );

        let queue: Arc<dyn crate::tasks::Queue> = Arc::new(MemoryQueue::new());
        let app = worker_app(registry(), config(None), move |app| app.queue(queue)).await.unwrap();
        assert_eq!(app.context().queue().backend(), "memory");
    }

    #[tokio::test]
    async fn check_checks_the_configuration_with_the_users_settings() {
        let mut env = config(None);
        env.app_id = Some(1);
        env.private_key = Some(crate::config::Secret::new(include_str!("testing/test_key.pem")));
        let err = check_app(Ok(env.clone()), registry(), true, |app| app).await.unwrap_err();
        assert_eq!(err.to_string(), "some checks failed");
        check_app(Ok(env), registry(), true, |app| app.webhook_secret("from-code")).await.unwrap();
    }

    /// Judged after the user's settings, like `check` does: they may set the registry.
    #[tokio::test]
    async fn an_empty_registry_is_refused_with_the_fix() {
        let secret = |app: AppBuilder| app.webhook_secret("s");
        let err = server_app(Registry::empty(), config(None), secret).await.unwrap_err().to_string();
        assert!(
            err.contains("no webhook handlers, tasks or routes") && err.contains("use my_handlers as _;"),
            "{err}"
        );
        let err = worker_app(Registry::empty(), config(None), |app| app).await.unwrap_err().to_string();
        assert!(err.contains("no webhook handlers, tasks or routes"), "{err}");
        let given = server_app(Registry::empty(), config(None), |app| secret(app).registry(registry())).await;
        assert!(given.is_ok());
    }
}
