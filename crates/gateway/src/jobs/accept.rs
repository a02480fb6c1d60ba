//! Accepting a request as a job: its row, written before its 202, and its
//! first run here when this node has room.

use std::sync::Arc;

use actiongate_entity::job;
use actiongate_service::{Ctx, NewJob, Principal, Role};
use actiongate_wire::{RequestId, Timestamp};
use sea_orm::{ActiveModelTrait, DbErr, IntoActiveModel, Set, TransactionTrait};

use crate::tokens::sha256_hex;
use crate::trace::TraceContext;

use super::store::{self, Fence};
use super::writer::Op;
use super::{outbox, worker, Claim, JobSpec, Jobs, Retention, QUEUED, RUNNING};

impl Jobs {
    pub(super) fn new_row(&self, spec: &JobSpec, state: &str) -> job::ActiveModel {
        self.new_job(spec, state).into_active_model().reset_all()
    }

    /// The row of a job this node runs from the start, and what this node
    /// knows of it: the same row, without its input.
    fn running_row(&self, spec: &JobSpec) -> (job::ActiveModel, job::Model) {
        let mut row = self.new_job(spec, RUNNING);
        let input = std::mem::take(&mut row.input);
        let known = row.clone();
        row.input = input;
        (row.into_active_model().reset_all(), known)
    }

    fn new_job(&self, spec: &JobSpec, state: &str) -> job::Model {
        let running = state == RUNNING;
        let now = Timestamp::now_ms();
        job::Model {
            request_id: spec.request_id.to_string(),
            org_id: spec.principal.org_id.clone(),
            user_id: spec.principal.user_id.clone(),
            token_id: spec.principal.token_id.clone(),
            role: Some(spec.principal.role.as_str().to_owned()),
            project_id: spec.principal.project_id.clone(),
            role_cap: spec.principal.role_cap.map(|r| r.as_str().to_owned()),
            scope_project_id: spec.scope_project_id.as_deref().map(str::to_owned),
            service: spec.service.to_owned(),
            version: spec.version.to_string(),
            action: spec.action.to_string(),
            input: spec.input.to_vec(),
            state: state.to_owned(),
            node_id: running.then(|| self.node_id.clone()),
            lease_until: running.then(|| self.lease_until()),
            cancel_requested: false,
            idempotency_key: spec.idempotency_key.clone(),
            // Hashed here, when a row is made: most calls never become one.
            input_hash: Some(sha256_hex(&spec.input)),
            attempts: i32::from(running),
            poll_count: 0,
            response: None,
            http_code: None,
            request_time: spec.request_time.unix_ms(),
            started_at: running.then_some(now),
            finished_at: None,
            expires_at: None,
            traceparent: Some(spec.trace.traceparent()),
            upstream_call: spec
                .upstream_call
                .as_ref()
                .map(|call| serde_json::to_string(call).expect("an upstream call serializes")),
            upstream_request_id: None,
            queue_key: spec.activity.as_ref().and_then(|a| a.queue_key.clone()),
            activity_type: spec.activity.as_ref().map(|a| a.kind.to_owned()),
            activity_project_id: spec
                .activity
                .as_ref()
                .and(spec.scope_project_id.as_deref().map(str::to_owned)),
            progress: None,
            log: None,
            description: None,
            due_at: None,
        }
    }

    /// The row of a job a service starts itself ([`NewJob`]): queued, due
    /// when it says, on behalf of its user with no token (so no caller can
    /// poll it), in a trace of its own.
    pub(super) fn scheduled_row(&self, job: NewJob) -> (RequestId, job::ActiveModel) {
        let request_id = RequestId::new();
        let spec = JobSpec {
            request_id,
            request_time: Timestamp::now(),
            principal: Arc::new(Principal {
                token_id: String::new(),
                user_id: job.user_id,
                org_id: job.org_id,
                role: Role::Viewer,
                project_id: None,
                role_cap: None,
                custom: Default::default(),
            }),
            scope_project_id: None,
            service: job.service,
            version: job.version.into(),
            action: job.action.into(),
            input: job.input.into(),
            idempotency_key: None,
            trace: TraceContext::start(),
            upstream_call: None,
            activity: None,
        };
        let mut row = self.new_row(&spec, QUEUED);
        row.due_at = Set(job.due_at);
        (request_id, row)
    }

    pub(super) fn claim_of(&self, spec: &JobSpec) -> Claim {
        Claim {
            request_id: spec.request_id,
            fence: Fence {
                request_id: spec.request_id.to_string(),
                node_id: self.node_id.clone(),
                attempt: 1,
            },
            request_time: spec.request_time,
            retention: Retention {
                keyed: spec.idempotency_key.is_some(),
                activity: spec.activity.is_some(),
            },
        }
    }

    /// Records a designated-asynchronous request and starts it here if
    /// there is room, else leaves it queued for any node. `Ok(false)`: its
    /// idempotency key was taken meanwhile.
    ///
    /// A job with a serialization key is always queued: only the claim
    /// knows whether an earlier one with its key is still to run.
    pub async fn accept(
        self: &Arc<Self>,
        spec: &JobSpec,
        ctx: Ctx,
        work: worker::Work,
    ) -> Result<bool, DbErr> {
        let serialized = spec
            .activity
            .as_ref()
            .is_some_and(|a| a.queue_key.is_some());
        let permit = if serialized {
            None
        } else {
            self.capacity.clone().try_acquire_owned().ok()
        };
        let (row, run_here) = match permit {
            Some(permit) => {
                let (row, known) = self.running_row(spec);
                (row, Some((permit, known)))
            }
            None => (self.new_row(spec, QUEUED), None),
        };
        let queued = run_here.is_none();
        if spec.idempotency_key.is_some() {
            let started = outbox::recorded(std::slice::from_ref(&row));
            if started.is_empty() {
                if !store::insert_if_absent(&self.db.write, row).await? {
                    return Ok(false);
                }
            } else {
                // An activity's first state is in the outbox with its row.
                let txn = self.db.write.begin().await?;
                if !store::insert_if_absent(&txn, row).await? {
                    return Ok(false);
                }
                let states = started.iter().map(|(id, s)| (id.clone(), s.as_str()));
                outbox::record(&txn, states).await?;
                txn.commit().await?;
            }
            if queued {
                store::notify(&self.db.write, "queued").await?;
            }
        } else {
            self.writer
                .submit(Op::Insert {
                    row: Box::new(row),
                    queued,
                })
                .await?;
        }
        match run_here {
            Some((permit, known)) => {
                self.waiters.known().started(known);
                drop(self.run(self.claim_of(spec), ctx, work, Some(permit)));
            }
            None => self.wake_claimer.notify_one(),
        }
        Ok(true)
    }

    /// Records a request this node is already running (a synchronous call
    /// past its threshold, or one with an idempotency key). `None`: a row
    /// for it, or for its key, exists.
    pub async fn record_running(&self, spec: &JobSpec) -> Result<Option<Claim>, DbErr> {
        let (row, known) = self.running_row(spec);
        if !store::insert_if_absent(&self.db.write, row).await? {
            return Ok(None);
        }
        self.waiters.known().started(known);
        Ok(Some(self.claim_of(spec)))
    }
}
