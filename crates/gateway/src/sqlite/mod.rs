//! SQLite called directly, where a statement is awaited.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every
//! statement there and back: two thread wake-ups a statement, which under
//! load cost far more than the statements themselves (`perf` showed futex
//! waits and wake-ups, and a machine short of cores made each one wait its
//! turn). The two hot paths talk to SQLite through rusqlite instead,
//! plugged into sea-orm as proxy backends, so the code above them keeps
//! writing sea-orm queries:
//! - [`SqliteReader`]: every read, on a read-only connection per thread;
//! - [`WriteConnection`]: the job writer's batches and handlers' write
//!   transactions, on one read-write connection, written only while the
//!   pool's write connection is held, so SQLite still has one writer at a
//!   time.
//!
//! Everything else that writes (migrations, the sweeper, the gateway's own
//! bookkeeping) goes through sqlx's pool of one connection.

mod reader;
mod statements;
mod write;

pub use reader::{ReadPlans, SqliteReader};
pub use write::{Commits, WriteConnection};
