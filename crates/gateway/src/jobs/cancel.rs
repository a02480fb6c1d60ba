//! Cancelling a job: a queued one at once, a running one at its next
//! checkpoint, on whichever node runs it.

use actiongate_entity::job;
use actiongate_service::CancelState;
use actiongate_wire::{RequestId, Timestamp};
use sea_orm::{DbErr, TransactionTrait};

use super::store;
use super::{outbox, Cancelled, Jobs, Retention, CANCELLED, SUCCEEDED};
use crate::Outcome;

impl Jobs {
    /// Cancels a job: at once if queued; at the handler's next checkpoint
    /// if running (here, or on another node, which learns of it by NOTIFY
    /// or at its next lease renewal).
    pub async fn cancel(&self, row: &job::Model) -> Result<Cancelled, DbErr> {
        if row.response.is_some() {
            return Ok(Cancelled::AlreadyFinished(row.state.clone()));
        }
        let request_id = RequestId::parse(&row.request_id)
            .map_err(|_| DbErr::Custom(format!("invalid request id {:?}", row.request_id)))?;
        let end = self.final_of(
            request_id,
            Timestamp::from_unix_ms(row.request_time),
            Retention::of(row),
            &Outcome::cancelled(),
        );
        let txn = self.db.write.begin().await?;
        if store::cancel_queued(&txn, &row.request_id, &end).await? {
            if row.activity_type.is_some() {
                outbox::record(&txn, [(row.request_id.clone(), CANCELLED)]).await?;
            }
            store::notify(&txn, &format!("done:{}", row.request_id)).await?;
            txn.commit().await?;
            self.waiters.wake(&row.request_id, None);
            return Ok(Cancelled::Now);
        }
        if store::request_cancel(&txn, &row.request_id).await? {
            store::notify(&txn, &format!("cancel:{}", row.request_id)).await?;
            txn.commit().await?;
            self.trip(&row.request_id);
            return Ok(Cancelled::Requested);
        }
        txn.commit().await?;
        // It finished in the meantime.
        let state = store::find(&self.db.write, &row.request_id)
            .await?
            .map(|row| row.state)
            .unwrap_or_else(|| SUCCEEDED.to_owned());
        Ok(Cancelled::AlreadyFinished(state))
    }

    /// Cancels the live job `request_id`, for a handler (see
    /// [`actiongate_service::Requests`]).
    pub(super) async fn cancel_by_id(&self, request_id: &str) -> Result<CancelState, DbErr> {
        let Some(row) = self.find_live(request_id).await? else {
            return Ok(CancelState::Unknown);
        };
        Ok(match self.cancel(&row).await? {
            Cancelled::Now => CancelState::Cancelled,
            Cancelled::Requested => CancelState::Cancelling,
            Cancelled::AlreadyFinished(state) => CancelState::Finished(state),
        })
    }

    /// Trips the cancellation of a job if this node runs it; whether it
    /// does.
    pub(super) fn trip(&self, request_id: &str) -> bool {
        let running = self.running.lock().expect("running lock");
        let Some(run) = running.get(request_id) else {
            return false;
        };
        run.ctx.cancellation().cancel();
        true
    }
}
