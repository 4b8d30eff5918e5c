// Events without an `action` field cannot be narrowed to an action.
use githubapp::events::PushEvent;
use githubapp::prelude::*;
use serde_json::Value;

#[github::on("push.opened")]
async fn push_opened(_event: PushEvent) {}

#[github::on("ping.created")]
async fn ping_created(_payload: Value) {}

#[github::on("issues.opened", "create.tag")]
async fn second_spec(_payload: Value) {}

#[github::on("*.opened")]
async fn wildcard_with_action(_payload: Value) {}

fn main() {}
