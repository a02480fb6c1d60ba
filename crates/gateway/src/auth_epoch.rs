//! The auth epoch: how every process on a database learns, before its next
//! request, that tokens it verified may have been revoked.
//!
//! The truth is the `auth_epochs` row, moved on in the same transaction as
//! a revocation or role change. Reading it on every request is exact but
//! costs a read transaction. On SQLite, where every process is on one
//! machine, each process also maps a small file beside the database
//! holding a counter that a writer increments right after such a commit;
//! a request loads it (a memory read), and only when it moved is the row
//! read again. A revocation's author returns only after the increment, so
//! any request that starts later sees it. On PostgreSQL, whose nodes share
//! no memory, every request waits for a read of the row that began after
//! it arrived; one read answers all the requests that arrived before it
//! began ([`crate::fresh_read`]).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use memmap2::MmapRaw;

use crate::Config;

pub struct AuthEpoch {
    /// The counter shared by the processes on one SQLite database.
    shared: Option<MmapRaw>,
}

impl AuthEpoch {
    /// The epoch signal for `config`'s database: the shared counter beside
    /// a SQLite file (created if needed), none on PostgreSQL.
    pub fn open(config: &Config) -> anyhow::Result<Self> {
        let url = config.database_url();
        if !url.starts_with("sqlite:") {
            return Ok(AuthEpoch { shared: None });
        }
        let path = counter_path(&crate::db::sqlite_path(&url));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        allocate(&file, 8).with_context(|| format!("allocating {}", path.display()))?;
        let map = MmapRaw::map_raw(&file).with_context(|| format!("mapping {}", path.display()))?;
        Ok(AuthEpoch { shared: Some(map) })
    }

    fn counter(&self) -> Option<&AtomicU64> {
        let map = self.shared.as_ref()?;
        // SAFETY: the map is at least 8 bytes long and page-aligned, so
        // aligned for a u64, and lives as long as `self`. Every process
        // touches those bytes only through atomic operations.
        Some(unsafe { AtomicU64::from_ptr(map.as_mut_ptr().cast::<u64>()) })
    }

    /// The shared counter, if this database has one.
    pub fn shared(&self) -> Option<u64> {
        self.counter().map(|c| c.load(Ordering::Acquire))
    }

    /// Tells the other processes that the epoch moved; call it after the
    /// commit that moved it.
    pub fn moved(&self) {
        if let Some(counter) = self.counter() {
            counter.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// Makes sure the first `len` bytes of `file` have storage behind them,
/// keeping what they hold. A mapped page with none (a sparse file's hole)
/// is given storage when first touched, and on a full disk that touch is a
/// SIGBUS that kills the process; allocating now turns a full disk into an
/// error at start instead.
fn allocate(file: &std::fs::File, len: i64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain system call on a file descriptor we own.
        match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
            0 => Ok(()),
            code => Err(std::io::Error::from_raw_os_error(code)),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        if file.metadata()?.len() < len as u64 {
            file.set_len(len as u64)?;
        }
        Ok(())
    }
}

fn counter_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-auth-epoch");
    PathBuf::from(name)
}
