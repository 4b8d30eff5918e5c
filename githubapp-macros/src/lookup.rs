//! Catalog lookups and "did you mean" suggestions.
//!
//! The table itself is generated (`catalog.rs`); everything that reads it lives here.

use crate::catalog::EVENTS;

/// The actions of a known event (empty for events without an `action` field).
pub(crate) fn actions(event: &str) -> Option<&'static [&'static str]> {
    EVENTS
        .binary_search_by(|(name, _)| (*name).cmp(event))
        .ok()
        .and_then(|index| EVENTS.get(index))
        .map(|(_, actions)| *actions)
}

/// The catalog's own `&'static str` for a known event name.
pub(crate) fn event_name(event: &str) -> Option<&'static str> {
    EVENTS
        .binary_search_by(|(name, _)| (*name).cmp(event))
        .ok()
        .and_then(|index| EVENTS.get(index))
        .map(|(name, _)| *name)
}

/// Every event name, sorted.
pub(crate) fn event_names() -> impl Iterator<Item = &'static str> {
    EVENTS.iter().map(|(name, _)| *name)
}

/// Whether `event` is known and `action` is one of its actions.
pub(crate) fn is_action(event: &str, action: &str) -> bool {
    actions(event).is_some_and(|actions| actions.contains(&action))
}

/// The typed payload of an event, as the runtime names it: `pull_request` -> `PullRequestEvent`.
pub(crate) fn payload_type(event: &str) -> String {
    let mut out = String::with_capacity(event.len() + 5);
    for word in event.split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out.push_str("Event");
    out
}

/// The closest candidate to `input`, if it is close enough to be what the user meant.
///
/// Comparison ignores ASCII case and treats `-` and ` ` as `_`; a candidate qualifies when its
/// edit distance is at most a third of the input's length (at least 1), the threshold rustc
/// uses for its own suggestions. Ties go to the first candidate.
pub(crate) fn suggest<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let normalized: String = input
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let threshold = normalized.chars().count().max(3) / 3;
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == input {
            continue;
        }
        let distance = distance(&normalized, candidate);
        if distance <= threshold && best.is_none_or(|(best, _)| distance < best) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal-string-alignment distance (Levenshtein plus transposition of adjacent characters),
/// so `"isseus"` is one edit from `"issues"`.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rolling rows: the one before the previous (for transpositions), previous, current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ACTION_COUNT;

    #[test]
    fn catalog_is_sorted_and_complete() {
        assert_eq!(EVENTS.len(), 75);
        let pairs: usize = EVENTS.iter().map(|(_, actions)| actions.len()).sum();
        assert_eq!(pairs, ACTION_COUNT);
        assert_eq!(pairs, 249);
        assert!(EVENTS.windows(2).all(|w| w[0].0 < w[1].0));
        for (event, actions) in EVENTS {
            assert!(actions.windows(2).all(|w| w[0] < w[1]), "{event}");
        }
    }

    #[test]
    fn looks_up_events_and_actions() {
        assert_eq!(event_name("issues"), Some("issues"));
        assert_eq!(event_name("isues"), None);
        assert_eq!(actions("push"), Some(&[][..]));
        assert!(actions("issues").is_some_and(|a| a.contains(&"opened")));
        assert_eq!(actions(""), None);
        assert!(is_action("issues", "opened"));
        assert!(is_action("workflow_run", "completed"));
        assert!(!is_action("issues", "opend"));
        assert!(!is_action("push", "opened"));
        assert!(!is_action("nope", "opened"));
        // First and last entries (binary search edges).
        assert_eq!(event_name("branch_protection_configuration"), Some("branch_protection_configuration"));
        assert_eq!(event_name("workflow_run"), Some("workflow_run"));
        assert_eq!(event_names().count(), 75);
    }

    #[test]
    fn payload_types_are_pascal_case() {
        assert_eq!(payload_type("push"), "PushEvent");
        assert_eq!(payload_type("issues"), "IssuesEvent");
        assert_eq!(payload_type("pull_request"), "PullRequestEvent");
        assert_eq!(payload_type("projects_v2_item"), "ProjectsV2ItemEvent");
    }

    #[test]
    fn distance_counts_edits_and_transpositions() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("issues", "issues"), 0);
        assert_eq!(distance("isues", "issues"), 1);
        assert_eq!(distance("isseus", "issues"), 1);
        assert_eq!(distance("opend", "opened"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("ca", "abc"), 3);
    }

    #[test]
    fn suggests_close_names_only() {
        let events = || event_names();
        assert_eq!(suggest("isues", events()), Some("issues"));
        assert_eq!(suggest("Issues", events()), Some("issues"));
        assert_eq!(suggest("pull-request", events()), Some("pull_request"));
        assert_eq!(suggest("pullrequest", events()), Some("pull_request"));
        assert_eq!(suggest("pul_request", events()), Some("pull_request"));
        assert_eq!(suggest("issue_coment", events()), Some("issue_comment"));
        assert_eq!(suggest("psuh", events()), Some("push"));
        assert_eq!(suggest("frobnicate", events()), None);
        assert_eq!(suggest("x", events()), None);
        let flags = ["background", "retries", "timeout"];
        assert_eq!(suggest("backgroud", flags), Some("background"));
        assert_eq!(suggest("retrie", flags), Some("retries"));
        assert_eq!(suggest("timout", flags), Some("timeout"));
        assert_eq!(suggest("deadline", flags), None);
        let actions = actions("issues").unwrap_or_default().iter().copied();
        assert_eq!(suggest("opend", actions), Some("opened"));
    }
}
