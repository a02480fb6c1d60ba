//! First start: with an empty database, create an organization, its owner
//! and an admin token, so the gateway is usable at once. The token is
//! returned once (the CLI prints it) and written to `<data dir>/admin.token`,
//! readable only by the user; it is never shown again.

use std::io::Write;
use std::path::{Path, PathBuf};

use actiongate_entity::{organization, token, user};
use actiongate_wire::{new_id, Timestamp};
use anyhow::Context;
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set, TransactionTrait,
};

use actiongate_kit::tokens::{self, NewToken};

/// What bootstrap created.
pub struct Bootstrapped {
    pub org_id: String,
    pub secret: String,
    pub token_file: PathBuf,
}

/// Creates the first organization, user and token if the database has none.
pub async fn first_start(
    db: &DatabaseConnection,
    data_dir: &Path,
) -> anyhow::Result<Option<Bootstrapped>> {
    if organization::Entity::find().count(db).await? > 0
        || token::Entity::find().count(db).await? > 0
    {
        return Ok(None);
    }
    let txn = db.begin().await?;
    let now = Timestamp::now_ms();
    let owner = user::ActiveModel {
        id: Set(new_id("usr")),
        email: Set("admin@localhost".to_owned()),
        name: Set("Administrator".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let org = organization::create_with_owner(
        &txn,
        new_id("org"),
        "default".to_owned(),
        owner.id.clone(),
        "self-hosted".to_owned(),
    )
    .await?;
    let issued = tokens::create(
        &txn,
        NewToken {
            name: "admin (bootstrap)".to_owned(),
            user_id: owner.id,
            org_id: org.id.clone(),
            services: Vec::new(),
            ..NewToken::default()
        },
    )
    .await?;
    let token_file = data_dir.join("admin.token");
    write_private(&token_file, &issued.secret)?;
    // Commit last: if the file cannot be written, the next start tries again.
    txn.commit().await?;
    Ok(Some(Bootstrapped {
        org_id: org.id,
        secret: issued.secret,
        token_file,
    }))
}

/// Writes `secret` to `path`, readable and writable by the owner only.
fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // A file left by an earlier install keeps its mode on open; reset it.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{secret}")?;
    Ok(())
}
