//! Parse + validate + expand tests for `#[github::on]`, asserting exact messages.

use super::payload::{mismatch_message, type_text};
use super::{on, try_on};
use proc_macro2::TokenStream;
use quote::quote;

/// Every error message for `#[github::on(args)]` on `item`, in report order.
fn errors_on(args: TokenStream, item: TokenStream) -> Vec<String> {
    match try_on(&args, &item) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// Errors for `args` on a well-formed handler.
fn errors(args: TokenStream) -> Vec<String> {
    errors_on(
        args,
        quote!(
            async fn handler(payload: Value) {}
        ),
    )
}

fn one(message: &str) -> Vec<String> {
    vec![message.to_owned()]
}

#[test]
fn accepts_every_spec_form() {
    for args in [
        quote!("issues"),
        quote!("issues.opened"),
        quote!("*"),
        quote!("push"),
        quote!("issues.opened", "issues.reopened"),
        quote!("issues.opened", "pull_request"),
        quote!("issues", "pull_request.closed", "push",),
        quote!("workflow_run.completed"),
        quote!("branch_protection_configuration.enabled"),
    ] {
        assert_eq!(errors(args.clone()), Vec::<String>::new(), "{args}");
    }
}

#[test]
fn accepts_every_flag() {
    for args in [
        quote!("push", background),
        quote!("push", background, retries = 0),
        quote!("push", background, retries = 100),
        quote!("push", retries = 3u32, background),
        quote!("push", timeout = "500ms"),
        quote!("push", timeout = "30s"),
        quote!("push", timeout = "5m"),
        quote!("push", timeout = "1h"),
        quote!(background, "push", retries = 3, timeout = "30s"),
        quote!("issues.opened", "issues.reopened", background, retries = 3, timeout = "30s"),
    ] {
        assert_eq!(errors(args.clone()), Vec::<String>::new(), "{args}");
    }
}

#[test]
fn unknown_event() {
    assert_eq!(errors(quote!("isues")), one("unknown event \"isues\"; did you mean \"issues\"?"));
    assert_eq!(errors(quote!("isues.opened")), one("unknown event \"isues\"; did you mean \"issues\"?"));
    assert_eq!(
        errors(quote!("pull-request")),
        one("unknown event \"pull-request\"; did you mean \"pull_request\"?")
    );
    assert_eq!(errors(quote!("Push")), one("unknown event \"Push\"; did you mean \"push\"?"));
    assert_eq!(
        errors(quote!("frobnicate")),
        one("unknown event \"frobnicate\"; expected a GitHub webhook event such as \"issues\", \
             \"pull_request\" or \"push\"")
    );
}

#[test]
fn unknown_event_with_wrong_separator() {
    assert_eq!(
        errors(quote!("issues:opened")),
        one("unknown event \"issues:opened\"; did you mean \"issues.opened\"?")
    );
    assert_eq!(
        errors(quote!("issues/opened")),
        one("unknown event \"issues/opened\"; did you mean \"issues.opened\"?")
    );
    assert_eq!(
        errors(quote!("pull_request_opened")),
        one("unknown event \"pull_request_opened\"; did you mean \"pull_request.opened\"?")
    );
}

#[test]
fn unknown_action() {
    assert_eq!(
        errors(quote!("issues.opend")),
        one("unknown action \"opend\" for event \"issues\"; did you mean \"opened\"?")
    );
    assert_eq!(
        errors(quote!("discussion_comment.removed")),
        one("unknown action \"removed\" for event \"discussion_comment\"; expected \"created\", \
             \"deleted\" or \"edited\"")
    );
    assert_eq!(
        errors(quote!("check_suite.started")),
        one("unknown action \"started\" for event \"check_suite\"; expected \"completed\", \
             \"requested\" or \"rerequested\"")
    );
    assert_eq!(
        errors(quote!("commit_comment.deleted")),
        one("unknown action \"deleted\" for event \"commit_comment\"; expected \"created\"")
    );
    assert_eq!(
        errors(quote!("issues.*")),
        one("invalid event spec \"issues.*\"; use \"issues\" to handle every action")
    );
}

#[test]
fn action_on_actionless_event() {
    assert_eq!(errors(quote!("push.opened")), one("event \"push\" has no actions; use \"push\""));
    assert_eq!(errors(quote!("ping.created")), one("event \"ping\" has no actions; use \"ping\""));
}

#[test]
fn malformed_specs() {
    let invalid =
        |spec: &str| format!("invalid event spec \"{spec}\"; write \"event\", \"event.action\" or \"*\"");
    assert_eq!(errors(quote!("")), one(&invalid("")));
    assert_eq!(errors(quote!(".opened")), one(&invalid(".opened")));
    assert_eq!(errors(quote!("issues.")), one(&invalid("issues.")));
    assert_eq!(errors(quote!("issues.opened.x")), one(&invalid("issues.opened.x")));
    assert_eq!(errors(quote!("*.opened")), one("\"*\" matches every event and takes no action; use \"*\""));
}

#[test]
fn duplicate_and_redundant_specs() {
    assert_eq!(
        errors(quote!("issues.opened", "issues.opened")),
        one("duplicate event spec \"issues.opened\"")
    );
    assert_eq!(errors(quote!("push", "push")), one("duplicate event spec \"push\""));
    assert_eq!(errors(quote!("*", "*")), one("duplicate event spec \"*\""));
    let redundant_action =
        one("event spec \"issues.opened\" is redundant: \"issues\" already matches every action; \
         remove one of them");
    assert_eq!(errors(quote!("issues", "issues.opened")), redundant_action);
    assert_eq!(errors(quote!("issues.opened", "issues")), redundant_action);
    assert_eq!(
        errors(quote!("*", "push")),
        one("event spec \"push\" is redundant: \"*\" already matches every event; remove one of \
             them")
    );
    assert_eq!(
        errors(quote!("issues.opened", "*", "pull_request")),
        vec![
            "event spec \"issues.opened\" is redundant: \"*\" already matches every event; \
             remove one of them"
                .to_owned(),
            "event spec \"pull_request\" is redundant: \"*\" already matches every event; \
             remove one of them"
                .to_owned(),
        ]
    );
}

#[test]
fn missing_spec() {
    let missing = "missing event spec; write e.g. `#[github::on(\"issues.opened\")]`, \
                   `#[github::on(\"push\")]` or `#[github::on(\"*\")]`";
    assert_eq!(errors(quote!()), one(missing));
    assert_eq!(errors(quote!(background)), one(missing));
    assert_eq!(errors(quote!(retries = 3, background, timeout = "1s")), one(missing));
}

#[test]
fn unquoted_specs() {
    assert_eq!(
        errors(quote!(issues.opened)),
        one("event specs are string literals; write \"issues.opened\"")
    );
    assert_eq!(errors(quote!(push)), one("event specs are string literals; write \"push\""));
    assert_eq!(errors(quote!(*)), one("event specs are string literals; write \"*\""));
    let expected = "expected an event spec string such as \"issues.opened\", or a flag: \
                    `background`, `retries = <n>` or `timeout = \"<duration>\"`";
    assert_eq!(errors(quote!("push", 3)), one(expected));
    assert_eq!(errors(quote!("push", "a" "b")), one(expected));
    assert_eq!(errors(quote!("push",, background)), one("unexpected empty argument; remove the extra `,`"));
}

#[test]
fn unknown_flags() {
    assert_eq!(
        errors(quote!("push", backgroud)),
        one("unknown flag `backgroud`; did you mean `background`?")
    );
    assert_eq!(errors(quote!("push", retry = 3)), one("unknown flag `retry`; did you mean `retries`?"));
    assert_eq!(errors(quote!("push", timout = "1s")), one("unknown flag `timout`; did you mean `timeout`?"));
    assert_eq!(
        errors(quote!("push", priority = 1)),
        one("unknown flag `priority`; expected `background`, `retries = <n>` or \
             `timeout = \"<duration>\"`")
    );
    assert_eq!(
        errors(quote!("push", async)),
        one("unknown flag `async`; expected `background`, `retries = <n>` or \
             `timeout = \"<duration>\"`")
    );
}

#[test]
fn repeated_flags() {
    assert_eq!(errors(quote!("push", background, background)), one("duplicate flag `background`"));
    assert_eq!(errors(quote!("push", background, retries = 1, retries = 2)), one("duplicate flag `retries`"));
    assert_eq!(errors(quote!("push", timeout = "1s", timeout = "2s")), one("duplicate flag `timeout`"));
}

#[test]
fn retries_need_background() {
    let msg = "`retries` applies to background handlers only (a foreground handler runs once, and \
               GitHub's \"Redeliver\" runs it again); add `background`, or remove `retries`";
    assert_eq!(errors(quote!("push", retries = 3)), one(msg));
    assert_eq!(errors(quote!(retries = 0, "push", timeout = "1s")), one(msg));
    // A bad value is reported alone, not also as a foreground `retries`.
    assert_eq!(errors(quote!("push", retries = 101)), one("`retries` must be at most 100, got 101"));
}

#[test]
fn bad_flag_values() {
    assert_eq!(
        errors(quote!("push", background = true)),
        one("flag `background` takes no value; write `background`")
    );
    assert_eq!(
        errors(quote!("push", retries)),
        one("flag `retries` needs a value; write e.g. `retries = 3`")
    );
    assert_eq!(
        errors(quote!("push", retries =)),
        one("flag `retries` needs a value; write e.g. `retries = 3`")
    );
    let not_int = "`retries` expects an integer literal from 0 to 100, e.g. `retries = 3`";
    assert_eq!(errors(quote!("push", retries = "3")), one(not_int));
    assert_eq!(errors(quote!("push", retries = 1.5)), one(not_int));
    assert_eq!(errors(quote!("push", retries = -1)), one(not_int));
    assert_eq!(errors(quote!("push", retries = N)), one(not_int));
    assert_eq!(errors(quote!("push", retries = 101)), one("`retries` must be at most 100, got 101"));
    assert_eq!(
        errors(quote!("push", retries = 99999999999999999999999)),
        one("`retries` must be at most 100, got 99999999999999999999999")
    );
    assert_eq!(
        errors(quote!("push", timeout)),
        one("flag `timeout` needs a value; write e.g. `timeout = \"30s\"`")
    );
    assert_eq!(
        errors(quote!("push", timeout = 30)),
        one("`timeout` expects a duration string with a unit; write `timeout = \"30s\"`")
    );
    assert_eq!(
        errors(quote!("push", timeout = SECS)),
        one("`timeout` expects a duration string, e.g. `timeout = \"30s\"`")
    );
    assert_eq!(errors(quote!("push", timeout = "0s")), one("duration \"0s\" must be greater than zero"));
    assert_eq!(
        errors(quote!("push", timeout = "30")),
        one("duration \"30\" has no unit; did you mean \"30s\"?")
    );
    assert_eq!(
        errors(quote!("push", timeout = "30sec")),
        one("unknown unit \"sec\" in duration \"30sec\"; did you mean \"30s\"?")
    );
    assert_eq!(
        errors(quote!("push", timeout = "soon")),
        one("invalid duration \"soon\"; write a whole number followed by `ms`, `s`, `m` or `h`, \
             e.g. \"30s\"")
    );
}

#[test]
fn function_shape() {
    let errors_fn = |item: TokenStream| errors_on(quote!("push"), item);
    assert_eq!(
        errors_fn(quote!(
            fn handler(payload: Value) {}
        )),
        one("handler must be an `async fn`; write `async fn handler`")
    );
    assert_eq!(
        errors_fn(quote!(
            async fn handler<T: FromDelivery>(payload: T) {}
        )),
        one("handler cannot be generic; remove the generic parameters and use concrete types")
    );
    assert_eq!(
        errors_fn(quote!(
            async fn handler<'a>(payload: &'a str) {}
        )),
        one("handler cannot be generic; remove the generic parameters and use concrete types")
    );
    assert_eq!(
        errors_fn(quote!(
            async fn handler(payload: Value)
            where
                Value: Clone,
            {
            }
        )),
        one("handler cannot have a `where` clause; remove it and use concrete types")
    );
    assert_eq!(
        errors_fn(quote!(
            async fn handler(&self, payload: Value) {}
        )),
        one("handler cannot take `self`; make it a free function")
    );
    assert_eq!(
        errors_fn(quote!(
            async fn handler(payload: Value, ...) {}
        )),
        one("handler cannot be variadic; remove `...`")
    );
    assert_eq!(
        errors_fn(quote!(
            async unsafe fn handler(payload: Value) {}
        )),
        one("handler cannot be an `unsafe fn`; remove `unsafe`")
    );
    assert_eq!(
        errors_fn(quote!(
            async fn handler(payload: impl FromDelivery) {}
        )),
        one("handler arguments cannot be `impl Trait`; name the argument's type")
    );
    assert_eq!(
        errors_fn(quote!(
            struct Handler;
        )),
        one("`#[github::on]` can only be applied to an `async fn`")
    );
    // Any pattern binds an argument.
    assert_eq!(
        errors_fn(quote!(
            async fn handler(mut payload: Value, _: Client, Delivery { id, .. }: Delivery, (a, b): (A, B)) {}
        )),
        Vec::<String>::new()
    );
}

