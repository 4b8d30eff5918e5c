//! Typed webhook payloads.
//!
//! Every event in GitHub's webhook catalog has a struct here, named after the `X-GitHub-Event`
//! header: `issues` is [`IssuesEvent`], `pull_request` is [`PullRequestEvent`], `push` is
//! [`PushEvent`]. The types are generated from GitHub's official webhooks OpenAPI description
//! (by `codegen/events.py`, output committed in `generated.rs`) and are tolerant, because a
//! payload GitHub really sends must never fail a delivery:
//!
//! - every `action` and every other string enum has an `Other(String)` variant for values this
//!   version does not know, and compares with plain strings (`event.action == "opened"`);
//! - a field is a plain `T` only when every action's schema requires it non-null and every example
//!   payload carries it; everything else is `Option<T>` (and a missing field reads as `None`);
//! - timestamps are [`Timestamp`], which reads RFC 3339, `"YYYY-MM-DD HH:MM:SS"` and Unix seconds;
//! - parts of a payload the generator does not type (deep or polymorphic objects) are
//!   [`serde_json::Value`], and every event keeps the delivery's exact bytes in
//!   [`raw`](Event::raw), so nothing GitHub sent is ever out of reach.
//!
//! Shared parts of payloads have shared types: [`User`], [`Repository`], [`InstallationLite`],
//! [`Organization`], [`Issue`], [`PullRequest`], [`Label`], ... Partial copies embedded in other
//! objects are [`MinimalRepository`] and [`Account`] (a user, organization, team or enterprise),
//! with most fields optional. Big nested structs are boxed (`repository: Box<Repository>`) so
//! that events stay small; field access and `&event.repository` work through `Deref` as usual.
//!
//! [`parse`] picks the type from the `X-GitHub-Event` name ([`parse_bytes`] does the same
//! without copying a [`Bytes`] body); [`parse_as`] reads one known type.
//!
//! # Example
//!
//! ```
//! use githubapp::events::{parse, Event, IssuesEvent, IssuesEventAction, WebhookEvent};
//!
//! // A real `issues.opened` delivery (the bytes GitHub signed).
//! let body: &[u8] = include_bytes!(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/../fixtures/github-webhooks/payloads/issues/opened.json"
//! ));
//!
//! match parse("issues", body)? {
//!     WebhookEvent::Issues(event) => {
//!         assert_eq!(event.action, IssuesEventAction::Opened);
//!         assert!(event.action == "opened");
//!         assert_eq!(event.issue.number, 1);
//!         assert_eq!(event.repository.full_name, "Codertocat/Hello-World");
//!         assert_eq!(event.sender.login, "Codertocat");
//!         assert_eq!(event.installation_id(), None);
//!         assert_eq!(event.raw().as_bytes(), body);
//!     }
//!     other => panic!("unexpected event {}", other.name()),
//! }
//!
//! // When the event type is known up front:
//! let event: IssuesEvent = githubapp::events::parse_as(bytes::Bytes::from_static(body))?;
//! assert_eq!(event.issue.created_at.to_string(), "2019-05-15T15:20:18Z");
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! Events that GitHub adds after this version land in [`WebhookEvent::Unknown`] with the payload
//! as a [`serde_json::Value`].

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Declares a string enum that accepts values it does not know.
///
/// Generated code writes `string_enum! { /// docs
/// Name { Variant = "value", ... } }` and gets the enum with an `Other(String)` variant,
/// `as_str()`, `From<&str>`, `Display`, comparison with `&str`, `Serialize` (as the string) and
/// a `Deserialize` that never fails on a string.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $value, "`.")]
                $(#[$vmeta])*
                $variant,
            )*
            /// A value this version of the crate does not know.
            Other(String),
        }

        impl $name {
            /// The value as GitHub spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $value, )*
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $value => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str($crate::events::StrVisitor(|value: &str| Self::from(value)))
            }
        }
    };
}

