//! Bearer service tokens: their format, how they are stored, and the cache
//! that keeps the database off the request path.
//!
//! A token is `agt_`, 30 random base62 characters, and a 6-character
//! checksum of those, so a scanner can recognise a leaked token and a typo
//! is rejected without a database lookup. Only the SHA-256 of the whole
//! token is stored, and it is compared in constant time.
//!
//! Verified tokens are cached by hash, each under the auth epoch it was
//! verified in ([`crate::auth_epoch`]). Every revocation or role change
//! moves the epoch on, and every request makes sure of the epoch before it
//! trusts the cache: a revocation made anywhere, by any node or by the CLI,
//! holds from the next request.
//!
//! `last_used_at` is kept in memory per cached token and written every
//! `token_last_used_interval`, not on every request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use actiongate_entity::{auth_epoch, org_member, token};
use actiongate_service::{Principal, Role};
use actiongate_wire::{new_id, ApiError, Status, Timestamp};
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};
use sha2::{Digest, Sha256};

use crate::auth_epoch::AuthEpoch;
use crate::sqlite_reader::SqliteReader;
use subtle::ConstantTimeEq;

/// What every token starts with, so scanners can find leaked ones.
pub const PREFIX: &str = "agt_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a verified token may do.
#[derive(Debug)]
pub struct Grant {
    pub principal: Arc<Principal>,
    /// `None` means every service.
    pub services: Option<Vec<String>>,
    pub expires_at: Option<i64>,
    /// The SHA-256 of the secret, checked in constant time on every use.
    digest: Digest32,
    /// When the token was last used (Unix ms), and the last such time
    /// written to the database.
    last_used: AtomicI64,
    last_written: AtomicI64,
}

impl Grant {
    /// The grant of a call to a public action: nobody's, one for all such
    /// calls.
    pub fn public() -> Arc<Grant> {
        static PUBLIC: OnceLock<Arc<Grant>> = OnceLock::new();
        PUBLIC
            .get_or_init(|| {
                Arc::new(Grant {
                    principal: Arc::new(Principal::anonymous()),
                    services: None,
                    expires_at: None,
                    digest: [0; 32],
                    last_used: AtomicI64::new(0),
                    last_written: AtomicI64::new(0),
                })
            })
            .clone()
    }

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
    /// A cap below the user's own role.
    pub role: Option<Role>,
    /// The one project the token may touch.
    pub project_id: Option<String>,
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

pub use actiongate_service::sha256_hex;

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
        role: Set(new.role.map(|r| r.as_str().to_owned())),
        project_id: Set(new.project_id),
        last_used_at: Set(None),
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

/// Revokes a token; `false` if there is no such live token. Verified
/// copies cached by any gateway stop working from their next request.
pub async fn revoke(db: &DatabaseConnection, epoch: &AuthEpoch, id: &str) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let result = token::Entity::update_many()
        .col_expr(
            token::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Timestamp::now_ms()),
        )
        .filter(token::Column::Id.eq(id))
        .filter(token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    auth_epoch::bump(&txn).await?;
    txn.commit().await?;
    epoch.moved();
    Ok(result.rows_affected == 1)
}

/// Verifies bearer tokens, caching the ones that pass.
pub struct TokenVerifier {
    read: DatabaseConnection,
    write: DatabaseConnection,
    /// On SQLite, the epoch row is read straight from the thread's
    /// connection.
    sqlite: Option<SqliteReader>,
    epoch: Arc<AuthEpoch>,
    /// Verified tokens by the SHA-256 of their secret, and the epoch they
    /// were verified under.
    cache: RwLock<Cache>,
    /// Grants dropped from the cache whose last use is not yet written.
    retired: Mutex<Vec<Arc<Grant>>>,
}

struct Cache {
    epoch: i64,
    /// The shared counter as it was when `epoch` was last read.
    shared: Option<u64>,
    grants: HashMap<Digest32, Arc<Grant>>,
}

fn unauthorized(summary: &str) -> ApiError {
    ApiError::new(Status::Unauthorized, summary)
}

fn unavailable(err: DbErr) -> ApiError {
    tracing::error!(error = %err, "token lookup failed");
    ApiError::new(
        Status::ServiceNotAvailable,
        "The token store is unavailable; try again shortly",
    )
}

impl TokenVerifier {
    pub fn new(
        read: DatabaseConnection,
        write: DatabaseConnection,
        sqlite: Option<SqliteReader>,
        epoch: Arc<AuthEpoch>,
    ) -> Arc<Self> {
        Arc::new(TokenVerifier {
            read,
            write,
            sqlite,
            epoch,
            cache: RwLock::new(Cache {
                epoch: -1,
                shared: None,
                grants: HashMap::new(),
            }),
            retired: Mutex::new(Vec::new()),
        })
    }

    /// The grant of a live token, or `Unauthorized` saying why not.
    pub async fn verify(&self, secret: &str) -> Result<Arc<Grant>, ApiError> {
        let key = digest(secret);
        let (epoch, cached) = self.lookup(&key).await?;
        let grant = match cached {
            Some(grant) => grant,
            // Only a token we issued can be cached, so the shape is checked
            // here, before the database is asked.
            None if !is_well_formed(secret) => return Err(unauthorized(
                "Malformed token: expected the agt_... token issued by `actiongate token create`",
            )),
            None => self.load(key, epoch).await?,
        };
        if !bool::from(grant.digest.ct_eq(&key)) {
            return Err(unauthorized(
                "Unknown token: it was never issued by this gateway",
            ));
        }
        let now = Timestamp::now_ms();
        if let Some(expires_at) = grant.expires_at {
            if expires_at <= now {
                return Err(unauthorized("The token has expired; create a new one"));
            }
        }
        grant.last_used.store(now, Ordering::Relaxed);
        Ok(grant)
    }

