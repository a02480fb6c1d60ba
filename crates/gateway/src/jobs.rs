//! The job table: the durable record of asynchronous requests.
//!
//! A request is recorded here before its 202 is sent, with its body, so it
//! can be run again if this process dies. When it ends, its final envelope
//! is stored and kept for `result_ttl`; polls read it from here, on any
//! node. States: `queued` (recorded, not yet running), `running`,
//! `succeeded`, `failed`.
//!
//! Recovery in this version resumes every unfinished job when a gateway
//! starts, which is right for one node; several nodes sharing PostgreSQL
//! need the leases of the durable async engine.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actiongate_entity::job;
use actiongate_service::{Db, Principal};
use actiongate_wire::{RequestId, Timestamp};
use bytes::Bytes;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::Outcome;

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// What is known of a request when it is parked.
pub struct NewJob {
    pub request_id: RequestId,
    pub request_time: Timestamp,
    pub principal: Arc<Principal>,
    pub service: &'static str,
    pub version: &'static str,
    pub action: &'static str,
    pub input: Bytes,
}

/// The job table. Writes go through the writer connection (see [`Db`]).
pub struct Jobs {
    db: Db,
    node_id: String,
    ttl: Duration,
}

impl Jobs {
    pub fn new(db: Db, node_id: String, ttl: Duration) -> Arc<Self> {
        Arc::new(Jobs { db, node_id, ttl })
    }

    /// Records a request that this node is about to run (or is running).
    pub async fn record_running(&self, new: &NewJob) -> Result<(), DbErr> {
        job::ActiveModel {
            request_id: Set(new.request_id.to_string()),
            org_id: Set(new.principal.org_id.clone()),
            user_id: Set(new.principal.user_id.clone()),
            token_id: Set(new.principal.token_id.clone()),
            service: Set(new.service.to_owned()),
            version: Set(new.version.to_owned()),
            action: Set(new.action.to_owned()),
            input: Set(new.input.to_vec()),
            state: Set(RUNNING.to_owned()),
            node_id: Set(Some(self.node_id.clone())),
            attempts: Set(1),
            poll_count: Set(0),
            response: Set(None),
            http_code: Set(None),
            request_time: Set(new.request_time.unix_ms()),
            started_at: Set(Some(Timestamp::now_ms())),
            finished_at: Set(None),
            expires_at: Set(None),
        }
        .insert(&self.db.write)
        .await
        .map(|_| ())
    }

    /// Stores the final envelope of a request.
    pub async fn finish(
        &self,
        request_id: RequestId,
        request_time: Timestamp,
        outcome: &Outcome,
    ) -> Result<(), DbErr> {
        let now = Timestamp::now();
        let body = outcome.render(request_id, request_time, now);
        let now = now.unix_ms();
        let expires_at =
            now.saturating_add(i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX));
        let status = outcome.status();
        let state = if status.is_success() {
            SUCCEEDED
        } else {
            FAILED
        };
        job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(state))
            .col_expr(
                job::Column::Response,
                Expr::value(String::from_utf8(body).expect("serde_json writes UTF-8")),
            )
            .col_expr(
                job::Column::HttpCode,
                Expr::value(i32::from(status.http_code())),
            )
            .col_expr(job::Column::FinishedAt, Expr::value(now))
            .col_expr(job::Column::ExpiresAt, Expr::value(expires_at))
            .col_expr(job::Column::NodeId, Expr::value(Option::<String>::None))
            .filter(job::Column::RequestId.eq(request_id.to_string()))
            .exec(&self.db.write)
            .await
            .map(|_| ())
    }

    /// Runs `work` to completion in the background and stores its outcome.
    pub fn complete_in_background(
        self: &Arc<Self>,
        request_id: RequestId,
        request_time: Timestamp,
        work: impl Future<Output = Outcome> + Send + 'static,
    ) {
        let jobs = self.clone();
        tokio::spawn(async move {
            let outcome = work.await;
            // The result must not be lost to a passing database error.
            let mut delay = Duration::from_millis(50);
            while let Err(err) = jobs.finish(request_id, request_time, &outcome).await {
                tracing::error!(%request_id, error = %err, "storing a job result failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        });
    }

    /// A job, if it exists and has not expired.
    pub async fn find_live(&self, request_id: &RequestId) -> Result<Option<job::Model>, DbErr> {
        let row = job::Entity::find_by_id(request_id.to_string())
            .one(&self.db.read)
            .await?;
        let now = Timestamp::now_ms();
        Ok(row.filter(|job| job.expires_at.is_none_or(|at| at > now)))
    }

    /// Counts one more poll of a pending job; returns the new count.
    pub async fn count_poll(&self, job: &job::Model) -> Result<i32, DbErr> {
        job::Entity::update_many()
            .col_expr(
                job::Column::PollCount,
                Expr::col(job::Column::PollCount).add(1),
            )
            .filter(job::Column::RequestId.eq(&job.request_id))
            .exec(&self.db.write)
            .await?;
        Ok(job.poll_count + 1)
    }

    /// Jobs left unfinished by a previous run, claimed for this node.
    pub async fn claim_unfinished(&self) -> Result<Vec<job::Model>, DbErr> {
        let rows = job::Entity::find()
            .filter(job::Column::State.is_in([QUEUED, RUNNING]))
            .all(&self.db.write)
            .await?;
        if rows.is_empty() {
            return Ok(rows);
        }
        job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(RUNNING))
            .col_expr(job::Column::NodeId, Expr::value(self.node_id.clone()))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).add(1),
            )
            .col_expr(job::Column::StartedAt, Expr::value(Timestamp::now_ms()))
            .filter(job::Column::RequestId.is_in(rows.iter().map(|row| row.request_id.as_str())))
            .exec(&self.db.write)
            .await?;
        Ok(rows)
    }

    /// Deletes results whose time to live has passed.
    pub async fn sweep_expired(&self) -> Result<u64, DbErr> {
        let result = job::Entity::delete_many()
            .filter(job::Column::ExpiresAt.lt(Timestamp::now_ms()))
            .exec(&self.db.write)
            .await?;
        Ok(result.rows_affected)
    }

    /// Sweeps expired results every `every`.
    pub fn spawn_sweeper(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let jobs = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(jobs) = jobs.upgrade() else { return };
                match jobs.sweep_expired().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(removed = n, "expired job results removed"),
                    Err(err) => tracing::warn!(error = %err, "sweeping expired job results failed"),
                }
            }
        })
    }
}
