//! Parsing of `#[github::on(...)]` arguments.
//!
//! Parsing never judges: every comma-separated argument becomes an [`OnArg`], and anything that
//! is neither a string literal nor a flag is kept as [`OnArg::Other`] for `valid` to explain.
//! That way one bad argument cannot hide the errors of the others.

use proc_macro2::{TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

/// All arguments of one `#[github::on(...)]`, in source order.
pub(crate) struct OnArgs {
    pub(crate) args: Vec<OnArg>,
}

/// One comma-separated argument.
pub(crate) enum OnArg {
    /// `"issues.opened"`, `"push"`, `"*"`.
    Spec(LitStr),
    /// `background`, `retries = 3`, `timeout = "30s"` (or a misspelling of them).
    Flag { name: Ident, value: Option<FlagValue> },
    /// Anything else, e.g. `issues.opened` without quotes or `3`.
    Other(TokenStream),
}

/// The `= value` part of a flag; the value is checked by `valid`.
pub(crate) struct FlagValue {
    pub(crate) eq_token: Token![=],
    /// Everything up to the next comma (empty for `retries =`).
    pub(crate) tokens: TokenStream,
}

// input:  "issues.opened", background, retries = 3, timeout = "30s"
// output: [Spec("issues.opened"), Flag(background), Flag(retries = 3), Flag(timeout = "30s")]
impl Parse for OnArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Vec::new();
        while !input.is_empty() {
            args.push(input.parse()?);
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(OnArgs { args })
    }
}

impl Parse for OnArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) && ends_after_one_token(input) {
            return Ok(OnArg::Spec(input.parse()?));
        }
        if input.peek(Ident::peek_any) {
            let fork = input.fork();
            Ident::parse_any(&fork)?;
            if fork.is_empty() || fork.peek(Token![,]) {
                let name = Ident::parse_any(input)?;
                return Ok(OnArg::Flag { name, value: None });
            }
            if fork.peek(Token![=]) {
                let name = Ident::parse_any(input)?;
                let eq_token = input.parse()?;
                let tokens = until_comma(input)?;
                return Ok(OnArg::Flag { name, value: Some(FlagValue { eq_token, tokens }) });
            }
        }
        Ok(OnArg::Other(until_comma(input)?))
    }
}

/// Whether the next argument is exactly one token tree (so `"a" + "b"` is not a spec).
fn ends_after_one_token(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    fork.parse::<TokenTree>().is_ok() && (fork.is_empty() || fork.peek(Token![,]))
}

/// Every token tree up to (not including) the next top-level comma.
fn until_comma(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    let mut tokens = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        tokens.extend([input.parse::<TokenTree>()?]);
    }
    Ok(tokens)
}
