// Known flags with a missing, repeated or invalid value.
use githubapp::prelude::*;
use serde_json::Value;

#[github::on("push", background = true)]
async fn background_with_value(_payload: Value) {}

#[github::on("push", background, background)]
async fn background_twice(_payload: Value) {}

#[github::on("push", retries)]
async fn retries_without_value(_payload: Value) {}

#[github::on("push", retries = "3")]
async fn retries_string(_payload: Value) {}

#[github::on("push", retries = 101)]
async fn retries_too_many(_payload: Value) {}

#[github::on("push", retries = -1)]
async fn retries_negative(_payload: Value) {}

#[github::on("push", background, retries = 1, retries = 2)]
async fn retries_twice(_payload: Value) {}

#[github::on("push", timeout = 30)]
async fn timeout_number(_payload: Value) {}

#[github::on("push", timeout = "0s")]
async fn timeout_zero(_payload: Value) {}

#[github::on("push", timeout = "30")]
async fn timeout_without_unit(_payload: Value) {}

#[github::on("push", timeout = "30sec")]
async fn timeout_unknown_unit(_payload: Value) {}

#[github::on("push", timeout = "soon")]
async fn timeout_not_a_duration(_payload: Value) {}

#[github::on("push", retries = 3)]
async fn retries_in_foreground(_payload: Value) {}

fn main() {}