/// Declares the `Event` impls, the `WebhookEvent` enum and the event-name dispatch.
///
/// One row per event: `Variant(EventStruct) = "event_name", action: some|none,
/// installation: opt|req|none;` (how to read the action and the installation id).
macro_rules! webhook_events {
    ( $( $variant:ident($ty:ident) = $name:literal, action: $action:ident, installation: $inst:ident; )* ) => {
        $(
            impl $crate::events::Event for $ty {
                const NAME: &'static str = $name;
                fn action(&self) -> Option<&str> {
                    webhook_events!(@action $action self)
                }
                fn installation_id(&self) -> Option<u64> {
                    webhook_events!(@installation $inst self)
                }
                fn raw(&self) -> &$crate::events::RawPayload {
                    &self.raw
                }
                fn set_raw(&mut self, raw: $crate::events::RawPayload) {
                    self.raw = raw;
                }
            }

            impl From<$ty> for WebhookEvent {
                fn from(event: $ty) -> Self {
                    Self::$variant(event)
                }
            }
        )*

        /// Any webhook delivery, typed by its `X-GitHub-Event` name.
        ///
        /// Built by [`parse`](crate::events::parse); every event of GitHub's catalog has its own variant, anything
        /// else lands in [`WebhookEvent::Unknown`].
        #[derive(Debug, Clone)]
        #[allow(clippy::large_enum_variant)] // the contract wants unboxed variants
        pub enum WebhookEvent {
            $(
                #[doc = concat!("A `", $name, "` event.")]
                $variant($ty),
            )*
            /// An event this version of the crate does not know.
            Unknown {
                /// The `X-GitHub-Event` name.
                event: String,
                /// The whole payload.
                payload: ::serde_json::Value,
            },
        }

        impl WebhookEvent {
            /// The `X-GitHub-Event` name, e.g. `"issues"`.
            pub fn name(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $name, )*
                    Self::Unknown { event, .. } => event,
                }
            }

            /// The `action` field, if the event has one.
            pub fn action(&self) -> Option<&str> {
                match self {
                    $( Self::$variant(event) => $crate::events::Event::action(event), )*
                    Self::Unknown { payload, .. } => payload.get("action").and_then(|a| a.as_str()),
                }
            }

            /// `installation.id` when present.
            pub fn installation_id(&self) -> Option<u64> {
                match self {
                    $( Self::$variant(event) => $crate::events::Event::installation_id(event), )*
                    Self::Unknown { payload, .. } => {
                        payload.get("installation")?.get("id")?.as_u64()
                    }
                }
            }

            /// The delivery's raw bytes (`None` for [`WebhookEvent::Unknown`]).
            pub fn raw(&self) -> Option<&$crate::events::RawPayload> {
                match self {
                    $( Self::$variant(event) => Some(&event.raw), )*
                    Self::Unknown { .. } => None,
                }
            }
        }

        /// Writes the typed payload (or, for `Unknown`, the untyped one) as JSON.
        impl ::serde::Serialize for WebhookEvent {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Self::$variant(event) => event.serialize(serializer), )*
                    Self::Unknown { payload, .. } => payload.serialize(serializer),
                }
            }
        }

        /// Every event name of the catalog, sorted.
        pub const EVENT_NAMES: &[&str] = &[ $( $name, )* ];

        /// Parses a catalog event; `None` when `event_name` is not in the catalog.
        pub(super) fn parse_known(
            event_name: &str,
            body: ::bytes::Bytes,
        ) -> Option<Result<WebhookEvent, ::serde_json::Error>> {
            Some(match event_name {
                $( $name => $crate::events::parse_as::<$ty>(body).map(WebhookEvent::$variant), )*
                _ => return None,
            })
        }
    };
    (@action some $e:ident) => { Some($e.action.as_str()) };
    (@action none $e:ident) => { None };
    (@installation opt $e:ident) => { $e.installation.as_ref().map(|i| i.id) };
    (@installation req $e:ident) => { Some($e.installation.id) };
    (@installation none $e:ident) => { None };
}

