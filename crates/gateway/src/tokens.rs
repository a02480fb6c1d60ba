//! Bearer service tokens: their format, how they are stored, and the cache
//! that keeps the database off the request path.
//!
//! A token is `agt_`, 30 random base62 characters, and a 6-character
//! checksum of those, so a scanner can recognise a leaked token and a typo
//! is rejected without a database lookup. Only the SHA-256 of the whole
//! token is stored. Verified tokens are cached by hash; a background task
//! watches the table and empties the cache when any token is revoked, so a
//! revocation made elsewhere (the CLI, another node) takes effect within
//! `token_refresh`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actiongate_entity::token;
use actiongate_service::Principal;
use actiongate_wire::{new_id, ApiError, Status, Timestamp};
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

const PREFIX: &str = "agt_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a verified token may do.
#[derive(Clone, Debug)]
pub struct Grant {
    pub principal: Arc<Principal>,
    /// `None` means every service.
    pub services: Option<Vec<String>>,
    pub expires_at: Option<i64>,
}

impl Grant {
    pub fn allows(&self, service: &str) -> bool {
        match &self.services {
            None => true,
            Some(list) => list.iter().any(|s| s == service),
        }
    }
}

/// A new token as returned once at creation.
#[derive(Debug)]
pub struct IssuedToken {
    pub id: String,
    pub secret: String,
}

/// What to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub user_id: String,
    pub org_id: String,
    /// Empty means every service.
    pub services: Vec<String>,
    pub expires_at: Option<i64>,
}

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

type Digest32 = [u8; 32];

fn digest(secret: &str) -> Digest32 {
    Sha256::digest(secret.as_bytes()).into()
}

/// The stored form of a secret: its SHA-256 in hex.
pub fn hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// SHA-256 of `data`, in lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data).into())
}

fn hex(digest: &Digest32) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 0xf) as usize] as char);
    }
    out
}

fn services_json(services: &[String]) -> String {
    if services.is_empty() {
        "[\"*\"]".to_owned()
    } else {
        serde_json::to_string(services).expect("strings serialize")
    }
}

fn parse_services(text: &str) -> Option<Vec<String>> {
    let list: Vec<String> = serde_json::from_str(text).unwrap_or_default();
    if list.iter().any(|s| s == "*") {
        None
    } else {
        Some(list)
    }
}

/// Creates a token and returns its secret, which is not stored anywhere.
pub async fn create(db: &impl ConnectionTrait, new: NewToken) -> Result<IssuedToken, DbErr> {
    let secret = generate_secret();
    let id = new_id("tok");
    token::ActiveModel {
        id: Set(id.clone()),
        secret_hash: Set(hash(&secret)),
        hint: Set(secret[secret.len() - 4..].to_owned()),
        name: Set(new.name),
        user_id: Set(new.user_id),
        org_id: Set(new.org_id),
        services: Set(services_json(&new.services)),
        created_at: Set(Timestamp::now_ms()),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(IssuedToken { id, secret })
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<token::Model>, DbErr> {
    token::Entity::find()
        .order_by_asc(token::Column::CreatedAt)
        .all(db)
        .await
}

/// Revokes a token; `false` if there is no such live token.
pub async fn revoke(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let result = token::Entity::update_many()
        .col_expr(
            token::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Timestamp::now_ms()),
        )
        .filter(token::Column::Id.eq(id))
        .filter(token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Verifies bearer tokens, caching the ones that pass.
pub struct TokenVerifier {
    db: DatabaseConnection,
    /// Verified tokens by the SHA-256 of their secret.
    cache: RwLock<HashMap<Digest32, Arc<Grant>>>,
}

fn unauthorized(summary: &str) -> ApiError {
    ApiError::new(Status::Unauthorized, summary)
}

impl TokenVerifier {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(TokenVerifier {
            db,
            cache: RwLock::new(HashMap::new()),
        })
    }

    /// The grant of a live token, or `Unauthorized` saying why not.
    pub async fn verify(&self, secret: &str) -> Result<Arc<Grant>, ApiError> {
        let key = digest(secret);
        let cached = self
            .cache
            .read()
            .expect("token cache poisoned")
            .get(&key)
            .cloned();
        let grant = match cached {
            Some(grant) => grant,
            // Only a token we issued can be cached, so the shape is checked
            // here, before the database is asked.
            None if !is_well_formed(secret) => return Err(unauthorized(
                "Malformed token: expected the agt_... token issued by `actiongate token create`",
            )),
            None => self.load(key).await?,
        };
        if let Some(expires_at) = grant.expires_at {
            if expires_at <= Timestamp::now_ms() {
                return Err(unauthorized("The token has expired; create a new one"));
            }
        }
        Ok(grant)
    }

    async fn load(&self, key: Digest32) -> Result<Arc<Grant>, ApiError> {
        let row = token::Entity::find()
            .filter(token::Column::SecretHash.eq(hex(&key)))
            .one(&self.db)
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "token lookup failed");
                ApiError::new(
                    Status::ServiceNotAvailable,
                    "The token store is unavailable; try again shortly",
                )
            })?;
        let row =
            row.ok_or_else(|| unauthorized("Unknown token: it was never issued by this gateway"))?;
        if row.revoked_at.is_some() {
            return Err(unauthorized("The token has been revoked"));
        }
        let grant = Arc::new(Grant {
            principal: Arc::new(Principal {
                token_id: row.id,
                user_id: row.user_id,
                org_id: row.org_id,
            }),
            services: parse_services(&row.services),
            expires_at: row.expires_at,
        });
        self.cache
            .write()
            .expect("token cache poisoned")
            .insert(key, grant.clone());
        Ok(grant)
    }

    /// Empties the cache whenever the set of revoked tokens changes.
    pub fn spawn_watcher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let verifier = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut seen = None;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(verifier) = verifier.upgrade() else {
                    return;
                };
                let revoked = token::Entity::find()
                    .filter(token::Column::RevokedAt.is_not_null())
                    .count(&verifier.db)
                    .await;
                match revoked {
                    Ok(count) if seen != Some(count) => {
                        if seen.is_some() {
                            verifier
                                .cache
                                .write()
                                .expect("token cache poisoned")
                                .clear();
                            tracing::debug!(
                                revoked = count,
                                "token revocations changed; cache emptied"
                            );
                        }
                        seen = Some(count);
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "token watcher could not read tokens"),
                }
            }
        })
    }
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
}
