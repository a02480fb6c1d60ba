//! The job table's statements, each on any connection or transaction.
//!
//! Every statement that ends or extends a job's run is fenced by the claim
//! it was made under (`node_id` and `attempts`): a node that lost its lease
//! finds its writes match no row, and knows to discard its work.

use actiongate_entity::{audit_event, job};
use actiongate_service::RunReport;
use sea_orm::sea_query::{
    Condition, Expr, LockBehavior, LockType, OnConflict, Order, Query, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
};

use super::{CANCELLED, QUEUED, RUNNING};

/// The LISTEN/NOTIFY channel that PostgreSQL nodes share.
pub const CHANNEL: &str = "actiongate_jobs";

/// A run of a job by one node: the fence for its writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub request_id: String,
    pub node_id: String,
    pub attempt: i32,
}

impl Fence {
    fn condition(&self) -> Condition {
        Condition::all()
            .add(job::Column::RequestId.eq(&self.request_id))
            .add(state_is(RUNNING))
            .add(job::Column::NodeId.eq(&self.node_id))
            .add(job::Column::Attempts.eq(self.attempt))
    }
}

/// `state = <state>` for a row already found by its key: written so that
/// no planner reads the state index to find it. PostgreSQL's statistics
/// count only the few live queued or running rows, so the state index looks
/// the cheapest way in; but it also keeps an entry for every earlier
/// version of every job (each move to another state is a new version)
/// until a vacuum, and a lookup through it read them all.
fn state_is(state: &'static str) -> SimpleExpr {
    Expr::cust(format!("state || '' = '{state}'"))
}

/// A job's final state and envelope.
#[derive(Clone, Debug)]
pub struct Final {
    pub state: &'static str,
    pub response: String,
    pub http_code: i32,
    pub finished_at: i64,
    pub expires_at: i64,
    /// An upstream's own request id, from its relayed envelope.
    pub upstream_request_id: Option<String>,
}

pub async fn insert(conn: &impl ConnectionTrait, rows: Vec<job::ActiveModel>) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    job::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map(|_| ())
}

/// Inserts `row` unless its request id or idempotency key is taken;
/// whether it was inserted.
pub async fn insert_if_absent(
    conn: &impl ConnectionTrait,
    row: job::ActiveModel,
) -> Result<bool, DbErr> {
    let inserted = job::Entity::insert(row)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}

