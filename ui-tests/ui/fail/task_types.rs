// Types `#[github::task]` leaves to rustc: an argument that cannot be serialized, an
// `#[inject]` argument the worker cannot provide, a bad return type, and enqueue calls with a
// wrong or missing argument. Each error lands on the user's type or argument.
use githubapp::prelude::*;

struct NotSerde;

#[github::task]
async fn not_serializable(value: NotSerde) {
    let _ = value;
}

#[github::task]
async fn not_injectable(#[inject] value: String) {
    let _ = value;
}

#[github::task]
async fn bad_return_type() -> u32 {
    1
}

#[github::task]
async fn typed(repo: String, number: u64) {
    let _ = (repo, number);
}

async fn enqueue(tasks: Tasks) -> Result<()> {
    typed::enqueue(&tasks, "octo/hello".into(), "12").await?;
    typed::enqueue(&tasks, "octo/hello".into()).await?;
    Ok(())
}

fn main() {
    let _ = enqueue;
}
