//! Test kit shared by githubapp's own tests and yours: a fake GitHub on a loopback port
//! ([`FakeGitHub`]) and signed deliveries ([`WebhookDelivery`]).
//!
//! ```no_run
//! use githubapp::testing::{FakeGitHub, WebhookDelivery};
//! use tower::ServiceExt; // oneshot
//!
//! # async fn t() -> githubapp::Result<()> {
//! let github = FakeGitHub::start().await;
//! let app = githubapp::App::builder()
//!     .webhook_secret("test-secret")
//!     .app_id(github.app_id())
//!     .private_key(github.private_key_pem())
//!     .api_url(github.url())
//!     .build()?;
//! let delivery = WebhookDelivery::new("issues", r#"{"action":"opened","installation":{"id":1}}"#)
//!     .secret("test-secret");
//! let response = app.router()?.oneshot(delivery.request()).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # Ok(()) }
//! ```

pub mod fake_github;
pub mod queue_conformance;

pub use fake_github::*;

use bytes::Bytes;

/// A webhook delivery as GitHub sends it: signed body and delivery headers.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    event: String,
    body: Bytes,
    secret: String,
    delivery_id: String,
    form: bool,
}

impl WebhookDelivery {
    /// A delivery of `event` with this JSON body, signed with secret `test-secret`, with a
    /// fresh random delivery id.
    pub fn new(event: impl Into<String>, body: impl Into<Bytes>) -> Self {
        WebhookDelivery {
            event: event.into(),
            body: body.into(),
            secret: "test-secret".into(),
            delivery_id: random_delivery_id(),
            form: false,
        }
    }

    /// Signs with this secret.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = secret.into();
        self
    }

    /// Uses this `X-GitHub-Delivery`.
    pub fn delivery_id(mut self, id: impl Into<String>) -> Self {
        self.delivery_id = id.into();
        self
    }

    /// Sends `application/x-www-form-urlencoded` with a `payload` field.
    pub fn form_encoded(mut self) -> Self {
        self.form = true;
        self
    }

    /// The delivery id.
    pub fn id(&self) -> &str {
        &self.delivery_id
    }

    /// The exact body bytes sent (form-encoded if asked).
    pub fn body(&self) -> Bytes {
        if self.form {
            let payload = String::from_utf8_lossy(&self.body);
            let encoded: String =
                form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload).finish();
            Bytes::from(encoded)
        } else {
            self.body.clone()
        }
    }

    /// The headers GitHub sends, signature included, as `(name, value)` pairs.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let body = self.body();
        vec![
            ("x-github-event", self.event.clone()),
            ("x-github-delivery", self.delivery_id.clone()),
            ("x-hub-signature-256", crate::webhook::sign(&self.secret, &body)),
            (
                "content-type",
                if self.form { "application/x-www-form-urlencoded" } else { "application/json" }.into(),
            ),
            ("user-agent", "GitHub-Hookshot/githubapp-testing".into()),
        ]
    }

    /// An `http::Request` for `POST /webhooks/github`, for `tower::ServiceExt::oneshot`.
    pub fn request(&self) -> http::Request<axum::body::Body> {
        self.request_to("/webhooks/github")
    }

    /// An `http::Request` for `POST path`.
    pub fn request_to(&self, path: &str) -> http::Request<axum::body::Body> {
        let mut req = http::Request::post(path);
        for (k, v) in self.headers() {
            req = req.header(k, v);
        }
        // The builder only fails on invalid header values; ours are all ASCII.
        req.body(axum::body::Body::from(self.body())).unwrap_or_default()
    }
}

/// A random UUID-shaped delivery id.
pub fn random_delivery_id() -> String {
    let hex: String = (0..32).map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0')).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
