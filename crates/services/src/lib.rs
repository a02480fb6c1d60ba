//! The services actiongate ships with, in one list: the binary serves them,
//! and the examples and tests start the same list (adding their own
//! services beside it). Adding a built-in service is one line here.

use actiongate_gateway::Config;
use actiongate_service::Service;
use anyhow::Context;

/// Every built-in service, with its `[services.<name>]` settings.
pub fn builtin(config: &Config) -> anyhow::Result<Vec<Service>> {
    Ok(vec![
        actiongate_console::service(settings(config, "console")?),
        actiongate_access::service(settings(config, "access")?),
        actiongate_deploy::service(settings(config, "deploy")?),
    ])
}

fn settings<T: serde::de::DeserializeOwned + Default>(
    config: &Config,
    service: &str,
) -> anyhow::Result<T> {
    config
        .service_settings(service)
        .with_context(|| format!("reading [services.{service}]"))
}
