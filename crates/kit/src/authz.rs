//! The one evaluator of who may call what. The gateway's pipeline
//! (`authenticate` in the organization, `authorize` on the record the call
//! names), the handlers that check a role again themselves
//! ([`crate::scope`]), and `authz/check` all decide here, so that what
//! `authz/check` answers is what the call then does.
//!
//! A call is allowed by a built-in role or by a custom one:
//! - built in: the caller's organization role, or in a project the better
//!   of that, its membership and its teams' grants there ([`crate::scope`]),
//!   at least the action's least role;
//! - custom: a rule of a custom role the caller's teams hold there whose
//!   action pattern matches the action's policy code and whose resources
//!   (if it names any) match the record ([`actiongate_service::rules`]).
//!
//! Over both, the token: its built-in cap bounds either way in, and a
//! token carrying a custom role may do only what that role's rules allow.

use std::sync::Arc;

use actiongate_service::rules::{HeldRoles, Target};
use actiongate_service::{policy_code, ActionResult, ApiError, Catalog, Ctx, Principal, Role};
use sea_orm::ConnectionTrait;

/// The action a decision is about: its route, and the least role it
/// needs.
#[derive(Clone, Copy, Debug)]
pub struct Asked<'a> {
    pub service: &'a str,
    pub path: &'a str,
    pub least: Role,
}

impl Asked<'_> {
    fn code(&self) -> String {
        policy_code(self.service, self.path)
    }
}

/// Where an action's least role is weighed.
#[derive(Clone, Copy, Debug)]
pub enum Place<'a> {
    /// The caller's organization; with the record of the organization as
    /// a whole the call names, if it names one.
    Org(Option<Target<'a>>),
    /// A project not named yet (the input is not read): only the token
    /// can refuse before it is.
    UnnamedProject,
    /// A record in a project (or the project itself) where the caller's
    /// built-in role is `role`.
    Project { role: Role, target: Target<'a> },
}

impl Place<'_> {
    fn target(&self) -> Option<&Target<'_>> {
        match self {
            Place::Org(target) => target.as_ref(),
            Place::Project { target, .. } => Some(target),
            Place::UnnamedProject => None,
        }
    }
}

/// How a call was allowed.
#[derive(Debug, PartialEq, Eq)]
pub enum Allowed {
    /// By a built-in role.
    ByRole,
    /// By a rule of the custom role of this name.
    ByCustomRole(String),
}

/// `Ok` (saying how) if `principal` may call `asked` at `place`, else the
/// `Forbidden` that says why.
pub fn decide(
    principal: &Principal,
    asked: Asked<'_>,
    place: Place<'_>,
) -> Result<Allowed, ApiError> {
    let custom = &principal.custom;
    // Only a caller with a custom role pays for the code.
    let code = custom.in_play().then(|| asked.code());
    if let (Some(token), Some(code)) = (&custom.token, &code) {
        let allowed = match place.target() {
            Some(target) => token.allows_on(code, target),
            None if matches!(place, Place::UnnamedProject) => token.allows_somewhere(code),
            None => token.allows_everywhere(code),
        };
        if !allowed {
            let on = place
                .target()
                .map(|t| format!(" on {}:{}", t.kind, t.id))
                .unwrap_or_default();
            return Err(ApiError::forbidden(format!(
                "The token carries the role {}, which has no rule allowing {code}{on}",
                token.name()
            )));
        }
    }
    let refusal = match built_in(principal, asked.least, &place) {
        Ok(()) => return Ok(Allowed::ByRole),
        Err(refusal) => refusal,
    };
    // The token's built-in cap bounds custom roles too.
    if principal.role_cap.is_some_and(|cap| cap < asked.least) {
        return Err(refusal);
    }
    let (Some(code), Some(held)) = (&code, &custom.held) else {
        return Err(refusal);
    };
    allowed_by(held, code, &place).ok_or(refusal)
}

fn allowed_by(held: &HeldRoles, code: &str, place: &Place<'_>) -> Option<Allowed> {
    if matches!(place, Place::UnnamedProject) {
        return None;
    }
    held.allowing(code, place.target())
        .map(|role| Allowed::ByCustomRole(role.name().to_owned()))
}

fn built_in(principal: &Principal, least: Role, place: &Place<'_>) -> Result<(), ApiError> {
    match place {
        Place::Org(_) => principal.require(least),
        Place::UnnamedProject => match principal.role_cap {
            Some(cap) if cap < least => Err(ApiError::forbidden(format!(
                "This needs the {least} role; the token is capped at {cap}"
            ))),
            _ => Ok(()),
        },
        Place::Project { role, target } => {
            crate::scope::require(target.project_id.unwrap_or(target.id), *role, least)
        }
    }
}

/// A handler's own check, inside its transaction, that the caller holds
/// `least` on `target` in a project where its built-in role is `role`
/// (read again on `db`).
pub async fn in_project(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    role: Role,
    least: Role,
    target: Target<'_>,
) -> ActionResult<()> {
    let project_id = target.project_id.unwrap_or(target.id);
    match crate::scope::require(project_id, role, least) {
        Ok(()) => Ok(()),
        Err(refusal) => {
            again_by_custom_role(ctx, db, least, Place::Project { role, target }, refusal).await
        }
    }
}

/// A handler's own check that the caller may act on its organization as
/// a whole at `least`: at that role, with a token not limited to one
/// project (which acts in that project only).
pub async fn in_org(ctx: &Ctx, db: &impl ConnectionTrait, least: Role) -> ActionResult<()> {
    let principal = &ctx.principal;
    if principal.project_id.is_some() {
        return Err(limited_to_a_project().into());
    }
    match principal.require(least) {
        Ok(()) => Ok(()),
        Err(refusal) => again_by_custom_role(ctx, db, least, Place::Org(None), refusal).await,
    }
}

