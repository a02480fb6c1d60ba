//! `actiongate`: the gateway's command line.
//!
//! `serve` runs the gateway (and on `SIGHUP` reloads its upstreams);
//! `migrate` brings the database schema up to date; `token` creates, lists
//! and revokes service tokens; `user` creates users; `call` and `status`
//! ask a running gateway; `config check` checks the settings; `identity
//! rotate` adds a key for upstream identities; `secrets rotate-key`
//! reseals sensitive values under a new key. Settings come
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
use actiongate_gateway::{db, logging, Config, Gateway, RunningGateway};
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
    /// Check the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the keys that sign identities sent to upstream services.
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Manage the keyring that seals sensitive values.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Add a new key to the keyring file, make it the one that seals, and
    /// seal every sensitive value again under it; the old keys stay in the
    /// file.
    RotateKey,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check the configuration (file, environment, flags) as a start
    /// would, without starting; exits 2 naming the first problem.
    Check,
}

#[derive(Subcommand)]
enum IdentityCommand {
    /// Add a new signing key; the old ones stay published in the JWKS
    /// until the tokens they signed have expired.
    Rotate,
}

/// The layered settings: file, environment, then the flags given.
fn figment_of(
    file: &std::path::Path,
    data_dir: Option<&PathBuf>,
    database_url: Option<&String>,
) -> figment::Figment {
    let mut figment = Config::figment(file);
    if let Some(dir) = data_dir {
        figment = figment.merge(Serialized::default("data_dir", dir));
    }
    if let Some(url) = database_url {
        figment = figment.merge(Serialized::default("database_url", url));
    }
    figment
}

fn load_config(cli: &Cli, listen: Option<SocketAddr>) -> anyhow::Result<Config> {
    let mut figment = figment_of(
        &cli.config,
        cli.data_dir.as_ref(),
        cli.database_url.as_ref(),
    );
    if let Some(listen) = listen {
        figment = figment.merge(Serialized::default("listen", listen));
    }
    figment
        .extract()
        .with_context(|| format!("reading configuration ({})", cli.config.display()))
}

async fn serve(cli: &Cli, config: Config) -> anyhow::Result<()> {
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
    let reloads = reload_on_hangup(cli, &running);
    shutdown_signal().await;
    drop(reloads);
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// On `SIGHUP`, reads the configuration again and puts its upstream
/// section in force; a file that does not parse or check is refused with a
/// log line, and the running section stays.
fn reload_on_hangup(cli: &Cli, running: &RunningGateway) -> Option<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        let mut hangups =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()?;
        let reloader = running.reloader();
        let (config_file, data_dir, database_url) = (
            cli.config.clone(),
            cli.data_dir.clone(),
            cli.database_url.clone(),
        );
        Some(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let read = figment_of(&config_file, data_dir.as_ref(), database_url.as_ref())
                    .extract::<Config>()
                    .map_err(anyhow::Error::from)
                    .and_then(|config| reloader.reload(&config));
                match read {
                    Ok(true) => tracing::info!(file = %config_file.display(), "upstreams reloaded"),
                    Ok(false) => {
                        tracing::info!(file = %config_file.display(), "upstreams unchanged")
                    }
                    Err(err) => {
                        tracing::error!(file = %config_file.display(), error = format!("{err:#}"), "configuration refused; the running upstreams stay")
                    }
                }
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = (cli, running);
        None
    }
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

/// `secrets rotate-key`: the keyring file gains its new primary key first,
/// so that a failure afterwards leaves every value sealed by a key the
/// file still holds; then every service reseals its values, in one
/// transaction.
async fn rotate_secrets_key(config: &Config) -> anyhow::Result<()> {
    use sea_orm::TransactionTrait;
    let mut services = actiongate_services::builtin(config)?;
    let db = db::connect(config).await?;
    db::migrate(&db.write, &mut services).await?;
    let keyring = actiongate_gateway::secrets::rotate(config)?;
    let txn = db.write.begin().await?;
    let mut counts = Vec::new();
    for service in &services {
        for (what, reseal) in &service.reseals {
            counts.push((service.name, *what, reseal(&txn, &keyring).await?));
        }
    }
    txn.commit().await?;
    println!(
        "{}: the new key {} seals from now on",
        actiongate_gateway::secrets::key_file(config).display(),
        keyring.primary()
    );
    for (service, what, count) in counts {
        println!("  {service}: {count} {what} sealed again");
    }
    println!("Copy the file to every gateway of this database, then restart them.");
    Ok(())
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
        Command::Serve { listen } => serve(&cli, load_config(&cli, *listen)?).await?,
        Command::Config(ConfigCommand::Check) => {
            let config = load_config(&cli, None)?;
            let services = actiongate_services::builtin(&config)?;
            Gateway::check_config(&config, services)?;
            println!(
                "{}: configuration is valid ({} upstream service{})",
                cli.config.display(),
                config.upstreams.len(),
                if config.upstreams.len() == 1 { "" } else { "s" }
            );
        }
        Command::Identity(IdentityCommand::Rotate) => {
            let db = open_migrated(&load_config(&cli, None)?).await?;
            let kid = actiongate_gateway::upstream::identity::rotate(&db.write).await?;
            println!(
                "New signing key {kid}; every gateway signs with it within {} s, and the old keys stay published until their tokens expire",
                actiongate_gateway::upstream::identity::REFRESH.as_secs()
            );
        }
        Command::Secrets(SecretsCommand::RotateKey) => {
            let config = load_config(&cli, None)?;
            rotate_secrets_key(&config).await?;
        }
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ran = actiongate_gateway::memory::runtime()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match ran {
        Ok(code) => code,
        Err(err) => {
            eprintln!("actiongate: {err:#}");
            // 1 is an error status in an envelope (`call`, `status`).
            ExitCode::from(2)
        }
    }
}
