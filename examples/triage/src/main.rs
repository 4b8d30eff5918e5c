//! Label every new pull request from a background handler. The web process answers GitHub
//! at once (202); any number of `worker` processes, on any machines, share the work through
//! Redis or PostgreSQL:
//!
//! ```text
//! export GITHUBAPP_TASK_QUEUE=redis GITHUBAPP_REDIS_URL=redis://127.0.0.1:6379
//! triage web      # one or more, behind a load balancer
//! triage worker   # as many as the work needs
//! ```

use githubapp::events::PullRequestEvent;
use githubapp::prelude::*;

/// Runs on a worker, with retries; `Delivery::id` makes the label traceable per delivery.
#[github::on("pull_request.opened", "pull_request.reopened", background, retries = 5, timeout = "1m")]
async fn triage(event: PullRequestEvent, gh: Client, delivery: Delivery) -> Result<()> {
    let label = format!("triage:{}", delivery.id);
    gh.add_labels(&event.repository, event.number, &["needs-triage", &label]).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    githubapp::run().await
}
