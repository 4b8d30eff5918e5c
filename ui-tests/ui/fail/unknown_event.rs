// Unknown event names: a "did you mean" when one event is close, the wrong separator fixed,
// and a hint when nothing is close. Each error points at the string literal.
use githubapp::prelude::*;
use serde_json::Value;

#[github::on("isues")]
async fn typo(_payload: Value) {}

#[github::on("issues.opened", "pul_request.closed")]
async fn typo_in_second_spec(_payload: Value) {}

#[github::on("Push")]
async fn wrong_case(_payload: Value) {}

#[github::on("issues:opened")]
async fn wrong_separator(_payload: Value) {}

#[github::on("frobnicate")]
async fn nothing_close(_payload: Value) {}

#[github::on(issues.opened)]
async fn not_a_string(_payload: Value) {}

#[github::on("")]
async fn empty_spec(_payload: Value) {}

fn main() {}
