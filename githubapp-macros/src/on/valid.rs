//! Validation of `#[github::on(...)]`: event specs against the catalog, flags, the function.
//!
//! Every check records into the shared [`Ctxt`] and carries on, so all problems are reported
//! together; the returned [`Handler`] is only expanded when nothing was recorded.

use super::ast::{FlagValue, OnArg, OnArgs};
use crate::ctxt::Ctxt;
use crate::duration;
use crate::lookup;
use crate::signature;
use crate::text;
use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::{Ident, ItemFn, Lit, LitStr};

/// Largest accepted `retries = N`.
pub(crate) const MAX_RETRIES: u64 = 100;

/// The flags `#[github::on]` knows, in the order they are documented.
const FLAGS: &[&str] = &["background", "retries", "timeout"];

/// Other names people reach for, mapped to our flag (only used to suggest).
const FLAG_ALIASES: &[(&str, &str)] = &[
    ("bg", "background"),
    ("detached", "background"),
    ("queued", "background"),
    ("retry", "retries"),
    ("max_retries", "retries"),
    ("attempts", "retries"),
    ("deadline", "timeout"),
    ("time_limit", "timeout"),
];

/// A checked handler, ready to expand.
pub(crate) struct Handler<'a> {
    pub(crate) func: &'a ItemFn,
    pub(crate) specs: Vec<Spec>,
    pub(crate) background: bool,
    pub(crate) retries: Option<u32>,
    pub(crate) timeout_ms: Option<u64>,
}

/// One checked event spec; names are the catalog's own strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spec {
    /// `"*"`: every event.
    Any,
    /// `"issues"`: every action of one event.
    Event(&'static str),
    /// `"issues.opened"`.
    Action(&'static str, &'static str),
}

impl Spec {
    /// The event name as registered (`"*"` for [`Spec::Any`]).
    pub(crate) fn event(self) -> &'static str {
        match self {
            Spec::Any => "*",
            Spec::Event(event) | Spec::Action(event, _) => event,
        }
    }

    /// The action, if the spec names one.
    pub(crate) fn action(self) -> Option<&'static str> {
        match self {
            Spec::Action(_, action) => Some(action),
            Spec::Any | Spec::Event(_) => None,
        }
    }

    /// The spec as the user writes it.
    fn text(self) -> String {
        match self {
            Spec::Any => "*".to_owned(),
            Spec::Event(event) => event.to_owned(),
            Spec::Action(event, action) => format!("{event}.{action}"),
        }
    }

    /// Whether `self` already matches every delivery `other` matches (and is not `other`).
    fn covers(self, other: Spec) -> bool {
        match (self, other) {
            (Spec::Any, Spec::Event(_) | Spec::Action(..)) => true,
            (Spec::Event(event), Spec::Action(other, _)) => event == other,
            _ => false,
        }
    }
}

impl Handler<'_> {
    /// The distinct event names the handler receives, in spec order; `["*"]` for a wildcard.
    /// This is what the payload check (`accepts::<T>(events)`) is given.
    pub(crate) fn events(&self) -> Vec<&'static str> {
        if self.specs.contains(&Spec::Any) {
            return vec!["*"];
        }
        let mut events: Vec<&'static str> = Vec::new();
        for spec in &self.specs {
            if !events.contains(&spec.event()) {
                events.push(spec.event());
            }
        }
        events
    }
}

/// Checks everything; errors go to `cx`, the result is meaningful only if `cx` stays empty.
///
/// `raw_args` is the attribute's token stream, used to place the "missing event spec" error.
pub(crate) fn validate<'a>(
    cx: &mut Ctxt,
    args: &OnArgs,
    raw_args: &TokenStream,
    func: &'a ItemFn,
) -> Handler<'a> {
    let mut specs: Vec<(Spec, &LitStr)> = Vec::new();
    let mut attempted_spec = false;
    let mut flags = Flags::default();
    for arg in &args.args {
        match arg {
            OnArg::Spec(lit) => {
                attempted_spec = true;
                if let Some(spec) = check_spec(cx, lit) {
                    specs.push((spec, lit));
                }
            }
            OnArg::Flag { name, value } => {
                attempted_spec |= check_flag(cx, &mut flags, name, value.as_ref());
            }
            OnArg::Other(tokens) => {
                attempted_spec |= check_other(cx, tokens);
            }
        }
    }
    if !attempted_spec {
        let msg = "missing event spec; write e.g. `#[github::on(\"issues.opened\")]`, \
                   `#[github::on(\"push\")]` or `#[github::on(\"*\")]`";
        if raw_args.is_empty() {
            cx.error_at(Span::call_site(), msg);
        } else {
            cx.error_spanned_by(raw_args, msg);
        }
    }
    if let (Some(_), Some(at), false) = (flags.retries, &flags.retries_at, flags.background) {
        cx.error_spanned_by(
            at,
            "`retries` applies to background handlers only (a foreground handler runs once, and \
             GitHub's \"Redeliver\" runs it again); add `background`, or remove `retries`",
        );
    }
    check_overlaps(cx, &specs);
    signature::check_handler(cx, &func.sig);
    Handler {
        func,
        specs: specs.into_iter().map(|(spec, _)| spec).collect(),
        background: flags.background,
        retries: flags.retries,
        timeout_ms: flags.timeout_ms,
    }
}

