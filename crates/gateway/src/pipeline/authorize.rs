//! Phase 5: authorize the call in the scope its action declares.
//!
//! An action scoped to a project names the input field that holds the
//! project's id, or the id of a record in a project (an environment, a
//! variable, ...). The caller's role is checked there, before a job is
//! recorded or a handler runs: a record the caller cannot see is
//! `ResourceNotFound` (the same as one that does not exist), a role below
//! the action's `Forbidden`. Organization-scoped actions were checked by
//! `authenticate`.
//!
//! Only the one field is read, from the raw body: a missing or malformed
//! field is left to typed decoding, which names it.

use std::fmt;

use actiongate_kit::authz::{self, Asked, Place};
use actiongate_kit::scope;
use actiongate_service::rules::Target;
use actiongate_service::{Access, ActionSpec, Home, Role, Scope};
use actiongate_wire::ApiError;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::context::RequestCtx;
use crate::outcome::unavailable_db;
use crate::Gateway;

/// Checks the declared scope; sets `ctx.project_scope` to the project.
pub async fn check(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    service: &'static str,
    spec: &ActionSpec,
    body: &[u8],
) -> Result<(), ApiError> {
    let Access::Token(least) = spec.access else {
        return Ok(());
    };
    let asked = Asked {
        service,
        path: spec.path,
        least,
    };
    let Some(scope) = spec
        .scope
        .applying(|field| string_field(body, field).is_some())
    else {
        return Ok(());
    };
    let Some(field) = scope.field() else {
        return Ok(());
    };
    let Some(id) = string_field(body, field) else {
        return Ok(());
    };
    let db = &gateway.db().read;
    // A missing record names its field; a missing project is reported as
    // the console always has, like any record of another organization.
    let not_found = || {
        let err = ApiError::not_found(scope.kind(), &id);
        match scope {
            Scope::Record { .. } => err.at(format!("/{field}"), "NotFound"),
            _ => err,
        }
    };
    let principal = &ctx.grant().principal;
    let (project_id, record_key) = match scope {
        Scope::Record {
            project_of, kind, ..
        } => {
            let place = project_of(db, &id)
                .await
                .map_err(|err| unavailable_db(ctx.request_id, &err))?
                .ok_or_else(not_found)?;
            // Only an activity runs in the record's queue.
            let key = spec
                .activity
                .map(|_| place.queue_key.unwrap_or_else(|| format!("{kind}:{id}")));
            match place.home {
                Home::Project(project_id) => (project_id, key),
                // A record of the organization as a whole: weighed by the
                // organization role, and hidden from other organizations
                // and from tokens limited to one project.
                Home::Organization(org_id) => {
                    if org_id != principal.org_id || principal.project_id.is_some() {
                        return Err(not_found());
                    }
                    let target = Target {
                        project_id: None,
                        kind,
                        id: &id,
                    };
                    authz::decide(principal, asked, Place::Org(Some(target)))?;
                    return Ok(());
                }
            }
        }
        _ => (id.clone(), None),
    };
    // Whoever sees a project is at least a viewer there.
    let found = if least == Role::Viewer {
        scope::visible_project(db, principal, &project_id)
            .await
            .map(|found| found.map(|project| (project, Role::Viewer)))
    } else {
        scope::role_in_project(db, principal, &project_id).await
    };
    let (project, role) = found
        .map_err(|err| unavailable_db(ctx.request_id, &err))?
        .ok_or_else(not_found)?;
    let target = match scope {
        Scope::Record { kind, .. } => Target {
            project_id: Some(&project.id),
            kind,
            id: &id,
        },
        _ => Target::project(&project.id),
    };
    authz::decide(principal, asked, Place::Project { role, target })?;
    ctx.scope_record = record_key;
    ctx.project_scope = Some(project.id.as_str().into());
    ctx.checked_project = Some(std::sync::Arc::new(project));
    Ok(())
}

/// The string value of the body's top-level `field`, if it has one; the
/// rest of the body is skipped, not built.
pub(super) fn string_field(body: &[u8], field: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    FieldSeed(field).deserialize(&mut de).ok().flatten()
}

struct FieldSeed<'f>(&'f str);

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.0 && found.is_none() {
                found = map.next_value::<Option<String>>().ok().flatten();
                if found.is_none() {
                    return Ok(None);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::string_field;

    #[test]
    fn reads_one_top_level_string_field() {
        let body = br#"{"name":"x","nested":{"project_id":"inner"},"project_id":"prj_1"}"#;
        assert_eq!(string_field(body, "project_id").as_deref(), Some("prj_1"));
        assert_eq!(string_field(br#"{"project_id":7}"#, "project_id"), None);
        assert_eq!(string_field(br#"{"other":"x"}"#, "project_id"), None);
        assert_eq!(string_field(br#"["project_id"]"#, "project_id"), None);
        assert_eq!(string_field(b"not json", "project_id"), None);
    }
}
