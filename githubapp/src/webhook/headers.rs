use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use serde::Deserialize;

use super::WebhookError;

/// How the body is encoded (the webhook's "Content type" setting on GitHub).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
}

/// The validated delivery headers: `X-GitHub-Event`, `X-GitHub-Delivery` and the content type.
#[derive(Debug, Clone)]
pub struct DeliveryHeaders {
    /// `X-GitHub-Event`, e.g. `pull_request`.
    pub event: String,
    /// `X-GitHub-Delivery`, a UUID unique per delivery (kept on redelivery).
    pub delivery_id: String,
    /// `X-GitHub-Hook-ID`, when sent.
    pub hook_id: Option<u64>,
    kind: BodyKind,
}

impl DeliveryHeaders {
    /// Validates the delivery headers. Missing or malformed -> [`WebhookError::Header`] (400).
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, WebhookError> {
        let event = single(headers, &X_GITHUB_EVENT)
            .filter(|v| is_event_name(v))
            .ok_or(WebhookError::Header { header: "X-GitHub-Event" })?;
        let delivery_id = single(headers, &X_GITHUB_DELIVERY)
            .filter(|v| is_delivery_id(v))
            .ok_or(WebhookError::Header { header: "X-GitHub-Delivery" })?;
        let hook_id = single(headers, &X_GITHUB_HOOK_ID).and_then(|v| v.parse().ok());
        let kind = match single(headers, &http::header::CONTENT_TYPE) {
            None => BodyKind::Json,
            Some(ct) => {
                let mime = ct.split(';').next().unwrap_or("").trim();
                if mime.eq_ignore_ascii_case("application/json") {
                    BodyKind::Json
                } else if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
                    BodyKind::Form
                } else {
                    return Err(WebhookError::ContentType);
                }
            }
        };
        Ok(DeliveryHeaders { event: event.to_string(), delivery_id: delivery_id.to_string(), hook_id, kind })
    }
}

// Names as constants: a lookup by `&str` parses and validates the name every time.
static X_GITHUB_EVENT: HeaderName = HeaderName::from_static("x-github-event");
static X_GITHUB_DELIVERY: HeaderName = HeaderName::from_static("x-github-delivery");
static X_GITHUB_HOOK_ID: HeaderName = HeaderName::from_static("x-github-hook-id");
/// `X-Hub-Signature-256`: `sha256=` and the HMAC of the body, in hex.
pub(crate) static X_HUB_SIGNATURE_256: HeaderName = HeaderName::from_static("x-hub-signature-256");