/// Checks one event spec literal against the catalog.
// input:  "issues.opend"
// output: error `unknown action "opend" for event "issues"; did you mean "opened"?`
fn check_spec(cx: &mut Ctxt, lit: &LitStr) -> Option<Spec> {
    let text = lit.value();
    if text == "*" {
        return Some(Spec::Any);
    }
    let (event, action) = match text.split_once('.') {
        Some((event, action)) => (event, Some(action)),
        None => (text.as_str(), None),
    };
    if event == "*" {
        cx.error_spanned_by(lit, "\"*\" matches every event and takes no action; use \"*\"");
        return None;
    }
    if event.is_empty() || action.is_some_and(|action| action.is_empty() || action.contains('.')) {
        cx.error_spanned_by(
            lit,
            format!("invalid event spec \"{text}\"; write \"event\", \"event.action\" or \"*\""),
        );
        return None;
    }
    let Some(event) = lookup::event_name(event) else {
        cx.error_spanned_by(lit, unknown_event(&text, event));
        return None;
    };
    let Some(action) = action else {
        return Some(Spec::Event(event));
    };
    let actions = lookup::actions(event).unwrap_or_default();
    if action == "*" {
        cx.error_spanned_by(
            lit,
            format!("invalid event spec \"{text}\"; use \"{event}\" to handle every action"),
        );
        return None;
    }
    if actions.is_empty() {
        cx.error_spanned_by(lit, format!("event \"{event}\" has no actions; use \"{event}\""));
        return None;
    }
    if let Some(action) = actions.iter().find(|known| **known == action) {
        return Some(Spec::Action(event, action));
    }
    let hint = lookup::suggest(action, actions.iter().copied()).map_or_else(
        || format!("expected {}", text::quoted_list(actions, "or")),
        |suggestion| format!("did you mean \"{suggestion}\"?"),
    );
    cx.error_spanned_by(lit, format!("unknown action \"{action}\" for event \"{event}\"; {hint}"));
    None
}

/// The message for an unknown event name (`text` is the whole spec).
fn unknown_event(text: &str, event: &str) -> String {
    // "issues:opened", "issues/opened", "issues opened", "pull_request_opened": a known event and
    // one of its actions joined by the wrong separator.
    if !text.contains('.') {
        for (index, separator) in text.char_indices().rev() {
            if !matches!(separator, ':' | '/' | ' ' | '_' | '-') {
                continue;
            }
            let (head, tail) = (&text[..index], &text[index + separator.len_utf8()..]);
            if lookup::is_action(head, tail) {
                return format!("unknown event \"{text}\"; did you mean \"{head}.{tail}\"?");
            }
        }
    }
    match lookup::suggest(event, lookup::event_names()) {
        Some(suggestion) => format!("unknown event \"{event}\"; did you mean \"{suggestion}\"?"),
        None => format!(
            "unknown event \"{event}\"; expected a GitHub webhook event such as \"issues\", \
             \"pull_request\" or \"push\""
        ),
    }
}

/// Duplicate specs, and specs another spec already covers (`"issues.opened"` with `"issues"`,
/// anything with `"*"`): the error goes on the duplicate or on the narrower spec.
fn check_overlaps(cx: &mut Ctxt, specs: &[(Spec, &LitStr)]) {
    for (index, &(spec, lit)) in specs.iter().enumerate() {
        if specs[..index].iter().any(|&(earlier, _)| earlier == spec) {
            cx.error_spanned_by(lit, format!("duplicate event spec \"{}\"", spec.text()));
            continue;
        }
        let Some(&(wider, _)) = specs.iter().find(|&&(other, _)| other.covers(spec)) else {
            continue;
        };
        let reason = match wider {
            Spec::Any => "\"*\" already matches every event".to_owned(),
            _ => format!("\"{}\" already matches every action", wider.text()),
        };
        cx.error_spanned_by(
            lit,
            format!("event spec \"{}\" is redundant: {reason}; remove one of them", spec.text()),
        );
    }
}

/// The flags seen so far.
#[derive(Default)]
struct Flags {
    /// Known flags already given, to report a repeat.
    seen: Vec<&'static str>,
    background: bool,
    retries: Option<u32>,
    /// Where `retries` was written, for the error when there is no `background`.
    retries_at: Option<Ident>,
    timeout_ms: Option<u64>,
}

