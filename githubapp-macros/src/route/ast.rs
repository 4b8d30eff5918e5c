//! Parsing of route attribute arguments: comma-separated arguments, judged by `valid`.

use proc_macro2::{TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Token};

/// All arguments of one route attribute, in source order (exactly one path is valid).
pub(crate) struct RouteArgs {
    pub(crate) args: Vec<RouteArg>,
}

/// One comma-separated argument.
pub(crate) enum RouteArg {
    /// `"/health"`.
    Path(LitStr),
    /// Anything else.
    Other(TokenStream),
}

// input:  "/repos/{owner}"
// output: [Path("/repos/{owner}")]
impl Parse for RouteArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Vec::new();
        while !input.is_empty() {
            let mut tokens = TokenStream::new();
            while !input.is_empty() && !input.peek(Token![,]) {
                tokens.extend([input.parse::<TokenTree>()?]);
            }
            args.push(match syn::parse2::<LitStr>(tokens.clone()) {
                Ok(path) => RouteArg::Path(path),
                Err(_) => RouteArg::Other(tokens),
            });
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(RouteArgs { args })
    }
}
