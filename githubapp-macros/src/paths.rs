//! The one table of paths generated code names (Rocket's `exports.rs` habit).
//!
//! Generated code refers only to `::githubapp::__private::…` and `::core::…`, so user crates
//! never need `inventory`, `axum` or `serde` in their own `Cargo.toml`. Every path takes the
//! span it is emitted at, so a trait or type error lands on the user's token.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

macro_rules! paths {
    ($($(#[$doc:meta])* $name:ident => [$($path:tt)+])+) => {
        $(
            $(#[$doc])*
            pub(crate) fn $name(span: Span) -> TokenStream {
                quote_spanned!(span=> $($path)+)
            }
        )+
    };
}

paths! {
    /// `inventory::submit!` re-exported by the runtime.
    submit => [::githubapp::__private::inventory::submit]
    /// `Box` (the `Box::pin` of a handler future).
    boxed => [::githubapp::__private::Box]
    /// The per-delivery context handed to extractors.
    handler_context => [::githubapp::__private::HandlerContext]
    /// `Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>`.
    handler_future => [::githubapp::__private::HandlerFuture]
    /// The extractor trait of handler arguments.
    from_delivery => [::githubapp::__private::FromDelivery]
    /// `const fn accepts::<T>(events) -> bool`: is `T` a payload every listed event produces.
    accepts => [::githubapp::__private::accepts]
    /// Turns a handler's return value into `Result<(), Error>`.
    into_handler_result => [::githubapp::__private::IntoHandlerResult]
    /// One `event` / `event.action` / `"*"` spec of a handler.
    event_spec => [::githubapp::__private::EventSpec]
    /// The registration record of a webhook handler.
    handler_descriptor => [::githubapp::__private::HandlerDescriptor]
    /// `axum::Router<AppContext>`.
    router => [::githubapp::__private::Router]
    /// `axum::routing` (method routers `get`, `post`, ...).
    routing => [::githubapp::__private::axum::routing]
    /// The registration record of an HTTP route.
    route_descriptor => [::githubapp::__private::RouteDescriptor]
    /// One call of a task, ready to enqueue.
    task_call => [::githubapp::__private::TaskCall]
    /// The queue handle tasks are enqueued through.
    tasks => [::githubapp::__private::Tasks]
    /// What enqueueing did.
    enqueued => [::githubapp::__private::Enqueued]
    /// The runtime's error type.
    error => [::githubapp::__private::Error]
    /// `Result`.
    result => [::core::result::Result]
    /// The trait of serialized task arguments (`__encode`, `__decode_next`).
    task_argument => [::githubapp::__private::TaskArgument]
    /// The extractor trait of injected task arguments.
    from_task => [::githubapp::__private::FromTask]
    /// What a running task's wrapper is given.
    task_context => [::githubapp::__private::TaskContext]
    /// The registration record of a task.
    task_descriptor => [::githubapp::__private::TaskDescriptor]
    /// `Option::Some`.
    some => [::core::option::Option::Some]
    /// `Option::None`.
    none => [::core::option::Option::None]
    /// `Duration` (built with the `const fn from_millis`).
    duration => [::core::time::Duration]
    /// `module_path!`.
    module_path => [::core::module_path]
    /// `file!`.
    file => [::core::file]
    /// `concat!`.
    concat => [::core::concat]
    /// `line!`.
    line => [::core::line]
    /// `assert!` (evaluated by rustc inside a `const`).
    assert => [::core::assert]
}

/// `::core::option::Option::Some(value)` or `::core::option::Option::None`.
pub(crate) fn option(value: Option<TokenStream>) -> TokenStream {
    let span = Span::call_site();
    match value {
        Some(value) => {
            let some = some(span);
            quote::quote!(#some(#value))
        }
        None => none(span),
    }
}

/// `retries = N` as an `Option<u32>` expression.
pub(crate) fn retries(value: Option<u32>) -> TokenStream {
    option(value.map(|retries| {
        let retries = proc_macro2::Literal::u32_suffixed(retries);
        quote::quote!(#retries)
    }))
}

/// `timeout = "..."` (in milliseconds) as an `Option<Duration>` expression.
pub(crate) fn timeout(millis: Option<u64>) -> TokenStream {
    option(millis.map(|millis| {
        let duration = duration(Span::call_site());
        let millis = proc_macro2::Literal::u64_suffixed(millis);
        quote::quote!(#duration::from_millis(#millis))
    }))
}
