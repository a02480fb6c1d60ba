//! Deletes what has expired: finished job results, and whatever services
//! registered with `Service::sweep_expired` (backups, ...). Each kind goes
//! in bounded batches with a pause between them, so the writer is never
//! held for long.

use std::time::Duration;

use actiongate_service::SweepExpired;
use actiongate_wire::Timestamp;
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;

/// The most rows one sweep statement deletes.
pub const BATCH: u64 = 500;

/// Sweeps every `interval`, until the task is aborted (at shutdown).
pub fn spawn(
    db: DatabaseConnection,
    sweeps: Vec<(&'static str, SweepExpired)>,
    interval: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            for (what, sweep) in &sweeps {
                sweep_all(&db, what, *sweep).await;
            }
        }
    })
}

async fn sweep_all(db: &DatabaseConnection, what: &str, sweep: SweepExpired) {
    let mut removed = 0;
    loop {
        match sweep(db, Timestamp::now_ms(), BATCH).await {
            Ok(n) => {
                removed += n;
                if n < BATCH {
                    break;
                }
            }
            Err(err) => {
                tracing::warn!(what, error = %err, "sweeping expired records failed");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if removed > 0 {
        tracing::debug!(what, removed, "expired records removed");
    }
}
