//! Group commit: the job table's small, frequent writes (new jobs, results,
//! poll counts) queue here and are written many to a transaction.
//!
//! On SQLite every write goes through one connection, so a transaction per
//! job would cap throughput at the disk's commit rate; grouping them makes
//! the cost of a commit shared by everything waiting at that moment. On
//! PostgreSQL it saves round trips and WAL flushes the same way. A caller
//! still waits for its own write to be durable before it answers.
//!
//! On SQLite the writer runs on a thread of its own and writes directly
//! on SQLite's write connection ([`WriteConnection`]): its
//! statements, and the commit's wait for the disk, block only that thread.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actiongate_entity::{audit_event, job};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, RuntimeErr, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::sqlite::WriteConnection;

use super::outbox;
use super::store::{self, Fence, Final, Finish};
use super::waiters::Waiters;
use super::RUNNING;

/// The most writes one transaction takes.
const BATCH: usize = 512;

#[derive(Clone)]
pub enum Op {
    /// A new job; `queued` ones wake the claimers of other nodes.
    Insert {
        row: Box<job::ActiveModel>,
        queued: bool,
    },
    /// A run's result; see [`store::finish_many`].
    Finish(Box<Finish>),
    /// A run handed back, due again at `retry_at` (Unix ms); see
    /// [`store::release`].
    Release { fence: Fence, retry_at: i64 },
    /// One more fetch of a job's state.
    CountPoll { request_id: String },
    /// The audit event of a change answered directly (an upstream call's
    /// success); see [`crate::audit::of_success`].
    Audit(Box<audit_event::ActiveModel>),
    /// Queued jobs and lapsed leases taken for a node; see [`store::claim`].
    Claim(ClaimFor),
}

/// What a claim takes, and for whom.
#[derive(Clone)]
pub struct ClaimFor {
    pub node_id: String,
    pub limit: u64,
    /// Unix ms: what is due by then.
    pub now: i64,
    pub lease_until: i64,
}

pub enum Done {
    Inserted,
    /// Whether the fenced update matched.
    Applied(bool),
    Polls(Option<i32>),
    Claimed(Vec<job::Model>),
}

type Pending = (Op, oneshot::Sender<Result<Done, Arc<DbErr>>>);

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Pending>,
}

/// Where the batches are written.
pub enum Target {
    /// PostgreSQL: a transaction on the pool.
    Pool(DatabaseConnection),
    /// SQLite: the direct write connection, taking turns with the pool's.
    Sqlite(Arc<WriteConnection>),
}

impl Writer {
    /// Starts the writer. Aborting the returned task stops it.
    pub fn spawn(
        target: Target,
        waiters: Arc<Waiters>,
    ) -> std::io::Result<(Writer, JoinHandle<()>)> {
        let (queue, incoming) = mpsc::channel::<Pending>(4 * BATCH);
        let task = match target {
            Target::Pool(_) => tokio::spawn(write_batches(incoming, target, waiters)),
            Target::Sqlite(_) => on_own_thread(write_batches(incoming, target, waiters))?,
        };
        Ok((Writer { queue }, task))
    }

    /// Queues `op` and waits until it is committed.
    pub async fn submit(&self, op: Op) -> Result<Done, DbErr> {
        let (reply, done) = oneshot::channel();
        let stopped = || DbErr::Custom("the job writer has stopped".into());
        self.queue.send((op, reply)).await.map_err(|_| stopped())?;
        match done.await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(err)) => Err(DbErr::Custom(err.to_string())),
            Err(_) => Err(stopped()),
        }
    }
}

