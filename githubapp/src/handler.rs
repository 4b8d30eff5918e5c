//! Handler arguments: the [`FromDelivery`] trait and its implementations.
//!
//! A `#[github::on]` function takes any number of arguments whose types implement
//! [`FromDelivery`], in any order:
//!
//! | argument | what it is |
//! |---|---|
//! | `IssuesEvent`, `PushEvent`, ... | the typed payload (only for handlers of that one event) |
//! | [`WebhookEvent`] | the typed payload of any event, as an enum |
//! | `serde_json::Value` | the payload as JSON |
//! | `bytes::Bytes` | the payload bytes |
//! | [`Delivery`] | delivery id, event, action, installation, attempt |
//! | [`Client`] | the GitHub client, authenticated as the delivery's installation |
//! | [`State<T>`] | user state given to the builder |
//! | [`Tasks`] | the task queue, for `my_task::enqueue(&tasks, ...)` (keeps the installation) |
//! | `Arc<dyn` [`Queue`]`>` | the raw task queue |
//!
//! Typed payloads are deserialized lazily, once per delivery, and only if a handler asks.

use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::Error;
use crate::client::Client;
use crate::context::{AppContext, State};
use crate::events::{Event, WebhookEvent};
use crate::tasks::{Queue, Tasks};
use crate::webhook::Delivery;

/// The per-delivery context extractors read from.
#[derive(Clone)]
pub struct HandlerContext {
    pub(crate) delivery: Arc<DeliveryCell>,
    pub(crate) app: AppContext,
}

pub(crate) struct DeliveryCell {
    pub(crate) delivery: Delivery,
    /// How many handlers share this delivery in this process. With one, typed payloads are
    /// handed over without caching (no clone).
    consumers: usize,
    /// Typed payloads parsed so far, by type: each is parsed at most once per delivery.
    parsed: Mutex<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>,
}

impl HandlerContext {
    pub(crate) fn new(delivery: Delivery, app: AppContext, consumers: usize) -> Self {
        HandlerContext {
            delivery: Arc::new(DeliveryCell { delivery, consumers, parsed: Mutex::new(Vec::new()) }),
            app,
        }
    }

    /// The delivery being handled.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery.delivery
    }

    /// The app context.
    pub fn app(&self) -> &AppContext {
        &self.app
    }

    /// The payload as an owned `T`: parsed once per delivery and shared (cloned) between the
    /// handlers of this delivery, or parsed and handed over directly when only one handler
    /// runs.
    fn owned<T, F>(&self, parse: F) -> Result<T, Error>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce(&Delivery) -> Result<T, Error>,
    {
        if self.delivery.consumers <= 1 {
            return parse(&self.delivery.delivery);
        }
        Ok(T::clone(&*self.parsed(parse)?))
    }

    /// Parses (once per delivery) and returns the payload as `T`.
    fn parsed<T, F>(&self, parse: F) -> Result<Arc<T>, Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&Delivery) -> Result<T, Error>,
    {
        let mut cache = self.delivery.parsed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, v)) = cache.iter().find(|(t, _)| *t == TypeId::of::<T>())
            && let Ok(v) = v.clone().downcast::<T>()
        {
            return Ok(v);
        }
        let v = Arc::new(parse(&self.delivery.delivery)?);
        cache.push((TypeId::of::<T>(), v.clone()));
        Ok(v)
    }
}

/// Types a webhook handler can take as arguments.
///
/// Implement it for your own extractors; `EVENT` is `None` unless the type is the payload
/// of exactly one event.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a webhook handler argument",
    label = "not a handler argument",
    note = "handler arguments are typed payloads (`IssuesEvent`, ...), `WebhookEvent`, `serde_json::Value`, `bytes::Bytes`, `Delivery`, `Client`, `Tasks`, `State<T>`, or types implementing `githubapp::handler::FromDelivery`"
)]
pub trait FromDelivery: Sized + Send {
    /// `Some("issues")` when the type is the typed payload of exactly one event.
    const EVENT: Option<&'static str> = None;

    /// Extracts the argument from the delivery.
    fn from_delivery(ctx: &HandlerContext) -> impl Future<Output = Result<Self, Error>> + Send;
}

impl<E: Event> FromDelivery for E {
    const EVENT: Option<&'static str> = Some(E::NAME);

    async fn from_delivery(ctx: &HandlerContext) -> Result<Self, Error> {
        let d = ctx.delivery();
        if d.event != E::NAME {
            return Err(Error::Extract {
                extractor: std::any::type_name::<E>(),
                reason: format!("the delivery is a `{}` event", d.event),
            });
        }
        ctx.owned(|d| crate::events::parse_as::<E>(d.body.clone()).map_err(Error::from))
    }
}

impl FromDelivery for WebhookEvent {
    async fn from_delivery(ctx: &HandlerContext) -> Result<Self, Error> {
        ctx.owned(|d| crate::events::parse_bytes(&d.event, d.body.clone()).map_err(Error::from))
    }
}

impl FromDelivery for serde_json::Value {
    async fn from_delivery(ctx: &HandlerContext) -> Result<Self, Error> {
        ctx.owned(|d| serde_json::from_slice::<serde_json::Value>(&d.body).map_err(Error::from))
    }
}

impl FromDelivery for bytes::Bytes {
    async fn from_delivery(ctx: &HandlerContext) -> Result<Self, Error> {
        Ok(ctx.delivery().body.clone())
    }
}

impl FromDelivery for Delivery {
    async fn from_delivery(ctx: &HandlerContext) -> Result<Self, Error> {
        Ok(ctx.delivery().clone())
    }
}

impl FromDelivery for Client {
    async fn from_delivery(ctx: &HandlerContext) -> Result<Self, Error> {
        let d = ctx.delivery();
        Ok(ctx.app.installation_client(d.installation_id)?.with_delivery_id(&d.id))
    }
}

impl<T: Send + Sync + 'static> FromDelivery for State<T> {
    async fn from_delivery(ctx: &HandlerContext) -> Result<Self, Error> {
        State::from_context(&ctx.app)
    }
}

/// The task queue; tasks enqueued through it act for the delivery's installation.
impl FromDelivery for Tasks {
    async fn from_delivery(ctx: &HandlerContext) -> Result<Self, Error> {
        let tasks = ctx.app.tasks();
        Ok(match ctx.delivery().installation_id {
            Some(id) => tasks.for_installation(id),
            None => tasks,
        })
    }
}

impl FromDelivery for Arc<dyn Queue> {
    async fn from_delivery(ctx: &HandlerContext) -> Result<Self, Error> {
        Ok(ctx.app.queue().clone())
    }
}

/// Return types a handler may have: `()`, `githubapp::Result<()>`, or `Result<(), E>` for any
/// error convertible into `Box<dyn Error + Send + Sync>` (e.g. `anyhow::Error`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid return type for a handler or task",
    note = "return `()`, `githubapp::Result<()>` or `Result<(), E>` where `E` converts into `Box<dyn std::error::Error + Send + Sync>`"
)]
pub trait IntoHandlerResult {
    /// Converts the handler's return value.
    fn into_handler_result(self) -> Result<(), Error>;
}

impl IntoHandlerResult for () {
    fn into_handler_result(self) -> Result<(), Error> {
        Ok(())
    }
}

impl<E> IntoHandlerResult for Result<(), E>
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    fn into_handler_result(self) -> Result<(), Error> {
        self.map_err(|e| {
            let boxed: Box<dyn std::error::Error + Send + Sync> = e.into();
            match boxed.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(other) => Error::Handler(other),
            }
        })
    }
}
