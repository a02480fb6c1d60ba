//! `actiongate token create|list|revoke|rotate`: the same code the
//! `access/v1/token/*` actions run (`actiongate_kit::tokens`), for an
//! operator on the host.

use actiongate_entity::{auth_epoch, organization};
use actiongate_gateway::auth_epoch::AuthEpoch;
use actiongate_gateway::tokens::list;
use actiongate_kit::tokens::{self, NewToken};
use actiongate_service::Role;
use actiongate_wire::Timestamp;
use anyhow::{bail, Context};
use clap::Subcommand;
use sea_orm::{DatabaseConnection, EntityTrait, TransactionTrait};

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    Create {
        /// A label for people.
        #[arg(long, default_value = "cli")]
        name: String,
        /// The organization the token is bound to (default: the only one).
        #[arg(long)]
        org: Option<String>,
        /// The user the token acts for (default: the organization's owner).
        #[arg(long)]
        user: Option<String>,
        /// Services the token may call, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        services: Vec<String>,
        /// Lifetime, such as `30d` or `12h` (default: no expiry).
        #[arg(long)]
        expires_in: Option<humantime::Duration>,
        /// The most the token may do: owner, admin, member or viewer
        /// (default: whatever its user may do).
        #[arg(long)]
        role: Option<Role>,
        /// Limit the token to one project.
        #[arg(long)]
        project: Option<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: String },
    /// Give a token a new secret and print it once; the old one keeps
    /// working for the grace period.
    Rotate {
        id: String,
        /// How long the old secret keeps working, such as `1h` (default:
        /// it stops at once).
        #[arg(long)]
        grace: Option<humantime::Duration>,
    },
}

pub async fn run(
    db: &DatabaseConnection,
    epoch: &AuthEpoch,
    command: &TokenCommand,
) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            org,
            user,
            services,
            expires_in,
            role,
            project,
        } => {
            let org = pick_org(db, org.as_deref()).await?;
            let expires_at = expires_in.map(|d| {
                let ms =
                    i64::try_from(std::time::Duration::from(d).as_millis()).unwrap_or(i64::MAX);
                Timestamp::now_ms().saturating_add(ms)
            });
            let issued = tokens::create(
                db,
                NewToken {
                    name: name.clone(),
                    user_id: user.clone().unwrap_or(org.owner_id),
                    org_id: org.id,
                    services: services
                        .iter()
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    expires_at,
                    role: role.map(Into::into),
                    project_id: project.clone(),
                    ..NewToken::default()
                },
            )
            .await?;
            eprintln!("created token {} (shown once; store it now):", issued.id);
            println!("{}", issued.secret);
            Ok(())
        }
        TokenCommand::List => {
            println!(
                "{:<30}  {:<20}  {:<8}  {:<30}  {:<24}  STATE",
                "ID", "NAME", "ENDS IN", "ORG", "SERVICES"
            );
            for t in list(db).await? {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(_), _) => "revoked".to_owned(),
                    (None, Some(at)) if at <= Timestamp::now_ms() => "expired".to_owned(),
                    (None, Some(at)) => format!("expires {}", Timestamp::from_unix_ms(at)),
                    (None, None) => "active".to_owned(),
                };
                println!(
                    "{:<30}  {:<20}  ...{:<5}  {:<30}  {:<24}  {state}",
                    t.id, t.name, t.hint, t.org_id, t.services
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            let txn = db.begin().await?;
            let revoked = tokens::revoke(&txn, id).await?;
            auth_epoch::bump(&txn).await?;
            txn.commit().await?;
            epoch.moved();
            if revoked {
                println!("revoked {id}");
                Ok(())
            } else {
                bail!("no active token with id {id}")
            }
        }
        TokenCommand::Rotate { id, grace } => {
            let grace = grace.map_or(0, |d| {
                i64::try_from(std::time::Duration::from(d).as_millis()).unwrap_or(i64::MAX)
            });
            let txn = db.begin().await?;
            let rotated =
                tokens::rotate(&txn, id, Timestamp::now_ms().saturating_add(grace)).await?;
            auth_epoch::bump(&txn).await?;
            txn.commit().await?;
            epoch.moved();
            let Some(issued) = rotated else {
                bail!("no active token with id {id}")
            };
            eprintln!("rotated token {} (shown once; store it now):", issued.id);
            println!("{}", issued.secret);
            Ok(())
        }
    }
}

pub(crate) async fn pick_org(
    db: &DatabaseConnection,
    id: Option<&str>,
) -> anyhow::Result<organization::Model> {
    if let Some(id) = id {
        return organization::Entity::find_by_id(id)
            .one(db)
            .await?
            .with_context(|| format!("no organization {id}"));
    }
    let mut all = organization::Entity::find().all(db).await?;
    match all.len() {
        1 => Ok(all.remove(0)),
        0 => bail!("there is no organization yet; start the gateway once to create one"),
        _ => bail!("there are several organizations; choose one with --org"),
    }
}
