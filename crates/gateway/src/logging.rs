//! Log output: text or JSON lines on stdout, one per request and then some.
//!
//! Request handling never waits on stdout. A line is appended to an
//! in-memory buffer under a short lock that no I/O ever holds; a background
//! thread takes the buffer every [`FLUSH_EVERY`] and writes it out. When
//! the reader stalls (a log shipper that hangs, a full pipe) or writes fail
//! (a full disk under the log file), only that thread waits or fails: the
//! buffer fills up to [`BUFFER_LIMIT`], later lines are dropped and
//! counted, and once writes succeed again a line says how many were lost.
//!
//! Batching, rather than a writer thread woken for every line
//! (tracing-appender's non-blocking writer), keeps the request path free
//! of a cross-thread wake-up per request; on a 2-core machine that wake-up
//! was most of logging's cost (`make bench` with `LOG_LEVEL=warn` against
//! `info`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tracing_subscriber::fmt::writer::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::LogFormat;

/// How long a line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The most log text held while the sink does not take it.
pub const BUFFER_LIMIT: usize = 8 * 1024 * 1024;

/// How long the last flush at exit may take before lines are given up.
const LAST_FLUSH: Duration = Duration::from_secs(2);

/// Lines dropped since the process started, for the metric.
static DROPPED_TOTAL: AtomicU64 = AtomicU64::new(0);

/// How many log lines this process has dropped.
pub fn dropped_total() -> u64 {
    DROPPED_TOTAL.load(Ordering::Relaxed)
}

/// What the subscriber writes into and the flusher takes from.
#[derive(Default)]
struct Sink {
    pending: Mutex<Vec<u8>>,
    /// Lines lost (refused by a full buffer, or in a batch the output
    /// failed to take) since the last report.
    dropped: AtomicU64,
}

impl Sink {
    fn push(&self, line: &[u8]) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if pending.len() + line.len() > BUFFER_LIMIT {
            drop(pending);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            DROPPED_TOTAL.fetch_add(1, Ordering::Relaxed);
        } else {
            pending.extend_from_slice(line);
        }
    }

    fn take(&self) -> Vec<u8> {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut *pending)
    }

    /// Writes what is pending to `out`. Lines that fail to be written are
    /// counted as dropped; after a drop, the first successful write says
    /// how many.
    fn flush_to(&self, out: &mut impl Write) {
        let batch = self.take();
        if batch.is_empty() {
            return;
        }
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        let mut written = Ok(());
        if dropped > 0 {
            let note = format!(
                "actiongate: {dropped} log lines were dropped while the log output was not taking them\n"
            );
            written = out.write_all(note.as_bytes());
        }
        let written = written
            .and_then(|()| out.write_all(&batch))
            .and_then(|()| out.flush());
        if written.is_err() {
            // The note did not get through either: say it all with the
            // next lines that do.
            let lines = batch.iter().filter(|&&b| b == b'\n').count() as u64;
            self.dropped.fetch_add(dropped + lines, Ordering::Relaxed);
            DROPPED_TOTAL.fetch_add(lines, Ordering::Relaxed);
        }
    }
}

/// One event's writer: the subscriber formats a whole line and writes it
/// once.
struct LineWriter<'a>(&'a Sink);

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone)]
struct SinkWriter(Arc<Sink>);

impl<'a> MakeWriter<'a> for SinkWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

/// Stops the flusher when dropped, after one last flush (given up after
/// [`LAST_FLUSH`] if stdout does not take it).
pub struct LogGuard {
    stop: Arc<AtomicBool>,
    finished: Arc<(Mutex<bool>, Condvar)>,
    /// Exports spans; shut down first, so that batched spans are sent.
    tracer_provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take() {
            if let Err(err) = provider.shutdown() {
                tracing::warn!(error = %err, "exporting the last spans failed");
            }
        }
        self.stop.store(true, Ordering::Relaxed);
        let (done, signal) = &*self.finished;
        let done = done.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = signal.wait_timeout_while(done, LAST_FLUSH, |done| !*done);
    }
}

/// Installs the global subscriber: log lines in `format` at `level`, and
/// with `otlp_endpoint`, spans exported there ([`crate::telemetry`]).
/// Keep the guard alive until exit.
pub fn init(
    format: LogFormat,
    level: &str,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<LogGuard> {
    let sink = Arc::new(Sink::default());
    let filter = EnvFilter::try_new(level)?;
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(SinkWriter(sink.clone()));
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().flatten_event(true).boxed(),
    }];
    let mut tracer_provider = None;
    if let Some(endpoint) = otlp_endpoint.filter(|e| !e.is_empty()) {
        let (layer, provider) = crate::telemetry::otlp_layer(endpoint)?;
        layers.push(layer.boxed());
        tracer_provider = Some(provider);
    }
    tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init()
        .map_err(|err| anyhow::anyhow!("installing the log subscriber: {err}"))?;

    let stop = Arc::new(AtomicBool::new(false));
    let finished = Arc::new((Mutex::new(false), Condvar::new()));
    let (flushed, stopped, done) = (sink, stop.clone(), finished.clone());
    std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(move || {
            let mut out = std::io::stdout();
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(FLUSH_EVERY);
                flushed.flush_to(&mut out);
            }
            flushed.flush_to(&mut out);
            let (finished, signal) = &*done;
            *finished
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
            signal.notify_all();
        })?;
    Ok(LogGuard {
        stop,
        finished,
        tracer_provider,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that fails until it is told to take lines.
    struct Output {
        taking: bool,
        taken: Vec<u8>,
    }

    impl Write for Output {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if !self.taking {
                return Err(std::io::Error::other("No space left on device"));
            }
            self.taken.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_buffer_drops_lines_without_waiting_and_says_so_later() {
        let sink = Sink::default();
        let line = vec![b'x'; 1023]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<_>>();
        for _ in 0..(BUFFER_LIMIT / line.len() + 10) {
            sink.push(&line);
        }
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 10);

        let mut output = Output {
            taking: false,
            taken: Vec::new(),
        };
        // A failed write loses its batch, counted.
        sink.flush_to(&mut output);
        assert_eq!(
            sink.dropped.load(Ordering::Relaxed),
            10 + (BUFFER_LIMIT / line.len()) as u64
        );
        sink.push(b"back\n");
        output.taking = true;
        sink.flush_to(&mut output);
        let text = String::from_utf8(output.taken).unwrap();
        assert!(
            text.starts_with(&format!(
                "actiongate: {} log lines were dropped",
                10 + BUFFER_LIMIT / line.len()
            )),
            "{text}"
        );
        assert!(text.ends_with("back\n"));
    }
}
