//! The smallest useful GitHub App: thank whoever opens an issue.
//!
//! ```text
//! GITHUBAPP_ID=... GITHUBAPP_PRIVATE_KEY_PATH=key.pem GITHUBAPP_WEBHOOK_SECRET=... cargo run -p hello
//! cargo run -p hello -- receive --event issues --payload fixtures/github-webhooks/payloads/issues/opened.json --dry-run
//! ```

use githubapp::events::IssuesEvent;
use githubapp::prelude::*;

#[github::on("issues.opened")]
async fn greet(event: IssuesEvent, gh: Client) -> Result<()> {
    gh.create_issue_comment(&event.repository, event.issue.number, "Thanks for opening this issue!").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    githubapp::run().await
}
