//! An environment's free-form settings, as environments show them and an
//! update patches them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Settings as stored and shown: a JSON object of named values.
pub type Settings = Map<String, Value>;

/// A patch to an environment's settings, as an update gives it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct SettingsPatch(
    /// Keys to set; a `null` value removes the key. Keys are 1 to 64 of
    /// `a-z`, `0-9` and `_`, starting with a letter.
    pub Map<String, Value>,
);
