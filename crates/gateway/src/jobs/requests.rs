//! The engine as handlers see it (`actiongate_service::Requests`):
//! cancelling a request, scheduling a job in the caller's transaction.

use actiongate_service::{CancelState, NewJob, Requests};
use actiongate_wire::RequestId;
use futures_util::future::BoxFuture;
use sea_orm::{DbBackend, DbErr, EntityTrait, QueryTrait, Statement};

use super::Jobs;
use actiongate_entity::job;

impl Requests for Jobs {
    fn cancel<'a>(&'a self, request_id: &'a str) -> BoxFuture<'a, Result<CancelState, DbErr>> {
        Box::pin(self.cancel_by_id(request_id))
    }

    fn schedule(&self, backend: DbBackend, job: NewJob) -> (RequestId, Statement) {
        let (request_id, row) = self.scheduled_row(job);
        (request_id, job::Entity::insert(row).build(backend))
    }
}
