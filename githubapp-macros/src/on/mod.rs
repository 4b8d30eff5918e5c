//! `#[github::on("event.action", ..., background, retries = N, timeout = "30s")]`.
//!
//! [`ast`] reads the attribute arguments, [`valid`] checks them against the event catalog and
//! the function's shape, [`expand`] registers the handler; [`payload`] writes the message of
//! the typed-payload check rustc evaluates.

pub(crate) mod ast;
mod expand;
mod payload;
pub(crate) mod valid;

#[cfg(test)]
mod tests;

use crate::ctxt::{self, Ctxt};
use crate::signature;
use proc_macro2::TokenStream;

/// The attribute's name as users write it, for messages.
const ATTR: &str = "github::on";

/// Entry point: the expansion, or the user's function plus every error.
pub(crate) fn on(args: TokenStream, item: TokenStream) -> TokenStream {
    match try_on(&args, &item) {
        Ok(expanded) => expanded,
        Err(errors) => ctxt::item_with_errors(item, errors),
    }
}

fn try_on(args: &TokenStream, item: &TokenStream) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::new();
    let parsed = cx.ok(syn::parse2::<ast::OnArgs>(args.clone()));
    let func = signature::parse_fn(&mut cx, ATTR, item.clone());
    let handler = match (&parsed, &func) {
        (Some(parsed), Some(func)) => Some(valid::validate(&mut cx, parsed, args, func)),
        _ => None,
    };
    cx.check()?;
    match handler {
        Some(handler) => Ok(expand::expand(&handler, item)),
        // Unreachable: a missing piece always recorded an error. Fail soft all the same.
        None => Ok(item.clone()),
    }
}
