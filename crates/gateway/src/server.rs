//! The HTTP server: accepts connections within `max_connections`, speaks
//! HTTPS (HTTP/2 and HTTP/1.1 by ALPN) when a certificate is configured and
//! plain HTTP/1.1 and HTTP/2 (by preface) otherwise, bounds what a client
//! may send and how slowly, hands each request to the pipeline, and on
//! shutdown stops accepting and lets open requests finish within the grace
//! period. A connection's own life is [`connection`]'s.

mod connection;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Tls, TransportLimits};
use crate::metrics::ConnectionGauges;
use crate::{pipeline, Gateway};
use connection::{Builders, Timeouts};

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
    let builders = Arc::new(builders(&limits));
    let gauges = gateway.metrics().connection_gauges();
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
        let handle = move |request| pipeline::handle(gateway.clone(), peer, request);
        let builders = builders.clone();
        let stopping = stopping.clone();
        let tls = tls.clone();
        let timeouts = Timeouts {
            idle: limits.keep_alive_idle,
            header: limits.header_read_timeout,
        };
        let gauges = gauges.clone();
        connections.spawn(async move {
            let _slot = slot;
            match tls {
                None => {
                    connection::serve(stream, peer, &builders, handle, stopping, timeouts, gauges)
                        .await
                }
                // Boxed: a task is as large as its largest state, and a TLS
                // session's would otherwise make every plain connection's
                // task 8 KB.
                Some(tls) => Box::pin(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            connection::serve(
                                stream, peer, &builders, handle, stopping, timeouts, gauges,
                            )
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
    let limits = &gateway.config().limits;
    let builders = Arc::new(builders(limits));
    let timeouts = Timeouts {
        idle: limits.keep_alive_idle,
        header: limits.header_read_timeout,
    };
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (gateway, builders) = (gateway.clone(), builders.clone());
        let handle = move |request| metrics_answer(gateway.clone(), request);
        // Never cancelled: the task is aborted at shutdown.
        let stopping = CancellationToken::new();
        tokio::spawn(async move {
            let gauges = ConnectionGauges::uncounted();
            connection::serve(stream, peer, &builders, handle, stopping, timeouts, gauges).await
        });
    }
}

/// The metrics listener's answer to `request`.
async fn metrics_answer(
    gateway: Arc<Gateway>,
    request: http::Request<hyper::body::Incoming>,
) -> http::Response<Full<Bytes>> {
    let found = request.method() == http::Method::GET && request.uri().path() == "/metrics";
    let text = match found {
        true => crate::health::metrics(&gateway).await,
        false => None,
    };
    let (code, text) = match text {
        Some(text) => (http::StatusCode::OK, text),
        None => (http::StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    let mut response = http::Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = code;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(pipeline::respond::PROMETHEUS_TEXT),
    );
    response
}

/// HTTP/1.1 and HTTP/2 with the transport limits.
fn builders(limits: &TransportLimits) -> Builders {
    let mut http1 = http1::Builder::new();
    // hyper's header timeout runs from the moment it waits for a request,
    // so it would close a keep-alive connection idle for that long; the
    // connection's watchdog times headers from their first byte instead.
    http1
        .header_read_timeout(None)
        .max_buf_size(limits.header_size.max(8192));
    // hyper parses up to 100 headers in a buffer on the stack; a configured
    // maximum switches it to one on the heap per request, so 100 is left
    // as hyper's own.
    if limits.max_headers != HYPER_MAX_HEADERS {
        http1.max_headers(limits.max_headers);
    }
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.header_size).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    Builders { http1, http2 }
}
