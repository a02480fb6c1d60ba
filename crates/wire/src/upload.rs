//! A file sent with a call.
//!
//! Callers send files the way the Pangea SDKs do: a `multipart/form-data`
//! body with a `request` part holding the JSON parameters and one part per
//! file. The gateway turns that into one JSON object, each file under its
//! part's name as `{filename, content_type, data}` with `data` in base64,
//! so an action takes a file as an [`Upload`] field of its input, and a
//! job stores and resumes it like any other input. A JSON caller may send
//! the same object inline.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One uploaded file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Upload {
    /// The name the client gave it; never trusted for its type.
    #[serde(default)]
    pub filename: Option<String>,
    /// The type the client declared; never trusted either.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The bytes, base64 in JSON.
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub data: Vec<u8>,
}

fn to_base64<S: Serializer>(data: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&STANDARD.encode(data))
}

fn from_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    STANDARD
        .decode(text.as_bytes())
        .map_err(|err| serde::de::Error::custom(format!("data is not base64: {err}")))
}

/// Encodes bytes as an [`Upload`]'s `data` is.
pub fn encode_data(data: &[u8]) -> String {
    STANDARD.encode(data)
}