    /// The current epoch, and the grant cached for `key` under it.
    async fn lookup(&self, key: &Digest32) -> Result<(i64, Option<Arc<Grant>>), ApiError> {
        let shared = self.epoch.shared();
        if shared.is_some() {
            let cache = self.cache.read().expect("token cache poisoned");
            if cache.shared == shared {
                return Ok((cache.epoch, cache.grants.get(key).cloned()));
            }
        }
        // The shared counter moved (or there is none): ask the database.
        let epoch = self.current_epoch().await?;
        {
            let cache = self.cache.read().expect("token cache poisoned");
            if cache.epoch == epoch && cache.shared >= shared {
                return Ok((epoch, cache.grants.get(key).cloned()));
            }
        }
        let mut cache = self.cache.write().expect("token cache poisoned");
        if epoch > cache.epoch {
            let stale = std::mem::take(&mut cache.grants);
            cache.epoch = epoch;
            self.retired
                .lock()
                .expect("retired grants")
                .extend(stale.into_values());
        }
        if epoch == cache.epoch {
            cache.shared = cache.shared.max(shared);
            return Ok((epoch, cache.grants.get(key).cloned()));
        }
        // Another request already saw a newer epoch; verify this one afresh.
        Ok((epoch, None))
    }

    async fn current_epoch(&self) -> Result<i64, ApiError> {
        if let Some(reader) = &self.sqlite {
            let epoch = reader
                .query_i64("SELECT epoch FROM auth_epochs WHERE id = 1")
                .map_err(unavailable)?;
            return Ok(epoch.unwrap_or(0));
        }
        let row = auth_epoch::Entity::find_by_id(1)
            .one(&self.read)
            .await
            .map_err(unavailable)?;
        Ok(row.map_or(0, |row| row.epoch))
    }

    async fn load(&self, key: Digest32, epoch: i64) -> Result<Arc<Grant>, ApiError> {
        let hash = actiongate_service::hex(&key);
        let row = token::Entity::find()
            .filter(token::Column::SecretHash.eq(&hash))
            .one(&self.read)
            .await
            .map_err(unavailable)?
            .filter(|row| bool::from(row.secret_hash.as_bytes().ct_eq(hash.as_bytes())));
        let row =
            row.ok_or_else(|| unauthorized("Unknown token: it was never issued by this gateway"))?;
        if row.revoked_at.is_some() {
            return Err(unauthorized("The token has been revoked"));
        }
        let membership = org_member::Entity::find_by_id((row.org_id.clone(), row.user_id.clone()))
            .one(&self.read)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                unauthorized("The token's user is no longer a member of its organization")
            })?;
        let member_role: Role = membership.role.parse().unwrap_or(Role::Viewer);
        let cap = row.role.as_deref().and_then(|r| r.parse::<Role>().ok());
        let grant = Arc::new(Grant {
            principal: Arc::new(Principal {
                token_id: row.id,
                user_id: row.user_id,
                org_id: row.org_id,
                role: cap.map_or(member_role, |cap| cap.min(member_role)),
                project_id: row.project_id,
                role_cap: cap,
            }),
            services: parse_services(&row.services),
            expires_at: row.expires_at,
            digest: key,
            last_used: AtomicI64::new(0),
            last_written: AtomicI64::new(row.last_used_at.unwrap_or(0)),
        });
        let mut cache = self.cache.write().expect("token cache poisoned");
        if cache.epoch == epoch {
            cache.grants.insert(key, grant.clone());
        }
        Ok(grant)
    }

    /// Writes `last_used_at` of the tokens used since the last time, every
    /// `every`.
    pub fn spawn_last_used_writer(
        self: &Arc<Self>,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let verifier = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(verifier) = verifier.upgrade() else {
                    return;
                };
                if let Err(err) = verifier.write_last_used().await {
                    tracing::warn!(error = %err, "could not record when tokens were last used");
                }
            }
        })
    }

    /// One round of [`Self::spawn_last_used_writer`].
    pub async fn write_last_used(&self) -> Result<(), DbErr> {
        let mut grants: Vec<Arc<Grant>> =
            std::mem::take(&mut *self.retired.lock().expect("retired grants"));
        grants.extend(
            self.cache
                .read()
                .expect("token cache poisoned")
                .grants
                .values()
                .cloned(),
        );
        let used: Vec<(&Grant, i64)> = grants
            .iter()
            .filter_map(|grant| {
                let used = grant.last_used.load(Ordering::Relaxed);
                (used > grant.last_written.load(Ordering::Relaxed)).then_some((&**grant, used))
            })
            .collect();
        if used.is_empty() {
            return Ok(());
        }
        let txn = self.write.begin().await?;
        for (grant, used) in &used {
            token::Entity::update_many()
                .col_expr(
                    token::Column::LastUsedAt,
                    sea_orm::sea_query::Expr::value(*used),
                )
                .filter(token::Column::Id.eq(&grant.principal.token_id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        for (grant, used) in used {
            grant.last_written.store(used, Ordering::Relaxed);
        }
        Ok(())
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
