//! Policies and "may I?" (Cycloid's canDo): every action's policy code,
//! and the answer to whether the caller may call one, on given records.

use actiongate_wire::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListPolicies {}

/// One policy: an action under every version that routes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Policy {
    /// `<service>:<resource path>:<action>`, such as
    /// `deploy:environment:update`.
    pub code: String,
    /// Its routes, `service/version/path`.
    pub actions: Vec<String>,
    /// The least role it needs; unset for a public action.
    pub least_role: Option<Role>,
    /// Where that role is weighed: `organization`, `project`, or the kind
    /// of record whose project it is (`environment`, `variable`, ...).
    pub scope: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Policies {
    pub policies: Vec<Policy>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Check {
    /// A policy code, as `authz/policies` lists them.
    pub action: String,
    /// The records it would act on: `project:<id>`, `environment:<id>`, ...
    /// (any kind an action is scoped to). Left out, an action scoped to a
    /// project is weighed by the caller's organization role, which is its
    /// least role in every project.
    pub resources: Option<Vec<String>>,
}

/// Whether the caller may, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decision {
    pub ok: bool,
    pub reason: String,
}
