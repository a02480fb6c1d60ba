//! The scenario with the Rust client (`actiongate-client`): create a
//! project, create an environment in it, clone the environment (answered
//! 202; the client long-polls it), list the project's environments, and
//! list its activities (the clone is one).
//!
//! ```sh
//! ACTIONGATE_URL=http://127.0.0.1:8080 ACTIONGATE_TOKEN=$(cat data/admin.token) \
//!     cargo run --example scenario
//! ```

use std::time::Duration;

use actiongate_client::{Client, Reply, Status};
use serde_json::{json, Value};

/// The call's result, or the envelope's summary as the error.
fn result(reply: Reply) -> anyhow::Result<Value> {
    match reply.envelope.status {
        Status::Success => Ok(reply.envelope.result),
        status => anyhow::bail!("{status:?}: {}", reply.envelope.summary),
    }
}

/// A JSON string as it reads, without quotes.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("ACTIONGATE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("ACTIONGATE_TOKEN")?;
    let console = Client::new(format!("{url}/console"), &token);
    let deploy = Client::new(format!("{url}/deploy"), &token);

    let project = result(
        console
            .call("v1/project/create", &json!({ "name": "example-rust" }))
            .await?,
    )?;
    println!("project {}", project["id"]);
    let staging = result(
        deploy
            .call(
                "v1/environment/create",
                &json!({ "project_id": project["id"], "name": "staging" }),
            )
            .await?,
    )?;
    println!("environment {}", staging["id"]);
    let accepted = deploy
        .call(
            "v1/environment/clone",
            &json!({ "id": staging["id"], "name": "staging-copy" }),
        )
        .await?;
    let clone = result(deploy.wait(accepted, Duration::from_secs(60)).await?)?;
    println!("clone {}", clone["id"]);
    let listed = result(
        deploy
            .call(
                "v1/environment/list",
                &json!({ "project_id": project["id"], "order_by": "name" }),
            )
            .await?,
    )?;
    for env in listed["results"].as_array().into_iter().flatten() {
        println!("   {} {} from {}", env["name"], env["id"], env["parent"]);
    }
    // Every operation that ran as an activity, newest first.
    let activities = result(
        deploy
            .call("v1/activity/list", &json!({ "project_id": project["id"] }))
            .await?,
    )?;
    for activity in activities["results"].as_array().into_iter().flatten() {
        println!(
            "activity {} {} {} {}",
            text(&activity["type"]),
            text(&activity["state"]),
            text(&activity["result"]),
            text(&activity["id"])
        );
    }
    println!(
        "scenario done: {}",
        clone["id"].as_str().unwrap_or_default()
    );
    Ok(())
}
