//! One page of a list, the same for every list action: its `results`, the
//! `count` of all matches, and the `offset` it starts at.

use serde::{Deserialize, Serialize};

/// One page of results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Page_of_{T}")]
pub struct Page<T> {
    pub results: Vec<T>,
    pub count: u64,
    pub offset: u64,
}
