//! The state one call's `Ctx` clones and its `WriteTxn` share with the
//! gateway: the pending write, cancellation, the audit target, progress.

use std::sync::atomic::{AtomicBool, AtomicU8};
use std::sync::{Mutex, OnceLock};

use tokio_util::sync::CancellationToken;

/// What the gateway and a handler's clones of its `Ctx` share: one
/// allocation per call.
pub(crate) struct CallState {
    /// The handler's committed-but-not-yet-durable writes.
    pub(crate) pending: Mutex<Option<crate::WriteTransaction>>,
    /// Made on first use: most calls are never cancellable jobs.
    pub(crate) cancel: OnceLock<CancellationToken>,
    /// Set by [`crate::Ctx::invalidates_tokens`].
    pub(crate) tokens_invalidated: AtomicBool,
    /// Set by [`crate::Ctx::audit_target`].
    pub(crate) audit_target: Mutex<Option<String>>,
    /// Set by [`crate::Ctx::audit_success_as`].
    pub(crate) success_audit: OnceLock<String>,
    /// Set by [`crate::Ctx::progress`]; `NO_PROGRESS` until then.
    pub(crate) progress: AtomicU8,
    /// What [`crate::Ctx::log`] and [`crate::Ctx::describe`] reported.
    pub(crate) report: Mutex<Report>,
    /// Whether progress, log or description changed since the gateway
    /// last stored them.
    pub(crate) unsaved: AtomicBool,
}

/// A run's log lines and description, as written so far.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) log: Vec<crate::LogLine>,
    pub(crate) description: Option<String>,
}

pub(crate) const NO_PROGRESS: u8 = u8::MAX;

impl Default for CallState {
    fn default() -> Self {
        CallState {
            pending: Mutex::new(None),
            cancel: OnceLock::new(),
            tokens_invalidated: AtomicBool::new(false),
            audit_target: Mutex::new(None),
            success_audit: OnceLock::new(),
            progress: AtomicU8::new(NO_PROGRESS),
            report: Mutex::default(),
            unsaved: AtomicBool::new(false),
        }
    }
}
