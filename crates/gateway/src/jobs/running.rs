//! The registry of jobs this node runs: how to cancel one, read its
//! progress, or stop it at shutdown.

use std::time::{Duration, Instant};

use actiongate_service::Ctx;
use tokio::task::AbortHandle;

use super::{Claim, Jobs};

/// A job this node runs: its call (to cancel it, or read its progress),
/// and its task, to stop at shutdown.
pub(super) struct Running {
    pub(super) ctx: Ctx,
    /// The claim it runs under, which fences what it reports.
    pub(super) fence: super::Fence,
    pub(super) abort: Option<AbortHandle>,
    /// When this node took it on as a job.
    pub(super) started: Instant,
}

impl Jobs {
    /// Registers a run of this node's, so it can be cancelled and, at
    /// shutdown, stopped and handed back.
    pub fn track(&self, claim: &Claim, ctx: &Ctx, abort: Option<AbortHandle>) {
        self.running.lock().expect("running lock").insert(
            claim.fence.request_id.clone(),
            Running {
                ctx: ctx.clone(),
                fence: claim.fence.clone(),
                abort,
                started: Instant::now(),
            },
        );
    }

    /// The progress a job running on this node last reported.
    pub fn progress(&self, request_id: &str) -> Option<u8> {
        self.running
            .lock()
            .expect("running lock")
            .get(request_id)
            .and_then(|running| running.ctx.reported_progress())
    }

    /// The jobs this node runs now.
    pub(super) fn running_ids(&self) -> Vec<String> {
        self.running
            .lock()
            .expect("running lock")
            .keys()
            .cloned()
            .collect()
    }

    /// Forgets a run that ended; returns how long it ran here.
    pub(super) fn untrack(&self, request_id: &str) -> Option<Duration> {
        self.running
            .lock()
            .expect("running lock")
            .remove(request_id)
            .map(|running| running.started.elapsed())
    }
}
