//! Group commit: the job table's small, frequent writes (new jobs, results,
//! poll counts) queue here and are written many to a transaction.
//!
//! On SQLite every write goes through one connection, so a transaction per
//! job would cap throughput at the disk's commit rate; grouping them makes
//! the cost of a commit shared by everything waiting at that moment. On
//! PostgreSQL it saves round trips and WAL flushes the same way. A caller
//! still waits for its own write to be durable before it answers.

use std::sync::Arc;

use actiongate_entity::job;
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::store::{self, Fence, Final};
use super::waiters::Waiters;

/// The most writes one transaction takes.
const BATCH: usize = 512;

#[derive(Clone)]
pub enum Op {
    /// A new job; `queued` ones wake the claimers of other nodes.
    Insert {
        row: Box<job::ActiveModel>,
        queued: bool,
    },
    /// A run's result; see [`store::finish`].
    Finish {
        fence: Fence,
        end: Final,
        unless_cancelled: bool,
    },
    /// A run handed back to the queue.
    Release { fence: Fence },
    /// One more fetch of a job's state.
    CountPoll { request_id: String },
}

pub enum Done {
    Inserted,
    /// Whether the fenced update matched.
    Applied(bool),
    Polls(Option<i32>),
}

type Pending = (Op, oneshot::Sender<Result<Done, Arc<DbErr>>>);

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Pending>,
}

impl Writer {
    pub fn spawn(write: DatabaseConnection, waiters: Arc<Waiters>) -> (Writer, JoinHandle<()>) {
        let (queue, mut incoming) = mpsc::channel::<Pending>(4 * BATCH);
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while incoming.recv_many(&mut batch, BATCH).await > 0 {
                let (ops, replies): (Vec<Op>, Vec<_>) = batch.drain(..).unzip();
                match apply(&write, ops).await {
                    Ok((done, finished)) => {
                        for request_id in &finished {
                            waiters.wake(request_id);
                        }
                        for (reply, done) in replies.into_iter().zip(done) {
                            let _ = reply.send(Ok(done));
                        }
                    }
                    Err(err) => {
                        let err = Arc::new(err);
                        for reply in replies {
                            let _ = reply.send(Err(err.clone()));
                        }
                    }
                }
            }
        });
        (Writer { queue }, task)
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

/// Applies a batch in one transaction: what each op did, in order, and the
/// jobs it finished.
async fn apply(
    write: &DatabaseConnection,
    ops: Vec<Op>,
) -> Result<(Vec<Done>, Vec<String>), DbErr> {
    let txn = write.begin().await?;
    let mut done = Vec::with_capacity(ops.len());
    let mut rows = Vec::new();
    let mut others = Vec::new();
    let mut queued = false;
    for op in ops {
        done.push(Done::Inserted);
        match op {
            Op::Insert { row, queued: q } => {
                rows.push(*row);
                queued |= q;
            }
            other => others.push((done.len() - 1, other)),
        }
    }
    store::insert(&txn, rows).await?;
    let mut finished = Vec::new();
    for (at, op) in others {
        done[at] = match op {
            Op::Insert { .. } => unreachable!("inserts were taken out above"),
            Op::Finish {
                fence,
                end,
                unless_cancelled,
            } => {
                let applied = store::finish(&txn, &fence, &end, unless_cancelled).await?;
                if applied {
                    store::notify(&txn, &format!("done:{}", fence.request_id)).await?;
                    finished.push(fence.request_id);
                }
                Done::Applied(applied)
            }
            Op::Release { fence } => {
                let released = store::release(&txn, &fence).await?;
                queued |= released;
                Done::Applied(released)
            }
            Op::CountPoll { request_id } => {
                Done::Polls(store::count_poll(&txn, &request_id).await?)
            }
        };
    }
    if queued {
        store::notify(&txn, "queued").await?;
    }
    txn.commit().await?;
    Ok((done, finished))
}
