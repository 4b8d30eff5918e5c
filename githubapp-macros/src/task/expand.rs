//! Expansion of a checked `#[github::task]` (only `quote!` here).

use super::valid::{Param, Task};
use crate::paths;
use crate::signature;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ReturnType;
use syn::spanned::Spanned;

// input:
//     #[github::task(retries = 5)]
//     pub async fn post_summary(#[inject] gh: Client, repo: String, number: u64) -> Result<()> { body }
// output:
//     pub async fn post_summary(gh: Client, repo: String, number: u64) -> Result<()> { body }
//     /// Enqueues the `post_summary` task ...
//     pub struct post_summary { __githubapp_private: () }
//     impl post_summary {
//         pub const NAME: &'static str = concat!(module_path!(), "::post_summary");
//         pub fn call(repo: String, number: u64) -> TaskCall {
//             TaskCall::__new(Self::NAME, Some(5), None, [<String as TaskArgument>::__encode(&repo), ...])
//         }
//         pub async fn enqueue(tasks: &Tasks, repo: String, number: u64) -> Result<Enqueued, Error> {
//             Self::call(repo, number).enqueue(tasks).await
//         }
//         pub fn __run(ctx: TaskContext) -> HandlerFuture {
//             Box::pin(async move {
//                 let mut args = ctx.__args(2)?;
//                 let arg0 = <Client as FromTask>::from_task(&ctx).await?;
//                 let arg1 = <String as TaskArgument>::__decode_next(&mut args, "repo", &ctx)?;
//                 let arg2 = <u64 as TaskArgument>::__decode_next(&mut args, "number", &ctx)?;
//                 IntoHandlerResult::into_handler_result(post_summary(arg0, arg1, arg2).await)
//             })
//         }
//     }
//     const _: () = { inventory::submit! { TaskDescriptor { name: post_summary::NAME, ..., call: post_summary::__run } } };
pub(crate) fn expand(task: &Task) -> TokenStream {
    let func = &task.func;
    let sig = &func.sig;
    let ident = &sig.ident;
    let vis = &func.vis;
    let display = signature::display_name(sig);
    let cfgs = signature::cfg_attrs(func);
    let call_site = Span::call_site();
    let hidden = Span::mixed_site();

    let task_call = paths::task_call(call_site);
    let tasks = paths::tasks(call_site);
    let enqueued = paths::enqueued(call_site);
    let error = paths::error(call_site);
    let result = paths::result(call_site);
    let boxed = paths::boxed(call_site);
    let task_context = paths::task_context(call_site);
    let handler_future = paths::handler_future(call_site);

    let name = match &task.name {
        Some(lit) => quote!(#lit),
        None => {
            let module_path = paths::module_path(call_site);
            let concat = paths::concat(call_site);
            let suffix = format!("::{display}");
            quote!(#concat!(#module_path!(), #suffix))
        }
    };
    let retries = paths::retries(task.retries);
    let queue = paths::option(task.queue.as_ref().map(|lit| quote!(#lit)));

    let serialized: Vec<&Param> = task.params.iter().filter(|p| !p.inject).collect();
    let names: Vec<&Ident> = serialized.iter().map(|p| &p.ident).collect();
    let types: Vec<&syn::Type> = serialized.iter().map(|p| &p.ty).collect();
    let encodes = serialized.iter().map(|p| {
        let (ty, ident) = (&p.ty, &p.ident);
        let task_argument = paths::task_argument(ty.span());
        quote_spanned!(ty.span()=> <#ty as #task_argument>::__encode(&#ident))
    });
    // `enqueue(tasks, ...)` unless an argument is called `tasks` already.
    let tasks_var = if names.iter().any(|n| *n == "tasks") {
        format_ident!("__githubapp_tasks")
    } else {
        format_ident!("tasks")
    };

    let ctx = format_ident!("__githubapp_ctx", span = hidden);
    let args = format_ident!("__githubapp_args", span = hidden);
    let count = serialized.len();
    let mut bindings = Vec::new();
    let mut vars = Vec::new();
    for (index, param) in task.params.iter().enumerate() {
        let ty = &param.ty;
        let span = ty.span();
        let var = format_ident!("__githubapp_arg{}", index, span = hidden);
        if param.inject {
            let from_task = paths::from_task(span);
            bindings.push(quote_spanned! {span=>
                let #var = <#ty as #from_task>::from_task(&#ctx).await?;
            });
        } else {
            let task_argument = paths::task_argument(span);
            let label = param.ident.to_string();
            bindings.push(quote_spanned! {span=>
                let #var = <#ty as #task_argument>::__decode_next(&mut #args, #label, &#ctx)?;
            });
        }
        vars.push(var);
    }
    let result_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => ident.span(),
    };
    let into_handler_result = paths::into_handler_result(result_span);
    let output = Ident::new("__githubapp_output", result_span);
    let call_user = quote_spanned! {result_span=>
        let #output = #ident(#(#vars),*).await;
        #into_handler_result::into_handler_result(#output)
    };
    let args_binding =
        if count == 0 { quote!(#ctx.__args(0)?;) } else { quote!(let mut #args = #ctx.__args(#count)?;) };

    let descriptor = descriptor(task, ident, &display, &retries, &queue);
    let submit = paths::submit(call_site);
    let type_doc = format!(
        "Enqueues the [`{display}`](fn@{display}) task: `{display}::enqueue(&tasks, ...)`, or \
         `{display}::call(...)` to set a delay, an idempotency key or an installation first."
    );
    let private = format_ident!("__githubapp_private", span = hidden);

    // A braced struct lives in the type namespace only, so it can share the function's name:
    // `post_summary(..)` is the function, `post_summary::enqueue(..)` its associated function.
    // (A module would need `use super::*`, which fails for tasks declared inside a function.)
    quote! {
        #func

        #(#cfgs)*
        #[doc = #type_doc]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {
            #private: (),
        }

        #(#cfgs)*
        #[allow(dead_code, clippy::too_many_arguments)]
        impl #ident {
            /// The name this task is queued under.
            pub const NAME: &'static str = #name;

            /// One call of the task with these arguments; set options, then `.enqueue(&tasks)`.
            pub fn call(#(#names: #types),*) -> #task_call {
                #task_call::__new(Self::NAME, #retries, #queue, [#(#encodes),*])
            }

            /// Enqueues the task with these arguments, for the installation `tasks` acts for.
            pub async fn enqueue(#tasks_var: &#tasks, #(#names: #types),*) -> #result<#enqueued, #error> {
                Self::call(#(#names),*).enqueue(#tasks_var).await
            }

            #[doc(hidden)]
            pub fn __run(#ctx: #task_context) -> #handler_future {
                #boxed::pin(async move {
                    #args_binding
                    #(#bindings)*
                    #call_user
                })
            }
        }

        #(#cfgs)*
        const _: () = {
            #submit! {
                #descriptor
            }
        };
    }
}

/// The `TaskDescriptor { .. }` literal handed to `inventory::submit!`.
fn descriptor(
    task: &Task,
    ident: &Ident,
    display: &str,
    retries: &TokenStream,
    queue: &TokenStream,
) -> TokenStream {
    let span = Span::call_site();
    let descriptor = paths::task_descriptor(span);
    let module_path = paths::module_path(span);
    let file = paths::file(span);
    let line = paths::line(span);
    let timeout = paths::timeout(task.timeout_ms);
    quote! {
        #descriptor {
            name: #ident::NAME,
            fn_name: #display,
            module_path: #module_path!(),
            file: #file!(),
            line: #line!(),
            retries: #retries,
            timeout: #timeout,
            queue: #queue,
            call: #ident::__run,
        }
    }
}
