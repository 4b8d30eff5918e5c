// The annotated item must be a plain `async fn`: not sync, not generic, no `self`, no
// `impl Trait` argument, not `unsafe`, and a function at all.
use githubapp::events::IssuesEvent;
use githubapp::prelude::*;
use serde_json::Value;

#[github::on("issues.opened")]
fn not_async(_event: IssuesEvent) {}

#[github::on("issues.opened")]
async fn generic<T: Send>(_value: T) {}

#[github::on("issues.opened")]
async unsafe fn unsafe_handler(_event: IssuesEvent) {}

#[github::on("push")]
async fn impl_trait_argument(_payload: impl Send) {}

struct Bot;

impl Bot {
    #[github::on("push")]
    async fn method(&self, _payload: Value) {}
}

#[github::on("push")]
struct NotAFunction;

#[github::get("/health")]
fn sync_route() -> &'static str {
    "ok"
}

#[github::post("/generic")]
async fn generic_route<S: Send>(_state: S) {}

fn main() {}
