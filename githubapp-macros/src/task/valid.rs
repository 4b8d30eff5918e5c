//! Validation of `#[github::task(...)]`: flags, the task name, the function and its arguments.
//!
//! Every check records into the shared [`Ctxt`] and carries on, so all problems are reported
//! together; the returned [`Task`] is only expanded when nothing was recorded.

use crate::ctxt::Ctxt;
use crate::lookup;
use crate::on::ast::{FlagValue, OnArg, OnArgs};
use crate::on::valid::{check_retries, check_timeout, flag_value_tokens};
use crate::signature;
use proc_macro2::Span;
use quote::format_ident;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Lit, LitStr, Meta, Pat, Type};

/// The flags `#[github::task]` knows, in the order they are documented.
const FLAGS: &[&str] = &["retries", "timeout", "name", "queue"];

/// Other names people reach for, mapped to our flag (only used to suggest).
const FLAG_ALIASES: &[(&str, &str)] = &[
    ("retry", "retries"),
    ("max_retries", "retries"),
    ("attempts", "retries"),
    ("deadline", "timeout"),
    ("time_limit", "timeout"),
    ("id", "name"),
    ("task_name", "name"),
    ("queue_name", "queue"),
    ("lane", "queue"),
];

/// Longest accepted `queue = "..."`.
const MAX_QUEUE_LEN: usize = 16;

/// Longest accepted `name = "..."`.
const MAX_NAME_LEN: usize = 200;

/// The marker attribute of injected arguments.
const INJECT: &str = "inject";

/// A checked task, ready to expand.
pub(crate) struct Task {
    /// The user's function without the `#[inject]` markers.
    pub(crate) func: ItemFn,
    /// `name = "..."`, if given.
    pub(crate) name: Option<LitStr>,
    /// `queue = "..."`, if given.
    pub(crate) queue: Option<LitStr>,
    pub(crate) retries: Option<u32>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) params: Vec<Param>,
}

/// One argument of the task function.
pub(crate) struct Param {
    pub(crate) ty: Type,
    /// `true`: extracted by `FromTask`; `false`: serialized when enqueued.
    pub(crate) inject: bool,
    /// The name `call` / `enqueue` take it by: the user's binding, or `argN` for a pattern.
    pub(crate) ident: Ident,
}

