//! The shared application context handed to handlers, tasks and routes, and user state.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use crate::client::Client;
use crate::config::Config;
use crate::registry::Registry;
use crate::tasks::Queue;
use crate::webhook::Verifier;

/// Everything a running app shares: configuration, the registry, the GitHub client, the task
/// queue and user state. Cheap to clone. It is the axum state of the assembled router.
#[derive(Clone)]
pub struct AppContext {
    pub(crate) inner: Arc<AppInner>,
}

pub(crate) struct AppInner {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    pub(crate) client: Option<Client>,
    pub(crate) queue: Arc<dyn Queue>,
    /// Named queues (`queue = "..."` on tasks), by name.
    pub(crate) named_queues: Arc<std::collections::BTreeMap<String, Arc<dyn Queue>>>,
    pub(crate) verifier: Option<Verifier>,
    pub(crate) states: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for AppContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppContext")
            .field("registry", &self.inner.registry)
            .field("queue", &self.inner.queue.backend())
            .finish_non_exhaustive()
    }
}

impl AppContext {
    /// The configuration the app runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    /// The registered handlers and routes.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }
    /// The task queue.
    pub fn queue(&self) -> &Arc<dyn Queue> {
        &self.inner.queue
    }
    /// The task queues as a [`Tasks`](crate::tasks::Tasks) handle (no installation).
    pub fn tasks(&self) -> crate::tasks::Tasks {
        crate::tasks::Tasks::with_named(self.inner.queue.clone(), self.inner.named_queues.clone())
    }
    /// The named queues (`queue = "..."` on tasks), by name.
    pub fn named_queues(&self) -> &std::collections::BTreeMap<String, Arc<dyn Queue>> {
        &self.inner.named_queues
    }
    /// The App-authenticated client (JWT), when app credentials are configured.
    pub fn app_client(&self) -> Option<&Client> {
        self.inner.client.as_ref()
    }
    /// The client acting for `installation` (the app itself for `None`), or an error when no
    /// app credentials are configured. What handlers and tasks get as `Client`.
    pub fn installation_client(&self, installation: Option<u64>) -> Result<Client, crate::Error> {
        let app = self.app_client().ok_or(crate::Error::Extract {
            extractor: "Client",
            reason: "GITHUBAPP_ID and GITHUBAPP_PRIVATE_KEY are not configured".into(),
        })?;
        Ok(match installation {
            Some(id) => app.installation(id),
            None => app.clone(),
        })
    }
    /// User state of type `T`, if it was given to the builder.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.inner.states.get(&TypeId::of::<T>()).and_then(|s| s.clone().downcast::<T>().ok())
    }
}

/// User state shared by handlers, tasks and routes: give it to
/// [`AppBuilder::state`](crate::AppBuilder::state) and take `State<T>` as an argument.
///
/// ```no_run
/// use githubapp::prelude::*;
/// use githubapp::events::PushEvent;
///
/// struct Settings { greeting: String }
///
/// #[github::on("push")]
/// async fn on_push(_event: PushEvent, settings: State<Settings>) -> Result<()> {
///     println!("{}", settings.greeting);
///     Ok(())
/// }
///
/// # async fn run() -> Result<()> {
/// githubapp::App::builder()
///     .from_env()?
///     .state(Settings { greeting: "hi".into() })
///     .build()?
///     .serve()
///     .await
/// # }
/// ```
#[derive(Debug)]
pub struct State<T>(pub Arc<T>);

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        State(self.0.clone())
    }
}

impl<T> std::ops::Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Send + Sync + 'static> State<T> {
    pub(crate) fn from_context(ctx: &AppContext) -> Result<Self, crate::Error> {
        ctx.state::<T>().map(State).ok_or_else(|| crate::Error::Extract {
            extractor: "State<T>",
            reason: format!(
                "no state of type `{}` was given to the app; give it in `main`: \
                 `githubapp::run_with(|app| app.state(value))` (or `App::builder().state(value)`)",
                std::any::type_name::<T>()
            ),
        })
    }
}

impl<T: Send + Sync + 'static> axum::extract::FromRequestParts<AppContext> for State<T> {
    type Rejection = (http::StatusCode, &'static str);

    async fn from_request_parts(
        _parts: &mut http::request::Parts,
        ctx: &AppContext,
    ) -> Result<Self, Self::Rejection> {
        State::from_context(ctx).map_err(|e| {
            tracing::error!(error = %e, "route state missing");
            (http::StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        })
    }
}

/// In routes, `Client` is the App-authenticated client (JWT): call `.installation(id)` for an
/// installation.
impl axum::extract::FromRequestParts<AppContext> for Client {
    type Rejection = (http::StatusCode, &'static str);

    async fn from_request_parts(
        _parts: &mut http::request::Parts,
        ctx: &AppContext,
    ) -> Result<Self, Self::Rejection> {
        ctx.app_client().cloned().ok_or_else(|| {
            tracing::error!(
                "a route asked for `Client` but GITHUBAPP_ID / GITHUBAPP_PRIVATE_KEY are not configured"
            );
            (http::StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        })
    }
}

/// In routes, `Tasks` has no installation: use `.for_installation(id)` or
/// `TaskCall::installation` when the task calls GitHub as an installation.
impl axum::extract::FromRequestParts<AppContext> for crate::tasks::Tasks {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _parts: &mut http::request::Parts,
        ctx: &AppContext,
    ) -> Result<Self, Self::Rejection> {
        Ok(ctx.tasks())
    }
}
