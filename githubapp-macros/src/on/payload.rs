//! The payload check: a typed payload argument must be the payload of the handled event.
//!
//! The macro cannot know which types are payloads (only rustc resolves types), so it emits a
//! `const` assertion per argument, `accepts::<T>(&[events])`, with a message built here from
//! the catalog; the assertion only fails, and rustc only prints the message, when `T` is the
//! typed payload of an event the handler does not (only) receive.

use crate::lookup;
use crate::text;
use quote::quote;

/// A type as users write it, for messages: `events :: IssuesEvent` -> `events::IssuesEvent`.
pub(crate) fn type_text(ty: &syn::Type) -> String {
    let raw = quote!(#ty).to_string();
    let mut out = String::with_capacity(raw.len());
    let chars: Vec<char> = raw.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let before = index.checked_sub(1).and_then(|i| chars.get(i)).copied();
            let after = chars.get(index + 1).copied();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            // Keep the space only between two words (`dyn Trait`) or after a comma/lifetime.
            let keep = (word(before) && (word(after) || after == Some('\'')))
                || matches!(before, Some(',' | ';' | '+'))
                || after == Some('+');
            if keep {
                out.push(c);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The message of the payload check for one argument of type `ty`, emitted as the literal of
/// a `const` assertion that only fails when `ty` is the typed payload of another event.
// input:  `#[github::on("push")] async fn f(e: PullRequestEvent)`
// output: "`PullRequestEvent` is not the payload of event \"push\"; take `PushEvent`, ..."
pub(crate) fn mismatch_message(ty: &syn::Type, events: &[&str]) -> String {
    let ty = type_text(ty);
    match events {
        [event] if *event != "*" => format!(
            "`{ty}` is not the payload of event \"{event}\"; take `{}`, `serde_json::Value` or \
             `WebhookEvent`",
            lookup::payload_type(event)
        ),
        [_] => format!(
            "`{ty}` is the payload of a single event, but this handler receives every event \
             (\"*\"); take `serde_json::Value` or `WebhookEvent`"
        ),
        events => format!(
            "`{ty}` is the payload of a single event, but this handler receives events {}; \
             take `serde_json::Value` or `WebhookEvent`",
            text::quoted_list(events, "and")
        ),
    }
}
