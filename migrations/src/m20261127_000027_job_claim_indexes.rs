//! The claim's indexes (`jobs::store::claim`), so that taking the next job
//! costs a few index seeks per queue however many jobs wait. Before them,
//! a claim walked every queued job and, for each, the jobs of its queue:
//! with thousands of operations queued behind one environment's running
//! one, a claim held SQLite's one writer for hundreds of milliseconds, and
//! every accepted request waited behind it.
//!
//! All partial, so jobs pay only while they wait:
//! - `jobs_unqueued`: queued jobs of no queue, oldest first;
//! - `jobs_queue_pending`: each queue's queued and running jobs, oldest
//!   first (its head, and the next queue's key);
//! - `jobs_queue_running`: the running job of a queue.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str); 3] = [
    (
        "jobs_unqueued",
        "CREATE INDEX jobs_unqueued ON jobs (request_id) \
         WHERE state = 'queued' AND queue_key IS NULL",
    ),
    (
        "jobs_queue_pending",
        "CREATE INDEX jobs_queue_pending ON jobs (queue_key, request_id) \
         WHERE state IN ('queued', 'running') AND queue_key IS NOT NULL",
    ),
    (
        "jobs_queue_running",
        "CREATE INDEX jobs_queue_running ON jobs (queue_key) \
         WHERE state = 'running' AND queue_key IS NOT NULL",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (_, create) in INDEXES {
            manager.get_connection().execute_unprepared(create).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX {name}"))
                .await?;
        }
        Ok(())
    }
}