/// Takes whatever is queued, up to [`BATCH`], writes it in one
/// transaction and answers each caller; until every [`Writer`] is gone.
async fn write_batches(
    mut incoming: mpsc::Receiver<Pending>,
    target: Target,
    waiters: Arc<Waiters>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while incoming.recv_many(&mut batch, BATCH).await > 0 {
        let (ops, replies): (Vec<Op>, Vec<_>) = batch.drain(..).unzip();
        let ending = ops
            .iter()
            .filter_map(|op| match op {
                Op::Finish(finish) => Some(finish.fence.request_id.clone()),
                _ => None,
            })
            .collect();
        let _committing = waiters.committing(ending);
        match apply_retrying(&target, ops).await {
            Ok((done, finished)) => {
                for (request_id, end) in finished {
                    waiters.wake(&request_id, Some(end));
                }
                for (reply, done) in replies.into_iter().zip(done) {
                    let _ = reply.send(Ok(done));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, writes = replies.len(), "a batch of job-table writes failed");
                let err = Arc::new(err);
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
}

/// Runs `work` on a thread of its own, where blocking holds up nothing
/// else. The returned task stands for it: aborting the task stops it.
fn on_own_thread(
    work: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let (ended, end) = oneshot::channel::<()>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("job-writer".into())
        .spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    () = work => {}
                    () = stopped.cancelled() => {}
                }
            });
            drop(ended);
        })?;
    Ok(tokio::spawn(async move {
        let _stop_on_abort = stop.drop_guard();
        let _ = end.await;
    }))
}

