// The list of specs: duplicates, specs another spec already covers, and no spec at all.
use githubapp::prelude::*;
use serde_json::Value;

#[github::on("issues.opened", "issues.opened")]
async fn duplicate(_payload: Value) {}

#[github::on("issues", "issues.opened")]
async fn event_covers_action(_payload: Value) {}

#[github::on("pull_request.closed", "pull_request")]
async fn action_before_event(_payload: Value) {}

#[github::on("*", "push")]
async fn wildcard_with_event(_payload: Value) {}

#[github::on("*", "*")]
async fn wildcard_twice(_payload: Value) {}

#[github::on]
async fn no_spec(_payload: Value) {}

#[github::on(background, retries = 3)]
async fn only_flags(_payload: Value) {}

fn main() {}
