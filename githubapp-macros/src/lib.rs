//! Attribute macros for the [`githubapp`](https://docs.rs/githubapp) crate.
//!
//! Do not depend on this crate directly: the runtime re-exports every attribute under the
//! `github` namespace (`use githubapp::prelude::*;` brings it in scope), and the code these
//! macros generate names only `::githubapp::__private::…` and `::core::…`.
//!
//! | attribute | on | registers |
//! |---|---|---|
//! | `#[github::on("issues.opened", ...)]` | `async fn` | a webhook handler |
//! | `#[github::task(retries = 3, timeout = "2m")]` | `async fn` | a background task with typed arguments |
//! | `#[github::get("/path")]`, `post`, `put`, `patch`, `delete` | `async fn` axum handler | an HTTP route |
//!
//! Every attribute works in three phases, one folder per attribute: `ast` parses the attribute
//! arguments without judging them, `valid` checks them (event names against the catalog
//! generated from GitHub's webhook description, function shape, flag values) and reports every
//! problem at once as spanned errors, and `expand` only quotes. On error the user's function is
//! emitted unchanged next to the `compile_error!`s, so nothing else breaks because of it.

#![forbid(unsafe_code)]

mod catalog;
mod ctxt;
mod duration;
mod lookup;
mod on;
mod paths;
mod route;
mod signature;
mod task;
mod text;

use proc_macro::TokenStream;

/// Registers an `async fn` as a webhook handler for one or more events.
///
/// ```ignore
/// use githubapp::prelude::*;
/// use githubapp::events::IssuesEvent;
///
/// #[github::on("issues.opened", "issues.reopened", background, retries = 3, timeout = "30s")]
/// async fn greet(event: IssuesEvent, gh: Client) -> Result<()> {
///     gh.create_issue_comment(&event.repository, event.issue.number, "Thanks!").await?;
///     Ok(())
/// }
/// ```
///
/// # Event specs
///
/// One or more string literals, each checked at compile time against GitHub's webhook catalog:
///
/// - `"issues"`: every action of the `issues` event;
/// - `"issues.opened"`: only deliveries whose `action` is `opened`;
/// - `"*"`: every event, including events GitHub adds after this crate was built.
///
/// Unknown events, unknown actions, an action on an event without actions (`"push.opened"`),
/// duplicate or overlapping specs (`"issues"` with `"issues.opened"`, `"*"` with anything) are
/// compile errors with a suggestion.
///
/// # Flags
///
/// - `background`: enqueue the delivery on the task queue (durable with the sqlite, postgres
///   and redis backends) and run the handler on a task worker, so the webhook is answered at
///   once instead of waiting for the handler;
/// - `retries = N`: with `background`, run a failing handler again up to `N` times (`0..=100`,
///   default 3), with backoff; a foreground handler runs once (GitHub's "Redeliver" runs it
///   again), so `retries` without `background` is an error;
/// - `timeout = "30s"`: cancel the handler after this long (`ms`, `s`, `m` or `h`; more than zero).
///
/// # Arguments
///
/// Every argument is an extractor resolved by its type (the typed payload such as
/// `IssuesEvent`, `serde_json::Value`, `WebhookEvent`, delivery metadata, the installation
/// `Client`, ...); any pattern may bind it. A typed payload must be the payload of the handled
/// event: a handler for several events takes `serde_json::Value` or `WebhookEvent` instead.
/// The function must be a non-generic `async fn` without `self`.
#[proc_macro_attribute]
pub fn on(args: TokenStream, item: TokenStream) -> TokenStream {
    on::on(args.into(), item.into()).into()
}