#[test]
fn reports_every_error_at_once() {
    assert_eq!(
        errors_on(
            quote!("isues", "push.opened", backgroud, retries = 1000, timeout = "0s"),
            quote!(
                fn handler<T>(&self) {}
            ),
        ),
        vec![
            "unknown event \"isues\"; did you mean \"issues\"?",
            "event \"push\" has no actions; use \"push\"",
            "unknown flag `backgroud`; did you mean `background`?",
            "`retries` must be at most 100, got 1000",
            "duration \"0s\" must be greater than zero",
            "handler must be an `async fn`; write `async fn handler`",
            "handler cannot be generic; remove the generic parameters and use concrete types",
            "handler cannot take `self`; make it a free function",
        ]
    );
}

#[test]
fn fails_soft_with_the_function_unchanged() {
    let item = quote!(
        async fn greet(event: IssuesEvent) -> Result<()> {
            Ok(())
        }
    );
    let output = on(quote!("isues"), item.clone()).to_string();
    assert!(output.starts_with(&item.to_string()), "{output}");
    assert!(output.contains("compile_error"), "{output}");
    assert!(!output.contains("inventory"), "{output}");
    assert!(!output.contains("__githubapp"), "{output}");
}

#[test]
fn expands_as_documented() {
    let output = on(
        quote!("issues.opened", "issues.reopened", background, retries = 3, timeout = "30s"),
        quote!(
            async fn greet(event: IssuesEvent, gh: Client) -> Result<()> {
                body
            }
        ),
    );
    let message = "`IssuesEvent` is not the payload of event \"issues\"; take `IssuesEvent`, \
                   `serde_json::Value` or `WebhookEvent`";
    let message_client = "`Client` is not the payload of event \"issues\"; take `IssuesEvent`, \
                          `serde_json::Value` or `WebhookEvent`";
    let expected = quote! {
        async fn greet(event: IssuesEvent, gh: Client) -> Result<()> {
            body
        }

        const _: () = {
            const _: () = ::core::assert!(
                ::githubapp::__private::accepts::<IssuesEvent>(&["issues"]),
                #message
            );
            const _: () = ::core::assert!(
                ::githubapp::__private::accepts::<Client>(&["issues"]),
                #message_client
            );

            fn __githubapp_handler(
                __githubapp_ctx: ::githubapp::__private::HandlerContext
            ) -> ::githubapp::__private::HandlerFuture {
                ::githubapp::__private::Box::pin(async move {
                    let __githubapp_arg0 = <IssuesEvent as ::githubapp::__private::FromDelivery>::from_delivery(&__githubapp_ctx).await?;
                    let __githubapp_arg1 = <Client as ::githubapp::__private::FromDelivery>::from_delivery(&__githubapp_ctx).await?;
                    let __githubapp_output = greet(__githubapp_arg0, __githubapp_arg1).await;
                    ::githubapp::__private::IntoHandlerResult::into_handler_result(__githubapp_output)
                })
            }

            ::githubapp::__private::inventory::submit! {
                ::githubapp::__private::HandlerDescriptor {
                    name: "greet",
                    module_path: ::core::module_path!(),
                    qualified_name: ::core::concat!(::core::module_path!(), "::", "greet"),
                    task_name: ::core::concat!("webhook:", ::core::module_path!(), "::", "greet"),
                    file: ::core::file!(),
                    line: ::core::line!(),
                    specs: &[
                        ::githubapp::__private::EventSpec { event: "issues", action: ::core::option::Option::Some("opened") },
                        ::githubapp::__private::EventSpec { event: "issues", action: ::core::option::Option::Some("reopened") }
                    ],
                    background: true,
                    retries: ::core::option::Option::Some(3u32),
                    timeout: ::core::option::Option::Some(::core::time::Duration::from_millis(30000u64)),
                    call: __githubapp_handler,
                }
            }
        };
    };
    assert_eq!(output.to_string(), expected.to_string());
    assert!(syn::parse2::<syn::File>(output).is_ok());
}

