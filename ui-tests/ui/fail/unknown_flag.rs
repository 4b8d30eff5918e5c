// Flags other than `background`, `retries = N` and `timeout = "..."`.
use githubapp::prelude::*;
use serde_json::Value;

#[github::on("push", backgroud)]
async fn misspelled(_payload: Value) {}

#[github::on("push", retry = 3)]
async fn alias(_payload: Value) {}

#[github::on("push", timout = "30s")]
async fn misspelled_with_value(_payload: Value) {}

#[github::on("push", priority = 1)]
async fn nothing_close(_payload: Value) {}

#[github::on("issues", push)]
async fn unquoted_event(_payload: Value) {}

#[github::on("push", 3)]
async fn not_a_flag(_payload: Value) {}

fn main() {}
