//! Mixed load for `make bench`, as a new user would try it: `CONCURRENCY`
//! clients (default 32) for `DURATION` seconds (default 180), each call
//! one of `environment/clone` (one in ten; its 202 is timed, the clone
//! left to run), `project/get`, `environment/list {limit: 5}` and a bad
//! input, all in one project that grows by every clone.
//!
//! Prints one line per kind of call: `<kind> <start p50 µs> <start p99 µs>
//! <end p50 µs> <end p99 µs> <calls>`, where start and end are the first
//! and the last `WINDOW` seconds (default 20) of the run; then
//! `environments <n>`, the project's environments at the end.
//!
//! Usage: `actiongate-bench-mixed <base url> <token>`

use std::time::{Duration, Instant};

use actiongate_client::Client;
use anyhow::{bail, Context};
use serde_json::{json, Value};

const KINDS: [&str; 4] = [
    "environment/clone (202)",
    "project/get",
    "environment/list",
    "bad input",
];

/// The kind of the `n`th call of a client: a clone in ten, a bad input in
/// ten, the rest reads.
fn kind(n: usize) -> usize {
    match n % 10 {
        0 => 0,
        9 => 3,
        k if k % 2 == 1 => 1,
        _ => 2,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, token] = args.as_slice() else {
        bail!("usage: actiongate-bench-mixed <base url> <token>");
    };
    let concurrency: usize = env_or("CONCURRENCY", 32);
    let duration = Duration::from_secs(env_or("DURATION", 180));
    let window = Duration::from_secs(env_or("WINDOW", 20));
    let client = Client::new(base.as_str(), token.as_str());
    let result = |reply: actiongate_client::Reply| -> anyhow::Result<Value> {
        if reply.http_status != 200 {
            bail!("set-up failed: {:?}", reply.envelope);
        }
        Ok(reply.envelope.result)
    };
    let project = result(
        client
            .call("console/v1/project/create", &json!({ "name": "mixed" }))
            .await?,
    )?["id"]
        .clone();
    let source = result(
        client
            .call(
                "deploy/v1/environment/create",
                &json!({ "project_id": project, "name": "production" }),
            )
            .await?,
    )?["id"]
        .clone();

    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (client, project, source) = (client.clone(), project.clone(), source.clone());
            tokio::spawn(async move {
                // (kind, when it started since the run's start, latency)
                let mut calls: Vec<(usize, Duration, u64)> = Vec::new();
                let mut n = worker;
                while Instant::now() < deadline {
                    let kind = kind(n);
                    let (path, body, expected) = match kind {
                        0 => (
                            "deploy/v1/environment/clone",
                            json!({ "id": source, "name": format!("c{worker}-{n}") }),
                            202,
                        ),
                        1 => ("console/v1/project/get", json!({ "id": project }), 200),
                        2 => (
                            "deploy/v1/environment/list",
                            json!({ "project_id": project, "limit": 5 }),
                            200,
                        ),
                        _ => ("console/v1/project/get", json!({ "id": 5 }), 400),
                    };
                    let at = started.elapsed();
                    let sent = Instant::now();
                    let reply = client.call(path, &body).await?;
                    let latency = sent.elapsed().as_micros() as u64;
                    if reply.http_status != expected {
                        bail!(
                            "{path} answered {}: {:?}",
                            reply.http_status,
                            reply.envelope
                        );
                    }
                    calls.push((kind, at, latency));
                    n += 1;
                }
                Ok(calls)
            })
        })
        .collect();
    let mut calls = Vec::new();
    for worker in workers {
        calls.extend(worker.await??);
    }
    let end = started.elapsed();
    for (index, name) in KINDS.iter().enumerate() {
        let mut start: Vec<u64> = Vec::new();
        let mut last: Vec<u64> = Vec::new();
        let mut total = 0;
        for (kind, at, latency) in &calls {
            if *kind != index {
                continue;
            }
            total += 1;
            if *at < window {
                start.push(*latency);
            }
            if *at + window >= end {
                last.push(*latency);
            }
        }
        let (s50, s99) = quantiles(&mut start);
        let (e50, e99) = quantiles(&mut last);
        println!("{name}|{s50} {s99} {e50} {e99} {total}");
    }
    let listed = client
        .call(
            "deploy/v1/environment/list",
            &json!({ "project_id": project, "limit": 1 }),
        )
        .await
        .context("counting the environments")?;
    println!("environments|{}", listed.envelope.result["count"]);
    Ok(())
}

/// The p50 and p99 of `latencies` (0 for none).
fn quantiles(latencies: &mut [u64]) -> (u64, u64) {
    if latencies.is_empty() {
        return (0, 0);
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
