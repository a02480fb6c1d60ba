//! The one evaluator of who may call what. The gateway's pipeline
//! (`authenticate` in the organization, `authorize` in a project), the
//! handlers that check a role themselves, and `authz/check` all decide
//! here, so that what `authz/check` answers is what the call then does.
//!
//! A principal's role in its organization is its organization role; in a
//! project, the better of that and its membership there ([`crate::scope`]);
//! never above its token's cap.

use actiongate_service::{ApiError, Principal, Role, Status};

/// Where an action's least role is weighed.
#[derive(Clone, Copy, Debug)]
pub enum Place<'a> {
    /// The caller's organization: its organization role.
    Org,
    /// A project not named yet (the input is not read): only the token's
    /// cap can refuse before it is.
    UnnamedProject,
    /// Project `id`, where the caller's role is `role`.
    Project { id: &'a str, role: Role },
}

/// `Ok` if `principal` may call an action needing `least` at `place`, else
/// the `Forbidden` that says why.
pub fn decide(principal: &Principal, least: Role, place: Place<'_>) -> Result<(), ApiError> {
    match place {
        Place::Org => principal.require(least),
        Place::UnnamedProject => match principal.role_cap {
            Some(cap) if cap < least => Err(ApiError::new(
                Status::Forbidden,
                format!("This needs the {least} role; the token is capped at {cap}"),
            )),
            _ => Ok(()),
        },
        Place::Project { id, role } => crate::scope::require(id, role, least),
    }
}

/// `Ok` if `principal` may act on its organization as a whole at `least`:
/// at that organization role, with a token not limited to one project
/// (which acts in that project only). Managing members, teams and others'
/// tokens asks this.
pub fn org_wide(principal: &Principal, least: Role) -> Result<(), ApiError> {
    if principal.project_id.is_some() {
        return Err(ApiError::forbidden(
            "A token limited to one project does not act on its organization as a whole",
        ));
    }
    decide(principal, least, Place::Org)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, cap: Option<Role>) -> Principal {
        Principal {
            token_id: "tok_1".into(),
            user_id: "usr_1".into(),
            org_id: "org_1".into(),
            role,
            project_id: None,
            role_cap: cap,
        }
    }

    #[test]
    fn each_place_weighs_its_own_role() {
        let member = principal(Role::Member, None);
        assert!(decide(&member, Role::Member, Place::Org).is_ok());
        assert!(decide(&member, Role::Admin, Place::Org).is_err());
        let admin_there = Place::Project {
            id: "prj_1",
            role: Role::Admin,
        };
        assert!(decide(&member, Role::Admin, admin_there).is_ok());
        let capped = principal(Role::Owner, Some(Role::Member));
        assert!(decide(&capped, Role::Admin, Place::UnnamedProject).is_err());
        assert!(decide(&capped, Role::Member, Place::UnnamedProject).is_ok());
        let admin = principal(Role::Admin, None);
        assert!(org_wide(&admin, Role::Admin).is_ok());
        let limited = Principal {
            project_id: Some("prj_1".into()),
            ..principal(Role::Admin, None)
        };
        assert!(org_wide(&limited, Role::Admin).is_err());
    }
}
