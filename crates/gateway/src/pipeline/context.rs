//! The one per-request context carried through the phases, as Pingora
//! carries its `CTX`: what the request is, and what each phase learned
//! about it for the phases after it (the grant, the project scope, the
//! rate-limit state) and for the response and its log line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use actiongate_wire::{RequestId, Timestamp};
use http::request::Parts;

use crate::metrics::RouteMetrics;
use crate::rate_limits::LimitState;
use crate::tokens::Grant;
use crate::trace::TraceContext;

pub struct RequestCtx<'a> {
    pub request_id: RequestId,
    pub request_time: Timestamp,
    pub started: Instant,
    /// The caller's trace (its `traceparent`) continued, or a new one.
    pub trace: TraceContext,
    /// The span every log line of the request is written in; it carries
    /// the trace id.
    pub span: tracing::Span,
    /// For an answer that is a job's (a poll): the job's trace, which the
    /// answer's `traceparent` names instead of the poll's own.
    pub answer_trace: Option<TraceContext>,
    /// The client's address, as the connection came in.
    pub peer: SocketAddr,
    pub parts: &'a Parts,
    /// The service prefix the caller used, repeated in poll locations.
    pub prefix: Option<&'a str>,
    /// The route, for the log line: service, version and action path.
    pub service: &'a str,
    pub version: &'a str,
    pub action: &'a str,
    /// The route's series; `None` for the gateway's own endpoints and for
    /// paths that name no route.
    pub metrics: Option<&'a RouteMetrics>,
    /// Set by `authenticate`: the caller's token and principal.
    pub grant: Option<Arc<Grant>>,
    /// Set by `authorize`: the project the action's declared scope
    /// resolved to.
    pub project_scope: Option<Arc<str>>,
    /// The project row `authorize` read, handed to the handler.
    pub checked_project: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// Set by `authorize` for an activity scoped to a record: the queue it
    /// runs in (`environment:env_...`).
    pub scope_record: Option<String>,
    /// The rate limit that applied to the call, for its headers.
    pub limit: Option<LimitState>,
    /// For `MethodNotAllowed`: the method to use.
    pub allow: Option<&'static str>,
}

impl<'a> RequestCtx<'a> {
    pub fn new(peer: SocketAddr, parts: &'a Parts) -> Self {
        // At ERROR level so that it exists whenever any line is logged (a
        // span's level only decides when it is made).
        // Linking the span to an exported trace keeps its trace id, so the
        // field is set as the span is made (recording it later formats the
        // span's fields twice).
        let trace = TraceContext::from_headers(&parts.headers);
        let span = tracing::error_span!("request", trace_id = %trace.trace_id);
        let trace = crate::telemetry::link(&span, trace);
        RequestCtx {
            request_id: RequestId::new(),
            request_time: Timestamp::now(),
            started: Instant::now(),
            span,
            trace,
            answer_trace: None,
            peer,
            parts,
            prefix: None,
            service: "",
            version: "",
            action: "",
            metrics: None,
            grant: None,
            project_scope: None,
            checked_project: None,
            scope_record: None,
            limit: None,
            allow: None,
        }
    }

    /// The grant `authenticate` set.
    ///
    /// # Panics
    /// Before `authenticate` ran: the phases' order is fixed in `run`.
    pub fn grant(&self) -> &Arc<Grant> {
        self.grant
            .as_ref()
            .expect("authenticate runs before the phases that need its grant")
    }
}
