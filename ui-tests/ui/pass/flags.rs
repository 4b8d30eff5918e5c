// Every flag, alone and together, in any order relative to the specs.
use githubapp::events::IssuesEvent;
use githubapp::prelude::*;
use githubapp::{Client, Result};

#[github::on("issues.opened", background)]
async fn in_background(_event: IssuesEvent) {}

#[github::on("issues.opened", background, retries = 0)]
async fn no_retries(_event: IssuesEvent) {}

#[github::on("issues.opened", background, retries = 100)]
async fn most_retries(_event: IssuesEvent) {}

#[github::on("issues.opened", timeout = "500ms")]
async fn millis(_event: IssuesEvent) {}

#[github::on("issues.opened", timeout = "30s")]
async fn seconds(_event: IssuesEvent) {}

#[github::on("issues.opened", timeout = "5m")]
async fn minutes(_event: IssuesEvent) {}

#[github::on("issues.opened", timeout = "1h")]
async fn hours(_event: IssuesEvent) {}

#[github::on("issues.opened", "issues.reopened", background, retries = 3, timeout = "30s")]
async fn everything(_event: IssuesEvent, _gh: Client) -> Result<()> {
    Ok(())
}

#[github::on(timeout = "2m", retries = 5, background, "issues.closed")]
async fn flags_first(_event: IssuesEvent) {}

fn main() {}
