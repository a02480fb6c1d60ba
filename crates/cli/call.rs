//! `actiongate call` and `actiongate status`: the gateway's API from a
//! shell, for people and for scripts.
//!
//! The envelope goes to stdout, coloured at a terminal and plain JSON when
//! piped. The exit code is 0 for `Success` (and for `Accepted` without
//! `--wait`), 1 for any other status, and 2 when no envelope came back.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use actiongate_client::{AcceptedResult, Client, Reply, Status};
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

/// Where the gateway is and whose token to use.
#[derive(Args)]
pub struct Target {
    /// The gateway's base URL (default: `public_url`, else `http://<listen>`).
    #[arg(long, env = "ACTIONGATE_GATEWAY")]
    gateway: Option<String>,
    /// A file holding the token (default: `ACTIONGATE_TOKEN`, else
    /// `<data_dir>/admin.token`).
    #[arg(long)]
    token_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct CallArgs {
    /// `<service>/<version>/<resource>/<action>`, such as
    /// `console/v1/project/list`.
    path: String,
    /// The call's parameters: JSON, or `@file` to read them from a file
    /// (`@-` for stdin).
    #[arg(long, short, default_value = "{}")]
    data: String,
    /// For a call answered 202: follow it to its end, with a progress bar
    /// at a terminal, and print the final envelope.
    #[arg(long)]
    wait: bool,
    /// The longest `--wait` waits.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    target: Target,
}

/// How the command line found the gateway.
pub struct Defaults {
    pub gateway: String,
    pub token_file: PathBuf,
}

impl Target {
    fn client(&self, defaults: &Defaults) -> anyhow::Result<Client> {
        let gateway = self
            .gateway
            .clone()
            .unwrap_or_else(|| defaults.gateway.clone());
        let token = match (&self.token_file, std::env::var("ACTIONGATE_TOKEN")) {
            (Some(file), _) => read_token(file)?,
            (None, Ok(token)) if !token.trim().is_empty() => token.trim().to_owned(),
            _ => read_token(&defaults.token_file)?,
        };
        Ok(Client::new(gateway, token))
    }
}

fn read_token(file: &PathBuf) -> anyhow::Result<String> {
    let token = std::fs::read_to_string(file)
        .with_context(|| format!("reading the token from {}", file.display()))?;
    Ok(token.trim().to_owned())
}

fn parameters(data: &str) -> anyhow::Result<Value> {
    let text = match data.strip_prefix('@') {
        Some("-") => std::io::read_to_string(std::io::stdin()).context("reading stdin")?,
        Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
        None => data.to_owned(),
    };
    serde_json::from_str(&text).context("--data is not JSON")
}

pub async fn call(args: &CallArgs, defaults: &Defaults) -> anyhow::Result<ExitCode> {
    let client = args.target.client(defaults)?;
    let params = parameters(&args.data)?;
    let mut reply = client.call(&args.path, &params).await?;
    if args.wait && reply.accepted().is_some() {
        reply = follow(&client, reply, args.timeout).await?;
    }
    print_envelope(&reply)?;
    Ok(exit_code(&reply))
}

/// Long-polls a 202 to its end; at a terminal, a progress bar shows its
/// `completion_percent` as each poll reports it.
async fn follow(client: &Client, reply: Reply, timeout: Duration) -> anyhow::Result<Reply> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(100);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:40}] {pos:>3}% {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(reply.envelope.request_id.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let shown = |accepted: &AcceptedResult| {
        if let Some(percent) = accepted.completion_percent {
            bar.set_position(u64::from(percent));
        }
    };
    // Polls of a second at most, so the bar moves while the job runs.
    let done = client
        .wait_watching(reply, timeout, Duration::from_secs(1), shown)
        .await;
    match &done {
        Ok(done) if done.envelope.status == Status::Success => {
            bar.set_position(100);
            bar.finish();
        }
        _ => bar.abandon(),
    }
    if !bar.is_hidden() {
        // The envelope starts on a line of its own, under the bar.
        eprintln!();
    }
    Ok(done?)
}

fn print_envelope(reply: &Reply) -> anyhow::Result<()> {
    let value = serde_json::to_value(&reply.envelope)?;
    if std::io::stdout().is_terminal() {
        println!("{}", colored_json::to_colored_json_auto(&value)?);
    } else {
        println!("{}", serde_json::to_string(&value)?);
    }
    Ok(())
}

fn exit_code(reply: &Reply) -> ExitCode {
    match reply.envelope.status {
        Status::Success | Status::Accepted => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

#[derive(Args)]
pub struct StatusArgs {
    /// One check, by name.
    check: Option<String>,
    #[command(flatten)]
    target: Target,
}

/// `GET /status`: the checks as a table, then the verdict.
pub async fn status(args: &StatusArgs, defaults: &Defaults) -> anyhow::Result<ExitCode> {
    let client = args.target.client(defaults)?;
    let path = match &args.check {
        Some(check) => format!("status/{check}"),
        None => "status".to_owned(),
    };
    let reply = client.get(&path).await?;
    let checks = reply.envelope.result["checks"].as_array();
    let Some(checks) = checks else {
        // Refused (no admin token) or not found: the envelope says why.
        print_envelope(&reply)?;
        return Ok(ExitCode::from(1));
    };
    let cell = |check: &Value, key: &str| check[key].as_str().unwrap_or_default().to_owned();
    let rows: Vec<[String; 4]> = checks
        .iter()
        .map(|check| {
            [
                cell(check, "canonical"),
                cell(check, "category"),
                cell(check, "status"),
                cell(check, "message"),
            ]
        })
        .collect();
    let header = ["CHECK", "CATEGORY", "STATUS", "MESSAGE"].map(str::to_owned);
    let width = |i: usize| {
        rows.iter()
            .chain([&header])
            .map(|row| row[i].len())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    for row in [&header].into_iter().chain(&rows) {
        println!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        );
    }
    let verdict = reply.envelope.result["status"].as_str().unwrap_or("Error");
    println!("\n{verdict}: {}", reply.envelope.summary);
    Ok(if verdict == "Success" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
