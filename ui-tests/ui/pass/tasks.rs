// Tasks with user types, injected arguments, no arguments, explicit names, in nested modules,
// enqueued from handlers, routes and other tasks; nothing here may warn.
#![forbid(unsafe_code)]
#![deny(warnings)]

use githubapp::events::IssuesEvent;
use githubapp::prelude::*;
use githubapp::tasks::{TaskCall, TaskMeta};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Serialize, Deserialize)]
struct Report {
    lines: Vec<String>,
}

#[github::task(retries = 5, timeout = "2m")]
async fn post_report(#[inject] gh: Client, repo: String, number: u64, report: Report) -> Result<()> {
    gh.create_issue_comment(&repo, number, &report.lines.join("\n")).await?;
    Ok(())
}

#[github::task(name = "cleanup")]
async fn no_arguments() {}

#[github::task(queue = "slow", retries = 1)]
pub async fn on_named_queue(#[inject] gh: Client, org: String) -> Result<()> {
    let _ = (gh, org);
    Ok(())
}

#[github::task]
async fn chained(#[inject] tasks: Tasks, #[inject] meta: TaskMeta, (a, b): (u8, u8)) -> Result<()> {
    let _ = (meta.attempt, a, b);
    no_arguments::enqueue(&tasks).await?;
    Ok(())
}

mod nested {
    use githubapp::prelude::*;

    pub struct Settings;

    #[github::task]
    pub(crate) async fn in_module(#[inject] _settings: State<Settings>, id: u64) {
        let _ = id;
    }
}

#[github::on("issues.opened")]
async fn opened(event: IssuesEvent, tasks: Tasks) -> Result<()> {
    let repo = event.repository.full_name.clone();
    post_report::enqueue(&tasks, repo.clone(), event.issue.number, Report { lines: vec![] }).await?;
    post_report::call(repo, event.issue.number, Report { lines: vec!["x".into()] })
        .delay(Duration::from_secs(60))
        .idempotency_key("report")
        .enqueue(&tasks)
        .await?;
    chained::enqueue(&tasks, (1, 2)).await?;
    nested::in_module::enqueue(&tasks, 7).await?;
    Ok(())
}

#[github::post("/cleanup")]
async fn cleanup(tasks: Tasks) -> &'static str {
    match no_arguments::enqueue(&tasks.for_installation(1)).await {
        Ok(_) => "queued",
        Err(_) => "failed",
    }
}

/// Tasks can be declared inside a function (doc tests, unit tests).
fn declared_in_a_function() -> TaskCall {
    #[github::task]
    async fn local(number: u64, report: Report) {
        let _ = (number, report.lines);
    }
    local::call(1, Report { lines: vec![] })
}

fn main() {
    assert!(declared_in_a_function().name().ends_with("::local"));
    assert_eq!(on_named_queue::call("octo".into()).queue(), Some("slow"));
    assert_eq!(no_arguments::NAME, "cleanup");
    // `<crate>::module::fn` (trybuild names the crate).
    assert!(post_report::NAME.ends_with("::post_report"));
    assert!(nested::in_module::NAME.ends_with("::nested::in_module"));
}
