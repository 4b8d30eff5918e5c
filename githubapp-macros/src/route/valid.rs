//! Validation of route attributes: one path literal in axum 0.8 syntax, and the function.

use super::Method;
use super::ast::{RouteArg, RouteArgs};
use crate::ctxt::Ctxt;
use crate::signature;
use proc_macro2::Span;
use syn::{ItemFn, LitStr};

/// A checked route, ready to expand.
pub(crate) struct Route<'a> {
    pub(crate) method: Method,
    pub(crate) path: LitStr,
    pub(crate) func: &'a ItemFn,
}

/// Checks everything; errors go to `cx`, the result is meaningful only if `cx` stays empty.
pub(crate) fn validate<'a>(
    cx: &mut Ctxt,
    method: Method,
    args: &RouteArgs,
    func: &'a ItemFn,
) -> Option<Route<'a>> {
    let attr = method.attr();
    let mut path = None;
    for arg in &args.args {
        match arg {
            RouteArg::Path(lit) if path.is_none() => {
                for msg in path_errors(&lit.value()) {
                    cx.error_spanned_by(lit, msg);
                }
                path = Some(lit.clone());
            }
            RouteArg::Path(lit) => cx.error_spanned_by(
                lit,
                format!("`#[{attr}]` takes exactly one path; register another function for another path"),
            ),
            RouteArg::Other(tokens) if tokens.is_empty() => {
                cx.error_at(Span::call_site(), "unexpected empty argument; remove the extra `,`");
            }
            RouteArg::Other(tokens) => cx.error_spanned_by(
                tokens,
                format!("expected the route path as a string literal, e.g. `#[{attr}(\"/health\")]`"),
            ),
        }
    }
    if args.args.is_empty() {
        cx.error_at(Span::call_site(), format!("missing route path; write e.g. `#[{attr}(\"/health\")]`"));
    }
    signature::check_handler(cx, &func.sig);
    Some(Route { method, path: path?, func })
}

/// Every problem with a route path, in axum 0.8 (matchit 0.8) syntax.
// input:  "/users/:id/files/*path"
// output: [`route parameter ":id" uses the axum 0.7 syntax; write "{id}"`,
//          `wildcard "*path" uses the axum 0.7 syntax; write "{*path}"`]
pub(crate) fn path_errors(path: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if !path.starts_with('/') {
        errors.push(format!(
            "route path must start with `/`; did you mean \"/{}\"?",
            path.trim_start_matches('/')
        ));
        return errors;
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (index, segment) in segments.iter().enumerate() {
        if let Some(name) = segment.strip_prefix(':') {
            let name = if name.is_empty() { "id" } else { name };
            errors.push(format!(
                "route parameter \"{segment}\" uses the axum 0.7 syntax; write \"{{{name}}}\""
            ));
            continue;
        }
        if let Some(name) = segment.strip_prefix('*') {
            let name = if name.is_empty() { "rest" } else { name };
            errors.push(format!("wildcard \"{segment}\" uses the axum 0.7 syntax; write \"{{*{name}}}\""));
            continue;
        }
        if let Some(error) = brace_error(path, segment) {
            errors.push(error);
            continue;
        }
        if segment.starts_with("{*") && index + 1 != segments.len() {
            errors.push(format!("wildcard \"{segment}\" must be the last segment of the route path"));
        }
    }
    errors
}

/// Unbalanced or empty `{}` in one segment (`{{` and `}}` are escaped literal braces).
fn brace_error(path: &str, segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut open: Option<usize> = None;
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match (byte, open) {
            (b'{', None) if bytes.get(index + 1) == Some(&b'{') => index += 1,
            (b'}', None) if bytes.get(index + 1) == Some(&b'}') => index += 1,
            (b'{', None) => open = Some(index),
            (b'{', Some(_)) => {
                return Some(format!(
                    "unbalanced `{{` in route path \"{path}\"; write parameters as \"{{name}}\""
                ));
            }
            (b'}', None) => {
                return Some(format!(
                    "unbalanced `}}` in route path \"{path}\"; write parameters as \"{{name}}\""
                ));
            }
            (b'}', Some(start)) => {
                let name = &segment[start + 1..index];
                if name.is_empty() || name == "*" {
                    return Some(format!(
                        "empty parameter name in route path \"{path}\"; name it, e.g. \"{{id}}\""
                    ));
                }
                open = None;
            }
            _ => {}
        }
        index += 1;
    }
    open.map(|_| format!("unbalanced `{{` in route path \"{path}\"; write parameters as \"{{name}}\""))
}
