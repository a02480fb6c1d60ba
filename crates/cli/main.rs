//! `actiongate`: the gateway's command line.
//!
//! `serve` runs the gateway; `migrate` brings the database schema up to
//! date; `token` creates, lists and revokes service tokens; `user`
//! creates users; `call` and `status` ask a running gateway. Settings come
//! from `config/actiongate.toml`, `ACTIONGATE_*` variables and the flags
//! below, each overriding the one before.

mod call;
mod token;
mod user;

// Request handling allocates many small, short-lived buffers; mimalloc
// serves them faster than the system allocator under concurrency.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use actiongate_gateway::auth_epoch::AuthEpoch;
use actiongate_gateway::{db, logging, Config, Gateway};
use anyhow::Context;
use clap::{Parser, Subcommand};
use figment::providers::Serialized;

#[derive(Parser)]
#[command(
    name = "actiongate",
    version,
    about = "A self-hosted JSON-RPC-style action API gateway"
)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "ACTIONGATE_CONFIG",
        default_value = "config/actiongate.toml"
    )]
    config: PathBuf,
    /// Where the SQLite database and admin.token live.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// `sqlite://...` or `postgres://...` (default: SQLite under the data dir).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on, such as 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage service tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Call an action and print its envelope; exits 1 on an error status.
    Call(call::CallArgs),
    /// Show the gateway's status checks (an admin token's view).
    Status(call::StatusArgs),
}

fn load_config(cli: &Cli, listen: Option<SocketAddr>) -> anyhow::Result<Config> {
    let mut figment = Config::figment(&cli.config);
    if let Some(dir) = &cli.data_dir {
        figment = figment.merge(Serialized::default("data_dir", dir));
    }
    if let Some(url) = &cli.database_url {
        figment = figment.merge(Serialized::default("database_url", url));
    }
    if let Some(listen) = listen {
        figment = figment.merge(Serialized::default("listen", listen));
    }
    figment
        .extract()
        .with_context(|| format!("reading configuration ({})", cli.config.display()))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _log = logging::init(
        config.log_format,
        &config.log_level,
        config.otlp_endpoint.as_deref(),
    )?;
    let services = actiongate_services::builtin(&config)?;
    let scheme = config.scheme();
    let running = Gateway::start(config, services).await?;
    if let Some(boot) = &running.bootstrapped {
        // Shown only to a person at a terminal: stdout is usually a log
        // pipeline, and a token found in logs is a leaked token. The file
        // holds it either way.
        if std::io::stdout().is_terminal() {
            println!(
                "\nFirst start: created organization {} and an admin token (saved to {}):\n\n    {}\n",
                boot.org_id,
                boot.token_file.display(),
                boot.secret
            );
        } else {
            println!(
                "First start: created organization {} and an admin token; it is in {} (mode 0600)",
                boot.org_id,
                boot.token_file.display()
            );
        }
    }
    println!("actiongate listening on {scheme}://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The configured database with its schema, the built-in services' tables
/// included, brought up to date.
async fn open_migrated(config: &Config) -> anyhow::Result<actiongate_service::Db> {
    let db = db::connect(config).await?;
    db::migrate(&db.write, &mut actiongate_services::builtin(config)?).await?;
    Ok(db)
}

/// Where `call` and `status` find the gateway and a token when not told.
fn client_defaults(config: &Config) -> call::Defaults {
    call::Defaults {
        gateway: config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{}://{}", config.scheme(), config.listen)),
        token_file: config.data_dir.join("admin.token"),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Serve { listen } => serve(load_config(&cli, *listen)?).await?,
        Command::Migrate => {
            open_migrated(&load_config(&cli, None)?).await?;
            println!("database is up to date");
        }
        Command::Token(command) => {
            let config = load_config(&cli, None)?;
            let db = open_migrated(&config).await?;
            let epoch = AuthEpoch::open(&config)?;
            token::run(&db.write, &epoch, command).await?
        }
        Command::User(command) => {
            let db = open_migrated(&load_config(&cli, None)?).await?;
            user::run(&db.write, command).await?
        }
        Command::Call(args) => {
            return call::call(args, &client_defaults(&load_config(&cli, None)?)).await;
        }
        Command::Status(args) => {
            return call::status(args, &client_defaults(&load_config(&cli, None)?)).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("actiongate: {err:#}");
            // 1 is an error status in an envelope (`call`, `status`).
            ExitCode::from(2)
        }
    }
}
