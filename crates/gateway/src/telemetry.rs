//! Span export over OTLP (HTTP, protobuf) when `otlp_endpoint` is set, with
//! `tracing-opentelemetry`: each request and job span goes to the collector
//! in the trace its [`TraceContext`] names, so the ids in the log lines,
//! in `traceparent` answers and in the collector agree.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use opentelemetry::trace::{
    SpanContext, SpanId as OtelSpanId, TraceContextExt, TraceFlags, TraceId as OtelTraceId,
    TraceState, TracerProvider as _,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

use crate::trace::{SpanId, TraceContext};

/// Set once spans are exported: only then do spans carry OpenTelemetry
/// contexts worth linking.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// The OTLP path for traces, added to an endpoint given without it.
const TRACES_PATH: &str = "/v1/traces";

/// The layer that exports spans to `endpoint` (`http://collector:4318`),
/// and the provider to shut down (flushing what is batched) at exit.
pub fn otlp_layer<S>(
    endpoint: &str,
) -> anyhow::Result<(
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    SdkTracerProvider,
)>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let endpoint = endpoint.trim_end_matches('/');
    let url = if endpoint.ends_with(TRACES_PATH) {
        endpoint.to_owned()
    } else {
        format!("{endpoint}{TRACES_PATH}")
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url.clone())
        .build()
        .with_context(|| format!("otlp_endpoint {url}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("actiongate").build())
        .build();
    let tracer = provider.tracer("actiongate");
    EXPORTING.store(true, Ordering::Relaxed);
    Ok((tracing_opentelemetry::layer().with_tracer(tracer), provider))
}

/// Puts `span` in `trace`'s trace (as a child of the caller's span, when
/// there is one) and returns the context it now has: with export on, the
/// span id is the exported span's own; without it, `trace` as it is. The
/// trace id never changes, so a span may carry it from its start.
pub fn link(span: &tracing::Span, trace: TraceContext) -> TraceContext {
    if !EXPORTING.load(Ordering::Relaxed) || span.is_disabled() {
        return trace;
    }
    let flags = if trace.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    // A trace begun here has no caller's span: the exported span is the
    // root, and gets the trace id the logs already show.
    let parent = trace.parent.unwrap_or(trace.span_id);
    let remote = SpanContext::new(
        OtelTraceId::from_bytes(trace.trace_id.to_bytes()),
        OtelSpanId::from_bytes(parent.to_bytes()),
        flags,
        true,
        TraceState::default(),
    );
    if span
        .set_parent(opentelemetry::Context::new().with_remote_span_context(remote))
        .is_err()
    {
        return trace;
    }
    let linked = span.context().span().span_context().clone();
    debug_assert_eq!(linked.trace_id().to_bytes(), trace.trace_id.to_bytes());
    TraceContext {
        span_id: SpanId::from_bytes(linked.span_id().to_bytes()),
        ..trace
    }
}
