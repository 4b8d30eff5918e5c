// Unknown actions of a known event: a "did you mean" when one action is close, otherwise the
// list of the event's actions.
use githubapp::prelude::*;
use serde_json::Value;

#[github::on("issues.opend")]
async fn typo(_payload: Value) {}

#[github::on("pull_request.opened", "pull_request.synchronised")]
async fn british_spelling(_payload: Value) {}

#[github::on("check_suite.started")]
async fn nothing_close(_payload: Value) {}

#[github::on("issues.*")]
async fn wildcard_action(_payload: Value) {}

#[github::on("issues.opened.now")]
async fn too_many_dots(_payload: Value) {}

fn main() {}
