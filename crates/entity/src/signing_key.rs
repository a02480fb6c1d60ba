//! `signing_keys`: the Ed25519 keys that sign the identity tokens the
//! gateway sends to upstream services. Shared by every node, so any of
//! them signs with the same key and publishes the same JWKS.

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// The key id, the JWT header's `kid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// PKCS#8 document, base64. A secret: never logged or answered.
    pub private_key: String,
    /// The raw 32-byte public key, base64url (a JWK's `x`).
    pub public_key: String,
    pub created_at: i64,
    /// Set when a newer key took over signing.
    pub retired_at: Option<i64>,
}

/// Leaves the private key out, so a key printed by mistake leaks nothing.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
