//! The crate's error type: one enum per boundary, wrapped by [`Error`].
//!
//! The mapping from errors to HTTP answers lives in [`crate::webhook::WebhookError::status`]
//! and the server module; handler errors never reach a response body.

use std::fmt;

pub use crate::client::ClientError;
pub use crate::config::ConfigError;
pub use crate::tasks::QueueError;
pub use crate::webhook::WebhookError;

/// `Result<T, githubapp::Error>`, the return type of handlers, tasks and entry points.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error githubapp returns.
///
/// Handlers can return their own errors with [`Error::handler`], or with `?` on any error
/// type that converts into `Box<dyn std::error::Error + Send + Sync>` (handlers may also
/// return `Result<(), E>` for such an `E` directly).
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Configuration is missing or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A call to the GitHub API failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A webhook delivery was rejected.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// The task queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// A payload could not be (de)serialized.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An I/O error (binding the server, reading a payload file, ...).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The registered handlers, tasks and routes do not form a valid app.
    #[error("{0}")]
    Registry(String),
    /// A handler argument could not be extracted from the delivery.
    #[error("cannot extract `{extractor}` for this delivery: {reason}")]
    Extract {
        /// The extractor type.
        extractor: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A handler or task ran past its `timeout`.
    #[error("timed out after {0:?} (the `timeout` of its attribute)")]
    Timeout(std::time::Duration),
    /// A handler or task panicked; the panic was caught and the server kept running.
    #[error("panicked: {0}")]
    Panicked(String),
    /// An error returned by user code.
    #[error(transparent)]
    Handler(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// Wraps any error (or message) returned by user code.
    ///
    /// ```
    /// let err = githubapp::Error::handler("label `bug` is missing");
    /// assert_eq!(err.to_string(), "label `bug` is missing");
    /// ```
    pub fn handler(err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Error::Handler(err.into())
    }
}

/// `?` on an Octocrab call in a handler or task (feature `octocrab`).
#[cfg(feature = "octocrab")]
impl From<::octocrab::Error> for Error {
    fn from(err: ::octocrab::Error) -> Self {
        Error::Handler(Box::new(err))
    }
}

impl fmt::Debug for Error {
    /// Debug prints the message and its causes, so `main` returning `Err` shows the user a
    /// readable error (`Error: GITHUBAPP_WEBHOOK_SECRET is not set: ...`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        // `transparent` variants share their inner error's message: skip repeats.
        let mut last = self.to_string();
        while let Some(s) = source {
            let text = s.to_string();
            if text != last {
                write!(f, "\n  caused by: {text}")?;
            }
            last = text;
            source = s.source();
        }
        Ok(())
    }
}
