//! The HTTP server: accepts connections within `max_connections`, speaks
//! HTTPS (HTTP/2 and HTTP/1.1 by ALPN) when a certificate is configured and
//! plain HTTP/1.1 and HTTP/2 (by preface) otherwise, bounds what a client
//! may send and how slowly, hands each request to the pipeline, and on
//! shutdown stops accepting and lets open requests finish within the grace
//! period.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Tls, TransportLimits};
use crate::{pipeline, Gateway};

/// hyper's own limit on the header fields of a request.
const HYPER_MAX_HEADERS: usize = 100;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS acceptor of `tls`, or `None` for plain HTTP.
pub fn tls_acceptor(tls: &Tls) -> anyhow::Result<Option<TlsAcceptor>> {
    let (Some(cert), Some(key)) = (&tls.cert, &tls.key) else {
        return Ok(None);
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading the certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing the certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not go together")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    tls: Option<TlsAcceptor>,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let limits = gateway.config().limits.clone();
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    let builder = Arc::new(builder(&limits));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        // A connection over the limit waits in the kernel's backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let gateway = gateway.clone();
        let builder = builder.clone();
        let stopping = stopping.clone();
        let tls = tls.clone();
        let timeouts = Timeouts {
            idle: limits.keep_alive_idle,
            header: limits.header_read_timeout,
        };
        connections.spawn(async move {
            let _slot = slot;
            match tls {
                None => serve_connection(stream, peer, gateway, &builder, stopping, timeouts).await,
                // Boxed: a task is as large as its largest state, and a TLS
                // session's would otherwise make every plain connection's
                // task 8 KB.
                Some(tls) => Box::pin(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, gateway, &builder, stopping, timeouts)
                                .await
                        }
                        Ok(Err(err)) => {
                            tracing::debug!(client = %peer, error = %err, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(client = %peer, "TLS handshake timed out"),
                    }
                })
                .await,
            }
        });
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    tokio::select! {
        () = connections.wait() => {}
        () = tokio::time::sleep(grace) => tracing::warn!("connections still open after the grace period"),
    }
}

