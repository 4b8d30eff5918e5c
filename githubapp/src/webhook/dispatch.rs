use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::Delivery;
use crate::__private::HandlerDescriptor;
use crate::Error;
use crate::context::AppContext;
use crate::handler::HandlerContext;
use crate::tasks::{Enqueued, NewTask};

/// Retries a background handler gets when its attribute does not say `retries = N`.
pub const DEFAULT_BACKGROUND_RETRIES: u32 = 3;

/// How long a delivery id is remembered for duplicate detection: GitHub redelivers for up to
/// 3 days (older documentation says 30), so keep 72 h plus a margin.
pub const DEDUPE_TTL: Duration = Duration::from_secs(80 * 3600);

// A seen-before delivery re-enqueues its background handlers under their idempotency keys
// (see `deliver_inner`): the keys must outlive the delivery ids.
const _: () = assert!(crate::tasks::IDEMPOTENCY_TTL.as_secs() > DEDUPE_TTL.as_secs());

/// What happened to a delivery; [`DeliveryOutcome::status`] is the HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// No handler for this event/action (or an event GitHub added later): 200.
    Ignored,
    /// The delivery id was already handled: 200, handlers not run again.
    Duplicate,
    /// Every foreground handler finished successfully: 200.
    Handled,
    /// Background work was enqueued, or foreground handlers are still running past the
    /// deadline: 202.
    Accepted,
    /// A foreground handler failed, or background work could not be enqueued: 500.
    Failed,
}

impl DeliveryOutcome {
    /// A lowercase name: `ignored`, `duplicate`, `handled`, `accepted`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Duplicate => "duplicate",
            DeliveryOutcome::Handled => "handled",
            DeliveryOutcome::Accepted => "accepted",
            DeliveryOutcome::Failed => "failed",
        }
    }

    /// The HTTP status code (for a `ping`, see [`status_for`](Self::status_for)).
    pub fn status(self) -> u16 {
        match self {
            DeliveryOutcome::Ignored | DeliveryOutcome::Duplicate | DeliveryOutcome::Handled => 200,
            DeliveryOutcome::Accepted => 202,
            DeliveryOutcome::Failed => 500,
        }
    }

    /// The HTTP answer to a delivery of `event`: [`status`](Self::status), except that a
    /// `ping` whose work was accepted (a background handler, a `*` one say, took it, or a
    /// foreground one still runs at the deadline) answers 200: GitHub checks a new webhook with
    /// it. The work goes on all the same.
    pub fn status_for(self, event: &str) -> u16 {
        match self {
            DeliveryOutcome::Accepted if event == "ping" => 200,
            other => other.status(),
        }
    }
}

/// How one handler ended (used by `receive` to print what ran).
#[derive(Debug)]
pub struct HandlerReport {
    /// `module::fn`.
    pub handler: String,
    /// Whether it is a background handler.
    pub background: bool,
    /// How long it ran.
    pub elapsed: Duration,
    /// Its result.
    pub result: Result<(), Error>,
}

/// Routes deliveries to the registered handlers.
#[derive(Debug, Clone, Copy)]
pub struct Dispatcher;

impl Dispatcher {
    /// Runs a verified, parsed delivery: dedupe, enqueue background handlers, run foreground
    /// handlers concurrently until the deadline.
    pub async fn deliver(app: &AppContext, delivery: Delivery) -> DeliveryOutcome {
        let span = tracing::info_span!(
            "delivery",
            id = %delivery.id,
            event = %delivery.event,
            action = delivery.action.as_deref().unwrap_or(""),
            installation = delivery.installation_id.unwrap_or(0),
        );
        Self::deliver_inner(app, delivery).instrument(span).await
    }

