//! One client connection's life. Its first bytes say which protocol it
//! speaks (the HTTP/2 preface or not); hyper serves it; a watchdog task
//! closes it when it has been idle for keep-alive, when a request's headers
//! come slower than the header timeout (slowloris), or at shutdown.
//!
//! An HTTP/1.1 connection idle for [`PARK_AFTER`] is *parked*: hyper's
//! connection, with its 8 KB read and 8 KB write buffers, is dropped, and
//! only the socket is kept until the next request's first bytes arrive,
//! when a new hyper connection takes over from those bytes. hyper 1.x
//! cannot shrink its buffers, and 10,000 idle keep-alive clients would
//! otherwise hold 160 MB of them. A connection busy with requests is never
//! parked, so the request path pays nothing for it.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::ConnectionGauges;

/// What every HTTP/2 connection begins with (RFC 9113, section 3.4).
const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long an HTTP/1.1 connection waits idle before it is parked. Parking
/// and resuming cost a new hyper connection and one more read, once per
/// idle spell.
pub(super) const PARK_AFTER: Duration = Duration::from_secs(1);

/// hyper's two protocols, configured with the transport limits.
pub(super) struct Builders {
    pub http1: http1::Builder,
    pub http2: http2::Builder<TokioExecutor>,
}

/// How long a connection may wait.
#[derive(Clone, Copy)]
pub(super) struct Timeouts {
    /// With nothing in flight and no request begun: keep-alive.
    pub idle: Duration,
    /// From a request's first byte to the end of its headers (HTTP/1).
    pub header: Duration,
}

/// Serves one connection until it closes. `handle` answers each request.
pub(super) async fn serve<S, H, F>(
    stream: S,
    peer: SocketAddr,
    builders: &Builders,
    handle: H,
    stopping: CancellationToken,
    timeouts: Timeouts,
    gauges: ConnectionGauges,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Send + Sync + Unpin + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let watchdog = tokio::spawn(watch(activity.clone(), timeouts, stopping));
    let mut service = {
        let activity = activity.clone();
        service_fn(move |request: Request<Incoming>| {
            activity.request_begun(request.version());
            let handled = handle(request);
            let activity = activity.clone();
            // Boxed, so the future is `Unpin` as parking needs, and so an
            // idle hyper connection does not keep room for one inline.
            Box::pin(async move {
                let response = handled.await;
                activity.request_ended();
                Ok::<_, Infallible>(response)
            })
        })
    };
    let mut io = Watched {
        inner: stream,
        activity: activity.clone(),
        unread: Bytes::new(),
    };
    // Once a connection has spoken HTTP/1.1 it keeps to it.
    let mut spoken_http1 = false;
    loop {
        let protocol = {
            let _parked = gauges.parked();
            tokio::select! {
                biased;
                protocol = io.sniff(spoken_http1) => protocol,
                _ = activity.closing() => break,
            }
        };
        let protocol = match protocol {
            Ok(Some(protocol)) => protocol,
            Ok(None) => break,
            Err(err) => {
                tracing::debug!(client = %peer, error = %err, "connection ended with an error");
                break;
            }
        };
        let _active = gauges.active();
        match protocol {
            Protocol::Http1 => {
                spoken_http1 = true;
                let connection = builders.http1.serve_connection(TokioIo::new(io), service);
                match serve_http1(Box::new(connection), peer, &activity).await {
                    Http1Ended::Parked(parts) => {
                        io = parts.io.into_inner();
                        // A copy: the bytes hyper had read share its 8 KB
                        // read buffer, and would keep all of it.
                        io.unread = Bytes::copy_from_slice(&parts.read_buf);
                        service = parts.service;
                    }
                    Http1Ended::Closed => break,
                }
            }
            Protocol::Http2 => {
                activity.http2.store(true, Ordering::Relaxed);
                activity.head_since.store(0, Ordering::Relaxed);
                let connection = builders.http2.serve_connection(TokioIo::new(io), service);
                let mut connection = Box::pin(connection);
                let ended = tokio::select! {
                    biased;
                    ended = connection.as_mut() => ended,
                    verdict = activity.closing() => match verdict {
                        Verdict::CloseNow => Ok(()),
                        // GOAWAY, then the streams in flight finish.
                        _ => {
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    },
                };
                if let Err(err) = ended {
                    tracing::debug!(client = %peer, error = %err, "connection ended with an error");
                }
                break;
            }
        }
    }
    watchdog.abort();
}

/// The protocol a connection's first bytes name.
enum Protocol {
    Http1,
    Http2,
}

/// How hyper's HTTP/1.1 connection ended: parked, with what it held, or
/// closed.
enum Http1Ended<P> {
    Parked(P),
    Closed,
}

type Http1Parts<S, Svc> = http1::Parts<TokioIo<Watched<S>>, Svc>;

async fn serve_http1<S, Svc>(
    mut connection: Box<http1::Connection<TokioIo<Watched<S>>, Svc>>,
    peer: SocketAddr,
    activity: &Activity,
) -> Http1Ended<Http1Parts<S, Svc>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Svc: hyper::service::HttpService<Incoming, ResBody = Full<Bytes>> + Unpin,
    Svc::Future: Unpin,
{
    let mut parking = false;
    let mut closing = false;
    let ended = loop {
        tokio::select! {
            biased;
            ended = poll_fn(|cx| connection.poll_without_shutdown(cx)) => break ended,
            verdict = activity.verdict(), if !closing => match verdict {
                // hyper reads only when this task polls it, so a request
                // whose first byte is not noted here has not been read:
                // hyper is between requests and closes at once, and the
                // bytes wait in the socket for the parked connection.
                Verdict::Park => if !parking && activity.is_idle() {
                    parking = true;
                    Pin::new(&mut *connection).graceful_shutdown();
                },
                // HTTP/1.1 closes after the response in flight, if any.
                Verdict::CloseGracefully => {
                    closing = true;
                    Pin::new(&mut *connection).graceful_shutdown();
                }
                Verdict::CloseNow => {
                    tracing::debug!(client = %peer, "request headers too slow; connection closed");
                    return Http1Ended::Closed;
                }
            },
        }
    };
    if let Err(err) = ended {
        tracing::debug!(client = %peer, error = %err, "connection ended with an error");
        return Http1Ended::Closed;
    }
    let parts = connection.into_parts();
    if parking && !closing {
        return Http1Ended::Parked(parts);
    }
    // hyper was told not to shut the socket down, so that parking could
    // keep it.
    let mut io = parts.io.into_inner();
    let _ = io.inner.shutdown().await;
    Http1Ended::Closed
}

/// What the watchdog tells the connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Verdict {
    /// Idle long enough to park (HTTP/1.1).
    Park = 1,
    /// Idle past keep-alive, or the server is stopping: after the response
    /// in flight, if any.
    CloseGracefully = 2,
    /// Headers slower than the header timeout: at once, with no answer.
    CloseNow = 3,
}

