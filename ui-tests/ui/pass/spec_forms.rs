// Every spec form: an event, an event and action, several specs, an action-less event, "*".
use githubapp::events::{IssuesEvent, PullRequestEvent, PushEvent, WebhookEvent};
use githubapp::prelude::*;
use serde_json::Value;

#[github::on("issues")]
async fn every_issue_action(_event: IssuesEvent) {}

#[github::on("issues.opened")]
async fn one_action(_event: IssuesEvent) {}

#[github::on("pull_request.opened", "pull_request.reopened", "pull_request.synchronize")]
async fn several_actions(_event: PullRequestEvent) {}

#[github::on("push")]
async fn actionless(_event: PushEvent) {}

#[github::on("issues.opened", "pull_request", "push")]
async fn several_events_raw(_payload: Value) {}

#[github::on("issues", "pull_request.closed")]
async fn several_events_enum(_event: WebhookEvent) {}

#[github::on("*")]
async fn every_event(_event: WebhookEvent, _payload: Value) {}

#[github::on("workflow_run.completed",)]
async fn trailing_comma(_payload: Value) {}

fn main() {}
