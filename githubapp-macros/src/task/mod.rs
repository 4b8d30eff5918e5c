//! `#[github::task(retries = N, timeout = "2m", name = "...")]`.
//!
//! The attribute arguments are parsed by the same parser as `#[github::on]` (flags only here);
//! [`valid`] checks them and the function's arguments, [`expand`] registers the task and
//! writes the sibling module with its typed `call` / `enqueue`.

mod expand;
mod valid;

#[cfg(test)]
mod tests;

use crate::ctxt::{self, Ctxt};
use crate::on::ast::OnArgs;
use crate::signature;
use proc_macro2::TokenStream;

/// The attribute's name as users write it, for messages.
const ATTR: &str = "github::task";

/// Entry point: the expansion, or the user's function (without `#[inject]`) plus every error.
pub(crate) fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    match try_task(&args, &item) {
        Ok(expanded) => expanded,
        Err(errors) => {
            // Fail soft: `#[inject]` is not an attribute rustc knows, so it must go.
            let item = match syn::parse2::<syn::ItemFn>(item.clone()) {
                Ok(mut func) => {
                    valid::strip_inject(&mut func);
                    quote::quote!(#func)
                }
                Err(_) => item,
            };
            ctxt::item_with_errors(item, errors)
        }
    }
}

fn try_task(args: &TokenStream, item: &TokenStream) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::new();
    let parsed = cx.ok(syn::parse2::<OnArgs>(args.clone()));
    let func = signature::parse_fn(&mut cx, ATTR, item.clone());
    let task = match (&parsed, func) {
        (Some(parsed), Some(func)) => Some(valid::validate(&mut cx, parsed, func)),
        _ => None,
    };
    cx.check()?;
    match task {
        Some(task) => Ok(expand::expand(&task)),
        None => Ok(item.clone()),
    }
}
