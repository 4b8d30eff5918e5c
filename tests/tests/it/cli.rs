//! The command line `githubapp::run` parses: `cli::run_with` hands the user's builder
//! settings (state above all) to the app a subcommand builds.

use std::sync::Arc;

use crate::common::{Seen, SharedSeen};

/// `receive --dry-run` of an `issues.opened` payload: the handlers of this binary that match
/// take `State<SharedSeen>` (`pipeline::comment`, `pipeline::everything`).
const RECEIVE: [&str; 7] = [
    "app",
    "receive",
    "--event",
    "issues",
    "--payload",
    concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/github-webhooks/payloads/issues/opened.json"),
    "--dry-run",
];

#[tokio::test]
async fn run_with_gives_subcommands_the_users_state() {
    // `run` installs a log subscriber for the process; keep this test binary's output quiet.
    let _ = tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default());

    // Without the state, the handlers that take it fail (and `receive` says so).
    let err = githubapp::cli::run(RECEIVE).await.unwrap_err().to_string();
    assert!(err.contains("2 of 3 handlers failed"), "{err}");

    let seen = Arc::new(Seen::default());
    let state = SharedSeen(seen.clone());
    githubapp::cli::run_with(RECEIVE, move |app| app.state(state)).await.unwrap();
    assert_eq!(seen.count("comment"), 1);
    assert_eq!(seen.count("*:issues"), 1);
}
