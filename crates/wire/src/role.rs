//! Roles (seed 004): what a principal may do in its organization.
//!
//! Ordered from least to most: viewers read, members change projects'
//! contents, admins manage projects, owners manage the organization. Each
//! action names the least role it needs (`ActionSpec::role`, in the
//! service crate); the gateway answers `Forbidden` to a principal below
//! it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a role: owner, admin, member or viewer"))
    }
}

/// One rule of a custom role: it allows the actions whose policy code
/// `action` matches, on the records `resources` match (on every record
/// when left out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rule {
    /// A pattern of policy codes (`access/v1/authz/policies` lists them),
    /// in segments split at `:` and `/`: `deploy:environment:update`;
    /// `*` stands for one segment, `**` for any number.
    pub action: String,
    pub effect: Effect,
    /// Patterns of records: `project:<id>` (the project itself),
    /// `environment:<id>`, `project:<id>:**` (the project and everything
    /// in it), with `*` and `**` as in `action`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
}

/// What a rule does. Rules only ever allow: a caller may do what any of
/// its roles allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
}

/// A role as a grant or a token names it: one of the four built in, or
/// one of the organization's custom roles by its name (a slug; no custom
/// role takes a built-in name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RoleName {
    Builtin(Role),
    Custom(crate::fields::Slug),
}

impl RoleName {
    pub fn as_str(&self) -> &str {
        match self {
            RoleName::Builtin(role) => role.as_str(),
            RoleName::Custom(name) => name.as_str(),
        }
    }

    /// The built-in role, if it is one.
    pub fn builtin(&self) -> Option<Role> {
        match self {
            RoleName::Builtin(role) => Some(*role),
            RoleName::Custom(_) => None,
        }
    }
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        RoleName::Builtin(role)
    }
}

impl TryFrom<String> for RoleName {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if let Ok(role) = value.parse::<Role>() {
            return Ok(RoleName::Builtin(role));
        }
        crate::fields::Slug::try_from(value)
            .map(RoleName::Custom)
            .map_err(|_| {
                "a role is owner, admin, member, viewer or the name of one of the organization's roles".to_owned()
            })
    }
}

impl std::str::FromStr for RoleName {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::try_from(value.to_owned())
    }
}

impl From<RoleName> for String {
    fn from(value: RoleName) -> String {
        value.as_str().to_owned()
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl schemars::JsonSchema for RoleName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RoleName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string", "minLength": 3, "maxLength": 100,
            "description": "owner, admin, member, viewer, or the name of one of the organization's custom roles (access/v1/role/list)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(
            Role::Viewer < Role::Member && Role::Member < Role::Admin && Role::Admin < Role::Owner
        );
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn role_names_are_built_in_or_slugs() {
        assert_eq!("admin".parse(), Ok(RoleName::Builtin(Role::Admin)));
        let custom: RoleName = "deployer".parse().unwrap();
        assert_eq!((custom.builtin(), custom.as_str()), (None, "deployer"));
        assert!("Not A Slug".parse::<RoleName>().is_err());
    }
}
