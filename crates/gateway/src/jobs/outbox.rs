//! The activity outbox: each state an activity enters is written to
//! `activity_events` in the same transaction as the job's change (recorded,
//! claimed, finished, cancelled), and the dispatcher hands the events to
//! the services' `on_activity_events` hooks, in order, in the transaction
//! that removes them. What a hook writes and the jobs it starts commit with
//! that removal, so an event is acted on once, however the nodes crash.

use std::sync::Arc;
use std::time::Duration;

use actiongate_entity::{activity_event, job};
use actiongate_service::ActivityEvent;
use actiongate_wire::Timestamp;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use tokio::task::JoinHandle;

use super::{store, Jobs};

/// How often the dispatcher looks for events.
const EVERY: Duration = Duration::from_millis(250);
/// The most events one transaction hands over.
const BATCH: u64 = 100;

/// Writes that `request_id` entered the activity state of `job_state`.
pub async fn record(
    conn: &impl ConnectionTrait,
    changes: impl IntoIterator<Item = (String, &str)>,
) -> Result<(), DbErr> {
    let now = Timestamp::now_ms();
    let rows: Vec<activity_event::ActiveModel> = changes
        .into_iter()
        .map(|(request_id, job_state)| activity_event::ActiveModel {
            id: ActiveValue::NotSet,
            request_id: Set(request_id),
            state: Set(job::activity_state(job_state).to_owned()),
            created_at: Set(now),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    activity_event::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map(|_| ())
}

/// The activities among new job rows, with the state each starts in.
pub fn recorded(rows: &[job::ActiveModel]) -> Vec<(String, String)> {
    rows.iter()
        .filter(|row| matches!(&row.activity_type, ActiveValue::Set(Some(_))))
        .filter_map(|row| match (&row.request_id, &row.state) {
            (ActiveValue::Set(id), ActiveValue::Set(state)) => Some((id.clone(), state.clone())),
            _ => None,
        })
        .collect()
}

impl Jobs {
    /// Hands the outbox's events to the services, every [`EVERY`].
    pub(super) fn spawn_dispatcher(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = self.stopping.cancelled() => return,
                    () = tokio::time::sleep(EVERY) => {}
                }
                loop {
                    match self.dispatch().await {
                        Ok(handed) if handed == BATCH => continue,
                        Ok(_) => break,
                        Err(err) => {
                            tracing::warn!(error = %err, "handing activity events over failed; they stay for the next look");
                            break;
                        }
                    }
                }
            }
        })
    }

    /// Hands one batch over; how many events it held.
    async fn dispatch(&self) -> Result<u64, DbErr> {
        // A look on the read side first: an idle outbox costs no write
        // transaction (on SQLite, the one writer connection). It reads
        // whether an event is there, through the primary key, without
        // counting them all (or decoding one).
        if activity_event::Entity::find()
            .select_only()
            .expr_as(Expr::val(1), "waiting")
            .order_by_asc(activity_event::Column::Id)
            .limit(1)
            .into_tuple::<i32>()
            .one(&self.db.read)
            .await?
            .is_none()
        {
            return Ok(0);
        }
        let txn = self.db.write.begin().await?;
        let mut taking = activity_event::Entity::find()
            .order_by_asc(activity_event::Column::Id)
            .limit(BATCH);
        if txn.get_database_backend() == DbBackend::Postgres {
            // Another node takes the next batch, not the same one.
            QuerySelect::query(&mut taking)
                .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let taken = taking.all(&txn).await?;
        if taken.is_empty() {
            txn.commit().await?;
            return Ok(0);
        }
        let events: Vec<ActivityEvent> = taken
            .iter()
            .map(|row| ActivityEvent {
                request_id: row.request_id.clone(),
                state: row.state.clone(),
                at: row.created_at,
            })
            .collect();
        let mut started = Vec::new();
        for hook in self.routes.activity_hooks() {
            for job in hook(&txn, &events).await? {
                started.push(self.scheduled_row(job).1);
            }
        }
        let starts = !started.is_empty();
        store::insert(&txn, started).await?;
        activity_event::Entity::delete_many()
            .filter(activity_event::Column::Id.is_in(taken.iter().map(|row| row.id)))
            .exec(&txn)
            .await?;
        if starts {
            store::notify(&txn, "queued").await?;
        }
        txn.commit().await?;
        if starts {
            self.wake_claimer.notify_one();
        }
        Ok(taken.len() as u64)
    }
}