/// Checks one flag. Returns whether the "flag" was really an unquoted event spec (`push`).
// input:  retries = 1000
// output: error "`retries` must be at most 100, got 1000" on `1000`
fn check_flag(cx: &mut Ctxt, flags: &mut Flags, name: &Ident, value: Option<&FlagValue>) -> bool {
    let flag = name.unraw().to_string();
    if let Some(known) = FLAGS.iter().find(|known| **known == flag) {
        if flags.seen.contains(known) {
            cx.error_spanned_by(name, format!("duplicate flag `{known}`"));
        }
        flags.seen.push(known);
    }
    match flag.as_str() {
        "background" => {
            flags.background = true;
            if let Some(value) = value {
                cx.error_spanned_by(
                    flag_value_tokens(value),
                    "flag `background` takes no value; write `background`",
                );
            }
        }
        "retries" => {
            flags.retries = check_retries(cx, name, value);
            flags.retries_at.get_or_insert_with(|| name.clone());
        }
        "timeout" => flags.timeout_ms = check_timeout(cx, name, value),
        _ if value.is_none() && lookup::event_name(&flag).is_some() => {
            cx.error_spanned_by(name, format!("event specs are string literals; write \"{flag}\""));
            return true;
        }
        _ => {
            let alias = FLAG_ALIASES.iter().find(|(alias, _)| *alias == flag).map(|(_, flag)| *flag);
            let msg = match alias.or_else(|| lookup::suggest(&flag, FLAGS.iter().copied())) {
                Some(suggestion) => format!("unknown flag `{flag}`; did you mean `{suggestion}`?"),
                None => format!(
                    "unknown flag `{flag}`; expected `background`, `retries = <n>` or \
                     `timeout = \"<duration>\"`"
                ),
            };
            cx.error_spanned_by(name, msg);
        }
    }
    false
}

/// `retries = N` with `N` an integer literal in `0..=100`.
pub(crate) fn check_retries(cx: &mut Ctxt, name: &Ident, value: Option<&FlagValue>) -> Option<u32> {
    let Some(value) = value.filter(|value| !value.tokens.is_empty()) else {
        cx.error_spanned_by(name, "flag `retries` needs a value; write e.g. `retries = 3`");
        return None;
    };
    let lit = match syn::parse2::<Lit>(value.tokens.clone()) {
        Ok(Lit::Int(lit)) if !lit.base10_digits().starts_with('-') => Some(lit),
        _ => None,
    };
    let Some(lit) = lit else {
        cx.error_spanned_by(
            &value.tokens,
            format!("`retries` expects an integer literal from 0 to {MAX_RETRIES}, e.g. `retries = 3`"),
        );
        return None;
    };
    match lit.base10_parse::<u64>() {
        Ok(retries) if retries <= MAX_RETRIES => u32::try_from(retries).ok(),
        _ => {
            cx.error_spanned_by(
                &lit,
                format!("`retries` must be at most {MAX_RETRIES}, got {}", lit.base10_digits()),
            );
            None
        }
    }
}

/// `timeout = "30s"`: a string literal `duration` accepts.
pub(crate) fn check_timeout(cx: &mut Ctxt, name: &Ident, value: Option<&FlagValue>) -> Option<u64> {
    let Some(value) = value.filter(|value| !value.tokens.is_empty()) else {
        cx.error_spanned_by(name, "flag `timeout` needs a value; write e.g. `timeout = \"30s\"`");
        return None;
    };
    match syn::parse2::<Lit>(value.tokens.clone()) {
        Ok(Lit::Str(lit)) => {
            let text = lit.value();
            match duration::parse_millis(&text) {
                Ok(millis) => Some(millis),
                Err(err) => {
                    cx.error_spanned_by(&lit, err.message(&text));
                    None
                }
            }
        }
        Ok(Lit::Int(lit)) => {
            let digits = lit.base10_digits();
            cx.error_spanned_by(
                &lit,
                format!("`timeout` expects a duration string with a unit; write `timeout = \"{digits}s\"`"),
            );
            None
        }
        _ => {
            cx.error_spanned_by(
                &value.tokens,
                "`timeout` expects a duration string, e.g. `timeout = \"30s\"`",
            );
            None
        }
    }
}

/// The tokens of `= value`, for errors about a value that should not be there.
pub(crate) fn flag_value_tokens(value: &FlagValue) -> TokenStream {
    let eq_token = &value.eq_token;
    let mut tokens = quote::quote!(#eq_token);
    tokens.extend(value.tokens.clone());
    tokens
}

/// Explains an argument that is neither a spec nor a flag. Returns whether it looked like an
/// event spec written without quotes (so "missing event spec" is not reported as well).
// input:  issues.opened
// output: error `event specs are string literals; write "issues.opened"`
fn check_other(cx: &mut Ctxt, tokens: &TokenStream) -> bool {
    let text: String = tokens.to_string().split_whitespace().collect();
    let is_name = |part: &str| {
        part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let looks_like_spec = text == "*" || (text.split('.').count() <= 2 && text.split('.').all(is_name));
    if looks_like_spec {
        cx.error_spanned_by(tokens, format!("event specs are string literals; write \"{text}\""));
        return true;
    }
    if tokens.is_empty() {
        cx.error_at(Span::call_site(), "unexpected empty argument; remove the extra `,`");
        return false;
    }
    cx.error_spanned_by(
        tokens,
        "expected an event spec string such as \"issues.opened\", or a flag: `background`, \
         `retries = <n>` or `timeout = \"<duration>\"`",
    );
    false
}