/// Past the built-in role, a custom role the caller's teams hold at
/// `place` lets a handler's check pass for what the action declares, no
/// more: a handler asking more than the declared least role (an owner's
/// change inside an admin's action) needs it built in.
async fn again_by_custom_role(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    least: Role,
    place: Place<'_>,
    refusal: ApiError,
) -> ActionResult<()> {
    let principal = &ctx.principal;
    let asked = Asked {
        service: ctx.action.service,
        path: ctx.action.path,
        least,
    };
    let code = asked.code();
    let declared = ctx.try_state::<Arc<Catalog>>().and_then(|catalog| {
        catalog
            .policy(&code)?
            .iter()
            .find(|entry| entry.version == ctx.action.version)?
            .least
    });
    let within = declared.is_some_and(|declared| least <= declared)
        && principal.role_cap.is_none_or(|cap| least <= cap);
    if !within {
        return Err(refusal.into());
    }
    // A job's principal is rebuilt from its row, without them.
    let held = match &principal.custom.held {
        Some(held) => held.clone(),
        None => Arc::new(crate::roles::held(db, &principal.org_id, &principal.user_id).await?),
    };
    match allowed_by(&held, &code, &place) {
        Some(_) => Ok(()),
        None => Err(refusal.into()),
    }
}

fn limited_to_a_project() -> ApiError {
    ApiError::forbidden(
        "A token limited to one project does not act on its organization as a whole",
    )
}

/// `Ok` if `principal` may act on its organization as a whole at `least`
/// by its built-in role: at that organization role, with a token not
/// limited to one project. Powers beyond any action's declared role
/// (seeing or making others' tokens) ask this.
pub fn org_wide(principal: &Principal, least: Role) -> Result<(), ApiError> {
    if principal.project_id.is_some() {
        return Err(limited_to_a_project());
    }
    principal.require(least)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actiongate_service::rules::{CustomRoles, Held, RuleSet};
    use actiongate_wire::{Effect, Rule};

    fn principal(role: Role, cap: Option<Role>) -> Principal {
        Principal {
            token_id: "tok_1".into(),
            user_id: "usr_1".into(),
            org_id: "org_1".into(),
            role,
            project_id: None,
            role_cap: cap,
            custom: CustomRoles::default(),
        }
    }

    fn asked(least: Role) -> Asked<'static> {
        Asked {
            service: "deploy",
            path: "environment/update",
            least,
        }
    }

    fn rules(action: &str, resources: Option<&str>) -> Arc<RuleSet> {
        let rule = Rule {
            action: action.into(),
            effect: Effect::Allow,
            resources: resources.map(|r| vec![r.to_owned()]),
        };
        Arc::new(RuleSet::compile("ops", &[rule]).unwrap())
    }

    #[test]
    fn each_place_weighs_its_own_role() {
        let member = principal(Role::Member, None);
        assert!(decide(&member, asked(Role::Member), Place::Org(None)).is_ok());
        assert!(decide(&member, asked(Role::Admin), Place::Org(None)).is_err());
        let admin_there = Place::Project {
            role: Role::Admin,
            target: Target::project("prj_1"),
        };
        assert!(decide(&member, asked(Role::Admin), admin_there).is_ok());
        let capped = principal(Role::Owner, Some(Role::Member));
        assert!(decide(&capped, asked(Role::Admin), Place::UnnamedProject).is_err());
        assert!(decide(&capped, asked(Role::Member), Place::UnnamedProject).is_ok());
        let admin = principal(Role::Admin, None);
        assert!(org_wide(&admin, Role::Admin).is_ok());
        let limited = Principal {
            project_id: Some("prj_1".into()),
            ..principal(Role::Admin, None)
        };
        assert!(org_wide(&limited, Role::Admin).is_err());
    }

    #[test]
    fn a_held_custom_role_allows_where_it_is_held_within_the_cap() {
        let held = HeldRoles {
            roles: vec![(Held::Project("prj_1".into()), rules("deploy:**", None))],
        };
        let viewer = Principal {
            custom: CustomRoles {
                held: Some(Arc::new(held)),
                token: None,
            },
            ..principal(Role::Viewer, None)
        };
        let at = |project| Place::Project {
            role: Role::Viewer,
            target: Target::project(project),
        };
        assert_eq!(
            decide(&viewer, asked(Role::Member), at("prj_1")),
            Ok(Allowed::ByCustomRole("ops".into()))
        );
        assert!(decide(&viewer, asked(Role::Member), at("prj_2")).is_err());
        assert!(decide(&viewer, asked(Role::Member), Place::Org(None)).is_err());
        let capped = Principal {
            role_cap: Some(Role::Viewer),
            ..viewer
        };
        assert!(decide(&capped, asked(Role::Member), at("prj_1")).is_err());
    }

    #[test]
    fn a_token_carrying_a_custom_role_does_only_what_it_allows() {
        let admin = Principal {
            custom: CustomRoles {
                held: None,
                token: Some(rules("deploy:environment:*", Some("environment:env_1"))),
            },
            ..principal(Role::Admin, None)
        };
        let env = |id| Place::Project {
            role: Role::Admin,
            target: Target {
                project_id: Some("prj_1"),
                kind: "environment",
                id,
            },
        };
        assert_eq!(
            decide(&admin, asked(Role::Member), env("env_1")),
            Ok(Allowed::ByRole)
        );
        assert!(decide(&admin, asked(Role::Member), env("env_2")).is_err());
        assert!(decide(&admin, asked(Role::Member), Place::UnnamedProject).is_ok());
        let other = Asked {
            service: "console",
            path: "org/get",
            least: Role::Viewer,
        };
        assert!(decide(&admin, other, Place::Org(None)).is_err());
    }
}
