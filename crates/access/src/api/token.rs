//! Bearer tokens as the API shows and takes them. A token's secret is
//! shown once, in the answer to the call that made it (`token/create`,
//! `token/rotate`); nothing shows it again.

use std::time::Duration;

use actiongate_wire::fields::{Description, Name};
use actiongate_wire::{RoleName, Timestamp};
use serde::{Deserialize, Serialize};

/// Where a token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

/// A token as the API shows it: never its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The secret's last four characters, to tell tokens apart.
    pub last_four: String,
    /// The user it acts for.
    pub user_id: String,
    /// The user who made it; unset for one made on the command line.
    pub created_by: Option<String>,
    /// The most it may do, below its user's own role: a built-in role, or
    /// a custom role whose rules it may do no more than; unset: its
    /// user's role.
    pub role: Option<RoleName>,
    /// The one project it may touch, if limited to one.
    pub project_id: Option<String>,
    /// The services it may call; `["*"]`: every service.
    pub services: Vec<String>,
    pub state: TokenState,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// Written every few seconds while it is used, not on every call.
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Until when the secret its last rotation replaced still works.
    pub previous_secret_until: Option<Timestamp>,
}

/// A token with its secret: the answer to the call that made the secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub token: Token,
    /// The bearer secret, in this answer only: a replay or a poll of the
    /// call that made it shows `null`. Store it now.
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateToken {
    pub name: Name,
    pub description: Option<Description>,
    /// Services it may call; the caller's own when left out. None beyond
    /// the caller's.
    pub services: Option<Vec<String>>,
    /// The most it may do, built in or custom; the caller's own when left
    /// out. Never above the caller's.
    pub role: Option<RoleName>,
    /// Limits it to one project of the organization. A caller limited to
    /// a project makes tokens limited to the same one.
    pub project_id: Option<String>,
    /// Its lifetime, such as `30d` or `12h`; no expiry when left out.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub expires_in: Option<Duration>,
    /// The user it acts for: the caller unless said. Only admins make
    /// tokens for others in their organization.
    pub user_id: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListTokens {
    /// Only this user's. Admins see the organization's; others see only
    /// their own.
    pub user_id: Option<String>,
    /// Revoked and expired ones too.
    #[serde(default)]
    pub include_inactive: bool,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TokenId {
    pub id: String,
}

/// A token's name, description and expiry; never its scope.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateToken {
    pub id: String,
    pub name: Option<Name>,
    pub description: Option<Description>,
    /// A new lifetime, from now.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub expires_in: Option<Duration>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RotateToken {
    pub id: String,
    /// How long the old secret keeps working, such as `1h` (at most 7
    /// days); it stops at once when left out.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub grace: Option<Duration>,
}
