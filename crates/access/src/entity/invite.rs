//! `invites`: invitations to join a project, by email. The invite token is
//! shown once, at creation; only its SHA-256 is kept.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invites")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The project it is to; unset for an invite to the organization as a
    /// whole.
    pub project_id: Option<String>,
    pub org_id: String,
    /// Lower-cased.
    pub email: String,
    /// The role the invitee gets: `admin`, `member` or `viewer`.
    pub role: String,
    /// Hex SHA-256 of the invite token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// `pending`, `accepted` or `cancelled`; a pending invite past
    /// `expires_at` is expired.
    pub state: String,
    /// The user who sent it.
    pub invited_by: String,
    pub accepted_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
