// A typed payload must be the payload of the handled event; a handler for several events (or
// "*") takes `serde_json::Value` or `WebhookEvent`. The error points at the argument's type.
use githubapp::events::{IssuesEvent, PullRequestEvent, PushEvent};
use githubapp::prelude::*;
use githubapp::{Client, Result};

#[github::on("push")]
async fn wrong_event(_event: PullRequestEvent) {}

#[github::on("issues.opened", "issues.closed")]
async fn wrong_event_with_actions(_event: PushEvent, _gh: Client) -> Result<()> {
    Ok(())
}

#[github::on("issues.opened", "pull_request.opened")]
async fn several_events(_event: IssuesEvent) {}

#[github::on("*")]
async fn every_event(_event: PushEvent) {}

#[github::on("pull_request")]
async fn second_argument(_gh: Client, _event: githubapp::events::IssuesEvent) {}

fn main() {}
