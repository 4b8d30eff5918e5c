//! Parse + validate + expand tests for the route attributes, asserting exact messages.

use super::valid::path_errors;
use super::{Method, route, try_route};
use proc_macro2::TokenStream;
use quote::quote;

fn errors_on(method: Method, args: TokenStream, item: TokenStream) -> Vec<String> {
    match try_route(method, args, &item) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn errors(args: TokenStream) -> Vec<String> {
    errors_on(
        Method::Get,
        args,
        quote!(
            async fn health() -> &'static str {
                "ok"
            }
        ),
    )
}

fn one(message: &str) -> Vec<String> {
    vec![message.to_owned()]
}

#[test]
fn accepts_axum_08_paths() {
    for path in [
        "/",
        "/health",
        "/repos/{owner}/{repo}",
        "/files/{*path}",
        "/users/{id}/settings",
        "/literal/{{braces}}",
        "/a-b_c.d~e",
    ] {
        assert_eq!(path_errors(path), Vec::<String>::new(), "{path}");
    }
    assert_eq!(errors(quote!("/health")), Vec::<String>::new());
    assert_eq!(errors(quote!("/health",)), Vec::<String>::new());
}

#[test]
fn path_must_start_with_a_slash() {
    assert_eq!(errors(quote!("health")), one("route path must start with `/`; did you mean \"/health\"?"));
    assert_eq!(errors(quote!("")), one("route path must start with `/`; did you mean \"/\"?"));
}

#[test]
fn rejects_axum_07_syntax() {
    assert_eq!(
        errors(quote!("/users/:id")),
        one("route parameter \":id\" uses the axum 0.7 syntax; write \"{id}\"")
    );
    assert_eq!(
        errors(quote!("/files/*path")),
        one("wildcard \"*path\" uses the axum 0.7 syntax; write \"{*path}\"")
    );
    assert_eq!(
        errors(quote!("/repos/:owner/:repo/files/*rest")),
        vec![
            "route parameter \":owner\" uses the axum 0.7 syntax; write \"{owner}\"",
            "route parameter \":repo\" uses the axum 0.7 syntax; write \"{repo}\"",
            "wildcard \"*rest\" uses the axum 0.7 syntax; write \"{*rest}\"",
        ]
    );
}

#[test]
fn rejects_bad_braces() {
    assert_eq!(
        errors(quote!("/users/{id")),
        one("unbalanced `{` in route path \"/users/{id\"; write parameters as \"{name}\"")
    );
    assert_eq!(
        errors(quote!("/users/id}")),
        one("unbalanced `}` in route path \"/users/id}\"; write parameters as \"{name}\"")
    );
    assert_eq!(
        errors(quote!("/users/{{id}")),
        one("unbalanced `}` in route path \"/users/{{id}\"; write parameters as \"{name}\"")
    );
    assert_eq!(
        errors(quote!("/users/{a{b}}")),
        one("unbalanced `{` in route path \"/users/{a{b}}\"; write parameters as \"{name}\"")
    );
    assert_eq!(
        errors(quote!("/users/{}")),
        one("empty parameter name in route path \"/users/{}\"; name it, e.g. \"{id}\"")
    );
    assert_eq!(
        errors(quote!("/files/{*rest}/raw")),
        one("wildcard \"{*rest}\" must be the last segment of the route path")
    );
}

#[test]
fn needs_exactly_one_path_literal() {
    assert_eq!(errors(quote!()), one("missing route path; write e.g. `#[github::get(\"/health\")]`"));
    assert_eq!(
        errors_on(
            Method::Delete,
            quote!(),
            quote!(
                async fn f() {}
            )
        ),
        one("missing route path; write e.g. `#[github::delete(\"/health\")]`")
    );
    assert_eq!(
        errors(quote!("/a", "/b")),
        one("`#[github::get]` takes exactly one path; register another function for another path")
    );
    assert_eq!(
        errors(quote!(path = "/a")),
        one("expected the route path as a string literal, e.g. `#[github::get(\"/health\")]`")
    );
    assert_eq!(
        errors(quote!(HEALTH)),
        one("expected the route path as a string literal, e.g. `#[github::get(\"/health\")]`")
    );
    assert_eq!(errors(quote!("/a",, )), one("unexpected empty argument; remove the extra `,`"));
}

#[test]
fn function_shape() {
    let errors_fn = |item: TokenStream| errors_on(Method::Post, quote!("/hook"), item);
    assert_eq!(
        errors_fn(quote!(
            fn hook() {}
        )),
        one("handler must be an `async fn`; write `async fn hook`")
    );
    assert_eq!(
        errors_fn(quote!(
            async fn hook<S>(state: S) {}
        )),
        one("handler cannot be generic; remove the generic parameters and use concrete types")
    );
    assert_eq!(
        errors_fn(quote!(
            async fn hook(self) {}
        )),
        one("handler cannot take `self`; make it a free function")
    );
    assert_eq!(
        errors_fn(quote!(
            enum Hook {}
        )),
        one("`#[github::post]` can only be applied to an `async fn`")
    );
    assert_eq!(
        errors_on(
            Method::Put,
            quote!("x"),
            quote!(
                fn hook() {}
            )
        ),
        vec![
            "route path must start with `/`; did you mean \"/x\"?",
            "handler must be an `async fn`; write `async fn hook`",
        ]
    );
}

#[test]
fn fails_soft_with_the_function_unchanged() {
    let item = quote!(
        async fn health() -> &'static str {
            "ok"
        }
    );
    let output = route(Method::Get, quote!("/users/:id"), item.clone()).to_string();
    assert!(output.starts_with(&item.to_string()), "{output}");
    assert!(output.contains("compile_error"), "{output}");
    assert!(!output.contains("inventory"), "{output}");
}

#[test]
fn expands_as_documented() {
    let output = route(
        Method::Get,
        quote!("/path"),
        quote!(
            async fn health() -> impl IntoResponse {
                body
            }
        ),
    );
    let expected = quote! {
        async fn health() -> impl IntoResponse { body }

        const _: () = {
            fn __githubapp_route(__githubapp_router: ::githubapp::__private::Router) -> ::githubapp::__private::Router {
                __githubapp_router.route("/path", ::githubapp::__private::axum::routing::get(health))
            }

            ::githubapp::__private::inventory::submit! {
                ::githubapp::__private::RouteDescriptor {
                    method: "GET",
                    path: "/path",
                    name: "health",
                    module_path: ::core::module_path!(),
                    file: ::core::file!(),
                    line: ::core::line!(),
                    register: __githubapp_route,
                }
            }
        };
    };
    assert_eq!(output.to_string(), expected.to_string());
    assert!(syn::parse2::<syn::File>(output).is_ok());
}

#[test]
fn expands_every_method() {
    for (method, name, routing) in [
        (Method::Get, "GET", "get"),
        (Method::Post, "POST", "post"),
        (Method::Put, "PUT", "put"),
        (Method::Patch, "PATCH", "patch"),
        (Method::Delete, "DELETE", "delete"),
    ] {
        let output = route(
            method,
            quote!("/x/{id}"),
            quote!(
                async fn x() {}
            ),
        )
        .to_string();
        assert!(output.contains(&format!("method : \"{name}\"")), "{output}");
        assert!(output.contains(&format!("routing :: {routing} (x)")), "{output}");
        assert!(output.contains("path : \"/x/{id}\""), "{output}");
    }
}
