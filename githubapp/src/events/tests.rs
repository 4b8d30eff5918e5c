use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::*;

type TestResult = Result<(), Box<dyn Error>>;

fn payloads_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/github-webhooks/payloads")
}

/// `(event, label, path)` of `fixtures/github-webhooks/payloads/<event>/<label>[.x].json`.
type Fixture = (String, String, PathBuf);

/// Every example payload.
fn fixtures() -> Result<Vec<Fixture>, Box<dyn Error>> {
    let mut out = Vec::new();
    for dir in fs::read_dir(payloads_dir())? {
        let dir = dir?.path();
        if !dir.is_dir() {
            continue;
        }
        let event = dir.file_name().and_then(|n| n.to_str()).ok_or("bad dir name")?.to_owned();
        for file in fs::read_dir(&dir)? {
            let path = file?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let name = path.file_name().and_then(|n| n.to_str()).ok_or("bad file name")?;
            let label = name.split('.').next().ok_or("bad file name")?.to_owned();
            out.push((event.clone(), label, path));
        }
    }
    out.sort();
    Ok(out)
}

fn fixture(event: &str, file: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    Ok(fs::read(payloads_dir().join(event).join(file))?)
}

#[test]
fn every_example_payload_parses_into_its_own_variant() -> TestResult {
    let fixtures = fixtures()?;
    assert!(fixtures.len() >= 219, "expected the 219 fixtures, found {}", fixtures.len());
    let mut failures = Vec::new();
    for (event, label, path) in &fixtures {
        let body = fs::read(path)?;
        let parsed = match parse(event, &body) {
            Ok(parsed) => parsed,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        if matches!(parsed, WebhookEvent::Unknown { .. }) || parsed.name() != event {
            failures.push(format!("{}: parsed as {}", path.display(), parsed.name()));
            continue;
        }
        // `<label>` is the action, or "event" for events without actions.
        if label != "event" && parsed.action() != Some(label.as_str()) {
            failures.push(format!("{}: action {:?}", path.display(), parsed.action()));
        }
        if parsed.raw().map(RawPayload::as_bytes) != Some(&body[..]) {
            failures.push(format!("{}: raw bytes not kept", path.display()));
        }
        let expected_installation = serde_json::from_slice::<serde_json::Value>(&body)?
            .pointer("/installation/id")
            .and_then(serde_json::Value::as_u64);
        if parsed.installation_id() != expected_installation {
            failures.push(format!("{}: installation id {:?}", path.display(), parsed.installation_id()));
        }
        // GitHub sends compact JSON; the fixtures are pretty-printed.
        let compact = serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body)?)?;
        match parse(event, &compact) {
            Ok(again) if again.name() == event && again.action() == parsed.action() => {}
            Ok(again) => {
                failures.push(format!("{}: compact form parsed as {}", path.display(), again.name()))
            }
            Err(e) => failures.push(format!("{}: compact form: {e}", path.display())),
        }
        // What the typed event writes reads back as the same event.
        match serde_json::to_vec(&parsed).map(|json| parse(event, &json)) {
            Ok(Ok(again)) if again.name() == event && again.action() == parsed.action() => {}
            Ok(Ok(again)) => failures.push(format!("{}: re-serialized as {}", path.display(), again.name())),
            Ok(Err(e)) | Err(e) => failures.push(format!("{}: re-serialized: {e}", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} payloads failed:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
    println!("{} example payloads parsed into their typed events", fixtures.len());
    Ok(())
}

#[test]
fn typed_events_serialize_and_read_back() -> TestResult {
    let body = Bytes::from(fixture("pull_request", "opened.with-organization.json")?);
    let event: PullRequestEvent = parse_as(body.clone())?;
    assert_eq!(event.raw().as_bytes(), &body[..]);
    let again: PullRequestEvent = serde_json::from_value(serde_json::to_value(&event)?)?;
    assert_eq!(again.action, PullRequestEventAction::Opened);
    assert!(again.raw().is_empty());
    assert_eq!(again.number, event.number);

    let push: PushEvent = parse_as(Bytes::from(fixture("push", "event.json")?))?;
    let again: PushEvent = serde_json::from_str(&serde_json::to_string(&push)?)?;
    assert_eq!(again.repository.created_at, push.repository.created_at);
    Ok(())
}

#[test]
fn unknown_action_is_kept_as_other() -> TestResult {
    let mut value: serde_json::Value = serde_json::from_slice(&fixture("issues", "opened.json")?)?;
    value["action"] = "teleported".into();
    value["issue"]["state"] = "superposed".into();
    let body = serde_json::to_vec(&value)?;
    let WebhookEvent::Issues(event) = parse("issues", &body)? else {
        return Err("not an issues event".into());
    };
    assert_eq!(event.action, IssuesEventAction::Other("teleported".to_owned()));
    assert_eq!(event.action(), Some("teleported"));
    assert_eq!(event.action.to_string(), "teleported");
    assert_eq!(event.issue.state.as_ref().map(|s| s.as_str()), Some("superposed"));
    // and it writes back out unchanged
    assert_eq!(serde_json::to_value(&event.action)?, serde_json::json!("teleported"));
    Ok(())
}

#[test]
fn known_action_compares_with_str_and_variant() -> TestResult {
    let event: IssuesEvent = parse_as(Bytes::from(fixture("issues", "opened.json")?))?;
    assert_eq!(event.action, IssuesEventAction::Opened);
    assert!(event.action == "opened");
    assert_eq!(IssuesEventAction::from("opened"), IssuesEventAction::Opened);
    assert_eq!(<IssuesEvent as Event>::NAME, "issues");
    Ok(())
}

#[test]
fn unknown_event_is_unknown() -> TestResult {
    let body = br#"{"action":"beamed","installation":{"id":7},"x":[1,2]}"#;
    let parsed = parse("teleport", body)?;
    let WebhookEvent::Unknown { event, payload } = &parsed else {
        return Err("expected Unknown".into());
    };
    assert_eq!(event, "teleport");
    assert_eq!(payload["x"][1], 2);
    assert_eq!(parsed.name(), "teleport");
    assert_eq!(parsed.action(), Some("beamed"));
    assert_eq!(parsed.installation_id(), Some(7));
    assert!(parsed.raw().is_none());
    assert!(!is_known_event("teleport"));
    assert!(parse("teleport", b"not json").is_err());
    Ok(())
}

#[test]
fn catalog_names_are_complete_and_sorted() {
    assert_eq!(EVENT_NAMES.len(), 75);
    assert!(EVENT_NAMES.windows(2).all(|w| w[0] < w[1]));
    for name in ["issues", "pull_request", "push", "ping", "workflow_run", "sub_issues"] {
        assert!(is_known_event(name), "{name}");
    }
}

#[test]
fn broken_payload_of_a_known_event_is_an_error() {
    assert!(parse("issues", b"{}").is_err());
    assert!(parse("issues", b"").is_err());
}

#[test]
fn parse_bytes_keeps_the_same_buffer() -> TestResult {
    let body = Bytes::from(fixture("ping", "event.with-app_id.json")?);
    let parsed = parse_bytes("ping", body.clone())?;
    let raw = parsed.raw().ok_or("no raw")?;
    assert_eq!(raw.bytes().as_ptr(), body.as_ptr());
    assert_eq!(raw.len(), body.len());
    assert_eq!(
        raw.to_value()["hook_id"],
        serde_json::to_value(match &parsed {
            WebhookEvent::Ping(ping) => ping.hook_id,
            _ => None,
        })?
    );
    assert!(raw.as_str().starts_with('{'));
    Ok(())
}

#[test]
fn raw_payload_basics() {
    let raw = RawPayload::default();
    assert!(raw.is_empty());
    assert_eq!(raw.as_str(), "");
    assert_eq!(raw.to_value(), serde_json::Value::Null);
    assert_eq!(format!("{:?}", RawPayload::from(b"{}".to_vec())), "RawPayload(2 bytes)");
}

#[test]
fn optional_parts_may_be_missing_or_null() -> TestResult {
    let mut value: serde_json::Value = serde_json::from_slice(&fixture("issues", "opened.json")?)?;
    let object = value.as_object_mut().ok_or("not an object")?;
    object.remove("installation");
    object.remove("organization");
    value["issue"]["body"] = serde_json::Value::Null;
    value["issue"]["milestone"] = serde_json::Value::Null;
    let WebhookEvent::Issues(event) = parse("issues", &serde_json::to_vec(&value)?)? else {
        return Err("not an issues event".into());
    };
    assert_eq!(event.installation_id(), None);
    assert!(event.organization.is_none());
    assert!(event.issue.body.is_none());
    assert!(event.issue.milestone.is_none());
    assert_eq!(event.repository.owner.login, "Codertocat");
    Ok(())
}
