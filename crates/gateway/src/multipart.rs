//! `multipart/form-data` bodies, as the Pangea SDKs send files: turned
//! into the one JSON object the action decodes (see
//! `actiongate_service::Upload`). The `request` part holds the parameters;
//! every other part becomes `{filename, content_type, data}` (base64)
//! under its name.

use std::convert::Infallible;

use actiongate_service::encode_data;
use actiongate_wire::{ApiError, Status};
use bytes::Bytes;
use serde_json::{Map, Value};

/// The multipart body's boundary, if `content_type` is
/// `multipart/form-data`; `None` for any other type.
pub fn boundary(content_type: &http::HeaderValue) -> Option<Result<String, ApiError>> {
    let text = content_type.to_str().ok()?;
    let essence = text.split(';').next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    Some(multer::parse_boundary(text).map_err(|_| {
        invalid("Content-Type multipart/form-data needs a boundary parameter".to_owned())
    }))
}

/// The parameters and files of a multipart body, as one JSON object.
pub async fn to_json(body: Bytes, boundary: &str, json_depth: usize) -> Result<Bytes, ApiError> {
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut object = Map::new();
    let mut files = Map::new();
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        let name = field
            .name()
            .map(str::to_owned)
            .ok_or_else(|| invalid("A multipart part has no name".to_owned()))?;
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(|m| m.essence_str().to_owned());
        let data = field.bytes().await.map_err(malformed)?;
        if name == "request" {
            crate::json_depth::check_depth(&data, json_depth)?;
            match serde_json::from_slice(&data) {
                Ok(Value::Object(params)) => object = params,
                _ => {
                    return Err(invalid(
                        "The multipart part \"request\" must be a JSON object of parameters"
                            .to_owned(),
                    ))
                }
            }
            continue;
        }
        let file = serde_json::json!({
            "filename": filename,
            "content_type": content_type,
            "data": encode_data(&data),
        });
        if files.insert(name.clone(), file).is_some() {
            return Err(invalid(format!(
                "The multipart part {name:?} is sent twice"
            )));
        }
    }
    for (name, file) in files {
        if object.insert(name.clone(), file).is_some() {
            return Err(invalid(format!(
                "{name:?} is both a parameter in \"request\" and a file part; send it once"
            )));
        }
    }
    Ok(Bytes::from(
        serde_json::to_vec(&Value::Object(object)).expect("JSON values serialize"),
    ))
}

fn malformed(err: multer::Error) -> ApiError {
    invalid(format!("The multipart/form-data body is malformed: {err}"))
}

fn invalid(message: String) -> ApiError {
    ApiError::new(Status::InvalidPayloadReceived, message)
}
