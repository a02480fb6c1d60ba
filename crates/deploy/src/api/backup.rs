//! Backups of an environment's variables, and restoring one.

use actiongate_wire::fields::Slug;
use actiongate_wire::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a backup stands: `complete` is the one state a caller sees, as
/// a backup is only seen once it is whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupStatus {
    Complete,
}

/// A backup as the API shows it (without its contents).
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Backup {
    pub id: String,
    pub project_id: String,
    pub environment_id: String,
    /// The environment's name when it was backed up.
    pub environment_name: String,
    pub safe: bool,
    /// A backup is only seen once it is whole.
    pub status: BackupStatus,
    /// Whether it can still be restored (it has not expired).
    pub restorable: bool,
    /// Its contents' size, in bytes.
    pub size: i64,
    /// How many variables it holds.
    pub variables: usize,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "CreateBackup")]
pub struct Create {
    pub environment_id: String,
    /// Whether the environment's writes wait while it is taken.
    #[serde(default = "super::yes")]
    pub safe: bool,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListBackups")]
pub struct List {
    pub environment_id: String,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BackupId {
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "RestoreBackup")]
pub struct Restore {
    pub id: String,
    /// Restore into a new environment of this name, instead of replacing
    /// the backed-up environment's variables and settings.
    pub environment_name: Option<Slug>,
    /// The new environment's parent: this environment of the project, or
    /// else the backed-up one while it exists.
    pub branch_from: Option<String>,
}
