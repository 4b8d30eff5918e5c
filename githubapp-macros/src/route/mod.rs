//! `#[github::get("/path")]`, `post`, `put`, `patch`, `delete`: HTTP routes served next to the
//! webhook endpoint.
//!
//! [`ast`] reads the path argument, [`valid`] checks the path syntax (axum 0.8) and the
//! function's shape, [`expand`] registers the route.

mod ast;
mod expand;
mod valid;

#[cfg(test)]
mod tests;

use crate::ctxt::{self, Ctxt};
use crate::signature;
use proc_macro2::TokenStream;

/// The HTTP method of a route attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The attribute's name as users write it, e.g. `github::get`.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Method::Get => "github::get",
            Method::Post => "github::post",
            Method::Put => "github::put",
            Method::Patch => "github::patch",
            Method::Delete => "github::delete",
        }
    }

    /// The method as registered, e.g. `GET`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// The `axum::routing` function building the method router, e.g. `get`.
    pub(crate) fn routing_fn(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }
}

/// Entry point: the expansion, or the user's function plus every error.
pub(crate) fn route(method: Method, args: TokenStream, item: TokenStream) -> TokenStream {
    match try_route(method, args, &item) {
        Ok(expanded) => expanded,
        Err(errors) => ctxt::item_with_errors(item, errors),
    }
}

fn try_route(method: Method, args: TokenStream, item: &TokenStream) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::new();
    let parsed = cx.ok(syn::parse2::<ast::RouteArgs>(args));
    let func = signature::parse_fn(&mut cx, method.attr(), item.clone());
    let route = match (&parsed, &func) {
        (Some(parsed), Some(func)) => valid::validate(&mut cx, method, parsed, func),
        _ => None,
    };
    cx.check()?;
    match route {
        Some(route) => Ok(expand::expand(&route, item)),
        // Unreachable: a missing piece always recorded an error. Fail soft all the same.
        None => Ok(item.clone()),
    }
}
