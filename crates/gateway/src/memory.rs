//! Memory given back to the system once the gateway no longer uses it.
//!
//! The binaries allocate with mimalloc, whose heaps are per thread: a
//! thread keeps the pages it freed for reuse, and returns them only when it
//! allocates again. After a burst of 10,000 connections the idle workers
//! kept about 100 MB of the burst's memory for good, and the thread that
//! ran the migrations kept theirs. So the runtime's workers collect their
//! heap when they go idle, at most once every [`EVERY`], and the thread
//! that starts the gateway collects once startup's work is done. Where
//! mimalloc is not the global allocator (the tests), a collection finds
//! nothing of ours to free.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How often an idle worker may collect: a busy one parks thousands of
/// times a second.
const EVERY: Duration = Duration::from_secs(1);

/// A multi-threaded runtime whose workers give memory back when idle; the
/// binaries run the gateway on it.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(collect_now_and_then)
        .build()
}

/// Returns this thread's freed memory to the system.
pub fn give_back() {
    // SAFETY: mi_collect takes no pointers; it frees what this thread's
    // heap no longer uses and purges mimalloc's own (thread-safe) arenas.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn collect_now_and_then() {
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    LAST.with(|last| {
        let now = Instant::now();
        if last.get().is_none_or(|at| now.duration_since(at) >= EVERY) {
            last.set(Some(now));
            give_back();
        }
    });
}