/// Registers an `async fn` as a background task, run by a worker, and generates a typed way
/// to enqueue it: a type of the same name with `call(args...)`, `enqueue(&tasks, args...)`
/// and `NAME`.
///
/// ```ignore
/// use githubapp::prelude::*;
///
/// #[github::task(retries = 5, timeout = "2m")]
/// async fn post_summary(#[inject] gh: Client, repo: String, number: u64) -> Result<()> {
///     gh.create_issue_comment(&repo, number, "Summary: ...").await?;
///     Ok(())
/// }
///
/// // In a webhook handler, route or task that took `tasks: Tasks`:
/// post_summary::enqueue(&tasks, "octo-org/hello-world".into(), 12).await?;
/// post_summary::call("octo-org/hello-world".into(), 12)
///     .delay(std::time::Duration::from_secs(60))
///     .idempotency_key("summary-12")
///     .enqueue(&tasks)
///     .await?;
/// ```
///
/// # Arguments
///
/// Plain arguments are the task's data: `call` and `enqueue` take exactly these, in order,
/// checked by rustc, and they are stored in the queue as JSON, so their types implement
/// serde's `Serialize` and `Deserialize` and do not borrow. Arguments marked `#[inject]` are
/// provided by the worker instead: `Client` (authenticated as the installation the task was
/// enqueued for), `Tasks`, `TaskMeta` (id, attempt, ...), `State<T>`.
///
/// # Flags
///
/// - `retries = N`: run a failing task again up to `N` times (`0..=100`, default 3), with
///   exponential backoff and jitter, then dead-letter it keeping the error;
/// - `timeout = "2m"`: cancel an attempt after this long (`ms`, `s`, `m` or `h`); a timed-out
///   attempt counts as failed;
/// - `name = "sync-labels"`: the name the task is stored under (default: the function's
///   `module::path::name`). Set it before renaming or moving the function, so tasks already
///   queued still find it;
/// - `queue = "slow"`: run on a named queue (1-16 of `a-z`, `0-9`, `_`), stored apart from
///   the default one and served by its own worker pool, so slow tasks cannot hold up webhook
///   work; `myapp worker --queue slow` serves only that queue.
///
/// The function must be a non-generic `async fn` without `self`, returning `()`,
/// `githubapp::Result<()>` or `Result<(), E>`.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::task(args.into(), item.into()).into()
}

/// Registers an `async fn` axum handler for `GET` requests on a path.
///
/// ```ignore
/// #[github::get("/repos/{owner}/{repo}")]
/// async fn show(Path((owner, repo)): Path<(String, String)>) -> String {
///     format!("{owner}/{repo}")
/// }
/// ```
///
/// The path is a string literal starting with `/`, with axum 0.8 parameters: `{name}` for one
/// segment and `{*name}` for the rest of the path (the axum 0.7 forms `:name` and `*name` are
/// rejected with the fix). The route is served by the same server as the webhooks.
#[proc_macro_attribute]
pub fn get(args: TokenStream, item: TokenStream) -> TokenStream {
    route::route(route::Method::Get, args.into(), item.into()).into()
}

/// Registers an `async fn` axum handler for `POST` requests on a path.
///
/// See [`get`](macro@get) for the path syntax.
#[proc_macro_attribute]
pub fn post(args: TokenStream, item: TokenStream) -> TokenStream {
    route::route(route::Method::Post, args.into(), item.into()).into()
}

/// Registers an `async fn` axum handler for `PUT` requests on a path.
///
/// See [`get`](macro@get) for the path syntax.
#[proc_macro_attribute]
pub fn put(args: TokenStream, item: TokenStream) -> TokenStream {
    route::route(route::Method::Put, args.into(), item.into()).into()
}

/// Registers an `async fn` axum handler for `PATCH` requests on a path.
///
/// See [`get`](macro@get) for the path syntax.
#[proc_macro_attribute]
pub fn patch(args: TokenStream, item: TokenStream) -> TokenStream {
    route::route(route::Method::Patch, args.into(), item.into()).into()
}

/// Registers an `async fn` axum handler for `DELETE` requests on a path.
///
/// See [`get`](macro@get) for the path syntax.
#[proc_macro_attribute]
pub fn delete(args: TokenStream, item: TokenStream) -> TokenStream {
    route::route(route::Method::Delete, args.into(), item.into()).into()
}