/// The value of a header that must appear at most once, as UTF-8.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// `^[a-z0-9_]+$` (e.g. `projects_v2_item`), at most 64 bytes.
fn is_event_name(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// A UUID in its 8-4-4-4-12 hex form, as GitHub sends.
fn is_delivery_id(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// One webhook delivery: headers and the JSON body. Also a handler argument (the delivery's
/// metadata), e.g. `async fn f(delivery: Delivery)`.
#[derive(Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// `X-GitHub-Delivery`.
    pub id: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// The payload's `action` field, if any.
    pub action: Option<String>,
    /// The payload's `installation.id`, if any (trustworthy: the payload is signed).
    pub installation_id: Option<u64>,
    /// `X-GitHub-Hook-ID`, when sent.
    pub hook_id: Option<u64>,
    /// The JSON payload bytes (decoded from the `payload` field for form-encoded webhooks).
    pub body: Bytes,
    /// 1 for the first run; higher when a background handler is retried.
    pub attempt: u32,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("id", &self.id)
            .field("event", &self.event)
            .field("action", &self.action)
            .field("installation_id", &self.installation_id)
            .field("hook_id", &self.hook_id)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl Delivery {
    /// `event` or `event.action`, as in handler specs.
    pub fn spec(&self) -> String {
        match &self.action {
            Some(a) => format!("{}.{}", self.event, a),
            None => self.event.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Scan<'a> {
    #[serde(borrow, default)]
    action: Option<Cow<'a, str>>,
    #[serde(default)]
    installation: Option<ScanInstallation>,
}

#[derive(Deserialize)]
struct ScanInstallation {
    #[serde(default)]
    id: Option<u64>,
}

/// Decodes the body per the content type and reads `action` and `installation.id` without
/// building the document. The scanner rejects malformed JSON syntax but, to stay fast, does
/// not check the values it skips: invalid UTF-8 inside a string or a number out of range
/// (`1e400`) passes here and fails the handler that parses the payload.
pub fn parse_delivery(headers: DeliveryHeaders, body: Bytes) -> Result<Delivery, WebhookError> {
    let json = match headers.kind {
        BodyKind::Json => body,
        BodyKind::Form => form_payload(&body)?,
    };
    let (action, installation_id) = scan(&json)?;
    Ok(Delivery {
        id: headers.delivery_id,
        event: headers.event,
        action,
        installation_id,
        hook_id: headers.hook_id,
        body: json,
        attempt: 1,
    })
}

/// `action` and `installation.id` of a JSON payload, which must be an object.
fn scan(json: &[u8]) -> Result<(Option<String>, Option<u64>), WebhookError> {
    // serde also accepts a struct written as an array; GitHub always sends an object.
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(WebhookError::Payload("expected a JSON object".into()));
    }
    let scan: Scan<'_> = serde_json::from_slice(json).map_err(|e| {
        let msg = if e.classify() == serde_json::error::Category::Data {
            "expected a JSON object".to_string()
        } else {
            e.to_string()
        };
        WebhookError::Payload(msg)
    })?;
    Ok((scan.action.map(Cow::into_owned), scan.installation.and_then(|i| i.id)))
}

fn form_payload(body: &[u8]) -> Result<Bytes, WebhookError> {
    let mut payload = None;
    for (k, v) in form_urlencoded::parse(body) {
        if k == "payload" {
            if payload.is_some() {
                return Err(WebhookError::Payload("more than one `payload` field".into()));
            }
            payload = Some(v.into_owned());
        }
    }
    payload
        .map(|p| Bytes::from(p.into_bytes()))
        .ok_or_else(|| WebhookError::Payload("form body has no `payload` field".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const ID: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn valid_headers() {
        let h = DeliveryHeaders::from_headers(&headers(&[
            ("x-github-event", "projects_v2_item"),
            ("x-github-delivery", ID),
            ("content-type", "application/json; charset=utf-8"),
        ]))
        .unwrap();
        assert_eq!(h.event, "projects_v2_item");
        assert_eq!(h.delivery_id, ID);
    }

    #[test]
    fn bad_headers() {
        for (pairs, header) in [
            (vec![("x-github-delivery", ID)], "X-GitHub-Event"),
            (vec![("x-github-event", "Issues"), ("x-github-delivery", ID)], "X-GitHub-Event"),
            (vec![("x-github-event", "iss ues"), ("x-github-delivery", ID)], "X-GitHub-Event"),
            (vec![("x-github-event", "issues")], "X-GitHub-Delivery"),
            (vec![("x-github-event", "issues"), ("x-github-delivery", "123")], "X-GitHub-Delivery"),
            (
                vec![("x-github-event", "issues"), ("x-github-event", "push"), ("x-github-delivery", ID)],
                "X-GitHub-Event",
            ),
        ] {
            match DeliveryHeaders::from_headers(&headers(&pairs)) {
                Err(WebhookError::Header { header: h }) => assert_eq!(h, header),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
        assert!(matches!(
            DeliveryHeaders::from_headers(&headers(&[
                ("x-github-event", "issues"),
                ("x-github-delivery", ID),
                ("content-type", "text/plain")
            ])),
            Err(WebhookError::ContentType)
        ));
    }

    fn hdrs(ct: &str) -> DeliveryHeaders {
        DeliveryHeaders::from_headers(&headers(&[
            ("x-github-event", "issues"),
            ("x-github-delivery", ID),
            ("content-type", ct),
        ]))
        .unwrap()
    }

    #[test]
    fn scans_action_and_installation() {
        let body =
            br#"{"zzz":[1,{"action":"nested"}],"action":"opened","installation":{"id":5,"node_id":"x"}}"#;
        let d = parse_delivery(hdrs("application/json"), Bytes::from_static(body)).unwrap();
        assert_eq!(d.action.as_deref(), Some("opened"));
        assert_eq!(d.installation_id, Some(5));
        assert_eq!(d.spec(), "issues.opened");
        let d = parse_delivery(hdrs("application/json"), Bytes::from_static(b"{\"ref\":\"x\"}")).unwrap();
        assert_eq!(d.action, None);
        // escaped strings are owned, not borrowed
        let d = parse_delivery(hdrs("application/json"), Bytes::from_static(br#"{"action":"a\u0062c"}"#))
            .unwrap();
        assert_eq!(d.action.as_deref(), Some("abc"));
    }

    #[test]
    fn form_encoded() {
        let payload = r#"{"action":"opened","x":"a&b=c"}"#;
        let body: String =
            form_urlencoded::Serializer::new(String::new()).append_pair("payload", payload).finish();
        let d = parse_delivery(hdrs("application/x-www-form-urlencoded"), Bytes::from(body)).unwrap();
        assert_eq!(&d.body[..], payload.as_bytes());
        assert_eq!(d.action.as_deref(), Some("opened"));
        assert!(
            parse_delivery(hdrs("application/x-www-form-urlencoded"), Bytes::from_static(b"x=1")).is_err()
        );
    }

    #[test]
    fn malformed_bodies() {
        for body in [&b""[..], b"{", b"[]", b"\"str\"", b"{\"action\":5}", b"{} trailing"] {
            assert!(
                matches!(
                    parse_delivery(hdrs("application/json"), Bytes::copy_from_slice(body)),
                    Err(WebhookError::Payload(_))
                ),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