    async fn deliver_inner(app: &AppContext, delivery: Delivery) -> DeliveryOutcome {
        // The deadline counts from here: time the queue takes to record the delivery and store
        // its background work comes out of the foreground handlers' budget, so a slow backend
        // does not push the answer past GitHub's 10 s.
        let deadline = tokio::time::Instant::now() + app.config().webhook_deadline;
        let queue = app.queue();
        // Marking is set-if-absent: when a call failed, it may still have stored the id (the
        // answer was lost), and the retry then answers "seen". That answer is ambiguous, and
        // taking it as a duplicate would lose the delivery's foreground work for good (GitHub
        // sees a success and never redelivers), so after a failed call it counts as new. The
        // price is a rare double run (a real duplicate arriving while the backend fails),
        // which at-least-once delivery allows.
        let id = delivery.id.as_str();
        let mark = |attempt: u32| async move {
            queue.mark_delivery(id, DEDUPE_TTL).await.map(|first| first || attempt > 1)
        };
        let first = match retrying(mark).await {
            Ok(first) => first,
            Err(e) => {
                tracing::error!(error = %e, "cannot record delivery id");
                return DeliveryOutcome::Failed;
            }
        };
        let handlers = app.registry().handlers_for(&delivery.event, delivery.action.as_deref());
        if !first {
            // Seen before. Its background handlers are enqueued again all the same, under
            // the same idempotency keys, so the queue answers "already enqueued" for each:
            // but if the first attempt recorded the id and then lost its answer or failed to
            // enqueue (a connection dropped at the wrong moment), this is what enqueues them.
            // Foreground handlers are not run again: a delivery whose handlers failed had its
            // id forgotten, so one seen here ran them (or is running them, or its process
            // died while they ran: the dedupe window cannot tell those apart).
            return match enqueue_background(app, &delivery, &handlers).await {
                Err(()) => DeliveryOutcome::Failed,
                Ok(Background { new: true, .. }) => {
                    tracing::warn!(
                        "delivery seen before, but its background work was not stored (or a concurrent \
                         copy is storing it); enqueued now"
                    );
                    DeliveryOutcome::Accepted
                }
                Ok(_) => {
                    tracing::info!("duplicate delivery; handlers not run again");
                    DeliveryOutcome::Duplicate
                }
            };
        }
        invalidate_tokens(app, &delivery);
        if handlers.is_empty() {
            tracing::debug!("no handler for this event");
            return DeliveryOutcome::Ignored;
        }
        let enqueued = match enqueue_background(app, &delivery, &handlers).await {
            Ok(background) => background.any,
            Err(()) => {
                forget(app, &delivery.id).await;
                return DeliveryOutcome::Failed;
            }
        };

        let foreground: Vec<_> = handlers.into_iter().filter(|h| !h.background).collect();
        if foreground.is_empty() {
            return DeliveryOutcome::Accepted;
        }
        let id = delivery.id.clone();
        let hctx = HandlerContext::new(delivery, app.clone(), foreground.len());
        let mut set = JoinSet::new();
        for h in foreground {
            let hctx = hctx.clone();
            set.spawn(async move { (h, run_handler(h, hctx).await) }.in_current_span());
        }
        let mut failed = false;
        loop {
            match tokio::time::timeout_at(deadline, set.join_next()).await {
                Ok(None) => break,
                Ok(Some(joined)) => failed |= !log_result(joined),
                Err(_) => {
                    tracing::warn!(
                        remaining = set.len(),
                        "foreground handlers still running at the deadline; answering 202, they finish in the background"
                    );
                    let app = app.clone();
                    tokio::spawn(
                        async move {
                            let mut failed = false;
                            while let Some(joined) = set.join_next().await {
                                failed |= !log_result(joined);
                            }
                            if failed {
                                // Let a redelivery run the handlers again.
                                forget(&app, &id).await;
                            }
                        }
                        .in_current_span(),
                    );
                    return DeliveryOutcome::Accepted;
                }
            }
        }
        if failed {
            // A failed delivery can be redelivered from GitHub's UI: forget the id so the
            // redelivery runs the handlers again instead of being answered "duplicate".
            forget(app, &id).await;
            DeliveryOutcome::Failed
        } else if enqueued {
            DeliveryOutcome::Accepted
        } else {
            DeliveryOutcome::Handled
        }
    }

