//! What a handler may learn and ask of recorded requests (jobs) other than
//! its own: how a running activity reports itself, and cancelling one.
//!
//! The job engine lives in the gateway, which a service never imports; it
//! hands its side of this over at start ([`Engine::install`]).

use std::sync::{Arc, OnceLock};

use futures_util::future::BoxFuture;
use sea_orm::{DbBackend, DbErr, Statement};

use crate::LogLine;

/// What a run has reported since the gateway last stored it: its progress,
/// its whole log so far, its description.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    pub progress: Option<u8>,
    pub log: Vec<LogLine>,
    pub description: Option<String>,
}

/// How a cancel went (the same as `POST /request/cancel`'s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelState {
    /// It was pending and is now cancelled.
    Cancelled,
    /// It is running; it stops at its next checkpoint.
    Cancelling,
    /// It had already finished, in this state (`succeeded`, `failed`,
    /// `cancelled`).
    Finished(String),
    /// No such request (or it expired).
    Unknown,
}

/// A job a service starts itself (a webhook's delivery): an action of its
/// own, run by the engine like any other job, on behalf of `org_id` and
/// `user_id`, without a token.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub service: &'static str,
    pub version: &'static str,
    pub action: &'static str,
    /// The action's input, as JSON.
    pub input: Vec<u8>,
    pub org_id: String,
    pub user_id: String,
    /// Not claimed before this time (Unix ms), if set.
    pub due_at: Option<i64>,
}

/// The job engine, as handlers see it.
pub trait Requests: Send + Sync {
    /// Cancels a recorded request. The caller has checked that its caller
    /// may.
    fn cancel<'a>(&'a self, request_id: &'a str) -> BoxFuture<'a, Result<CancelState, DbErr>>;

    /// The statement that records `job`, queued, for the caller to run in
    /// its own transaction (so the job exists if and only if the rest of
    /// the transaction commits); and the job's request id.
    fn schedule(&self, backend: DbBackend, job: NewJob) -> (crate::RequestId, Statement);
}

/// An activity entering a state, as the outbox hands it to services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityEvent {
    /// The activity (its request id).
    pub request_id: String,
    /// `pending`, `in_progress`, `complete` or `cancelled`.
    pub state: String,
    /// When it entered it (Unix ms).
    pub at: i64,
}

/// Where the gateway puts its engine once it has started: every service's
/// state holds the same one.
#[derive(Default)]
pub struct Engine(OnceLock<Arc<dyn Requests>>);

impl Engine {
    /// Hands the engine over; later calls are ignored.
    pub fn install(&self, requests: Arc<dyn Requests>) {
        let _ = self.0.set(requests);
    }

    pub(crate) fn get(&self) -> Option<&Arc<dyn Requests>> {
        self.0.get()
    }
}
