// Types the macros leave to rustc: an argument that is not an extractor, a return type that is
// not `()` or `Result<(), E>`, a route function that is not an axum handler. Each error must
// land on the user's type or name, not on the attribute.
use githubapp::events::IssuesEvent;
use githubapp::prelude::*;

#[github::on("issues.opened")]
async fn not_an_extractor(_event: IssuesEvent, _title: String) {}

#[github::on("issues.opened")]
async fn bad_return_type(_event: IssuesEvent) -> u32 {
    1
}

#[github::get("/number")]
async fn not_an_axum_handler(_number: u32) {}

fn main() {}
