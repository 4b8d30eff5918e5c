//! The webhook pipeline, without HTTP framework types: signature verification
//! ([`Verifier`]), delivery headers and body decoding ([`parse_delivery`]), and dispatch to
//! the registered handlers. The server module feeds it bytes and headers and turns its
//! outcome into a status code.
//!
//! Order of checks: body size (413) → signature (401) → headers (400) → body decoding (400)
//! → duplicate delivery id (200, handlers not run; 202 if its background work was never
//! stored) → route on event + `action` → run. A queue that cannot record the delivery or
//! store its background work answers 500.

mod dispatch;
pub(crate) mod dispatch_internals {
    pub(crate) use super::dispatch::{decode_envelope, guarded, run_handler};
}
mod headers;
mod verify;

pub use dispatch::{DeliveryOutcome, Dispatcher, HandlerReport};
pub(crate) use headers::X_HUB_SIGNATURE_256;
pub use headers::{Delivery, DeliveryHeaders, parse_delivery};
pub use verify::{Verifier, sign};

/// Why a delivery was rejected. [`WebhookError::status`] is the HTTP answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// `X-Hub-Signature-256` is missing, malformed or does not match any secret.
    #[error("signature missing, malformed or invalid")]
    Signature,
    /// A required header is missing or malformed.
    #[error("header `{header}` is missing or malformed")]
    Header {
        /// The header name.
        header: &'static str,
    },
    /// The content type is neither `application/json` nor `application/x-www-form-urlencoded`.
    #[error("unsupported content type; configure the webhook with `application/json`")]
    ContentType,
    /// The body is not the JSON object GitHub sends.
    #[error("malformed payload: {0}")]
    Payload(String),
    /// The body is larger than GitHub ever sends (25 MiB).
    #[error("payload too large")]
    TooLarge,
}

impl WebhookError {
    /// The HTTP status this rejection is answered with.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::Signature => 401,
            WebhookError::TooLarge => 413,
            WebhookError::Header { .. } | WebhookError::ContentType | WebhookError::Payload(_) => 400,
        }
    }
}

/// The largest body accepted on the webhook route: GitHub caps payloads at 25 MiB.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;
