//! A gateway with a service of your own next to the built-in ones: one typed
//! input, one typed output, one handler and one line of registration per
//! action.
//!
//! ```sh
//! cargo run --example custom_service
//! curl -s -XPOST localhost:8080/greeter/v1/hello \
//!      -H "Authorization: Bearer $(cat data/admin.token)" -d '{"name": "Ada"}'
//! ```
//!
//! `make bench` runs this binary for its no-database, security-cost and
//! designated-async measurements.

use std::time::Duration;

use actiongate_gateway::{logging, Config, Gateway};
use actiongate_service::{ActionResult, ActionSpec, Ctx, Role, Service};
use serde::{Deserialize, Serialize};

// Request handling allocates many small, short-lived buffers; mimalloc
// serves them faster than the system allocator under concurrency.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize, schemars::JsonSchema)]
struct Hello {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Greeting {
    message: String,
}

/// A synchronous action that touches no database.
async fn hello(_ctx: Ctx, input: Hello) -> ActionResult<Greeting> {
    let name = input.name.as_deref().unwrap_or("world");
    Ok(Greeting {
        message: format!("Hello, {name}!"),
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Report {
    #[serde(default)]
    delay_ms: u64,
}

#[derive(Serialize, schemars::JsonSchema)]
struct ReportDone {
    requested_by: String,
}

/// A designated-async action: every call answers 202 and runs as a job.
async fn report(ctx: Ctx, input: Report) -> ActionResult<ReportDone> {
    tokio::time::sleep(Duration::from_millis(input.delay_ms.min(60_000))).await;
    Ok(ReportDone {
        requested_by: ctx.principal.user_id.clone(),
    })
}

fn greeter() -> Service {
    Service::new("greeter")
        .action(
            ActionSpec::sync("v1", "hello", "Greeted").role(Role::Viewer),
            hello,
        )
        // The same handler with no token and no rate limit: what `make
        // bench` compares `hello` with to measure the cost of security.
        .action(
            ActionSpec::sync("v1", "hello/open", "Greeted").public(),
            hello,
        )
        .action(
            ActionSpec::asynchronous("v1", "report", "Report ready").role(Role::Viewer),
            report,
        )
}

fn main() -> anyhow::Result<()> {
    actiongate_gateway::memory::runtime()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    // The same file the binary reads: ACTIONGATE_CONFIG, else the default.
    let file = std::env::var_os("ACTIONGATE_CONFIG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "config/actiongate.toml".into());
    let config: Config = Config::figment(&file).extract()?;
    let _log = logging::init(
        config.log_format,
        &config.log_level,
        config.otlp_endpoint.as_deref(),
    )?;
    let mut services = actiongate_services::builtin(&config)?;
    services.push(greeter());
    let running = Gateway::start(config, services).await?;
    if let Some(boot) = &running.bootstrapped {
        println!("admin token written to {}", boot.token_file.display());
    }
    println!("listening on http://{}", running.addr);
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