#[test]
fn expands_defaults_wildcard_and_no_arguments() {
    let output = on(
        quote!("*"),
        quote!(
            async fn audit() {}
        ),
    )
    .to_string();
    let spec = quote!(::githubapp::__private::EventSpec { event: "*", action: ::core::option::Option::None })
        .to_string();
    assert!(output.contains(&spec), "{output}");
    assert!(output.contains(&quote!(background: false,).to_string()), "{output}");
    assert!(output.contains(&quote!(retries: ::core::option::Option::None,).to_string()));
    assert!(output.contains(&quote!(timeout: ::core::option::Option::None,).to_string()));
    // No extractor: the context is not bound to a name (no unused-variable warning).
    assert!(
        output
            .contains(&quote!(fn __githubapp_handler(_: ::githubapp::__private::HandlerContext)).to_string())
    );
    assert!(!output.contains("assert"), "{output}");
}

#[test]
fn expands_names_and_cfgs() {
    let output = on(
        quote!("push"),
        quote!(
            #[cfg(feature = "x")]
            #[doc = "docs"]
            async fn r#type(payload: Value) {}
        ),
    )
    .to_string();
    assert!(output.contains(&quote!(name: "type",).to_string()), "{output}");
    assert!(output.contains(&quote!(r#type(__githubapp_arg0)).to_string()), "{output}");
    // The cfg is repeated on the registration, the doc attribute is not.
    assert!(output.contains(&quote!(#[cfg(feature = "x")] const _: () =).to_string()), "{output}");
    assert_eq!(output.matches("\"docs\"").count(), 1, "{output}");
}

#[test]
fn event_list_for_the_payload_check() {
    let output = on(
        quote!("issues.opened", "pull_request", "issues.closed"),
        quote!(
            async fn f(e: Value) {}
        ),
    )
    .to_string();
    assert!(output.contains(&quote!(accepts::<Value>(&["issues", "pull_request"])).to_string()), "{output}");
    let output = on(
        quote!("*"),
        quote!(
            async fn f(e: Value) {}
        ),
    )
    .to_string();
    assert!(output.contains(&quote!(accepts::<Value>(&["*"])).to_string()), "{output}");
}

#[test]
fn payload_mismatch_messages() {
    let ty = |tokens: TokenStream| syn::parse2::<syn::Type>(tokens).expect("a type");
    assert_eq!(
        mismatch_message(&ty(quote!(PullRequestEvent)), &["push"]),
        "`PullRequestEvent` is not the payload of event \"push\"; take `PushEvent`, \
         `serde_json::Value` or `WebhookEvent`"
    );
    assert_eq!(
        mismatch_message(&ty(quote!(events::PushEvent)), &["pull_request_review_comment"]),
        "`events::PushEvent` is not the payload of event \"pull_request_review_comment\"; take \
         `PullRequestReviewCommentEvent`, `serde_json::Value` or `WebhookEvent`"
    );
    assert_eq!(
        mismatch_message(&ty(quote!(IssuesEvent)), &["issues", "pull_request"]),
        "`IssuesEvent` is the payload of a single event, but this handler receives events \
         \"issues\" and \"pull_request\"; take `serde_json::Value` or `WebhookEvent`"
    );
    assert_eq!(
        mismatch_message(&ty(quote!(IssuesEvent)), &["*"]),
        "`IssuesEvent` is the payload of a single event, but this handler receives every event \
         (\"*\"); take `serde_json::Value` or `WebhookEvent`"
    );
}

#[test]
fn types_print_as_written() {
    let text = |tokens: TokenStream| type_text(&syn::parse2(tokens).expect("a type"));
    assert_eq!(text(quote!(githubapp::events::IssuesEvent)), "githubapp::events::IssuesEvent");
    assert_eq!(text(quote!(Option<Vec<u8>>)), "Option<Vec<u8>>");
    assert_eq!(text(quote!(&'static str)), "&'static str");
    assert_eq!(text(quote!((A, B))), "(A, B)");
    assert_eq!(text(quote!(Box<dyn Fn() + Send>)), "Box<dyn Fn() + Send>");
    assert_eq!(text(quote!([u8; 4])), "[u8; 4]");
}

#[test]
fn braces_in_messages_are_escaped_for_assert() {
    let output = on(
        quote!("push"),
        quote!(
            async fn f(e: [u8; { 4 }]) {}
        ),
    )
    .to_string();
    assert!(output.contains("`[u8; {{4}}]` is not the payload"), "{output}");
}
