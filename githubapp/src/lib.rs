//! Build GitHub Apps in Rust.
//!
//! Annotate async functions and call [`run`]: signed webhooks are routed to typed handlers,
//! each with a GitHub [`Client`] authenticated as the delivery's installation; background
//! handlers run on a task queue; `#[github::get]`-style routes join the same axum server.
//!
//! ```no_run
//! use githubapp::prelude::*;
//! use githubapp::events::IssuesEvent;
//!
//! #[github::on("issues.opened")]
//! async fn greet(event: IssuesEvent, gh: Client) -> Result<()> {
//!     gh.create_issue_comment(&event.repository, event.issue.number, "Thanks!").await?;
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<()> {
//!     githubapp::run().await
//! }
//! ```
//!
//! Modules: [`events`] (typed payloads), [`client`] (the GitHub REST client),
//! [`webhook`] (verification and dispatch), [`tasks`] (queues and workers), [`handler`]
//! (handler arguments), [`config`], [`cli`], [`testing`] (fake GitHub and signed deliveries
//! for your tests).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[doc(hidden)]
pub mod __private;
mod app;
pub mod cli;
pub mod client;
pub mod config;
mod context;
mod error;
pub mod events;
pub mod handler;
mod registry;
pub mod server;
pub mod tasks;
pub mod testing;
pub mod webhook;

pub use app::{App, AppBuilder, WorkerHandle};
pub use client::Client;
pub use config::{Config, ConfigError};
pub use context::{AppContext, State};
pub use error::{Error, Result};
pub use registry::Registry;
pub use webhook::Delivery;

/// The `octocrab` crate githubapp builds [`Client::octocrab`] on (feature `octocrab`), so your
/// code names the same version.
#[cfg(feature = "octocrab")]
pub use ::octocrab;

/// The attribute macros, used as `#[github::on(...)]`, `#[github::get("/path")]`, ...
pub mod github {
    pub use githubapp_macros::{delete, get, on, patch, post, put, task};
}

/// `use githubapp::prelude::*;` brings the `github` attribute namespace, [`Client`],
/// [`Error`], [`Result`], [`Delivery`], [`State`] and [`Tasks`](tasks::Tasks).
pub mod prelude {
    pub use crate::github;
    pub use crate::tasks::Tasks;
    pub use crate::{Client, Delivery, Error, Result, State};
}

/// Parses the command line, reads the configuration (environment and `.env`), builds
/// everything registered with the attribute macros, and runs the chosen subcommand (`serve`
/// by default).
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> githubapp::Result<()> {
///     githubapp::run().await
/// }
/// ```
pub async fn run() -> Result<()> {
    cli::run(std::env::args_os()).await
}

/// [`run`], with your settings on the [`AppBuilder`] the subcommands build the app from
/// (`serve`, `web`, `worker`, `receive`, `check`; see [`cli::run_with`]): most often the
/// values handlers, tasks and routes take as [`State<T>`](State). The closure is not called
/// for `--help`, `routes` or `tasks`, so create state in it (lazily, if that needs I/O).
///
/// ```no_run
/// use githubapp::prelude::*;
///
/// struct Greeting {
///     text: String,
/// }
///
/// #[github::on("issues.opened")]
/// async fn greet(event: githubapp::events::IssuesEvent, gh: Client, greeting: State<Greeting>) -> Result<()> {
///     gh.create_issue_comment(&event.repository, event.issue.number, &greeting.text).await?;
///     Ok(())
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<()> {
///     let text = std::env::var("GREETING").unwrap_or_else(|_| "Thanks!".into());
///     githubapp::run_with(|app| app.state(Greeting { text })).await
/// }
/// ```
pub async fn run_with(customize: impl FnOnce(AppBuilder) -> AppBuilder) -> Result<()> {
    cli::run_with(std::env::args_os(), customize).await
}
