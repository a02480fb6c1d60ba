//! PostgreSQL LISTEN: how a node learns at once that another one queued a
//! job (`queued`), stored a result (`done:<id>`), or was asked to cancel a
//! job this node runs (`cancel:<id>`). Notifications can be lost while the
//! connection is re-established; the claimer's interval and the waiters'
//! periodic look cover that.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend};
use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use super::store::CHANNEL;
use super::Jobs;

/// Listens on a connection of its own, outside the pool, which it would
/// otherwise hold for good.
pub async fn spawn(jobs: Arc<Jobs>, database_url: &str) -> Option<JoinHandle<()>> {
    if jobs.db.write.get_database_backend() != DbBackend::Postgres {
        return None;
    }
    let mut listener = match PgListener::connect(database_url).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(error = %err, "LISTEN unavailable; other nodes' jobs are noticed by polling");
            return None;
        }
    };
    if let Err(err) = listener.listen(CHANNEL).await {
        tracing::warn!(error = %err, "LISTEN unavailable; other nodes' jobs are noticed by polling");
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            let notification = tokio::select! {
                () = jobs.stopping.cancelled() => return,
                received = listener.recv() => received,
            };
            match notification {
                Ok(notification) => {
                    let payload = notification.payload();
                    if payload == "queued" {
                        jobs.wake_claimer.notify_one();
                    } else if let Some(id) = payload.strip_prefix("done:") {
                        jobs.waiters.wake_noticed(id);
                    } else if let Some(id) = payload.strip_prefix("cancel:") {
                        jobs.trip(id);
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "LISTEN connection failed; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }))
}
