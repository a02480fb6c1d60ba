//! Verifying bearer tokens, and the cache that keeps the database off the
//! request path. How tokens are made and stored is the kit's
//! ([`actiongate_kit::tokens`]); the SHA-256 of a secret is compared in
//! constant time.
//!
//! A secret replaced by a rotation is still verified until its grace ends
//! (`previous_secret_hash`), as a grant that expires then.
//!
//! A grant carries what its principal may do: its organization role, and
//! the custom roles its user's teams hold and its token carries
//! ([`actiongate_kit::roles`]), compiled once per verification.
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

use actiongate_entity::{auth_epoch, token};
use actiongate_kit::roles;
use actiongate_kit::tokens::parse_services;
use actiongate_service::rules::CustomRoles;
use actiongate_service::{Principal, Role};
use actiongate_wire::{ApiError, Status, Timestamp};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use sha2::{Digest, Sha256};

use crate::auth_epoch::AuthEpoch;
use crate::fresh_read::FreshRead;
use crate::sqlite::SqliteReader;
use subtle::ConstantTimeEq;

pub use actiongate_kit::tokens::{generate_secret, hash, is_well_formed, PREFIX};

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

type Digest32 = [u8; 32];

fn digest(secret: &str) -> Digest32 {
    Sha256::digest(secret.as_bytes()).into()
}

pub use actiongate_service::sha256_hex;

/// Every token, oldest first (for the command line's list).
pub async fn list(db: &DatabaseConnection) -> Result<Vec<token::Model>, DbErr> {
    token::Entity::find()
        .order_by_asc(token::Column::CreatedAt)
        .all(db)
        .await
}

/// Verifies bearer tokens, caching the ones that pass.
pub struct TokenVerifier {
    read: DatabaseConnection,
    write: DatabaseConnection,
    /// On SQLite, the epoch row is read straight from the thread's
    /// connection.
    sqlite: Option<SqliteReader>,
    epoch: Arc<AuthEpoch>,
    /// The epoch row's reads on PostgreSQL, each shared by the requests
    /// that asked before it began.
    epoch_reads: FreshRead<i64, ApiError>,
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
        let epoch_reads = {
            let read = read.clone();
            FreshRead::new(move || {
                let read = read.clone();
                async move {
                    let row = auth_epoch::Entity::find_by_id(1)
                        .one(&read)
                        .await
                        .map_err(unavailable)?;
                    Ok(row.map_or(0, |row| row.epoch))
                }
            })
        };
        Arc::new(TokenVerifier {
            read,
            write,
            sqlite,
            epoch,
            epoch_reads,
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
        self.epoch_reads.get().await.unwrap_or_else(|| {
            Err(unavailable(DbErr::Custom(
                "the auth epoch's read was abandoned".into(),
            )))
        })
    }

    async fn load(&self, key: Digest32, epoch: i64) -> Result<Arc<Grant>, ApiError> {
        let hash = actiongate_service::hex(&key);
        let row = token::Entity::find()
            .filter(
                Condition::any()
                    .add(token::Column::SecretHash.eq(&hash))
                    .add(token::Column::PreviousSecretHash.eq(&hash)),
            )
            .one(&self.read)
            .await
            .map_err(unavailable)?;
        let matches = |stored: Option<&str>| {
            stored.is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(hash.as_bytes())))
        };
        let row = row
            .filter(|row| {
                matches(Some(&row.secret_hash)) || matches(row.previous_secret_hash.as_deref())
            })
            .ok_or_else(|| unauthorized("Unknown token: it was never issued by this gateway"))?;
        if row.revoked_at.is_some() {
            return Err(unauthorized("The token has been revoked"));
        }
        // A secret a rotation replaced works until its grace ends.
        let expires_at = if matches(Some(&row.secret_hash)) {
            row.expires_at
        } else {
            let until = row.previous_secret_until.unwrap_or(0);
            if until <= Timestamp::now_ms() {
                return Err(unauthorized(
                    "The token was rotated and its old secret's grace has ended; use the new secret",
                ));
            }
            Some(row.expires_at.map_or(until, |at| at.min(until)))
        };
        let member_role = actiongate_kit::scope::org_role(&self.read, &row.org_id, &row.user_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                unauthorized("The token's user is no longer a member of its organization")
            })?;
        let cap = row.role.as_deref().and_then(|r| r.parse::<Role>().ok());
        let custom = CustomRoles {
            held: Some(Arc::new(
                roles::held(&self.read, &row.org_id, &row.user_id)
                    .await
                    .map_err(unavailable)?,
            )),
            token: roles::carried(&self.read, &row.org_id, row.role.as_deref())
                .await
                .map_err(unavailable)?,
        };
        let grant = Arc::new(Grant {
            principal: Arc::new(Principal {
                token_id: row.id,
                user_id: row.user_id,
                org_id: row.org_id,
                role: cap.map_or(member_role, |cap| cap.min(member_role)),
                project_id: row.project_id,
                role_cap: cap,
                custom,
            }),
            services: parse_services(&row.services),
            expires_at,
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
