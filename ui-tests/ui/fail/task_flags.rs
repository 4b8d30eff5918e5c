// `#[github::task]` arguments and function shape: every problem is reported at once, on the
// offending token, with the fix.
use githubapp::prelude::*;

#[github::task(retry = 3, timeout = "30 seconds", name = "webhook:sync")]
async fn bad_flags(repo: String) {
    let _ = repo;
}

#[github::task("issues.opened", background)]
async fn spec_and_background() {}

#[github::task]
async fn borrows(repo: &str, #[inject(client)] gh: Client) {
    let _ = (repo, gh);
}

#[github::task]
fn not_async<T>(value: T) {
    let _ = value;
}

fn main() {}
