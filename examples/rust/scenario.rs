//! The scenario with the typed Rust client (`actiongate-client`): create a
//! project, create an environment in it, clone the environment (answered
//! 202; the client long-polls it), list the project's environments, and
//! list its activities (the clone is one).
//!
//! ```sh
//! ACTIONGATE_URL=http://127.0.0.1:8080 ACTIONGATE_TOKEN=$(cat data/admin.token) \
//!     cargo run --example scenario
//! ```

use actiongate_client::fields::{Name, Slug};
use actiongate_client::{console, deploy, Gateway};
use serde::Serialize;

/// A value as the wire spells it (`complete`, not `Complete`).
fn wire(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(err) => err.to_string(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("ACTIONGATE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("ACTIONGATE_TOKEN")?;
    let gateway = Gateway::new(url, token);

    let project = gateway
        .call::<console::ProjectCreate>(&console::project::Create {
            org_id: None,
            name: Name::try_from("example-rust").map_err(anyhow::Error::msg)?,
            geo: None,
            region: None,
            display_name: None,
            description: None,
            color: None,
            single_server_mode: false,
            default_server_id: None,
            auto_error_tracking_enabled: false,
        })
        .await?;
    println!("project {}", project.id);
    let staging = gateway
        .call::<deploy::EnvironmentCreate>(&deploy::environment::Create {
            project_id: project.id.clone(),
            name: Slug::try_from("staging").map_err(anyhow::Error::msg)?,
            display_name: None,
            r#type: None,
            description: None,
            color: None,
            git_branch: None,
            settings: None,
        })
        .await?;
    println!("environment {}", staging.id);
    // Designated asynchronous: answered 202, then long-polled to its end.
    let clone = gateway
        .call::<deploy::EnvironmentClone>(&deploy::environment::Clone {
            id: staging.id.clone(),
            name: Slug::try_from("staging-copy").map_err(anyhow::Error::msg)?,
            display_name: None,
            r#type: None,
            description: None,
            color: None,
            git_branch: None,
        })
        .await?;
    println!("clone {}", clone.id);
    let listed = gateway
        .call::<deploy::EnvironmentList>(&deploy::environment::List {
            project_id: project.id.clone(),
            order_by: Some("name".into()),
            ..Default::default()
        })
        .await?;
    for env in &listed.results {
        println!(
            "   {} {} from {}",
            env.name,
            env.id,
            env.parent.as_deref().unwrap_or("-")
        );
    }
    // Every operation that ran as an activity, newest first.
    let activities = gateway
        .call::<deploy::ActivityList>(&deploy::activity::List {
            project_id: project.id.clone(),
            ..Default::default()
        })
        .await?;
    for activity in &activities.results {
        println!(
            "activity {} {} {} {}",
            activity.r#type,
            wire(&activity.state),
            activity.result.as_ref().map_or("-".into(), wire),
            activity.id
        );
    }
    println!("scenario done: {}", clone.id);
    Ok(())
}