/// What the connection and its watchdog know of each other.
struct Activity {
    since: Instant,
    in_flight: AtomicUsize,
    /// When the last request ended, in ms since `since`.
    last_ms: AtomicU64,
    /// When the first byte of a request whose headers have not all come
    /// arrived, in ms since `since` plus one; 0 when none is arriving.
    head_since: AtomicU64,
    /// HTTP/2: streams and pings come and go between requests, and no
    /// header timeout applies.
    http2: AtomicBool,
    /// The watchdog's latest [`Verdict`] not yet taken, or 0.
    verdict: AtomicU8,
    told: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            since: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            verdict: AtomicU8::new(0),
            told: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.since.elapsed().as_millis() as u64
    }

    fn request_begun(&self, version: http::Version) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        // Its headers are all in.
        self.head_since.store(0, Ordering::Relaxed);
        if version == http::Version::HTTP_2 {
            self.http2.store(true, Ordering::Relaxed);
        }
    }

    fn request_ended(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Bytes have arrived: if they begin a request, its header timeout
    /// starts.
    fn bytes_arrived(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && !self.http2.load(Ordering::Relaxed)
            && self.head_since.load(Ordering::Relaxed) == 0
        {
            self.head_since.store(self.now_ms() + 1, Ordering::Relaxed);
        }
    }

    /// Nothing in flight and no request begun.
    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && self.head_since.load(Ordering::Relaxed) == 0
    }

    fn tell(&self, verdict: Verdict) {
        self.verdict.store(verdict as u8, Ordering::Relaxed);
        self.told.notify_one();
    }

    /// The watchdog's next verdict.
    async fn verdict(&self) -> Verdict {
        loop {
            self.told.notified().await;
            match self.verdict.swap(0, Ordering::Relaxed) {
                1 => return Verdict::Park,
                2 => return Verdict::CloseGracefully,
                3 => return Verdict::CloseNow,
                _ => {}
            }
        }
    }

    /// The watchdog's next verdict that closes the connection.
    async fn closing(&self) -> Verdict {
        loop {
            let verdict = self.verdict().await;
            if verdict != Verdict::Park {
                return verdict;
            }
        }
    }
}

