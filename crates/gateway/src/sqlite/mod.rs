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
//! - [`BatchConnection`]: the job writer's batches, on a read-write
//!   connection of its own, written only while the writer holds the pool's
//!   write connection, so SQLite still has one writer at a time.
//!
//! Everything else that writes (handlers' transactions, migrations, the
//! sweeper) goes through sqlx's pool of one connection.

mod batch;
mod reader;
mod statements;

pub use batch::BatchConnection;
pub use reader::{ReadPlans, SqliteReader};