#[allow(missing_docs)] // generated fields carry GitHub's description when it has one
mod generated;
mod timestamp;

#[cfg(test)]
mod tests;

pub use generated::*;
pub use timestamp::Timestamp;

/// A typed webhook payload: one struct per `X-GitHub-Event` name.
pub trait Event: DeserializeOwned + Clone + Send + Sync + fmt::Debug + 'static {
    /// The `X-GitHub-Event` name, e.g. "issues".
    const NAME: &'static str;
    /// The `action` field, if the event has one.
    fn action(&self) -> Option<&str>;
    /// `installation.id` when present.
    fn installation_id(&self) -> Option<u64>;
    /// The delivery's raw bytes (empty when built by hand).
    fn raw(&self) -> &RawPayload;
    #[doc(hidden)]
    fn set_raw(&mut self, raw: RawPayload);
}

/// The exact bytes of a delivery, as GitHub sent (and signed) them.
///
/// Cheap to clone (reference-counted). Empty when the event was built by hand.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawPayload(Bytes);

impl RawPayload {
    /// Wraps a delivery body.
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self(bytes.into())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as a shared [`Bytes`] handle.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// The body as text; empty if it is not UTF-8 (a body that parsed as JSON always is).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The body parsed as untyped JSON; `Value::Null` if it is empty or not JSON.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0).unwrap_or_default()
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` when there are no bytes (the event was built by hand).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying [`Bytes`].
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl fmt::Debug for RawPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawPayload({} bytes)", self.0.len())
    }
}

impl From<Bytes> for RawPayload {
    fn from(bytes: Bytes) -> Self {
        Self(bytes)
    }
}

impl From<Vec<u8>> for RawPayload {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }
}

/// The previous value of something an `edited`-style action changed (`changes.title.from`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change<T> {
    /// The value before the change.
    pub from: T,
}

/// Parses a delivery into the variant of [`WebhookEvent`] its `X-GitHub-Event` name selects.
///
/// Events outside the catalog become [`WebhookEvent::Unknown`]; the body is copied once into the
/// event's [`RawPayload`]. Use [`parse_bytes`] to keep a [`Bytes`] body without copying.
pub fn parse(event_name: &str, body: &[u8]) -> Result<WebhookEvent, serde_json::Error> {
    match generated::parse_known(event_name, Bytes::copy_from_slice(body)) {
        Some(result) => result,
        None => unknown(event_name, body),
    }
}

/// Like [`parse`], for a body already held in [`Bytes`] (no copy).
pub fn parse_bytes(event_name: &str, body: Bytes) -> Result<WebhookEvent, serde_json::Error> {
    match generated::parse_known(event_name, body.clone()) {
        Some(result) => result,
        None => unknown(event_name, &body),
    }
}

fn unknown(event_name: &str, body: &[u8]) -> Result<WebhookEvent, serde_json::Error> {
    Ok(WebhookEvent::Unknown { event: event_name.to_owned(), payload: serde_json::from_slice(body)? })
}

/// Parses a body as the event type `E`, keeping the bytes in [`Event::raw`].
pub fn parse_as<E: Event>(body: Bytes) -> Result<E, serde_json::Error> {
    let mut event: E = serde_json::from_slice(&body)?;
    event.set_raw(RawPayload(body));
    Ok(event)
}

/// Whether `event_name` is in the catalog this version was generated from.
pub fn is_known_event(event_name: &str) -> bool {
    EVENT_NAMES.binary_search(&event_name).is_ok()
}

/// Reads any string into a `string_enum!` type (one visitor shared by all of them).
#[doc(hidden)]
pub struct StrVisitor<T>(pub fn(&str) -> T);

impl<T> serde::de::Visitor<'_> for StrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<T, E> {
        Ok((self.0)(value))
    }
}