/// Tells the connection to close once it has been idle for `idle`, once a
/// request's headers have taken longer than `header` since their first
/// byte, or when the server is stopping; and, over HTTP/1.1, to park once
/// it has been idle for [`PARK_AFTER`].
async fn watch(activity: Arc<Activity>, timeouts: Timeouts, stopping: CancellationToken) {
    let Timeouts { idle, header } = timeouts;
    let ms = |d: Duration| d.as_millis() as u64;
    let over = async {
        // A quarter of the shorter timeout; until an HTTP/1.1 connection
        // is told to park, no longer than the wait to park it. Idle
        // connections can number thousands, each woken by its ticks, so a
        // parked one ticks at the slower pace.
        let slow = (idle.min(header) / 4).max(Duration::from_millis(100));
        let fast = slow.min(PARK_AFTER);
        // The idle spell the connection was last told to park in.
        let mut parked_after = None;
        loop {
            let parked = parked_after == Some(activity.last_ms.load(Ordering::Relaxed));
            let http2 = activity.http2.load(Ordering::Relaxed);
            tokio::time::sleep(if parked || http2 { slow } else { fast }).await;
            if activity.in_flight.load(Ordering::Relaxed) > 0 {
                continue;
            }
            let now = activity.now_ms();
            match activity.head_since.load(Ordering::Relaxed) {
                0 => {
                    let last = activity.last_ms.load(Ordering::Relaxed);
                    let idle_for = now.saturating_sub(last);
                    if idle_for >= ms(idle) {
                        return Verdict::CloseGracefully;
                    }
                    if idle_for >= ms(PARK_AFTER)
                        && parked_after != Some(last)
                        && !activity.http2.load(Ordering::Relaxed)
                    {
                        parked_after = Some(last);
                        activity.tell(Verdict::Park);
                    }
                }
                begun => {
                    if (now + 1).saturating_sub(begun) >= ms(header) {
                        return Verdict::CloseNow;
                    }
                }
            }
        }
    };
    let verdict = tokio::select! {
        verdict = over => verdict,
        () = stopping.cancelled() => Verdict::CloseGracefully,
    };
    activity.tell(verdict);
}

/// The connection's stream: first the bytes read before hyper took it
/// over, then the socket's, noting when a request's first byte arrives.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
    /// Read off the socket, not yet by hyper.
    unread: Bytes,
}

impl<S: AsyncRead + Unpin> Watched<S> {
    /// Waits for the connection's next bytes and reads enough of them to
    /// tell HTTP/2's preface from an HTTP/1.1 request (any bytes at all are
    /// HTTP/1.1 when `http1_only`); `None` when the client closed first.
    async fn sniff(&mut self, http1_only: bool) -> std::io::Result<Option<Protocol>> {
        if !self.unread.is_empty() {
            // What hyper had read of a request when the connection parked.
            self.activity.bytes_arrived();
        }
        loop {
            let seen = &self.unread[..self.unread.len().min(HTTP2_PREFACE.len())];
            if seen != &HTTP2_PREFACE[..seen.len()] || (http1_only && !seen.is_empty()) {
                return Ok(Some(Protocol::Http1));
            }
            if seen.len() == HTTP2_PREFACE.len() {
                return Ok(Some(Protocol::Http2));
            }
            let mut more = [0u8; HTTP2_PREFACE.len()];
            let wanted = HTTP2_PREFACE.len() - seen.len();
            let read = self.inner.read(&mut more[..wanted]).await?;
            if read == 0 {
                return Ok(None);
            }
            self.activity.bytes_arrived();
            let mut unread = BytesMut::with_capacity(self.unread.len() + read);
            unread.extend_from_slice(&self.unread);
            unread.extend_from_slice(&more[..read]);
            self.unread = unread.freeze();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.unread.is_empty() {
            let n = self.unread.len().min(buf.remaining());
            buf.put_slice(&self.unread[..n]);
            self.unread.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
