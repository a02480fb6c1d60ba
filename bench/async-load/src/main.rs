//! Asynchronous load for `make bench`: `CONCURRENCY` clients each submit a
//! designated-async call and long-poll (`?wait=`) its location until the
//! final result, over and over for `DURATION` seconds. Prints one line:
//! `<completed per second> <p50 µs> <p99 µs>` of submit-to-result latency.
//!
//! Usage: `actiongate-bench-async <base url> <token> <path> <json body>`
//! (environment: CONCURRENCY, default 64; DURATION, seconds, default 10).

use std::time::{Duration, Instant};

use actiongate_client::Client;
use anyhow::{bail, Context};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, token, path, body] = args.as_slice() else {
        bail!("usage: actiongate-bench-async <base url> <token> <path> <json body>");
    };
    let body: serde_json::Value = serde_json::from_str(body).context("the body is JSON")?;
    let concurrency: usize = env_or("CONCURRENCY", 64);
    let duration = Duration::from_secs(env_or("DURATION", 10));
    let client = Client::new(base.as_str(), token.as_str());
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, path, body) = (client.clone(), path.clone(), body.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let submitted = Instant::now();
                    let reply = client.call(&path, &body).await?;
                    let done = client.wait(reply, Duration::from_secs(60)).await?;
                    if done.http_status != 200 {
                        bail!("a job ended with {:?}", done.envelope.status);
                    }
                    latencies.push(submitted.elapsed().as_micros() as u64);
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    if latencies.is_empty() {
        bail!("no job completed");
    }
    println!(
        "{:.0} {} {}",
        latencies.len() as f64 / elapsed,
        at(0.5),
        at(0.99)
    );
    Ok(())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
