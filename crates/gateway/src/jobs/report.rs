//! What running jobs report (progress, log lines, a description), stored
//! with the job so that a poll or an activity read on any node shows it.
//!
//! Handlers report through their `Ctx` as often as they like; every
//! [`EVERY`] the reporter stores what changed since, one fenced statement
//! a job. A run's last report is stored with its result (see `settle`).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::store;
use super::Jobs;

/// How often what running jobs reported is stored.
const EVERY: Duration = Duration::from_millis(250);

impl Jobs {
    pub(super) fn spawn_reporter(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = self.stopping.cancelled() => return,
                    () = tokio::time::sleep(EVERY) => {}
                }
                let reports: Vec<_> = self
                    .running
                    .lock()
                    .expect("running lock")
                    .values()
                    .filter_map(|running| Some((running.fence.clone(), running.ctx.take_report()?)))
                    .collect();
                for (fence, report) in reports {
                    // On SQLite this waits while a handler holds the one
                    // write connection; the run's result stores it anyway.
                    if let Err(err) = store::save_report(&self.db.write, &fence, &report).await {
                        tracing::warn!(request_id = fence.request_id, error = %err, "storing a job's progress failed");
                    }
                }
            }
        })
    }
}
