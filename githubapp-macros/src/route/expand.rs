//! Expansion of a checked route attribute (only `quote!` here).

use super::valid::Route;
use crate::paths;
use crate::signature;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

// input:
//     #[github::get("/health")]
//     async fn health() -> &'static str { "ok" }
// output:
//     async fn health() -> &'static str { "ok" }
//     const _: () = {
//         fn __githubapp_route(router: Router) -> Router {
//             router.route("/health", axum::routing::get(health))
//         }
//         inventory::submit! { RouteDescriptor { method: "GET", path: "/health", ..., register: __githubapp_route } }
//     };
pub(crate) fn expand(route: &Route<'_>, item: &TokenStream) -> TokenStream {
    let sig = &route.func.sig;
    let ident = &sig.ident;
    let name = signature::display_name(sig);
    let cfgs = signature::cfg_attrs(route.func);
    let path = &route.path;
    let method = route.method.name();
    let hidden = Span::mixed_site();
    let call_site = Span::call_site();
    let register = format_ident!("__githubapp_route", span = hidden);
    let router_var = format_ident!("__githubapp_router", span = hidden);

    // Spanned on the function's name: "the trait `Handler<_, _>` is not implemented" lands there.
    let routing = paths::routing(ident.span());
    let method_fn = Ident::new(route.method.routing_fn(), ident.span());
    let method_router = quote_spanned!(ident.span()=> #routing::#method_fn(#ident));

    let router = paths::router(call_site);
    let submit = paths::submit(call_site);
    let descriptor = paths::route_descriptor(call_site);
    let module_path = paths::module_path(call_site);
    let file = paths::file(call_site);
    let line = paths::line(call_site);

    quote! {
        #item

        #(#cfgs)*
        const _: () = {
            fn #register(#router_var: #router) -> #router {
                #router_var.route(#path, #method_router)
            }

            #submit! {
                #descriptor {
                    method: #method,
                    path: #path,
                    name: #name,
                    module_path: #module_path!(),
                    file: #file!(),
                    line: #line!(),
                    register: #register,
                }
            }
        };
    }
}
