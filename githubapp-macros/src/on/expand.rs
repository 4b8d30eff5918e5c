//! Expansion of a checked `#[github::on]` handler (only `quote!` here).

use super::payload::mismatch_message;
use super::valid::{Handler, Spec};
use crate::paths;
use crate::signature;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, LitStr, ReturnType, Signature};

// input:
//     #[github::on("issues.opened", background, retries = 3, timeout = "30s")]
//     async fn greet(event: IssuesEvent, gh: Client) -> Result<()> { body }
// output:
//     async fn greet(event: IssuesEvent, gh: Client) -> Result<()> { body }
//     const _: () = {
//         const _: () = assert!(accepts::<IssuesEvent>(&["issues"]), "<message>");   // per argument
//         const _: () = assert!(accepts::<Client>(&["issues"]), "<message>");
//         fn __githubapp_handler(ctx: HandlerContext) -> HandlerFuture {
//             Box::pin(async move {
//                 let arg0 = <IssuesEvent as FromDelivery>::from_delivery(&ctx).await?;
//                 let arg1 = <Client as FromDelivery>::from_delivery(&ctx).await?;
//                 let output = greet(arg0, arg1).await;
//                 IntoHandlerResult::into_handler_result(output)
//             })
//         }
//         inventory::submit! { HandlerDescriptor { name: "greet", ..., call: __githubapp_handler } }
//     };
pub(crate) fn expand(handler: &Handler<'_>, item: &TokenStream) -> TokenStream {
    let sig = &handler.func.sig;
    let cfgs = signature::cfg_attrs(handler.func);
    let handler_fn = format_ident!("__githubapp_handler", span = Span::mixed_site());
    let ctx = format_ident!("__githubapp_ctx", span = Span::mixed_site());
    let Arguments { checks, bindings, vars } = arguments(sig, &handler.events(), &ctx);

    // The conversion of the return value, spanned on the return type (or the name) so a
    // missing `IntoHandlerResult` lands there.
    let ident = &sig.ident;
    let result_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => ident.span(),
    };
    let into_handler_result = paths::into_handler_result(result_span);
    // Resolved at the call site (not mixed-site) on purpose: rustc reports a span whose
    // hygiene differs from its neighbours at the attribute instead of at the return type.
    // No user expression is ever placed in this block, so the name cannot be captured.
    let output = Ident::new("__githubapp_output", result_span);
    let call = quote_spanned! {result_span=>
        let #output = #ident(#(#vars),*).await;
        #into_handler_result::into_handler_result(#output)
    };
    // With no extractor the context is unused: bind it to `_` instead of warning.
    let ctx_pattern = if vars.is_empty() { quote!(_) } else { quote!(#ctx) };

    let span = Span::call_site();
    let handler_context = paths::handler_context(span);
    let handler_future = paths::handler_future(span);
    let boxed = paths::boxed(span);
    let submit = paths::submit(span);
    let descriptor = descriptor(handler, &handler_fn);

    quote! {
        #item

        #(#cfgs)*
        const _: () = {
            #(#checks)*

            fn #handler_fn(#ctx_pattern: #handler_context) -> #handler_future {
                #boxed::pin(async move {
                    #(#bindings)*
                    #call
                })
            }

            #submit! {
                #descriptor
            }
        };
    }
}

/// What each handler argument turns into.
struct Arguments {
    /// `const _: () = assert!(accepts::<T>(&[events]), "message");`
    checks: Vec<TokenStream>,
    /// `let __githubapp_argN = <T as FromDelivery>::from_delivery(&ctx).await?;`
    bindings: Vec<TokenStream>,
    /// `__githubapp_argN`, in order, for the call.
    vars: Vec<Ident>,
}

/// The payload check and the extraction of every argument, both spanned on the argument's
/// type so rustc's errors (failed assertion, missing `FromDelivery`) point at it. The user's
/// pattern stays in the user's signature: we bind the value to a hidden name and pass it on.
fn arguments(sig: &Signature, events: &[&str], ctx: &Ident) -> Arguments {
    let mut out = Arguments { checks: Vec::new(), bindings: Vec::new(), vars: Vec::new() };
    for (index, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(arg) = input else {
            continue; // `self` was rejected by validation
        };
        let ty = &*arg.ty;
        let span = ty.span();
        let var = format_ident!("__githubapp_arg{}", index, span = Span::mixed_site());
        // rustc reports a failed `const` assertion on the `assert!(..)` call: starting it on
        // the type's first token and closing its parentheses on the type's last token makes
        // the error underline the whole type (stable proc macros cannot join spans).
        let last = ty.to_token_stream().into_iter().last().map_or(span, |token| token.span());
        let assert = paths::assert(span);
        let accepts = paths::accepts(span);
        let message = LitStr::new(&escape_braces(&mismatch_message(ty, events)), span);
        let assert_args = quote_spanned!(last=> (#accepts::<#ty>(&[#(#events),*]), #message));
        out.checks.push(quote_spanned! {span=>
            const _: () = #assert! #assert_args;
        });
        let from_delivery = paths::from_delivery(span);
        out.bindings.push(quote_spanned! {span=>
            let #var = <#ty as #from_delivery>::from_delivery(&#ctx).await?;
        });
        out.vars.push(var);
    }
    out
}

/// The `HandlerDescriptor { .. }` literal handed to `inventory::submit!`.
fn descriptor(handler: &Handler<'_>, handler_fn: &Ident) -> TokenStream {
    let span = Span::call_site();
    let descriptor = paths::handler_descriptor(span);
    let module_path = paths::module_path(span);
    let file = paths::file(span);
    let line = paths::line(span);
    let name = signature::display_name(&handler.func.sig);
    let specs = handler.specs.iter().map(|spec| event_spec(*spec));
    let background = handler.background;
    let retries = paths::retries(handler.retries);
    let timeout = paths::timeout(handler.timeout_ms);
    let concat = paths::concat(span);
    let qualified = quote!(#concat!(#module_path!(), "::", #name));
    let task_name = quote!(#concat!("webhook:", #module_path!(), "::", #name));
    quote! {
        #descriptor {
            name: #name,
            module_path: #module_path!(),
            qualified_name: #qualified,
            task_name: #task_name,
            file: #file!(),
            line: #line!(),
            specs: &[#(#specs),*],
            background: #background,
            retries: #retries,
            timeout: #timeout,
            call: #handler_fn,
        }
    }
}

/// `EventSpec { event: "issues", action: Some("opened") }`; `"*"` has no action.
fn event_spec(spec: Spec) -> TokenStream {
    let event_spec = paths::event_spec(Span::call_site());
    let event = spec.event();
    let action = paths::option(spec.action().map(|action| quote!(#action)));
    quote!(#event_spec { event: #event, action: #action })
}

/// `assert!`'s message is a format string: literal braces must be doubled.
fn escape_braces(message: &str) -> String {
    message.replace('{', "{{").replace('}', "}}")
}
