//! Parse + validate + expand tests for `#[github::task]`, asserting exact messages.

use super::{task, try_task};
use proc_macro2::TokenStream;
use quote::quote;

/// Every error message for `#[github::task(args)]` on `item`, in report order.
fn errors_on(args: TokenStream, item: TokenStream) -> Vec<String> {
    match try_task(&args, &item) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// Errors for `args` on a well-formed task.
fn errors(args: TokenStream) -> Vec<String> {
    errors_on(
        args,
        quote!(
            async fn sync(repo: String) {}
        ),
    )
}

fn one(message: &str) -> Vec<String> {
    vec![message.to_owned()]
}

#[test]
fn accepts_every_flag() {
    for args in [
        quote!(),
        quote!(retries = 0),
        quote!(retries = 100),
        quote!(timeout = "2m"),
        quote!(name = "sync-labels"),
        quote!(name = "billing/invoice.v2:send_mail"),
        quote!(retries = 5, timeout = "30s", name = "x",),
        quote!(queue = "slow"),
        quote!(queue = "emails_2"),
    ] {
        assert_eq!(errors(args.clone()), Vec::<String>::new(), "{args}");
    }
}

#[test]
fn rejects_bad_flags_with_the_fix() {
    assert_eq!(errors(quote!(retries = 101)), one("`retries` must be at most 100, got 101"));
    assert_eq!(errors(quote!(retry = 3)), one("unknown flag `retry`; did you mean `retries`?"));
    assert_eq!(errors(quote!(timout = "1s")), one("unknown flag `timout`; did you mean `timeout`?"));
    assert_eq!(
        errors(quote!(timeout = 30)),
        one("`timeout` expects a duration string with a unit; write `timeout = \"30s\"`")
    );
    assert_eq!(errors(quote!(background)), one("tasks always run on a worker; remove `background`"));
    assert_eq!(
        errors(quote!("issues.opened")),
        one("`#[github::task]` takes no event spec; to handle the webhook write \
             `#[github::on(\"issues.opened\")]`, and enqueue this task from there")
    );
    assert_eq!(errors(quote!(retries = 1, retries = 2)), one("duplicate flag `retries`"));
    assert_eq!(
        errors(quote!(queue = "Slow")),
        one("queue name `Slow` must be 1-16 of `a-z`, `0-9`, `_`, starting with a letter")
    );
    assert_eq!(
        errors(quote!(queue = "default")),
        one("`default` is the default queue; remove `queue = \"default\"`")
    );
    assert_eq!(errors(quote!(queue)), one("flag `queue` needs a value; write e.g. `queue = \"slow\"`"));
    assert_eq!(
        errors(quote!(42)),
        one("expected a flag: `retries = <n>`, `timeout = \"<duration>\"`, `name = \"<stable name>\"` or \
             `queue = \"<queue>\"`")
    );
}

#[test]
fn rejects_bad_names() {
    assert_eq!(errors(quote!(name = "")), one("task name cannot be empty"));
    assert_eq!(
        errors(quote!(name = "webhook:x")),
        one("task names cannot start with `webhook:` (reserved for background handlers)")
    );
    assert_eq!(
        errors(quote!(name = "sync labels")),
        one("task name cannot contain ' '; use letters, digits and `_ - . : /`, e.g. `sync-labels`")
    );
    assert_eq!(
        errors(quote!(name = sync)),
        one("`name` expects a string literal, e.g. `name = \"sync-labels\"`")
    );
    assert_eq!(errors(quote!(name)), one("flag `name` needs a value; write e.g. `name = \"sync-labels\"`"));
    let long = "x".repeat(201);
    assert_eq!(errors(quote!(name = #long)), one("task name is 201 bytes long; keep it to 200"));
}

#[test]
fn rejects_bad_functions_and_arguments_all_at_once() {
    assert_eq!(
        errors_on(
            quote!(retries = 1000),
            quote!(
                fn sync<T>(repo: &str, #[inject(x)] gh: Client) {}
            )
        ),
        vec![
            "`retries` must be at most 100, got 1000".to_owned(),
            "task must be an `async fn`; write `async fn sync`".to_owned(),
            "task cannot be generic; remove the generic parameters and use concrete types".to_owned(),
            "task arguments are stored in the queue and cannot borrow; take an owned type (`String` for \
             `&str`, `Vec<T>` for `&[T]`), or mark the argument `#[inject]` if the worker provides it"
                .to_owned(),
            "`#[inject]` takes no arguments; write `#[inject]`".to_owned(),
        ]
    );
    assert_eq!(
        errors_on(
            quote!(),
            quote!(
                async fn sync(
                    #[inject]
                    #[inject]
                    gh: Client,
                ) {
                }
            )
        ),
        one("duplicate `#[inject]`")
    );
    assert_eq!(
        errors_on(
            quote!(),
            quote!(
                async fn sync(&self) {}
            )
        ),
        one("task cannot take `self`; make it a free function")
    );
    assert_eq!(
        errors_on(
            quote!(),
            quote!(
                struct Sync;
            )
        ),
        one("`#[github::task]` can only be applied to an `async fn`")
    );
    assert_eq!(
        errors_on(
            quote!(),
            quote!(
                async fn sync(#[cfg(test)] n: u64) {}
            )
        ),
        one("task arguments cannot be `#[cfg]`-gated: `call` and `enqueue` take every argument; gate the \
             whole function instead")
    );
    // An injected reference is rustc's business (no `FromTask` for it), not ours.
    assert_eq!(
        errors_on(
            quote!(),
            quote!(
                async fn sync(#[inject] gh: &Client) {}
            )
        ),
        Vec::<String>::new()
    );
}

#[test]
fn fail_soft_output_keeps_the_function_without_inject_markers() {
    let out = task(
        quote!(retries = 1000),
        quote!(
            async fn sync(#[inject] gh: Client, n: u64) {}
        ),
    )
    .to_string();
    assert!(out.contains("async fn sync (gh : Client , n : u64)"), "{out}");
    assert!(!out.contains("inject"), "{out}");
    assert!(out.contains("compile_error"), "{out}");
}

#[test]
fn expansion_names_each_part() {
    let out = task(
        quote!(retries = 5, name = "post"),
        quote!(
            pub async fn post_summary(#[inject] gh: Client, (a, b): (u8, u8), tasks: u64) {}
        ),
    )
    .to_string();
    // The user's function, without the marker; the sibling module with the typed API.
    assert!(
        out.contains("pub async fn post_summary (gh : Client , (a , b) : (u8 , u8) , tasks : u64)"),
        "{out}"
    );
    assert!(out.contains("pub struct post_summary"), "{out}");
    assert!(out.contains("impl post_summary"), "{out}");
    assert!(out.contains("pub const NAME : & 'static str = \"post\""), "{out}");
    // A pattern argument is taken by position; `tasks` is taken, so the handle is renamed.
    assert!(out.contains("pub fn call (arg1 : (u8 , u8) , tasks : u64)"), "{out}");
    assert!(
        out.contains("pub async fn enqueue (__githubapp_tasks : & :: githubapp :: __private :: Tasks"),
        "{out}"
    );
    assert!(out.contains(":: core :: option :: Option :: Some (5u32)"), "{out}");
    assert!(out.contains("queue : :: core :: option :: Option :: None"), "{out}");
    assert!(out.contains("fn_name : \"post_summary\""), "{out}");
    // A pattern argument's positional name never collides with a user's `argN`.
    let out = task(
        quote!(),
        quote!(
            async fn t(arg1: u32, (a, b): (u8, u8)) {}
        ),
    )
    .to_string();
    assert!(out.contains("pub fn call (arg1 : u32 , __githubapp_arg1 : (u8 , u8))"), "{out}");
}
