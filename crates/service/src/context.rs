//! What a handler is given besides its input: who is calling, the request
//! id, the database, cancellation, and its service's own settings.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actiongate_wire::{ApiError, RequestId, Status};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio_util::sync::CancellationToken;

use crate::call::{CallState, NO_PROGRESS};
use crate::write::{OpenWrite, WriteTransaction, WriteTxn};
use crate::{ActionError, Role};

/// The authenticated caller: the token, the user it acts for, the one
/// organization it is bound to, and what it may do there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub user_id: String,
    pub org_id: String,
    /// The user's role in the organization, capped by the token's role.
    pub role: Role,
    /// Set when the token is limited to one project.
    pub project_id: Option<String>,
    /// The token's role cap, if any. Project roles are capped by it too.
    pub role_cap: Option<Role>,
    /// The custom roles that shape what it may do besides.
    pub custom: crate::rules::CustomRoles,
}

impl Principal {
    /// The caller of a public action: nobody in particular.
    pub fn anonymous() -> Self {
        Principal {
            token_id: String::new(),
            user_id: String::new(),
            org_id: String::new(),
            role: Role::Viewer,
            project_id: None,
            role_cap: None,
            custom: Default::default(),
        }
    }

    /// The role the principal holds in a project where its user's
    /// membership is `membership`: the better of that and its organization
    /// role, never above the token's cap.
    pub fn project_role(&self, membership: Option<Role>) -> Role {
        let member = membership.map(|role| self.role_cap.map_or(role, |cap| cap.min(role)));
        member.map_or(self.role, |member| member.max(self.role))
    }

    /// `Forbidden` unless the principal holds at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::new(
                Status::Forbidden,
                format!("This needs the {role} role; the caller is a {}", self.role),
            ))
        }
    }
}

/// The database, as the gateway holds it.
///
/// `read` serves single statements and read-only transactions. A
/// transaction that writes must begin with [`Db::begin_write`] (or on
/// `write`): on SQLite writers take turns holding `write`, the one writer
/// connection, because a transaction that reads and then writes fails
/// (`SQLITE_BUSY_SNAPSHOT`) whenever another connection commits in
/// between; on PostgreSQL both are the same pool.
///
/// `open_write`, set on SQLite, begins those transactions on a connection
/// called directly, which holds `write` as its turn while it is open.
#[derive(Clone, Debug)]
pub struct Db {
    pub read: DatabaseConnection,
    pub write: DatabaseConnection,
    pub open_write: Option<Arc<dyn OpenWrite>>,
}

impl Db {
    pub async fn begin_write(&self) -> Result<WriteTransaction, DbErr> {
        match &self.open_write {
            Some(open) => open.begin().await,
            None => Ok(WriteTransaction::new(self.write.begin().await?)),
        }
    }
}

/// Which action a call is for, as `service/version/path`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionName {
    pub service: &'static str,
    pub version: &'static str,
    pub path: &'static str,
}

impl std::fmt::Display for ActionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.service, self.version, self.path)
    }
}

