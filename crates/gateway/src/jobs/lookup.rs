//! What polls and replays read of the job table, and long-poll waits.

use std::time::Duration;

use actiongate_entity::job;
use actiongate_wire::Timestamp;
use sea_orm::DbErr;

use super::known::with_end;
use super::store;
use super::waiters::{Registration, Woken};
use super::writer::{Done, Op};
use super::{live, Jobs};

impl Jobs {
    /// A job, if it exists and has not expired.
    pub async fn find_live(&self, request_id: &str) -> Result<Option<job::Model>, DbErr> {
        let row = store::find(&self.db.read, request_id).await?;
        Ok(row.filter(live))
    }

    /// A job as this node knows it without reading the table, with no
    /// input: one it runs, or whose end it committed a moment ago
    /// ([`super::known`]).
    pub fn known(&self, request_id: &str) -> Option<job::Model> {
        self.waiters.known().get(request_id).filter(live)
    }

    /// A poll gave `request_id`'s final answer: later ones read the table.
    pub fn answered(&self, request_id: &str) {
        self.waiters.known().forget(request_id);
    }

    /// The live job a token started with `key`. An expired one is removed
    /// so the key can be used again.
    pub async fn find_by_key(
        &self,
        token_id: &str,
        key: &str,
    ) -> Result<Option<job::Model>, DbErr> {
        let row = store::find_by_key(&self.db.read, token_id, key).await?;
        match row {
            Some(row) if !live(&row) => {
                store::delete_expired(&self.db.write, &row.request_id, Timestamp::now_ms()).await?;
                Ok(None)
            }
            row => Ok(row),
        }
    }

    /// Counts a fetch; the count so far.
    pub async fn count_poll(&self, request_id: &str) -> Result<Option<i32>, DbErr> {
        match self
            .writer
            .submit(Op::CountPoll {
                request_id: request_id.to_owned(),
            })
            .await?
        {
            Done::Polls(count) => Ok(count),
            _ => unreachable!("a poll count answers with the count"),
        }
    }

    /// Starts waiting for `request_id`'s result, before the caller looks
    /// at the job; see [`Jobs::wait_final`].
    pub fn register_wait<'a>(&'a self, request_id: &'a str) -> Registration<'a> {
        self.waiters.register(request_id)
    }

    /// Waits up to `at_most` for job `request_id`, `seen` as the caller
    /// last read it (after registering), to finish; the job as it is
    /// then, finished or not (as last seen, if it has expired since).
    /// Woken by this node's own commit of the end, it answers with that
    /// end, without reading the row again.
    pub async fn wait_final(
        &self,
        request_id: &str,
        seen: job::Model,
        at_most: Duration,
        registered: Registration<'_>,
    ) -> Result<job::Model, DbErr> {
        // Results stored by another node reach this one by NOTIFY on
        // PostgreSQL; looking again every second covers a missed one.
        const LOOK_AGAIN: Duration = Duration::from_secs(1);
        let deadline = tokio::time::Instant::now() + at_most;
        let mut registration = registered;
        let mut seen = seen;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Woken::Ended(end) = registration.wait(remaining.min(LOOK_AGAIN)).await {
                return Ok(with_end(seen, &end));
            }
            let next = self.waiters.register(request_id);
            match self.find_live(request_id).await? {
                Some(row) if row.response.is_none() && tokio::time::Instant::now() < deadline => {
                    seen = row;
                    registration = next;
                }
                row => return Ok(row.unwrap_or(seen)),
            }
        }
    }
}