    /// Runs every matching handler, foreground and background, to completion in this
    /// process, without the queue or dedupe: what `receive` does to replay a payload.
    pub async fn run_inline(app: &AppContext, delivery: Delivery) -> Vec<HandlerReport> {
        let handlers = app.registry().handlers_for(&delivery.event, delivery.action.as_deref());
        let hctx = HandlerContext::new(delivery, app.clone(), handlers.len());
        let mut set = JoinSet::new();
        for (i, h) in handlers.into_iter().enumerate() {
            let hctx = hctx.clone();
            set.spawn(async move {
                let start = Instant::now();
                let result = run_handler(h, hctx).await;
                (
                    i,
                    HandlerReport {
                        handler: h.qualified_name().to_owned(),
                        background: h.background,
                        elapsed: start.elapsed(),
                        result,
                    },
                )
            });
        }
        let mut reports = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(r) = joined {
                reports.push(r);
            }
        }
        reports.sort_by_key(|(i, _)| *i);
        reports.into_iter().map(|(_, r)| r).collect()
    }
}

/// What enqueueing a delivery's background handlers did.
#[derive(Default)]
struct Background {
    /// At least one background handler matched.
    any: bool,
    /// At least one task was new (not an idempotency-key duplicate).
    new: bool,
}

/// Enqueues one task per background handler, keyed `<delivery id>:<handler>` so the same
/// delivery never yields two tasks for one handler (the queue remembers the key for
/// [`IDEMPOTENCY_TTL`](crate::tasks::IDEMPOTENCY_TTL), longer than [`DEDUPE_TTL`]).
async fn enqueue_background(
    app: &AppContext,
    delivery: &Delivery,
    handlers: &[&'static HandlerDescriptor],
) -> Result<Background, ()> {
    let queue = app.queue();
    let mut out = Background::default();
    // The stored delivery, built once for all handlers: its metadata line and the body as
    // two parts where the queue keeps them apart (the memory queue: no copy of the body),
    // else joined (a durable backend writes the bytes out anyway).
    let mut envelope: Option<(Bytes, Bytes)> = None;
    for h in handlers.iter().filter(|h| h.background) {
        out.any = true;
        let (head, tail) = envelope.get_or_insert_with(|| {
            let head = envelope_head(delivery);
            if queue.keeps_parts() {
                (head, delivery.body.clone())
            } else {
                (crate::tasks::join_parts(&head, &delivery.body), Bytes::new())
            }
        });
        // Built per attempt (`enqueue_parts` takes the task): cloning a built one costs as much.
        let task = || {
            NewTask::new(h.task_name(), head.clone())
                .max_attempts(h.retries.unwrap_or(DEFAULT_BACKGROUND_RETRIES).saturating_add(1))
                .idempotency_key([delivery.id.as_str(), ":", h.qualified_name()].concat())
                .installation(delivery.installation_id)
        };
        match retrying(|_| queue.enqueue_parts(task(), tail.clone())).await {
            Ok(Enqueued::New(id)) => {
                tracing::info!(handler = %h.qualified_name(), task = %id, "background handler enqueued");
                out.new = true;
            }
            Ok(Enqueued::Duplicate(id)) => {
                tracing::info!(handler = %h.qualified_name(), task = %id, "background handler already enqueued");
            }
            Err(e) => {
                tracing::error!(handler = %h.qualified_name(), error = %e, "cannot enqueue background handler");
                return Err(());
            }
        }
    }
    Ok(out)
}

/// Forgets a failed delivery's id, so that GitHub's redelivery runs its handlers again.
async fn forget(app: &AppContext, id: &str) {
    if let Err(e) = retrying(|_| app.queue().forget_delivery(id)).await {
        tracing::error!(
            error = %e,
            "cannot forget the failed delivery's id: a redelivery within the dedupe window will be \
             answered \"duplicate\" without running its foreground handlers"
        );
    }
}

/// Retries a queue call that failed on the backend (a connection the server dropped fails
/// once before the pool or connection manager replaces it); `call` gets the attempt number,
/// from 1. Safe for what the dispatcher calls: enqueueing with an idempotency key, forgetting
/// a delivery id, and marking one (see `deliver_inner` for the ambiguous answer).
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, crate::tasks::QueueError>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::tasks::QueueError>>,
{
    let mut delay = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match call(attempt).await {
            Err(crate::tasks::QueueError::Backend(e)) if attempt < 4 => {
                tracing::warn!(error = %e, attempt, "task queue call failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 3;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Drops cached installation tokens when GitHub says the installation's access changed, so the
/// next call mints a token with the new scope (or fails cleanly for a deleted installation).
fn invalidate_tokens(app: &AppContext, d: &Delivery) {
    let changed = matches!(
        (d.event.as_str(), d.action.as_deref()),
        ("installation", Some("deleted" | "suspend" | "new_permissions_accepted"))
            | ("installation_repositories", _)
    );
    if changed && let (Some(client), Some(id)) = (app.app_client(), d.installation_id) {
        client.invalidate_installation(id);
        tracing::info!(installation = id, "installation changed; cached tokens dropped");
    }
}

fn log_result(
    joined: Result<(&'static HandlerDescriptor, Result<(), Error>), tokio::task::JoinError>,
) -> bool {
    match joined {
        Ok((h, Ok(()))) => {
            tracing::debug!(handler = %h.qualified_name(), "handler finished");
            true
        }
        Ok((h, Err(e))) => {
            tracing::error!(handler = %h.qualified_name(), error = %e, "handler failed");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "handler task failed");
            false
        }
    }
}

/// Runs one handler with its timeout, turning a panic into an error: nothing a handler does
/// can take the server down. Dropping the future at the timeout cancels the handler.
pub(crate) async fn run_handler(h: &'static HandlerDescriptor, hctx: HandlerContext) -> Result<(), Error> {
    let span = tracing::info_span!(
        "handler",
        name = h.name,
        module = h.module_path,
        attempt = hctx.delivery().attempt
    );
    guarded((h.call)(hctx).instrument(span), h.timeout).await
}

/// Runs a handler or task future with an optional time limit, turning a panic into an error.
pub(crate) async fn guarded(
    work: impl std::future::Future<Output = Result<(), Error>>,
    timeout: Option<Duration>,
) -> Result<(), Error> {
    use futures_util::FutureExt;
    let guarded = std::panic::AssertUnwindSafe(work).catch_unwind();
    let outcome = match timeout {
        Some(limit) => match tokio::time::timeout(limit, guarded).await {
            Ok(outcome) => outcome,
            Err(_) => return Err(Error::Timeout(limit)),
        },
        None => guarded.await,
    };
    match outcome {
        Ok(result) => result,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            Err(Error::Panicked(msg))
        }
    }
}

#[derive(Serialize, Deserialize)]
struct EnvelopeMeta<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    action: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    installation_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hook_id: Option<u64>,
}

/// A stored delivery is one line of JSON metadata, `\n`, then the payload bytes unchanged (no
/// re-encoding of a 25 MB body as a JSON string). This is its first part, up to and including
/// the `\n`; the body follows as the task's second part ([`crate::tasks::Queue::enqueue_parts`]),
/// which the memory queue stores without copying.
///
/// The line is what `serde_json` writes for [`EnvelopeMeta`], byte for byte (a test holds it
/// to that), written by hand: this runs once per delivery with background handlers.
pub(crate) fn envelope_head(d: &Delivery) -> Bytes {
    // Room for the line's keys, two 20-digit numbers and the strings (unless they need escapes).
    let line = 128 + d.id.len() + d.event.len() + d.action.as_ref().map_or(0, String::len);
    let mut out = BytesMut::with_capacity(line);
    out.put_slice(b"{\"id\":");
    put_json_str(&mut out, &d.id);
    out.put_slice(b",\"event\":");
    put_json_str(&mut out, &d.event);
    if let Some(action) = &d.action {
        out.put_slice(b",\"action\":");
        put_json_str(&mut out, action);
    }
    for (key, value) in [(&b",\"installation_id\":"[..], d.installation_id), (b",\"hook_id\":", d.hook_id)] {
        if let Some(n) = value {
            out.put_slice(key);
            out.put_slice(itoa::Buffer::new().format(n).as_bytes());
        }
    }
    out.put_slice(b"}\n");
    out.freeze()
}

/// A JSON string literal, escaped as `serde_json` escapes (control characters, `"` and `\`;
/// everything else as is).
fn put_json_str(out: &mut BytesMut, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Writing a string into memory cannot fail.
        let _ = serde_json::to_writer(out.writer(), s);
    } else {
        out.put_u8(b'"');
        out.put_slice(s.as_bytes());
        out.put_u8(b'"');
    }
}

/// The delivery stored as `head` followed by `tail` (`tail` is empty when the backend stored
/// the envelope in one piece).
pub(crate) fn decode_envelope(head: &Bytes, tail: &Bytes, attempt: u32) -> Result<Delivery, Error> {
    let (meta, split) = match scan_meta(head) {
        Some(found) => found,
        None => {
            let split = head
                .iter()
                .position(|b| *b == b'\n')
                .ok_or_else(|| Error::handler("stored delivery is corrupt: no metadata line"))?;
            (serde_json::from_slice(&head[..split])?, split)
        }
    };
    let body = if tail.is_empty() { head.slice(split + 1..) } else { tail.clone() };
    Ok(Delivery {
        id: meta.id.into_owned(),
        event: meta.event.into_owned(),
        action: meta.action.map(std::borrow::Cow::into_owned),
        installation_id: meta.installation_id,
        hook_id: meta.hook_id,
        body,
        attempt,
    })
}

/// Reads a metadata line in exactly the shape [`envelope_head`] writes it, with no escapes in
/// its strings, and where its `\n` is; `None` for anything else (which `serde_json` then
/// reads, or rejects).
fn scan_meta(head: &[u8]) -> Option<(EnvelopeMeta<'_>, usize)> {
    let mut rest = head.strip_prefix(b"{\"id\":")?;
    let id = take_str(&mut rest)?;
    rest = rest.strip_prefix(b",\"event\":")?;
    let event = take_str(&mut rest)?;
    let mut action = None;
    if let Some(r) = rest.strip_prefix(b",\"action\":") {
        rest = r;
        action = Some(take_str(&mut rest)?.into());
    }
    let mut numbers = [None, None];
    for (key, slot) in [&b",\"installation_id\":"[..], b",\"hook_id\":"].into_iter().zip(&mut numbers) {
        if let Some(r) = rest.strip_prefix(key) {
            let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
            // No leading zeros, as in JSON; `parse` checks the range.
            if digits == 0 || (digits > 1 && r[0] == b'0') {
                return None;
            }
            *slot = Some(std::str::from_utf8(&r[..digits]).ok()?.parse().ok()?);
            rest = &r[digits..];
        }
    }
    rest.starts_with(b"}\n").then(|| {
        let meta = EnvelopeMeta {
            id: id.into(),
            event: event.into(),
            action,
            installation_id: numbers[0],
            hook_id: numbers[1],
        };
        (meta, head.len() - rest.len() + 1)
    })
}

/// A string literal without escapes at the start of `rest`, which moves past it.
fn take_str<'a>(rest: &mut &'a [u8]) -> Option<&'a str> {
    let body = rest.strip_prefix(b"\"")?;
    let end = body.iter().position(|b| *b == b'"' || *b == b'\\' || *b < 0x20)?;
    if body[end] != b'"' {
        return None;
    }
    *rest = &body[end + 1..];
    std::str::from_utf8(&body[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_ping_answers_200_and_nothing_else_changes() {
        use DeliveryOutcome::*;
        for outcome in [Ignored, Duplicate, Handled, Accepted, Failed] {
            assert_eq!(outcome.status_for("issues"), outcome.status());
            let ping = if outcome == Accepted { 200 } else { outcome.status() };
            assert_eq!(outcome.status_for("ping"), ping, "{outcome:?}");
        }
        assert_eq!(Accepted.status(), 202);
    }

    #[test]
    fn envelope_round_trip() {
        let d = Delivery {
            id: "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
            event: "issues".into(),
            action: Some("opened".into()),
            installation_id: Some(7),
            hook_id: None,
            body: Bytes::from_static("{\"a\":\"\n\u{e9}\"}".as_bytes()),
            attempt: 1,
        };
        let head = envelope_head(&d);
        assert!(head.ends_with(b"\n") && !head[..head.len() - 1].contains(&b'\n'));
        // Stored in two parts (the memory queue) or joined (every durable backend).
        let joined = Bytes::from([&head[..], &d.body[..]].concat());
        for (head, tail) in [(head.clone(), d.body.clone()), (joined, Bytes::new())] {
            let back = decode_envelope(&head, &tail, 3).unwrap();
            assert_eq!(back.id, d.id);
            assert_eq!(back.action, d.action);
            assert_eq!(back.installation_id, Some(7));
            assert_eq!(back.body, d.body);
            assert_eq!(back.attempt, 3);
        }
        assert!(decode_envelope(&Bytes::from_static(b"garbage"), &Bytes::new(), 1).is_err());
        assert!(decode_envelope(&Bytes::from_static(b"garbage\n{}"), &Bytes::new(), 1).is_err());
        assert!(decode_envelope(&Bytes::from_static(b"garbage"), &d.body, 1).is_err());
    }

    fn delivery(action: Option<&str>, installation_id: Option<u64>, hook_id: Option<u64>) -> Delivery {
        Delivery {
            id: "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
            event: "issues".into(),
            action: action.map(Into::into),
            installation_id,
            hook_id,
            body: Bytes::from_static(b"{}"),
            attempt: 1,
        }
    }

    #[test]
    fn the_metadata_line_is_what_serde_json_writes_and_reads() {
        let actions =
            [None, Some("opened"), Some(""), Some("\u{7f}é\u{2028}"), Some("a\"b\\c\n\u{1}\u{7f}é\u{2028}")];
        let numbers = [None, Some(0), Some(7), Some(u64::MAX)];
        for action in actions {
            for installation_id in numbers {
                for hook_id in numbers {
                    let d = delivery(action, installation_id, hook_id);
                    let head = envelope_head(&d);
                    let meta = EnvelopeMeta {
                        id: d.id.as_str().into(),
                        event: d.event.as_str().into(),
                        action: d.action.as_deref().map(Into::into),
                        installation_id,
                        hook_id,
                    };
                    let mut want = serde_json::to_vec(&meta).unwrap();
                    want.push(b'\n');
                    assert_eq!(std::str::from_utf8(&head).unwrap(), std::str::from_utf8(&want).unwrap());
                    let back = decode_envelope(&head, &d.body, 1).unwrap();
                    assert_eq!((back.id, back.event), (d.id.clone(), d.event.clone()));
                    assert_eq!(
                        (back.action, back.installation_id, back.hook_id),
                        (d.action, installation_id, hook_id)
                    );
                    // The hand-written reader takes the plain lines and leaves the rest to serde_json.
                    let plain = !action.is_some_and(|a| a.contains(['"', '\\', '\n', '\u{1}']));
                    assert_eq!(scan_meta(&head).map(|(_, split)| split), plain.then_some(head.len() - 1));
                }
            }
        }
    }

    #[test]
    fn other_metadata_lines_are_read_by_serde_json_or_rejected() {
        let read = |line: &str| decode_envelope(&Bytes::from(format!("{line}\n{{}}")), &Bytes::new(), 1);
        // Valid JSON in another shape (key order, spaces, escapes, nulls): read all the same.
        for line in [
            r#"{"event":"issues","id":"x","installation_id":7}"#,
            r#"{ "id" : "x", "event" : "issues", "installation_id" : 7 }"#,
            r#"{"id":"\u0078","event":"issues","installation_id":7}"#,
            r#"{"id":"x","event":"issues","action":null,"installation_id":7,"hook_id":null}"#,
        ] {
            let d = read(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(
                (d.id.as_str(), d.event.as_str(), d.installation_id),
                ("x", "issues", Some(7)),
                "{line}"
            );
        }
        // Not valid: rejected, however close to the fast path's shape.
        for line in [
            r#"{"id":"x","event":"issues","installation_id":07}"#,
            r#"{"id":"x","event":"issues","installation_id":-7}"#,
            r#"{"id":"x","event":"issues","installation_id":18446744073709551616}"#,
            r#"{"id":"x","event":"issues""#,
            r#"{"id":"x","event":"issues"}}"#,
            r#"{"id":"x"}"#,
            "{\"id\":\"x\u{1}\",\"event\":\"issues\"}",
        ] {
            assert!(read(line).is_err(), "{line}");
        }
    }
}
