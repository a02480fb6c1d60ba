//! A project's icon.

use actiongate_wire::Upload;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UploadIcon {
    pub id: String,
    pub file: Upload,
}

/// An icon as `project/icon/get` returns it.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Icon {
    pub project_id: String,
    pub content_type: String,
    pub size: usize,
    pub sha256: String,
    /// The image, base64.
    pub data: String,
}
