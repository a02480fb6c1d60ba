//! `actiongate user create`: a user in an organization, for people who
//! manage the gateway from its host (organization admins can also call
//! `access/v1/user/create`).

use actiongate_access::user::create_in_org;
use actiongate_service::Role;
use clap::Subcommand;
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::token::pick_org;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user and print its id.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The user's role in the organization: owner, admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: Role,
        /// The organization (default: the only one).
        #[arg(long)]
        org: Option<String>,
    },
}

pub async fn run(db: &DatabaseConnection, command: &UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            email,
            name,
            role,
            org,
        } => {
            let org = pick_org(db, org.as_deref()).await?;
            let txn = db.begin().await?;
            let user = create_in_org(&txn, &org.id, email, name, *role).await?;
            txn.commit().await?;
            eprintln!("created user {} <{}> in {}", user.name, user.email, org.id);
            println!("{}", user.id);
            Ok(())
        }
    }
}
