//! `tokens`: bearer service tokens, stored as SHA-256 hashes only.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Hex SHA-256 of the whole secret.
    #[sea_orm(unique)]
    pub secret_hash: String,
    /// The secret's last characters, so a person can tell tokens apart.
    pub hint: String,
    pub name: String,
    pub user_id: String,
    pub org_id: String,
    /// JSON array of service names, or `["*"]` for every service.
    pub services: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The most the token may do, below its user's own role (`owner`,
    /// `admin`, `member`, `viewer`); `None`: the user's role.
    pub role: Option<String>,
    /// The one project the token may touch, if limited to one.
    pub project_id: Option<String>,
    /// When the token was last used (Unix ms), written every few seconds,
    /// not on every request.
    pub last_used_at: Option<i64>,
    pub description: Option<String>,
    /// The user who made it; `None` for tokens made from the command line
    /// or before this was kept.
    pub created_by: Option<String>,
    /// The secret a rotation replaced, as a hash, which keeps working
    /// until `previous_secret_until` (Unix ms).
    #[sea_orm(unique)]
    pub previous_secret_hash: Option<String>,
    pub previous_secret_until: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
