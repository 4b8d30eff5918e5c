//! Error collection: every check reports into one [`Ctxt`] so the user sees all problems at once.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use std::fmt::Display;

/// Collects spanned errors during validation and combines them into one `syn::Error`.
///
/// The habit comes from `serde_derive`'s `Ctxt`: checks never return early on a user error, they
/// record it and keep going, and the caller asks [`Ctxt::check`] once at the end.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records an error covering the given tokens (first to last token).
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&mut self, tokens: T, msg: M) {
        self.errors.push(syn::Error::new_spanned(tokens.into_token_stream(), msg));
    }

    /// Records an error at one span.
    pub(crate) fn error_at<M: Display>(&mut self, span: Span, msg: M) {
        self.errors.push(syn::Error::new(span, msg));
    }

    /// Records an error produced by `syn` (a parse error).
    pub(crate) fn syn_error(&mut self, err: syn::Error) {
        self.errors.push(err);
    }

    /// Keeps the value of a `syn` result, recording its error instead.
    pub(crate) fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|err| self.syn_error(err)).ok()
    }

    /// `Ok` when nothing was recorded, otherwise every error combined, in the order recorded.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for rest in errors {
            combined.combine(rest);
        }
        Err(combined)
    }
}

/// Fail soft: the user's item, untouched, followed by the errors as `compile_error!`s.
///
/// Emitting the function keeps its callers, `use`s and IDE completions working, so the user
/// sees our error and not a cascade of "cannot find function" errors (tokio-macros does the
/// same).
// input:  #[github::on("isues")] async fn f() {}
// output: async fn f() {}  ::core::compile_error! { "unknown event \"isues\"; ..." }
pub(crate) fn item_with_errors(mut item: TokenStream, errors: syn::Error) -> TokenStream {
    item.extend(errors.into_compile_error());
    item
}