/// Checks everything; errors go to `cx`, the result is meaningful only if `cx` stays empty.
pub(crate) fn validate(cx: &mut Ctxt, args: &OnArgs, mut func: ItemFn) -> Task {
    let mut flags = Flags::default();
    for arg in &args.args {
        match arg {
            OnArg::Spec(lit) => cx.error_spanned_by(
                lit,
                format!(
                    "`#[github::task]` takes no event spec; to handle the webhook write \
                     `#[github::on({})]`, and enqueue this task from there",
                    quote::quote!(#lit)
                ),
            ),
            OnArg::Flag { name, value } => check_flag(cx, &mut flags, name, value.as_ref()),
            OnArg::Other(tokens) => {
                if tokens.is_empty() {
                    cx.error_at(Span::call_site(), "unexpected empty argument; remove the extra `,`");
                } else {
                    cx.error_spanned_by(tokens, format!("expected a flag: {EXPECTED_FLAGS}"));
                }
            }
        }
    }
    signature::check_fn(cx, &func.sig, "task");
    let params = check_params(cx, &mut func);
    Task {
        func,
        name: flags.name,
        queue: flags.queue,
        retries: flags.retries,
        timeout_ms: flags.timeout_ms,
        params,
    }
}

const EXPECTED_FLAGS: &str =
    "`retries = <n>`, `timeout = \"<duration>\"`, `name = \"<stable name>\"` or `queue = \"<queue>\"`";

/// The flags seen so far.
#[derive(Default)]
struct Flags {
    seen: Vec<&'static str>,
    retries: Option<u32>,
    timeout_ms: Option<u64>,
    name: Option<LitStr>,
    queue: Option<LitStr>,
}

// input:  retries = 1000
// output: error "`retries` must be at most 100, got 1000" on `1000`
fn check_flag(cx: &mut Ctxt, flags: &mut Flags, name: &Ident, value: Option<&FlagValue>) {
    let flag = name.unraw().to_string();
    if let Some(known) = FLAGS.iter().find(|known| **known == flag) {
        if flags.seen.contains(known) {
            cx.error_spanned_by(name, format!("duplicate flag `{known}`"));
        }
        flags.seen.push(known);
    }
    match flag.as_str() {
        "retries" => flags.retries = check_retries(cx, name, value),
        "timeout" => flags.timeout_ms = check_timeout(cx, name, value),
        "name" => flags.name = check_name(cx, name, value),
        "background" => {
            let tokens = match value {
                Some(value) => {
                    let mut tokens = quote::quote!(#name);
                    tokens.extend(flag_value_tokens(value));
                    tokens
                }
                None => quote::quote!(#name),
            };
            cx.error_spanned_by(tokens, "tasks always run on a worker; remove `background`");
        }
        "queue" => flags.queue = check_queue(cx, name, value),
        _ => {
            let alias = FLAG_ALIASES.iter().find(|(alias, _)| *alias == flag).map(|(_, flag)| *flag);
            let msg = match alias.or_else(|| lookup::suggest(&flag, FLAGS.iter().copied())) {
                Some(suggestion) => format!("unknown flag `{flag}`; did you mean `{suggestion}`?"),
                None => format!("unknown flag `{flag}`; expected {EXPECTED_FLAGS}"),
            };
            cx.error_spanned_by(name, msg);
        }
    }
}

/// `name = "sync-labels"`: the stable name tasks are stored under, so renaming or moving the
/// function does not strand queued tasks.
// input:  name = "webhook:x"
// output: error "task names cannot start with `webhook:` (reserved for background handlers)"
fn check_name(cx: &mut Ctxt, flag: &Ident, value: Option<&FlagValue>) -> Option<LitStr> {
    let Some(value) = value.filter(|value| !value.tokens.is_empty()) else {
        cx.error_spanned_by(flag, "flag `name` needs a value; write e.g. `name = \"sync-labels\"`");
        return None;
    };
    let Ok(Lit::Str(lit)) = syn::parse2::<Lit>(value.tokens.clone()) else {
        cx.error_spanned_by(&value.tokens, "`name` expects a string literal, e.g. `name = \"sync-labels\"`");
        return None;
    };
    let text = lit.value();
    let bad_char =
        text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/')));
    let problem = if text.is_empty() {
        Some("task name cannot be empty".to_owned())
    } else if text.len() > MAX_NAME_LEN {
        Some(format!("task name is {} bytes long; keep it to {MAX_NAME_LEN}", text.len()))
    } else if text.starts_with("webhook:") {
        Some("task names cannot start with `webhook:` (reserved for background handlers)".to_owned())
    } else {
        bad_char.map(|bad| {
            format!(
                "task name cannot contain {bad:?}; use letters, digits and `_ - . : /`, e.g. `sync-labels`"
            )
        })
    };
    match problem {
        Some(problem) => {
            cx.error_spanned_by(&lit, problem);
            None
        }
        None => Some(lit),
    }
}

/// `queue = "slow"`: a named queue, stored apart from the default one and served by its own
/// worker pool (`myapp worker --queue slow` serves only it).
// input:  queue = "Slow"
// output: error "queue name `Slow` must be 1-16 of `a-z`, `0-9`, `_`, starting with a letter"
fn check_queue(cx: &mut Ctxt, flag: &Ident, value: Option<&FlagValue>) -> Option<LitStr> {
    let Some(value) = value.filter(|value| !value.tokens.is_empty()) else {
        cx.error_spanned_by(flag, "flag `queue` needs a value; write e.g. `queue = \"slow\"`");
        return None;
    };
    let Ok(Lit::Str(lit)) = syn::parse2::<Lit>(value.tokens.clone()) else {
        cx.error_spanned_by(&value.tokens, "`queue` expects a string literal, e.g. `queue = \"slow\"`");
        return None;
    };
    let text = lit.value();
    let valid = text.len() <= MAX_QUEUE_LEN
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        cx.error_spanned_by(
            &lit,
            format!(
                "queue name `{text}` must be 1-{MAX_QUEUE_LEN} of `a-z`, `0-9`, `_`, starting with a letter"
            ),
        );
        return None;
    }
    if text == "default" {
        cx.error_spanned_by(&lit, "`default` is the default queue; remove `queue = \"default\"`");
        return None;
    }
    Some(lit)
}

/// Sorts the arguments into injected and serialized ones, removing the `#[inject]` markers.
fn check_params(cx: &mut Ctxt, func: &mut ItemFn) -> Vec<Param> {
    let mut params: Vec<(Type, bool, Option<Ident>)> = Vec::new();
    for input in &mut func.sig.inputs {
        let FnArg::Typed(arg) = input else {
            continue; // `self` was reported by `check_fn`
        };
        let mut inject = false;
        let mut kept = Vec::new();
        for attr in std::mem::take(&mut arg.attrs) {
            if attr.path().is_ident("cfg") {
                cx.error_spanned_by(
                    &attr,
                    "task arguments cannot be `#[cfg]`-gated: `call` and `enqueue` take every \
                     argument; gate the whole function instead",
                );
            }
            if !attr.path().is_ident(INJECT) {
                kept.push(attr);
                continue;
            }
            if !matches!(attr.meta, Meta::Path(_)) {
                cx.error_spanned_by(&attr, "`#[inject]` takes no arguments; write `#[inject]`");
            }
            if inject {
                cx.error_spanned_by(&attr, "duplicate `#[inject]`");
            }
            inject = true;
        }
        arg.attrs = kept;
        let ty = (*arg.ty).clone();
        if !inject && let Type::Reference(reference) = &ty {
            cx.error_at(
                reference.and_token.span(),
                "task arguments are stored in the queue and cannot borrow; take an owned type \
                 (`String` for `&str`, `Vec<T>` for `&[T]`), or mark the argument `#[inject]` \
                 if the worker provides it",
            );
        }
        let ident = match &*arg.pat {
            Pat::Ident(pat) if pat.subpat.is_none() => Some(pat.ident.clone()),
            _ => None,
        };
        params.push((ty, inject, ident));
    }
    // Arguments bound by a pattern are taken by position: `argN`, or `__githubapp_argN` if
    // the user already has an `argN`.
    let taken: Vec<String> =
        params.iter().filter_map(|(_, _, ident)| ident.as_ref().map(|i| i.to_string())).collect();
    params
        .into_iter()
        .enumerate()
        .map(|(index, (ty, inject, ident))| {
            let ident = ident.unwrap_or_else(|| {
                let plain = format_ident!("arg{}", index);
                if taken.contains(&plain.to_string()) {
                    format_ident!("__githubapp_arg{}", index)
                } else {
                    plain
                }
            });
            Param { ty, inject, ident }
        })
        .collect()
}

/// Removes `#[inject]` markers (for the fail-soft output, which rustc must still accept).
pub(crate) fn strip_inject(func: &mut ItemFn) {
    for input in &mut func.sig.inputs {
        if let FnArg::Typed(arg) = input {
            arg.attrs.retain(|attr| !attr.path().is_ident(INJECT));
        }
    }
}
