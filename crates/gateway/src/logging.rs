//! Log output: text or JSON lines on stdout, one per request and then some.
//!
//! Lines go into one shared buffer under a short lock, and a background
//! thread flushes it every [`FLUSH_EVERY`] (and when the guard drops). A
//! writer thread woken for every line (tracing-appender's non-blocking
//! writer) cost the request path a cross-thread wake-up per request; on a
//! 2-core machine that was most of the logging's cost (`make bench` with
//! `LOG_LEVEL=warn` against `info`).

use std::io::{BufWriter, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::fmt::writer::{MakeWriter, MutexGuardWriter};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// How long a line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

type Buffer = Arc<Mutex<BufWriter<Stdout>>>;

/// The shared buffer as the subscriber's writer: each line locks it once.
#[derive(Clone)]
struct SharedBuffer(Buffer);

impl<'a> MakeWriter<'a> for SharedBuffer {
    type Writer = MutexGuardWriter<'a, BufWriter<Stdout>>;

    fn make_writer(&'a self) -> Self::Writer {
        self.0.make_writer()
    }
}

/// Flushes the log buffer when dropped, and stops the flusher.
pub struct LogGuard {
    buffer: Buffer,
    stop: Arc<AtomicBool>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        flush(&self.buffer);
    }
}

fn flush(buffer: &Buffer) {
    let mut out = buffer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let _ = out.flush();
}

/// Installs the global subscriber. Keep the guard alive until exit.
pub fn init(format: LogFormat, level: &str) -> anyhow::Result<LogGuard> {
    let buffer: Buffer = Arc::new(Mutex::new(BufWriter::with_capacity(
        256 * 1024,
        std::io::stdout(),
    )));
    let filter = EnvFilter::try_new(level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(SharedBuffer(buffer.clone()));
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|err| anyhow::anyhow!("installing the log subscriber: {err}"))?;

    let stop = Arc::new(AtomicBool::new(false));
    let (flushed, stopped) = (buffer.clone(), stop.clone());
    std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(FLUSH_EVERY);
                flush(&flushed);
            }
        })?;
    Ok(LogGuard { buffer, stop })
}