/// The context of one call.
///
/// Handlers read through [`Ctx::read`] and write only inside
/// [`Ctx::begin_write`]: the gateway commits those writes together with the
/// call's recorded result, which is what makes an asynchronous request run
/// once (see [`WriteTxn`]).
#[derive(Clone)]
pub struct Ctx {
    pub request_id: RequestId,
    pub action: ActionName,
    pub principal: Arc<Principal>,
    db: Db,
    call: Arc<CallState>,
    state: Arc<http::Extensions>,
    project: Option<Arc<str>>,
    /// The project record the gateway read while checking the scope, so a
    /// read-only handler need not read it again.
    checked: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Ctx {
    pub fn new(
        request_id: RequestId,
        action: ActionName,
        principal: Arc<Principal>,
        db: Db,
        state: Arc<http::Extensions>,
    ) -> Self {
        Ctx {
            request_id,
            action,
            principal,
            db,
            call: Arc::default(),
            state,
            project: None,
            checked: None,
        }
    }

    /// The connection for reads outside a write transaction.
    pub fn read(&self) -> &DatabaseConnection {
        &self.db.read
    }

    /// Starts (or, after an earlier [`WriteTxn::commit`] in this call,
    /// continues) the call's one write transaction.
    pub async fn begin_write(&self) -> Result<WriteTxn, ActionError> {
        let resumed = self.call.pending.lock().expect("pending write lock").take();
        let txn = match resumed {
            Some(txn) => txn,
            None => self.db.begin_write().await?,
        };
        Ok(WriteTxn::new(txn, self.call.clone()))
    }

    /// The project the call's declared scope resolved to, if it has one
    /// (see [`crate::Scope`]). Its audit event is filed under it.
    pub fn project_scope(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// Sets [`Ctx::project_scope`]; the gateway calls it once the scope is
    /// checked.
    pub fn with_project_scope(mut self, project_id: Option<Arc<str>>) -> Self {
        self.project = project_id;
        self
    }

    /// Keeps the record the gateway read while checking the scope (see
    /// [`Ctx::checked_record`]).
    pub fn with_checked_record(
        mut self,
        record: Option<Arc<dyn std::any::Any + Send + Sync>>,
    ) -> Self {
        self.checked = record;
        self
    }

    /// The record of type `T` the gateway read, on this call's read
    /// connection, while checking its scope. For read-only handlers: a
    /// writer reads its records again inside its transaction.
    pub fn checked_record<T: 'static>(&self) -> Option<&T> {
        self.checked.as_deref()?.downcast_ref()
    }

    /// The writes the handler committed, for the gateway to commit with the
    /// call's result. `None` if the handler wrote nothing.
    pub fn take_pending_write(&self) -> Option<WriteTransaction> {
        self.call.pending.lock().expect("pending write lock").take()
    }

    /// A checkpoint: `Err(Cancelled)` once the caller has cancelled this
    /// request. Long handlers call it between steps; returning the error
    /// ends the call and discards its writes.
    pub fn checkpoint(&self) -> Result<(), ApiError> {
        if self.call.cancel.get().is_some_and(|c| c.is_cancelled()) {
            Err(ApiError::new(
                Status::Cancelled,
                "The request was cancelled by its caller",
            ))
        } else {
            Ok(())
        }
    }

    /// Resolves when the request is cancelled, for handlers that wait on
    /// something else meanwhile.
    pub async fn cancelled(&self) {
        self.cancellation().cancelled().await
    }

    /// Declares that this call's writes change who may do what (a token
    /// revoked, a role or membership changed): the gateway moves the auth
    /// epoch on in the same transaction, so every gateway checks its
    /// cached token verifications again from its next request.
    pub fn invalidates_tokens(&self) {
        self.call.tokens_invalidated.store(true, Ordering::Relaxed);
    }

    /// Whether [`Ctx::invalidates_tokens`] was called.
    pub fn tokens_invalidated(&self) -> bool {
        self.call.tokens_invalidated.load(Ordering::Relaxed)
    }

    /// Names the record this call changes, for its audit event (the
    /// gateway writes one with every call that commits a change).
    pub fn audit_target(&self, id: impl Into<String>) {
        *self.call.audit_target.lock().expect("audit target lock") = Some(id.into());
    }

    /// What [`Ctx::audit_target`] named.
    pub fn audited_target(&self) -> Option<String> {
        self.call
            .audit_target
            .lock()
            .expect("audit target lock")
            .clone()
    }

    /// Declares that this call changes something when it succeeds, though
    /// it writes nothing through the gateway (a call forwarded to an
    /// upstream service: the gateway cannot see what it changed). Its
    /// success is then recorded in the audit trail as `action`, with its
    /// result. The first name given stands.
    pub fn audit_success_as(&self, action: impl Into<String>) {
        let _ = self.call.success_audit.set(action.into());
    }

    /// What [`Ctx::audit_success_as`] named.
    pub fn success_audit(&self) -> Option<&str> {
        self.call.success_audit.get().map(String::as_str)
    }

    /// Reports how far a long call has come, in percent (capped at 100).
    /// Polls of a running job show it as `completion_percent`, on every
    /// node: the gateway stores it with the job.
    pub fn progress(&self, percent: u8) {
        self.call
            .progress
            .store(percent.min(100), Ordering::Relaxed);
        self.call.unsaved.store(true, Ordering::Release);
    }

    /// Adds a timestamped line to the call's log: an activity shows it.
    pub fn log(&self, message: impl Into<String>) {
        let line = crate::LogLine {
            at: actiongate_wire::Timestamp::now(),
            message: message.into(),
        };
        self.call.report.lock().expect("report lock").log.push(line);
        self.call.unsaved.store(true, Ordering::Release);
    }

    /// Says in a sentence what the call does, for its activity ("dev@x
    /// branched production into feature-x").
    pub fn describe(&self, sentence: impl Into<String>) {
        self.call.report.lock().expect("report lock").description = Some(sentence.into());
        self.call.unsaved.store(true, Ordering::Release);
    }

    /// What the call reported since the last time this was asked, if
    /// anything: the gateway stores it with the job.
    pub fn take_report(&self) -> Option<crate::RunReport> {
        if !self.call.unsaved.swap(false, Ordering::AcqRel) {
            return None;
        }
        let report = self.call.report.lock().expect("report lock");
        Some(crate::RunReport {
            progress: self.reported_progress(),
            log: report.log.clone(),
            description: report.description.clone(),
        })
    }

    /// Everything the call reported, if it reported anything: what the
    /// gateway stores when the run ends.
    pub fn report(&self) -> Option<crate::RunReport> {
        let progress = self.reported_progress();
        let report = self.call.report.lock().expect("report lock");
        if progress.is_none() && report.log.is_empty() && report.description.is_none() {
            return None;
        }
        Some(crate::RunReport {
            progress,
            log: report.log.clone(),
            description: report.description.clone(),
        })
    }

    /// The job engine, for handlers that act on other requests (see
    /// [`crate::Requests`]).
    ///
    /// # Panics
    /// Before the gateway has started its engine: handlers only run after.
    pub fn requests(&self) -> &dyn crate::Requests {
        self.state::<Arc<crate::Engine>>()
            .get()
            .expect("the job engine is installed before any call runs")
            .as_ref()
    }

    /// The last [`Ctx::progress`] reported, if any.
    pub fn reported_progress(&self) -> Option<u8> {
        match self.call.progress.load(Ordering::Relaxed) {
            NO_PROGRESS => None,
            percent => Some(percent),
        }
    }

    /// Deletes what every service keeps in the projects `ids` selects (a
    /// subquery of project ids), in `txn`: the caller then deletes the
    /// projects themselves. See [`crate::Hooks`].
    pub async fn delete_project_contents(
        &self,
        txn: &WriteTxn,
        ids: sea_orm::sea_query::SelectStatement,
    ) -> Result<(), DbErr> {
        for hook in &self.state::<Arc<crate::Hooks>>().projects_deleted {
            hook(txn, ids.clone()).await?;
        }
        Ok(())
    }

    /// The token the gateway trips to cancel this call.
    pub fn cancellation(&self) -> &CancellationToken {
        self.call.cancel.get_or_init(CancellationToken::new)
    }

    /// An `InternalError` for an unexpected failure: the cause goes to the
    /// log with the request id, the caller sees only the id.
    pub fn internal(&self, cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(request_id = %self.request_id, error = %cause, "action failed");
        ApiError::internal(self.request_id)
    }

    /// The service's own state of type `T`, as given to [`crate::Service::state`].
    ///
    /// # Panics
    /// If the service never registered a `T`: a programming error caught by
    /// the first test that calls the action.
    /// The service's state of type `T`, if it was registered.
    pub fn try_state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.state.get::<T>()
    }

    pub fn state<T: Send + Sync + 'static>(&self) -> &T {
        self.state.get::<T>().unwrap_or_else(|| {
            panic!(
                "service state {} was not registered",
                std::any::type_name::<T>()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, role_cap: Option<Role>) -> Principal {
        Principal {
            role,
            role_cap,
            ..Principal::anonymous()
        }
    }

    #[test]
    fn project_role_is_the_better_of_membership_and_org_role_within_the_cap() {
        let viewer = principal(Role::Viewer, None);
        assert_eq!(viewer.project_role(None), Role::Viewer);
        assert_eq!(viewer.project_role(Some(Role::Admin)), Role::Admin);
        let admin = principal(Role::Admin, None);
        assert_eq!(admin.project_role(Some(Role::Viewer)), Role::Admin);
        // A token capped at member: its org role is already capped, and so
        // is what a project membership gives it.
        let capped = principal(Role::Member, Some(Role::Member));
        assert_eq!(capped.project_role(Some(Role::Owner)), Role::Member);
        let capped_viewer = principal(Role::Viewer, Some(Role::Viewer));
        assert_eq!(capped_viewer.project_role(Some(Role::Admin)), Role::Viewer);
    }
}
