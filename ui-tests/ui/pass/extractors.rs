// Arguments are extractors resolved by type; any pattern binds them; return `()` or `Result`.
#![forbid(unsafe_code)]
#![deny(warnings)]

use githubapp::events::{IssuesEvent, PushEvent, WebhookEvent};
use githubapp::prelude::*;
use githubapp::{Client, Delivery, Result};
use serde_json::Value;

#[github::on("issues.opened")]
async fn typed_event_and_client(event: IssuesEvent, gh: Client) -> Result<()> {
    let _ = (event, gh);
    Ok(())
}

#[github::on("push")]
async fn delivery_metadata(_event: PushEvent, delivery: Delivery, payload: Value) {
    let _ = (delivery, payload);
}

#[github::on("push")]
async fn no_arguments() {}

#[github::on("issues")]
async fn patterns(mut payload: Value, _: Client, IssuesEvent { .. }: IssuesEvent) -> Result<()> {
    payload["seen"] = Value::Bool(true);
    Ok(())
}

#[github::on("*")]
async fn full_paths(
    _event: githubapp::events::WebhookEvent,
    _payload: serde_json::Value,
    _delivery: githubapp::Delivery,
) -> githubapp::Result<()> {
    Ok(())
}

#[github::on("issues.closed")]
async fn r#type(_event: IssuesEvent) {}

#[github::on("issues.labeled")]
pub async fn public_handler(_event: WebhookEvent) {}

#[cfg(any())]
#[github::on("issues.unlabeled")]
async fn compiled_out(_event: IssuesEvent) {}

#[github::on("issues.unlabeled")]
#[cfg(any())]
async fn compiled_out_below_the_attribute(_event: IssuesEvent) {}

mod handlers {
    use githubapp::events::PushEvent;
    use githubapp::prelude::*;

    #[github::on("push")]
    pub(crate) async fn in_a_module(_event: PushEvent) {}
}

fn main() {
    // The functions stay ordinary functions users and tests can call directly.
    let _ = handlers::in_a_module;
    let _ = no_arguments;
}
