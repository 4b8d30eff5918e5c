// Route paths: one string literal, starting with `/`, in axum 0.8 syntax.
use githubapp::prelude::*;

#[github::get("health")]
async fn no_leading_slash() {}

#[github::get("/users/:id")]
async fn axum_07_parameter() {}

#[github::get("/files/*path")]
async fn axum_07_wildcard() {}

#[github::post("/users/{id")]
async fn unclosed_brace() {}

#[github::put("/users/id}")]
async fn unopened_brace() {}

#[github::patch("/users/{}")]
async fn empty_parameter() {}

#[github::delete("/files/{*path}/raw")]
async fn wildcard_not_last() {}

#[github::get]
async fn no_path() {}

#[github::get("/a", "/b")]
async fn two_paths() {}

#[github::get(path = "/a")]
async fn not_a_literal() {}

fn main() {}
