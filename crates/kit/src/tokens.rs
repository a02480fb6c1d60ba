//! Bearer tokens as they are made and kept: their format, their stored
//! form, and every change to a token record (create, rotate, revoke). The
//! `token/*` actions, the command line and the gateway's first start all
//! make tokens here; the gateway's verifier reads what this writes.
//!
//! A token is `agt_`, 30 random base62 characters, and a 6-character
//! checksum of those, so a scanner can recognise a leaked token and a typo
//! is rejected without a database lookup. Only the SHA-256 of the whole
//! token is stored; the secret is shown once, when it is made.

use actiongate_entity::token;
use actiongate_service::sha256_hex;
use actiongate_wire::{new_id, RoleName, Timestamp};
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use sha2::{Digest, Sha256};

/// What every token starts with, so scanners can find leaked ones.
pub const PREFIX: &str = "agt_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn checksum(random: &str) -> String {
    let digest = Sha256::digest(random.as_bytes());
    let mut n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    (0..CHECKSUM_LEN)
        .map(|_| {
            let c = BASE62[(n % 62) as usize] as char;
            n /= 62;
            c
        })
        .collect()
}

/// A fresh token secret.
pub fn generate_secret() -> String {
    let random = Alphanumeric.sample_string(&mut rand::rngs::OsRng, RANDOM_LEN);
    format!("{PREFIX}{random}{}", checksum(&random))
}

/// Whether `secret` has the shape and checksum of a token we issue.
pub fn is_well_formed(secret: &str) -> bool {
    let Some(body) = secret.strip_prefix(PREFIX) else {
        return false;
    };
    if body.len() != RANDOM_LEN + CHECKSUM_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = body.split_at(RANDOM_LEN);
    checksum(random) == sum
}

/// The stored form of a secret: its SHA-256 in hex.
pub fn hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// The last characters of a secret, kept so a person can tell tokens
/// apart.
fn hint(secret: &str) -> String {
    secret[secret.len() - 4..].to_owned()
}

/// A token's services as stored: a JSON array, `["*"]` for every service.
pub fn services_json(services: &[String]) -> String {
    if services.is_empty() {
        "[\"*\"]".to_owned()
    } else {
        serde_json::to_string(services).expect("strings serialize")
    }
}

/// The stored services of a token: `None` for every service.
pub fn parse_services(text: &str) -> Option<Vec<String>> {
    let list: Vec<String> = serde_json::from_str(text).unwrap_or_default();
    if list.iter().any(|s| s == "*") {
        None
    } else {
        Some(list)
    }
}

/// A new token as returned once at creation.
#[derive(Debug)]
pub struct IssuedToken {
    pub id: String,
    pub secret: String,
}

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    pub name: String,
    pub description: Option<String>,
    pub user_id: String,
    pub org_id: String,
    /// Empty means every service.
    pub services: Vec<String>,
    pub expires_at: Option<i64>,
    /// A cap below the user's own role: built in, or a custom role the
    /// token may do no more than.
    pub role: Option<RoleName>,
    /// The one project the token may touch.
    pub project_id: Option<String>,
    /// The user making it, when a user does (not the command line).
    pub created_by: Option<String>,
}

/// Creates a token and returns its secret, which is not stored anywhere.
pub async fn create(db: &impl ConnectionTrait, new: NewToken) -> Result<IssuedToken, DbErr> {
    let secret = generate_secret();
    let id = new_id("tok");
    token::ActiveModel {
        id: Set(id.clone()),
        secret_hash: Set(hash(&secret)),
        hint: Set(hint(&secret)),
        name: Set(new.name),
        user_id: Set(new.user_id),
        org_id: Set(new.org_id),
        services: Set(services_json(&new.services)),
        created_at: Set(Timestamp::now_ms()),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
        role: Set(new.role.map(String::from)),
        project_id: Set(new.project_id),
        last_used_at: Set(None),
        description: Set(new.description),
        created_by: Set(new.created_by),
        previous_secret_hash: Set(None),
        previous_secret_until: Set(None),
    }
    .insert(db)
    .await?;
    Ok(IssuedToken { id, secret })
}

/// Gives the live token `id` a new secret, and returns it. The old secret
/// keeps working until `grace_until` (Unix ms; now or earlier ends it at
/// once), replacing any secret an earlier rotation left in grace. `None`
/// if there is no such live token. The caller moves the auth epoch on in
/// the same transaction, so every gateway verifies both afresh (a handler
/// with `Ctx::invalidates_tokens`, the command line with
/// `auth_epoch::bump`).
pub async fn rotate(
    db: &impl ConnectionTrait,
    id: &str,
    grace_until: i64,
) -> Result<Option<IssuedToken>, DbErr> {
    let Some(row) = token::Entity::find_by_id(id)
        .filter(token::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let secret = generate_secret();
    let now = Timestamp::now_ms();
    let in_grace = grace_until > now;
    let mut active: token::ActiveModel = row.clone().into();
    active.secret_hash = Set(hash(&secret));
    active.hint = Set(hint(&secret));
    active.previous_secret_hash = Set(in_grace.then_some(row.secret_hash));
    active.previous_secret_until = Set(in_grace.then_some(grace_until));
    active.update(db).await?;
    Ok(Some(IssuedToken {
        id: id.to_owned(),
        secret,
    }))
}

/// Revokes the live token `id`, its secret in grace too; `false` if there
/// is no such live token. The caller moves the auth epoch on, as for
/// [`rotate`], so verified copies cached by any gateway stop working from
/// their next request.
pub async fn revoke(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    let result = token::Entity::update_many()
        .col_expr(token::Column::RevokedAt, Expr::value(Timestamp::now_ms()))
        .col_expr(
            token::Column::PreviousSecretHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            token::Column::PreviousSecretUntil,
            Expr::value(Option::<i64>::None),
        )
        .filter(token::Column::Id.eq(id))
        .filter(token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_well_formed() {
        for _ in 0..100 {
            let secret = generate_secret();
            assert!(is_well_formed(&secret), "{secret}");
            assert_eq!(secret.len(), 4 + RANDOM_LEN + CHECKSUM_LEN);
        }
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let secret = generate_secret();
        let mut bytes = secret.into_bytes();
        let i = 10;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        assert!(!is_well_formed(&String::from_utf8(bytes).unwrap()));
        assert!(!is_well_formed("agt_short"));
        assert!(!is_well_formed("Bearer"));
    }

    #[test]
    fn services_round_trip_and_star_means_all() {
        assert_eq!(parse_services(&services_json(&[])), None);
        let some = vec!["console".to_owned(), "deploy".to_owned()];
        assert_eq!(parse_services(&services_json(&some)), Some(some));
    }
}
