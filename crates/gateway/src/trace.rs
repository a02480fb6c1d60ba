//! W3C Trace Context: a request's `traceparent`, taken from the caller or
//! started here, and carried into its log lines, its job (on whichever
//! node runs it) and its answers.
//!
//! <https://www.w3.org/TR/trace-context/#traceparent-header>: version `00`,
//! a 16-byte trace id and an 8-byte parent span id, neither all zeros, and
//! one byte of flags, all in lowercase hex. A header that breaks the rules
//! is ignored and a new trace begins, as the recommendation asks.

use std::fmt;

use http::{HeaderMap, HeaderValue};

/// The header's name.
pub const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// A trace: every span of one piece of work shares it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// One span within a trace.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

/// This hop's place in a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: TraceId,
    /// This hop's own span, sent on in `traceparent`.
    pub span_id: SpanId,
    /// The caller's span, when the caller sent one.
    pub parent: Option<SpanId>,
    /// The caller's `sampled` flag (set on traces started here).
    pub sampled: bool,
}

impl TraceContext {
    /// The caller's trace continued, or a new one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(TRACEPARENT)
            .and_then(|value| value.to_str().ok())
            .and_then(Self::parse)
            .unwrap_or_else(Self::start)
    }

    /// A new trace, sampled.
    pub fn start() -> Self {
        TraceContext {
            trace_id: TraceId(nonzero()),
            span_id: SpanId(nonzero()),
            parent: None,
            sampled: true,
        }
    }

    /// A caller's header, as this hop's context: same trace, new span.
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let version = parts.next()?;
        let (trace_id, parent, flags) = (parts.next()?, parts.next()?, parts.next()?);
        let version = u8::from_str_radix(hex_field(version, 2)?, 16).ok()?;
        // Version ff is forbidden; 00 has exactly four fields, and later
        // versions may add fields, which are read past.
        if version == 0xff || (version == 0 && parts.next().is_some()) {
            return None;
        }
        let trace_id = TraceId(decode(hex_field(trace_id, 32)?)?);
        let parent = SpanId(decode(hex_field(parent, 16)?)?);
        let flags = u8::from_str_radix(hex_field(flags, 2)?, 16).ok()?;
        if trace_id.0 == [0; 16] || parent.0 == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id: SpanId(nonzero()),
            parent: Some(parent),
            sampled: flags & 1 == 1,
        })
    }

    /// The `traceparent` naming this hop's span, for the answer and for
    /// whatever this hop calls.
    pub fn traceparent(&self) -> String {
        String::from_utf8(self.encode().to_vec()).expect("hex digits and dashes")
    }

    /// [`TraceContext::traceparent`] as a header value.
    pub fn header(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.encode()).expect("hex digits and dashes")
    }

    /// Version 00: `00-<trace id>-<span id>-<flags>`, written in place
    /// (it goes out with every answer).
    fn encode(&self) -> [u8; 55] {
        let mut text = *b"00-00000000000000000000000000000000-0000000000000000-00";
        hex::encode_to_slice(self.trace_id.0, &mut text[3..35]).expect("16 bytes in 32 digits");
        hex::encode_to_slice(self.span_id.0, &mut text[36..52]).expect("8 bytes in 16 digits");
        if self.sampled {
            text[54] = b'1';
        }
        text
    }
}

impl TraceId {
    /// The id from its 32 lowercase hex digits (as jobs store it).
    pub fn parse(hex: &str) -> Option<Self> {
        let id = TraceId(decode(hex_field(hex, 32)?)?);
        (id.0 != [0; 16]).then_some(id)
    }

    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        TraceId(bytes)
    }
}

impl SpanId {
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    pub fn from_bytes(bytes: [u8; 8]) -> Self {
        SpanId(bytes)
    }
}

/// `text` if it is `len` lowercase hex digits.
fn hex_field(text: &str, len: usize) -> Option<&str> {
    (text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then_some(text)
}

fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut bytes = [0; N];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

/// Random bytes, never all zeros (an invalid id).
fn nonzero<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    let mut rng = rand::thread_rng();
    while bytes == [0; N] {
        rand::Rng::fill(&mut rng, &mut bytes[..]);
    }
    bytes
}

/// Ids are formatted into every log line and outgoing `traceparent`: in
/// one piece, not a `write!` per byte.
fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut text = [0; 32];
    let text = &mut text[..2 * bytes.len()];
    hex::encode_to_slice(bytes, text).map_err(|_| fmt::Error)?;
    f.write_str(std::str::from_utf8(text).map_err(|_| fmt::Error)?)
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn continues_a_valid_header_with_a_new_span() {
        let ctx = TraceContext::parse(SAMPLE).unwrap();
        assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent.unwrap().to_string(), "00f067aa0ba902b7");
        assert_ne!(ctx.span_id, ctx.parent.unwrap());
        assert!(ctx.sampled);
        let header = ctx.header();
        let header = header.to_str().unwrap();
        assert!(header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(header.ends_with("-01"));
        assert_eq!(TraceContext::parse(header).unwrap().trace_id, ctx.trace_id);
    }

    #[test]
    fn writes_the_version_00_form() {
        let mut ctx = TraceContext::parse(SAMPLE).unwrap();
        let span = ctx.span_id;
        assert_eq!(
            ctx.traceparent(),
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{span}-01")
        );
        ctx.sampled = false;
        assert_eq!(
            ctx.header(),
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{span}-00").as_str()
        );
    }

    #[test]
    fn refuses_what_the_recommendation_forbids() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad:?}");
        }
        // A later version may carry more fields.
        assert!(TraceContext::parse(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more"
        )
        .is_some_and(|ctx| !ctx.sampled));
    }

    #[test]
    fn starts_a_trace_when_none_came() {
        let a = TraceContext::from_headers(&HeaderMap::new());
        let b = TraceContext::from_headers(&HeaderMap::new());
        assert_ne!(a.trace_id, b.trace_id);
        assert!(a.parent.is_none());
        assert_eq!(TraceId::parse(&a.trace_id.to_string()), Some(a.trace_id));
    }
}