/// `metrics_listen`: `GET /metrics` for a scraper, with no token (the
/// address is the access control), and 404 for anything else. It stops
/// when its task is aborted at shutdown.
pub async fn serve_metrics(listener: TcpListener, gateway: Arc<Gateway>) {
    let builder = Arc::new(builder(&gateway.config().limits));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!(error = %err, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (gateway, builder) = (gateway.clone(), builder.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let gateway = gateway.clone();
                async move {
                    let found =
                        request.method() == http::Method::GET && request.uri().path() == "/metrics";
                    let text = match found {
                        true => crate::health::metrics(&gateway).await,
                        false => None,
                    };
                    let (code, text) = match text {
                        Some(text) => (http::StatusCode::OK, text),
                        None => (http::StatusCode::NOT_FOUND, "not found\n".to_owned()),
                    };
                    let mut response =
                        http::Response::new(http_body_util::Full::new(bytes::Bytes::from(text)));
                    *response.status_mut() = code;
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static(pipeline::respond::PROMETHEUS_TEXT),
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// HTTP/1.1 and HTTP/2 with the transport limits.
fn builder(limits: &TransportLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's header timeout runs from the moment it waits for a request,
    // so it would close a keep-alive connection idle for that long; the
    // connection's watchdog times headers from their first byte instead.
    builder
        .http1()
        .header_read_timeout(None)
        .max_buf_size(limits.header_size.max(8192));
    // hyper parses up to 100 headers in a buffer on the stack; a configured
    // maximum switches it to one on the heap per request, so 100 is left
    // as hyper's own.
    if limits.max_headers != HYPER_MAX_HEADERS {
        builder.http1().max_headers(limits.max_headers);
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.header_size).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    builder
}

/// How long a connection may wait.
#[derive(Clone, Copy)]
struct Timeouts {
    /// With nothing in flight and no request begun: keep-alive.
    idle: Duration,
    /// From a request's first byte to the end of its headers (HTTP/1).
    header: Duration,
}

/// What the connection's watchdog knows of it.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    /// When the last request ended, in ms since `since`.
    last_ms: AtomicU64,
    /// When the first byte of a request whose headers have not all come
    /// arrived, in ms since `since` plus one; 0 when none is arriving.
    head_since: AtomicU64,
    /// HTTP/2: streams and pings come and go between requests, and no
    /// header timeout applies.
    http2: AtomicBool,
}

/// The connection's stream, noting when a request's first byte arrives
/// while nothing is in flight.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
    since: Instant,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let activity = &self.activity;
            if activity.in_flight.load(Ordering::Relaxed) == 0
                && !activity.http2.load(Ordering::Relaxed)
                && activity.head_since.load(Ordering::Relaxed) == 0
            {
                let now = self.since.elapsed().as_millis() as u64 + 1;
                activity.head_since.store(now, Ordering::Relaxed);
            }
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

/// Why the watchdog closes a connection.
enum Close {
    /// Idle past keep-alive, or the server is stopping: after the
    /// response in flight, if any.
    Gracefully,
    /// Headers slower than the header timeout (slowloris): at once, with
    /// no answer.
    Now,
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    gateway: Arc<Gateway>,
    builder: &auto::Builder<TokioExecutor>,
    stopping: CancellationToken,
    timeouts: Timeouts,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let since = Instant::now();
    let activity = Arc::new(Activity::default());
    let service = {
        let activity = activity.clone();
        service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let gateway = gateway.clone();
            let activity = activity.clone();
            activity.in_flight.fetch_add(1, Ordering::Relaxed);
            // Its headers are all in.
            activity.head_since.store(0, Ordering::Relaxed);
            if request.version() == http::Version::HTTP_2 {
                activity.http2.store(true, Ordering::Relaxed);
            }
            // Boxed: hyper keeps room for one in-flight future in every
            // connection, idle or not, and the pipeline's is 3.5 KB.
            let handled = Box::pin(pipeline::handle(gateway, peer, request));
            async move {
                let response = handled.await;
                activity
                    .last_ms
                    .store(since.elapsed().as_millis() as u64, Ordering::Relaxed);
                activity.in_flight.fetch_sub(1, Ordering::Relaxed);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let stream = Watched {
        inner: stream,
        activity: activity.clone(),
        since,
    };
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    // A watchdog of its own tells the connection when to close: when it has
    // been idle for `idle` with nothing in flight, when a request's headers
    // take longer than the header timeout, or at shutdown. Waiting on a
    // oneshot costs the connection's every wake-up an atomic load; waiting
    // on the shared shutdown token would take its lock.
    let (close, closing) = oneshot::channel::<Close>();
    let watchdog = tokio::spawn(watch(activity, since, timeouts, stopping, close));
    tokio::pin!(closing);
    let ended = tokio::select! {
        biased;
        ended = connection.as_mut() => ended,
        how = &mut closing => match how {
            Ok(Close::Now) => {
                tracing::debug!(client = %peer, "request headers too slow; connection closed");
                Ok(())
            }
            _ => {
                // HTTP/1.1 closes after the response in flight; HTTP/2
                // sends GOAWAY.
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        },
    };
    watchdog.abort();
    if let Err(err) = ended {
        tracing::debug!(client = %peer, error = %err, "connection ended with an error");
    }
}

/// Resolves `close` once the connection has been idle for `idle`, once a
/// request's headers have taken longer than `header` since their first
/// byte, or when the server is stopping.
async fn watch(
    activity: Arc<Activity>,
    since: Instant,
    timeouts: Timeouts,
    stopping: CancellationToken,
    close: oneshot::Sender<Close>,
) {
    let Timeouts { idle, header } = timeouts;
    let ms = |d: Duration| d.as_millis() as u64;
    let over = async {
        let every = idle.min(header).max(Duration::from_millis(100)) / 4;
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if activity.in_flight.load(Ordering::Relaxed) > 0 {
                continue;
            }
            let now = ms(since.elapsed());
            match activity.head_since.load(Ordering::Relaxed) {
                0 => {
                    let last = activity.last_ms.load(Ordering::Relaxed);
                    if now.saturating_sub(last) >= ms(idle) {
                        return Close::Gracefully;
                    }
                }
                begun => {
                    if (now + 1).saturating_sub(begun) >= ms(header) {
                        return Close::Now;
                    }
                }
            }
        }
    };
    let how = tokio::select! {
        how = over => how,
        () = stopping.cancelled() => Close::Gracefully,
    };
    let _ = close.send(how);
}