/// Stores the final state of a synchronous call that wrote, in the
/// transaction of its writes; a row already recorded for it is finished.
pub async fn upsert_finished(
    conn: &impl ConnectionTrait,
    row: job::ActiveModel,
) -> Result<(), DbErr> {
    job::Entity::insert(row)
        .on_conflict(
            OnConflict::column(job::Column::RequestId)
                .update_columns([
                    job::Column::State,
                    job::Column::Response,
                    job::Column::HttpCode,
                    job::Column::FinishedAt,
                    job::Column::ExpiresAt,
                    job::Column::NodeId,
                    job::Column::LeaseUntil,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map(|_| ())
}

/// Ends a run with its result, if the run still holds the job (and, with
/// `unless_cancelled`, nobody asked to cancel it). Whether it did.
pub async fn finish(
    conn: &impl ConnectionTrait,
    fence: &Fence,
    end: &Final,
    unless_cancelled: bool,
) -> Result<bool, DbErr> {
    let mut condition = fence.condition();
    if unless_cancelled {
        condition = condition.add(job::Column::CancelRequested.eq(false));
    }
    let updated = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(end.state))
        .col_expr(job::Column::Response, Expr::value(end.response.clone()))
        .col_expr(job::Column::HttpCode, Expr::value(end.http_code))
        .col_expr(job::Column::FinishedAt, Expr::value(end.finished_at))
        .col_expr(job::Column::ExpiresAt, Expr::value(end.expires_at))
        .col_expr(
            job::Column::UpstreamRequestId,
            Expr::value(end.upstream_request_id.clone()),
        )
        .col_expr(job::Column::LeaseUntil, null_ms())
        .filter(condition)
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// A run's result, for [`finish_many`].
#[derive(Clone, Debug)]
pub struct Finish {
    pub fence: Fence,
    pub end: Final,
    /// Only if nobody asked to cancel the job.
    pub unless_cancelled: bool,
    /// The job is an activity: its end goes to the outbox too.
    pub activity: bool,
    /// The audit event of the change its success made, written only if
    /// the result is ([`crate::audit::of_success`]).
    pub audit: Option<Box<audit_event::ActiveModel>>,
}

/// [`finish`] for many runs in one statement (`UPDATE ... FROM (VALUES
/// ...)`, on SQLite and PostgreSQL alike): one round trip to the database
/// instead of one per job. The request ids of the runs that still held
/// their job.
///
/// Each run's row is found by its key: `state || ''` keeps PostgreSQL's
/// planner off the state index, as [`state_is`] does. A batch joined from
/// that index read thousands of dead entries (and their heap pages).
pub async fn finish_many(
    conn: &impl ConnectionTrait,
    runs: &[Finish],
) -> Result<Vec<String>, DbErr> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let applied = conn
        .query_all(finish_many_statement(conn.get_database_backend(), runs))
        .await?;
    applied
        .iter()
        .map(|row| row.try_get::<String>("", "request_id"))
        .collect()
}

/// The statement of [`finish_many`] (whose plan a test checks).
pub fn finish_many_statement(backend: DbBackend, runs: &[Finish]) -> Statement {
    let mut values = Vec::with_capacity(runs.len() * 10);
    for run in runs {
        values.extend([
            run.fence.request_id.clone().into(),
            run.fence.node_id.clone().into(),
            run.fence.attempt.into(),
            run.unless_cancelled.into(),
            run.end.state.into(),
            run.end.response.clone().into(),
            run.end.http_code.into(),
            run.end.finished_at.into(),
            run.end.expires_at.into(),
            run.end.upstream_request_id.clone().into(),
        ]);
    }
    // VALUES columns are named column1, column2, ... by both databases.
    let sql = format!(
        "UPDATE jobs SET state = v.column5, response = v.column6, http_code = v.column7, \
         finished_at = v.column8, expires_at = v.column9, upstream_request_id = v.column10, \
         lease_until = NULL \
         FROM (VALUES {}) AS v \
         WHERE request_id = v.column1 AND state || '' = '{RUNNING}' AND node_id = v.column2 \
         AND attempts = v.column3 AND (NOT v.column4 OR NOT cancel_requested) \
         RETURNING request_id",
        rows_of(backend, runs.len(), 10)
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// Counts fetches of many jobs in one statement: `(request id, fetches)`
/// in, each job's new count out (jobs that are gone are left out).
pub async fn count_polls(
    conn: &impl ConnectionTrait,
    polls: &[(String, i32)],
) -> Result<Vec<(String, i32)>, DbErr> {
    if polls.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let values = polls
        .iter()
        .flat_map(|(id, n)| [id.clone().into(), (*n).into()])
        .collect::<Vec<sea_orm::Value>>();
    let sql = format!(
        "UPDATE jobs SET poll_count = poll_count + v.column2 FROM (VALUES {}) AS v \
         WHERE request_id = v.column1 RETURNING request_id, poll_count",
        rows_of(backend, polls.len(), 2)
    );
    let counted = conn
        .query_all(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    counted
        .iter()
        .map(|row| {
            Ok((
                row.try_get("", "request_id")?,
                row.try_get("", "poll_count")?,
            ))
        })
        .collect()
}

/// `(?, ?), (?, ?)` (or `($1, $2), ($3, $4)`): `rows` rows of `width`
/// parameters, in the backend's placeholder syntax.
fn rows_of(backend: DbBackend, rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                DbBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(row * width + column + 1).to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// Claims up to `limit` jobs that are queued or whose lease lapsed. On
/// PostgreSQL, rows another node is claiming are skipped, not waited for.
///
/// A job with a serialization key is taken only when no other job with
/// its key is running and none queued before it: jobs sharing a key run
/// one at a time, in the order accepted, across nodes too. Whatever a
/// concurrent claim sees of an earlier job (queued, or running once that
/// claim commits), it holds the later one back until the earlier ends.
pub async fn claim(
    conn: &impl ConnectionTrait,
    node_id: &str,
    limit: u64,
    now: i64,
    lease_until: i64,
) -> Result<Vec<job::Model>, DbErr> {
    let mut pick = Query::select();
    pick.column(job::Column::RequestId)
        .from(job::Entity)
        .and_where(claimable(conn.get_database_backend(), limit, now))
        .order_by(job::Column::RequestId, Order::Asc)
        .limit(limit);
    if conn.get_database_backend() == DbBackend::Postgres {
        pick.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(RUNNING))
        .col_expr(job::Column::NodeId, Expr::value(node_id))
        .col_expr(job::Column::LeaseUntil, Expr::value(lease_until))
        .col_expr(
            job::Column::Attempts,
            Expr::col(job::Column::Attempts).add(1),
        )
        // The database's clock as the row is taken, not `now`: a job
        // serialized behind another starts after that one's end, even when
        // the end committed while this statement was on its way.
        .col_expr(
            job::Column::StartedAt,
            database_now_ms(conn.get_database_backend()),
        )
        .filter(job::Column::RequestId.in_subquery(pick))
        .exec_with_returning(conn)
        .await
}

/// What a claim may take, every `?` the claim's `now`. The candidates
/// are found from indexes, never by walking every queued job
/// (`m20261127_000027_job_claim_indexes`):
/// - queued jobs of no queue that are due, oldest first (`jobs_unqueued`);
/// - running jobs whose lease lapsed (`jobs_state_lease`);
/// - the head of each queue, the oldest of its queued and running jobs,
///   if it is queued and due, found by stepping from one queue's key to
///   the next (`jobs_queue_pending`): a claim costs a few index seeks per
///   queue, however long the queues are.
///
/// Then a candidate must be due if queued, lapsed if running, and one of a
/// queue must have no other job of its queue running
/// (`jobs_queue_running`) nor pending before it. The candidates' rows are
/// read by their key: `state || ''` keeps a planner from walking the state
/// index instead. SQLite, which keeps no statistics here, is told which
/// index to read (`{unqueued}`, `{pending}`); PostgreSQL's planner finds
/// them itself.
const CLAIMABLE: &str = "request_id IN (
    SELECT request_id FROM (
        SELECT request_id FROM jobs {unqueued}
        WHERE state = 'queued' AND queue_key IS NULL AND (due_at IS NULL OR due_at <= ?)
        ORDER BY request_id LIMIT {limit}
    ) AS unqueued
    UNION ALL
    SELECT request_id FROM jobs WHERE state = 'running' AND lease_until < ?
    UNION ALL
    SELECT head FROM (
        WITH RECURSIVE queues(queue) AS (
            SELECT min(queue_key) FROM jobs {pending}
            WHERE state IN ('queued', 'running') AND queue_key IS NOT NULL
            UNION ALL
            SELECT (
                SELECT min(next.queue_key) FROM jobs AS next {pending}
                WHERE next.state IN ('queued', 'running') AND next.queue_key IS NOT NULL
                    AND next.queue_key > queues.queue
            ) FROM queues WHERE queues.queue IS NOT NULL
        )
        SELECT (
            SELECT first.request_id FROM jobs AS first {pending}
            WHERE first.state IN ('queued', 'running') AND first.queue_key IS NOT NULL
                AND first.queue_key = queues.queue
            ORDER BY first.request_id LIMIT 1
        ) AS head
        FROM queues WHERE queues.queue IS NOT NULL
    ) AS heads
)
AND ((state || '' = 'queued' AND (due_at IS NULL OR due_at <= ?))
    OR (state || '' = 'running' AND lease_until < ?))
AND (queue_key IS NULL OR (
    NOT EXISTS (
        SELECT 1 FROM jobs AS other
        WHERE other.state = 'running' AND other.queue_key IS NOT NULL
            AND other.queue_key = jobs.queue_key AND other.request_id <> jobs.request_id
    )
    AND NOT EXISTS (
        SELECT 1 FROM jobs AS earlier
        WHERE earlier.state IN ('queued', 'running') AND earlier.queue_key IS NOT NULL
            AND earlier.queue_key = jobs.queue_key AND earlier.request_id < jobs.request_id
    )
))";

/// [`CLAIMABLE`] for `backend`, taking at most `limit` of the unqueued,
/// with its values: `now` for every `?` (on PostgreSQL, one numbered
/// placeholder, as sea-query reads custom SQL there).
fn claimable(backend: DbBackend, limit: u64, now: i64) -> SimpleExpr {
    let sqlite = backend == DbBackend::Sqlite;
    let sql = CLAIMABLE
        .replace("{limit}", &limit.to_string())
        .replace(
            "{unqueued}",
            if sqlite {
                "INDEXED BY jobs_unqueued"
            } else {
                ""
            },
        )
        .replace(
            "{pending}",
            if sqlite {
                "INDEXED BY jobs_queue_pending"
            } else {
                ""
            },
        );
    if sqlite {
        let values = std::iter::repeat_n(now, sql.matches('?').count());
        Expr::cust_with_values(sql, values)
    } else {
        Expr::cust_with_values(sql.replace('?', "$1"), [now])
    }
}

/// The database's clock in Unix ms, read when the statement reaches the
/// row.
fn database_now_ms(backend: DbBackend) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => {
            Expr::cust("CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)")
        }
        _ => Expr::cust("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"),
    }
}

/// Stores what a run reported (progress, log, description), so that a
/// poll or an activity read on any node shows it. Fenced: a run that lost
/// its claim stores nothing.
pub async fn save_report(
    conn: &impl ConnectionTrait,
    fence: &Fence,
    report: &RunReport,
) -> Result<(), DbErr> {
    let mut update = job::Entity::update_many()
        .col_expr(
            job::Column::Progress,
            Expr::value(report.progress.map(i32::from)),
        )
        .filter(fence.condition());
    if !report.log.is_empty() {
        let log = serde_json::to_string(&report.log).expect("log lines serialize");
        update = update.col_expr(job::Column::Log, Expr::value(log));
    }
    if let Some(description) = &report.description {
        update = update.col_expr(job::Column::Description, Expr::value(description.clone()));
    }
    update.exec(conn).await.map(|_| ())
}

/// The most jobs one renewal statement names.
const RENEW_CHUNK: usize = 500;

/// Extends the leases of the jobs `node_id` runs, named by `request_ids`
/// (its registry), so each row is found by its key; returns, for each job
/// whose lease was extended, its id and whether a caller asked to cancel
/// it. A job left out is one this node no longer holds (or whose end it
/// committed meanwhile).
pub async fn renew(
    conn: &impl ConnectionTrait,
    node_id: &str,
    request_ids: &[String],
    lease_until: i64,
) -> Result<Vec<(String, bool)>, DbErr> {
    let backend = conn.get_database_backend();
    let mut renewed = Vec::with_capacity(request_ids.len());
    for chunk in request_ids.chunks(RENEW_CHUNK) {
        for row in conn
            .query_all(renew_statement(backend, node_id, chunk, lease_until))
            .await?
        {
            renewed.push((
                row.try_get("", "request_id")?,
                row.try_get("", "cancel_requested")?,
            ));
        }
    }
    Ok(renewed)
}

/// The statement of [`renew`] (whose plan a test checks).
pub fn renew_statement(
    backend: DbBackend,
    node_id: &str,
    request_ids: &[String],
    lease_until: i64,
) -> Statement {
    let query = Query::update()
        .table(job::Entity)
        .value(job::Column::LeaseUntil, lease_until)
        .and_where(job::Column::RequestId.is_in(request_ids.iter().cloned()))
        .and_where(job::Column::NodeId.eq(node_id))
        .and_where(state_is(RUNNING))
        .returning(
            Query::returning().columns([job::Column::RequestId, job::Column::CancelRequested]),
        )
        .to_owned();
    backend.build(&query)
}

/// Puts the jobs `node_id` still runs back in the queue (at shutdown).
pub async fn release_all(conn: &impl ConnectionTrait, node_id: &str) -> Result<u64, DbErr> {
    let released = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(QUEUED))
        .col_expr(job::Column::NodeId, null_text())
        .col_expr(job::Column::LeaseUntil, null_ms())
        .filter(job::Column::NodeId.eq(node_id))
        .filter(job::Column::State.eq(RUNNING))
        .exec(conn)
        .await?;
    Ok(released.rows_affected)
}

/// Hands one run's job back for another attempt from `retry_at` (Unix ms)
/// on. It stays `running` with no node and its lease ending at `retry_at`,
/// so that [`claim`], which takes lapsed leases, takes it then, on
/// whichever node claims first.
pub async fn release(
    conn: &impl ConnectionTrait,
    fence: &Fence,
    retry_at: i64,
) -> Result<bool, DbErr> {
    let released = job::Entity::update_many()
        .col_expr(job::Column::NodeId, null_text())
        .col_expr(job::Column::LeaseUntil, Expr::value(retry_at))
        .filter(fence.condition())
        .exec(conn)
        .await?;
    Ok(released.rows_affected == 1)
}

/// Cancels a queued job outright; whether it was queued.
pub async fn cancel_queued(
    conn: &impl ConnectionTrait,
    request_id: &str,
    end: &Final,
) -> Result<bool, DbErr> {
    let updated = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(CANCELLED))
        .col_expr(job::Column::Response, Expr::value(end.response.clone()))
        .col_expr(job::Column::HttpCode, Expr::value(end.http_code))
        .col_expr(job::Column::FinishedAt, Expr::value(end.finished_at))
        .col_expr(job::Column::ExpiresAt, Expr::value(end.expires_at))
        .filter(job::Column::RequestId.eq(request_id))
        .filter(state_is(QUEUED))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Asks the node running a job to cancel it; whether it was running.
pub async fn request_cancel(conn: &impl ConnectionTrait, request_id: &str) -> Result<bool, DbErr> {
    let updated = job::Entity::update_many()
        .col_expr(job::Column::CancelRequested, Expr::value(true))
        .filter(job::Column::RequestId.eq(request_id))
        .filter(state_is(RUNNING))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Records how a running upstream call is to be resumed (its poll
/// location, once the upstream answered 202).
pub async fn set_upstream_call(
    conn: &impl ConnectionTrait,
    request_id: &str,
    call: String,
) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(job::Column::UpstreamCall, Expr::value(call))
        .filter(job::Column::RequestId.eq(request_id))
        .filter(state_is(RUNNING))
        .exec(conn)
        .await
        .map(|_| ())
}

/// [`sweep`], as the sweeper calls it.
pub fn sweep_expired(
    conn: &sea_orm::DatabaseConnection,
    now: i64,
    limit: u64,
) -> futures_util::future::BoxFuture<'_, Result<u64, DbErr>> {
    Box::pin(sweep(conn, now, limit))
}

/// Deletes up to `limit` expired rows; how many.
pub async fn sweep(conn: &impl ConnectionTrait, now: i64, limit: u64) -> Result<u64, DbErr> {
    let pick = Query::select()
        .column(job::Column::RequestId)
        .from(job::Entity)
        .and_where(job::Column::ExpiresAt.lt(now))
        .limit(limit)
        .to_owned();
    let deleted = job::Entity::delete_many()
        .filter(job::Column::RequestId.in_subquery(pick))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}

pub async fn find(
    conn: &impl ConnectionTrait,
    request_id: &str,
) -> Result<Option<job::Model>, DbErr> {
    // Every poll reads its job: the statement's text is built once.
    actiongate_kit::find::by_id::<job::Entity>(conn, request_id).await
}

pub async fn find_by_key(
    conn: &impl ConnectionTrait,
    token_id: &str,
    key: &str,
) -> Result<Option<job::Model>, DbErr> {
    job::Entity::find()
        .filter(job::Column::TokenId.eq(token_id))
        .filter(job::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await
}

/// Deletes a row whose time has passed, so its key can be used again.
pub async fn delete_expired(
    conn: &impl ConnectionTrait,
    request_id: &str,
    now: i64,
) -> Result<(), DbErr> {
    job::Entity::delete_many()
        .filter(job::Column::RequestId.eq(request_id))
        .filter(job::Column::ExpiresAt.lt(now))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Tells the other PostgreSQL nodes something happened, at commit.
pub async fn notify(conn: &impl ConnectionTrait, payload: &str) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    notify_many(conn, &[payload.to_owned()]).await
}

/// Sends each of `payloads` to the other PostgreSQL nodes at commit, in
/// one statement.
pub async fn notify_many(conn: &impl ConnectionTrait, payloads: &[String]) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres || payloads.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT pg_notify('{CHANNEL}', v.column1) FROM (VALUES {}) AS v",
        rows_of(DbBackend::Postgres, payloads.len(), 1)
    );
    let values = payloads.iter().map(|p| p.clone().into());
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .map(|_| ())
}

fn null_text() -> SimpleExpr {
    Expr::value(Option::<String>::None)
}

fn null_ms() -> SimpleExpr {
    Expr::value(Option::<i64>::None)
}
