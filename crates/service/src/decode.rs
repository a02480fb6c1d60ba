//! Decoding a request body into an action's typed input.
//!
//! One pass over the bytes: syntax problems (not JSON, not an object,
//! trailing bytes) become `InvalidPayloadReceived`; well-formed JSON that
//! does not fit the input type becomes `ValidationError` with a JSON
//! pointer to the field at fault.

use actiongate_wire::{ApiError, Status};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

/// Decodes `body` into `T`. An empty (or all-whitespace) body means `{}`.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    let body: &[u8] = match first {
        None => b"{}",
        Some(b'{') => body,
        Some(_) => {
            return Err(ApiError::new(
                Status::InvalidPayloadReceived,
                "The request body must be a JSON object (or empty); send the parameters as {\"name\": value, ...}",
            ))
        }
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let pointer = pointer(err.path());
        classify(err.into_inner(), pointer)
    })?;
    de.end().map_err(|err| classify(err, String::new()))?;
    Ok(value)
}

fn classify(err: serde_json::Error, pointer: String) -> ApiError {
    match err.classify() {
        Category::Data => field_error(&err, pointer),
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            Status::InvalidPayloadReceived,
            format!(
                "The request body is not valid JSON (line {}, column {}): {}",
                err.line(),
                err.column(),
                message(&err)
            ),
        ),
    }
}

fn field_error(err: &serde_json::Error, mut pointer: String) -> ApiError {
    let text = message(err);
    let code = if let Some(field) = missing_field(&text) {
        // serde reports a missing field at its parent; point at the field.
        pointer.push('/');
        pointer.push_str(&escape(field));
        "MissingField"
    } else if text.starts_with("invalid type") {
        "InvalidType"
    } else {
        "InvalidValue"
    };
    let source = if pointer.is_empty() {
        "/".to_owned()
    } else {
        pointer
    };
    ApiError::invalid_field(source, code, text)
}

/// serde_json's message without its " at line L column C" suffix.
fn message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push('/');
                out.push_str(&escape(key));
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        #[serde(default)]
        filter: Filter,
    }

    #[derive(Debug, Default, Deserialize)]
    #[allow(dead_code)]
    struct Filter {
        geo: Option<Geo>,
        tags: Option<Vec<u32>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Geo {
        Us,
    }

    fn err(body: &str) -> ApiError {
        decode_body::<Input>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn accepts_objects_and_ignores_unknown_fields() {
        let input: Input = decode_body(br#"{"name":"a","config_id":"x"}"#).unwrap();
        assert_eq!(input.name, "a");
    }

    #[test]
    fn non_objects_are_invalid_payloads() {
        for body in [
            "[]",
            "1",
            "\"x\"",
            "null",
            "{",
            "{\"name\":\"a\"} x",
            "nope",
        ] {
            assert_eq!(err(body).status, Status::InvalidPayloadReceived, "{body}");
        }
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        let e = err("  ");
        assert_eq!(e.status, Status::ValidationError);
        assert_eq!(e.errors[0].source, "/name");
        assert_eq!(e.errors[0].code, "MissingField");
    }

    #[test]
    fn wrong_types_point_at_the_field() {
        let e = err(r#"{"name": 5}"#);
        assert_eq!(e.errors[0].source, "/name");
        assert_eq!(e.errors[0].code, "InvalidType");
        let e = err(r#"{"name": "a", "filter": {"tags": [1, "x"]}}"#);
        assert_eq!(e.errors[0].source, "/filter/tags/1");
        let e = err(r#"{"name": "a", "filter": {"geo": "mars"}}"#);
        assert_eq!(e.errors[0].source, "/filter/geo");
        assert_eq!(e.errors[0].code, "InvalidValue");
    }
}