/// [`apply`], again when PostgreSQL aborted the transaction for a deadlock
/// or a serialization failure (a multi-row update can meet another node's
/// in the opposite order): the batch is safe to repeat, as nothing of it
/// was committed.
async fn apply_retrying(
    target: &Target,
    ops: Vec<Op>,
) -> Result<(Vec<Done>, Vec<(String, Arc<Final>)>), DbErr> {
    const ATTEMPTS: u32 = 3;
    // SQLite's one writer meets nobody: no copy kept for a repeat.
    if let Target::Sqlite(_) = target {
        return apply(target, ops).await;
    }
    let mut attempt = 1;
    loop {
        match apply(target, ops.clone()).await {
            Err(err) if attempt < ATTEMPTS && transient(&err) => {
                tracing::warn!(error = %err, attempt, "job-table batch aborted; repeating it");
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// SQLSTATE 40001 (serialization failure) and 40P01 (deadlock detected).
fn transient(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(err))
    | DbErr::Query(RuntimeErr::SqlxError(err))
    | DbErr::Conn(RuntimeErr::SqlxError(err))) = err
    else {
        return false;
    };
    let code = err.as_database_error().and_then(|db| db.code());
    matches!(code.as_deref(), Some("40P01" | "40001"))
}

/// A batch's ops sorted by kind: ops of a kind share one statement, so a
/// batch costs a handful of statements however large it is.
#[derive(Default)]
struct Sorted {
    rows: Vec<job::ActiveModel>,
    finishes: Vec<Finish>,
    releases: Vec<(Fence, i64)>,
    polls: HashMap<String, i32>,
    audits: Vec<audit_event::ActiveModel>,
    claims: Vec<ClaimFor>,
    queued: bool,
}

/// What the statements of a batch gave back.
struct Written {
    finished: Vec<String>,
    claimed: Vec<Vec<job::Model>>,
    released: Vec<bool>,
    counts: HashMap<String, i32>,
}

/// Where each op's answer is read from, in order.
enum Slot {
    Inserted,
    Finished(String),
    Released,
    Counted(String),
    Audited,
    Claimed,
}

impl Sorted {
    fn of(ops: Vec<Op>) -> (Sorted, Vec<Slot>) {
        let mut sorted = Sorted::default();
        let slots = ops
            .into_iter()
            .map(|op| match op {
                Op::Insert { row, queued } => {
                    sorted.rows.push(*row);
                    sorted.queued |= queued;
                    Slot::Inserted
                }
                Op::Finish(finish) => {
                    let slot = Slot::Finished(finish.fence.request_id.clone());
                    sorted.finishes.push(*finish);
                    slot
                }
                Op::Release { fence, retry_at } => {
                    sorted.releases.push((fence, retry_at));
                    Slot::Released
                }
                Op::CountPoll { request_id } => {
                    *sorted.polls.entry(request_id.clone()).or_default() += 1;
                    Slot::Counted(request_id)
                }
                Op::Audit(event) => {
                    sorted.audits.push(*event);
                    Slot::Audited
                }
                Op::Claim(claim) => {
                    sorted.claims.push(claim);
                    Slot::Claimed
                }
            })
            .collect();
        (sorted, slots)
    }

    /// The batch's statements, inside the transaction on `conn`.
    async fn write(&mut self, conn: &impl ConnectionTrait) -> Result<Written, DbErr> {
        let rows = std::mem::take(&mut self.rows);
        let started = outbox::recorded(&rows);
        store::insert(conn, rows).await?;
        let finished = store::finish_many(conn, &self.finishes).await?;
        // Claims come after the batch's own changes: a queue whose running
        // job just finished hands its next one over in the same commit, and
        // a job just recorded queued can be taken by it.
        let mut claimed = Vec::with_capacity(self.claims.len());
        for claim in &self.claims {
            claimed.push(
                store::claim(
                    conn,
                    &claim.node_id,
                    claim.limit,
                    claim.now,
                    claim.lease_until,
                )
                .await?,
            );
        }
        // Activities' new states, with the changes that made them; an
        // activity's first start is there with its claim.
        let ended = self
            .finishes
            .iter()
            .filter(|f| f.activity && finished.contains(&f.fence.request_id))
            .map(|f| (f.fence.request_id.clone(), f.end.state));
        let started = started
            .iter()
            .map(|(id, state)| (id.clone(), state.as_str()));
        let claimed_started = claimed
            .iter()
            .flatten()
            .filter(|row| row.activity_type.is_some() && row.attempts == 1)
            .map(|row| (row.request_id.clone(), RUNNING));
        outbox::record(conn, started.chain(ended).chain(claimed_started)).await?;
        // A result's audit event stands or falls with the result.
        let mut audits = std::mem::take(&mut self.audits);
        audits.extend(
            self.finishes
                .iter_mut()
                .filter(|f| finished.contains(&f.fence.request_id))
                .filter_map(|f| f.audit.take().map(|event| *event)),
        );
        if !audits.is_empty() {
            audit_event::Entity::insert_many(audits)
                .exec_without_returning(conn)
                .await?;
        }
        let mut released = Vec::with_capacity(self.releases.len());
        // Picked up by the claim loop once due: nothing to wake now.
        for (fence, retry_at) in &self.releases {
            released.push(store::release(conn, fence, *retry_at).await?);
        }
        let polls: Vec<(String, i32)> = self.polls.drain().collect();
        let counts = store::count_polls(conn, &polls)
            .await?
            .into_iter()
            .collect();
        let mut notices: Vec<String> = finished.iter().map(|id| format!("done:{id}")).collect();
        if self.queued {
            notices.push("queued".to_owned());
        }
        store::notify_many(conn, &notices).await?;
        Ok(Written {
            finished,
            claimed,
            released,
            counts,
        })
    }
}

/// Applies a batch in one transaction: what each op did, in order, and the
/// jobs it finished.
async fn apply(
    target: &Target,
    ops: Vec<Op>,
) -> Result<(Vec<Done>, Vec<(String, Arc<Final>)>), DbErr> {
    let (mut sorted, slots) = Sorted::of(ops);
    let written = match target {
        Target::Pool(write) => {
            let txn = write.begin().await?;
            let written = sorted.write(&txn).await?;
            txn.commit().await?;
            written
        }
        Target::Sqlite(connection) => {
            connection
                .transaction(async |conn| sorted.write(conn).await)
                .await?
        }
    };
    let Written {
        finished,
        claimed,
        released,
        counts,
    } = written;
    let finishes = sorted.finishes;
    let applied: HashSet<&str> = finished.iter().map(String::as_str).collect();
    let mut released = released.into_iter();
    let mut claimed = claimed.into_iter();
    let done = slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Inserted => Done::Inserted,
            Slot::Finished(id) => Done::Applied(applied.contains(id.as_str())),
            Slot::Released => Done::Applied(released.next().unwrap_or(false)),
            Slot::Counted(id) => Done::Polls(counts.get(&id).copied()),
            Slot::Audited => Done::Inserted,
            Slot::Claimed => Done::Claimed(claimed.next().unwrap_or_default()),
        })
        .collect();
    // What each finished job's pollers answer with, unread.
    let ended = finishes
        .into_iter()
        .filter(|f| applied.contains(f.fence.request_id.as_str()))
        .map(|f| (f.fence.request_id, Arc::new(f.end)))
        .collect();
    Ok((done, ended))
}
