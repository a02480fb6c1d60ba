//! The catalog of every routed action's policy: its code, who may call it
//! and where its role is weighed. The gateway builds it with its route
//! table and gives it to every service (`ctx.state::<Arc<Catalog>>()`), so
//! that `authz/policies` and `authz/check` read the same table the
//! pipeline enforces.

use std::collections::BTreeMap;

use crate::{Access, ActionSpec, ProjectOf, Role, Scope};

/// An action's policy code: `<service>:<resource path>:<action>`, from its
/// route (`deploy/v1/environment/update` is `deploy:environment:update`).
/// The version is not part of it: one action under two versions is one
/// policy.
pub fn policy_code(service: &str, path: &str) -> String {
    match path.rsplit_once('/') {
        Some((resource, action)) => format!("{service}:{resource}:{action}"),
        None => format!("{service}::{path}"),
    }
}

/// One routed action, as its policy sees it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub service: &'static str,
    pub version: &'static str,
    pub path: &'static str,
    /// Its least role; `None` for a public action.
    pub least: Option<Role>,
    pub scope: Scope,
}

impl Entry {
    /// `service/version/path`.
    pub fn route(&self) -> String {
        format!("{}/{}/{}", self.service, self.version, self.path)
    }
}

/// Every routed action by policy code, and how to find the project of each
/// kind of record an action can be scoped to.
#[derive(Default)]
pub struct Catalog {
    policies: BTreeMap<String, Vec<Entry>>,
    kinds: BTreeMap<&'static str, ProjectOf>,
}

impl Catalog {
    /// Adds a service's routed actions (internal ones are never called by
    /// anyone, so they have no policy).
    pub fn add(&mut self, service: &'static str, spec: &ActionSpec) {
        let least = match spec.access {
            Access::Token(role) => Some(role),
            Access::Public => None,
            Access::Internal => return,
        };
        let scopes: &[Scope] = match &spec.scope {
            Scope::OneOf(scopes) => scopes,
            scope => std::slice::from_ref(scope),
        };
        for scope in scopes {
            if let Scope::Record {
                kind, project_of, ..
            } = scope
            {
                self.kinds.insert(kind, *project_of);
            }
        }
        self.policies
            .entry(policy_code(service, spec.path))
            .or_default()
            .push(Entry {
                service,
                version: spec.version,
                path: spec.path,
                least,
                scope: spec.scope,
            });
    }

    /// Every policy code with its actions, in code order.
    pub fn policies(&self) -> impl Iterator<Item = (&str, &[Entry])> {
        self.policies
            .iter()
            .map(|(code, entries)| (code.as_str(), entries.as_slice()))
    }

    /// The actions under `code`.
    pub fn policy(&self, code: &str) -> Option<&[Entry]> {
        self.policies.get(code).map(Vec::as_slice)
    }

    /// How to find the project of a `kind` record.
    pub fn project_of(&self, kind: &str) -> Option<ProjectOf> {
        self.kinds.get(kind).copied()
    }

    /// Every record kind an action can be scoped to.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_the_route_without_its_version() {
        assert_eq!(
            policy_code("deploy", "environment/update"),
            "deploy:environment:update"
        );
        assert_eq!(
            policy_code("console", "platform/project/get"),
            "console:platform/project:get"
        );
        assert_eq!(policy_code("greeter", "hello"), "greeter::hello");
    }
}
