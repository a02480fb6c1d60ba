//! Who is calling, told to an upstream: `X-Actiongate-Identity`, a JWT
//! the gateway signs with Ed25519 (`alg: EdDSA`). Its claims are `iss`
//! (the gateway's public URL), `aud` (the upstream's name), `sub` (the
//! user), `org`, `role` (the caller's, capped by the token), `token_id`,
//! `jti` (the request id), `iat` and `exp` (60 s later).
//!
//! The keys live in `signing_keys`, so every node signs with the same one:
//! the first start makes it, `actiongate identity rotate` adds a newer one.
//! Nodes pick up the newest unretired key every [`REFRESH`]. A retired key
//! stays in `GET /.well-known/jwks.json` for [`KEPT_AFTER_RETIRED`], until
//! every token it may have signed has expired.

use std::sync::Arc;
use std::time::Duration;

use actiongate_entity::signing_key;
use actiongate_service::Principal;
use actiongate_wire::{new_id, RequestId, Timestamp};
use arc_swap::ArcSwap;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

/// How long an identity token is valid.
pub const LIFETIME: Duration = Duration::from_secs(60);
/// How often a node looks for a newer key.
pub const REFRESH: Duration = Duration::from_secs(10);
/// How long a retired key stays published: a node may sign with it until
/// its next refresh, and its tokens live `LIFETIME` after that.
pub const KEPT_AFTER_RETIRED: Duration = Duration::from_secs(120);

/// The claims of `X-Actiongate-Identity`.
#[derive(Debug, Serialize)]
pub struct Claims<'a> {
    pub iss: &'a str,
    pub aud: &'a str,
    pub sub: &'a str,
    pub org: &'a str,
    pub role: &'a str,
    pub token_id: &'a str,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

struct SigningKey {
    kid: String,
    /// The JWS header, base64url, the same for every token of this key.
    header: String,
    /// Parsed once: jsonwebtoken derives the key pair again from its
    /// PKCS#8 document on every `encode`, a second curve multiplication
    /// that doubled the identity's share of a forwarded call's time.
    pair: Ed25519KeyPair,
}

/// This node's signer: the newest unretired key.
pub struct Identity {
    db: DatabaseConnection,
    issuer: String,
    current: ArcSwap<SigningKey>,
}

/// The public half of a key, as a JWK.
#[derive(Debug, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub kid: String,
    pub x: String,
}

#[derive(Debug, Serialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Identity {
    /// Loads the signing key, making the first one on a new database.
    pub async fn open(db: DatabaseConnection, issuer: String) -> anyhow::Result<Arc<Identity>> {
        let current = match newest(&db).await? {
            Some(key) => key,
            None => {
                insert_new(&db).await?;
                // Two nodes starting together may both have made one; the
                // newest of the two signs everywhere.
                newest(&db)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no signing key after creating one"))?
            }
        };
        Ok(Arc::new(Identity {
            db,
            issuer,
            current: ArcSwap::from_pointee(current),
        }))
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token naming `principal` to upstream `audience`, for request
    /// `request_id`.
    pub fn sign(&self, audience: &str, principal: &Principal, request_id: RequestId) -> String {
        let now = Timestamp::now_ms() / 1000;
        let claims = Claims {
            iss: &self.issuer,
            aud: audience,
            sub: &principal.user_id,
            org: &principal.org_id,
            role: principal.role.as_str(),
            token_id: &principal.token_id,
            jti: request_id.to_string(),
            iat: now,
            exp: now + LIFETIME.as_secs() as i64,
        };
        let key = self.current.load();
        // The JWS compact serialization (RFC 7515, 7.1) of the claims.
        let claims = serde_json::to_vec(&claims).expect("claims serialize");
        let mut token = String::with_capacity(key.header.len() + 2 * claims.len() + 90);
        token.push_str(&key.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let signature = key.pair.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        token
    }

    /// Takes up the newest unretired key.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        if let Some(key) = newest(&self.db).await? {
            if key.kid != self.current.load().kid {
                tracing::info!(kid = key.kid, "signing upstream identities with a new key");
                self.current.store(Arc::new(key));
            }
        }
        Ok(())
    }

    /// Refreshes every [`REFRESH`] until the gateway stops.
    pub fn spawn_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let identity = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH).await;
                if let Err(err) = identity.refresh().await {
                    tracing::warn!(error = %err, "reading the signing keys failed");
                }
            }
        })
    }

    /// The keys an upstream may meet: unretired ones, and retired ones
    /// whose tokens may still be valid.
    pub async fn jwks(&self) -> Result<Jwks, DbErr> {
        let kept_since = Timestamp::now_ms() - KEPT_AFTER_RETIRED.as_millis() as i64;
        let keys = signing_key::Entity::find()
            .filter(
                signing_key::Column::RetiredAt
                    .is_null()
                    .or(signing_key::Column::RetiredAt.gt(kept_since)),
            )
            .order_by_desc(signing_key::Column::CreatedAt)
            .all(&self.db)
            .await?;
        Ok(Jwks {
            keys: keys
                .into_iter()
                .map(|key| Jwk {
                    kty: "OKP",
                    crv: "Ed25519",
                    alg: "EdDSA",
                    use_: "sig",
                    kid: key.kid,
                    x: key.public_key,
                })
                .collect(),
        })
    }
}

/// Adds a new key and retires the others (`actiongate identity rotate`).
/// Returns the new key's id.
pub async fn rotate(db: &DatabaseConnection) -> anyhow::Result<String> {
    let kid = insert_new(db).await?;
    signing_key::Entity::update_many()
        .col_expr(
            signing_key::Column::RetiredAt,
            Expr::value(Timestamp::now_ms()),
        )
        .filter(signing_key::Column::RetiredAt.is_null())
        .filter(signing_key::Column::Kid.ne(kid.clone()))
        .exec(db)
        .await?;
    // Keys no token can carry any more are of no use to anyone.
    let forgotten = Timestamp::now_ms() - 10 * KEPT_AFTER_RETIRED.as_millis() as i64;
    signing_key::Entity::delete_many()
        .filter(signing_key::Column::RetiredAt.lt(forgotten))
        .exec(db)
        .await?;
    Ok(kid)
}

async fn insert_new(db: &DatabaseConnection) -> anyhow::Result<String> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("generating an Ed25519 key failed"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("reading a new Ed25519 key failed"))?;
    let kid = new_id("key");
    signing_key::Entity::insert(signing_key::ActiveModel {
        kid: Set(kid.clone()),
        private_key: Set(STANDARD.encode(pkcs8.as_ref())),
        public_key: Set(URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())),
        created_at: Set(Timestamp::now_ms()),
        retired_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(kid)
}

async fn newest(db: &DatabaseConnection) -> anyhow::Result<Option<SigningKey>> {
    let Some(row) = signing_key::Entity::find()
        .filter(signing_key::Column::RetiredAt.is_null())
        .order_by_desc(signing_key::Column::CreatedAt)
        .order_by_desc(signing_key::Column::Kid)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let der = STANDARD
        .decode(&row.private_key)
        .map_err(|_| anyhow::anyhow!("signing key {} is not base64", row.kid))?;
    let pair = Ed25519KeyPair::from_pkcs8(&der)
        .map_err(|_| anyhow::anyhow!("signing key {} is not an Ed25519 key", row.kid))?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(row.kid.clone());
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("headers serialize"));
    Ok(Some(SigningKey {
        kid: row.kid,
        header,
        pair,
    }))
}
