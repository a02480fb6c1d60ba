//! Custom roles' rules, compiled: patterns of policy codes and of records,
//! and the rule sets a principal holds. The evaluator
//! (`actiongate_kit::authz`) asks these whether a rule allows a call; this
//! module only matches.
//!
//! A pattern is read in segments split at `:` and `/`, so that
//! `access:team/member:add` is four segments whichever separator its route
//! used. `*` stands for exactly one segment, `**` for any number (none
//! included). A record is matched by its own name (`environment:<id>`)
//! and, when it lives in a project, by its path there
//! (`project:<id>:environment:<id>`), so `project:<id>:**` covers the
//! project and everything in it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use actiongate_wire::Rule;

/// One segment of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(Box<str>),
    One,
    Any,
}

/// A compiled pattern of policy codes or of records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(Vec<Segment>);

fn segments(text: &str) -> impl Iterator<Item = &str> {
    text.split([':', '/'])
}

impl Pattern {
    /// Compiles `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if text.is_empty() || text.len() > 254 {
            return Err("a pattern is 1 to 254 characters".into());
        }
        segments(text)
            .map(|segment| match segment {
                "*" => Ok(Segment::One),
                "**" => Ok(Segment::Any),
                _ if segment.contains('*') => Err(format!(
                    "{segment:?}: a wildcard stands for whole segments (`*` or `**`), not part of one"
                )),
                _ if segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.') =>
                {
                    Ok(Segment::Literal(segment.into()))
                }
                _ => Err(format!(
                    "{segment:?}: segments are letters, digits, `_`, `-` and `.`"
                )),
            })
            .collect::<Result<_, _>>()
            .map(Pattern)
    }

    /// Whether the pattern matches all of `text`.
    pub fn matches(&self, text: &str) -> bool {
        let parts: Vec<&str> = segments(text).collect();
        matches(&self.0, &parts)
    }

    /// The literal first segment, if it has one (a record pattern's kind).
    pub fn first_literal(&self) -> Option<&str> {
        match self.0.first() {
            Some(Segment::Literal(text)) => Some(text),
            _ => None,
        }
    }

    /// How many segments it has.
    pub fn segment_count(&self) -> usize {
        self.0.len()
    }
}

fn matches(pattern: &[Segment], text: &[&str]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((Segment::Any, rest)) => (0..=text.len()).any(|skip| matches(rest, &text[skip..])),
        Some((Segment::One, rest)) => !text.is_empty() && matches(rest, &text[1..]),
        Some((Segment::Literal(literal), rest)) => {
            text.first() == Some(&&**literal) && matches(rest, &text[1..])
        }
    }
}

/// The record a call acts on, as rules' resources see it.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The project it lives in; `None` for a record of the organization
    /// as a whole.
    pub project_id: Option<&'a str>,
    /// `project`, `environment`, ...
    pub kind: &'a str,
    pub id: &'a str,
}

impl<'a> Target<'a> {
    /// Project `id` itself.
    pub fn project(id: &'a str) -> Self {
        Target {
            project_id: Some(id),
            kind: "project",
            id,
        }
    }

    /// Whether `pattern` names this record: by its own name, or by its
    /// path in its project.
    fn named_by(&self, pattern: &Pattern) -> bool {
        let own = [self.kind, self.id];
        if matches(&pattern.0, &own) {
            return true;
        }
        match self.project_id {
            Some(project) if self.kind != "project" => {
                matches(&pattern.0, &["project", project, self.kind, self.id])
            }
            _ => false,
        }
    }
}

/// One compiled rule.
#[derive(Debug)]
struct Compiled {
    action: Pattern,
    /// `None`: every record.
    resources: Option<Vec<Pattern>>,
}

/// Why a rule does not compile: the rule's index, the JSON pointer below
/// it, and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct RuleError {
    pub rule: usize,
    pub at: String,
    pub detail: String,
}

/// The most codes a rule set remembers its matches for. The codes asked
/// about are the routed actions', so this is never reached in practice;
/// it bounds the memory if it were.
const MEMO_LIMIT: usize = 4096;

/// A custom role's rules, compiled. What each policy code matches is
/// remembered, so a call weighs its code against the rules once per
/// role, not once per request.
pub struct RuleSet {
    name: String,
    rules: Vec<Compiled>,
    memo: RwLock<HashMap<Box<str>, Arc<[usize]>>>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("name", &self.name)
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl RuleSet {
    /// Compiles role `name`'s `rules`.
    pub fn compile(name: impl Into<String>, rules: &[Rule]) -> Result<RuleSet, RuleError> {
        let mut compiled = Vec::with_capacity(rules.len());
        for (i, rule) in rules.iter().enumerate() {
            let error = |at: String, detail: String| RuleError {
                rule: i,
                at,
                detail,
            };
            let action = Pattern::parse(&rule.action).map_err(|d| error("/action".into(), d))?;
            let resources = match &rule.resources {
                None => None,
                Some(list) => Some(
                    list.iter()
                        .enumerate()
                        .map(|(j, text)| {
                            let pattern = Pattern::parse(text)
                                .map_err(|d| error(format!("/resources/{j}"), d))?;
                            if pattern.segment_count() < 2 {
                                return Err(error(
                                    format!("/resources/{j}"),
                                    format!("{text:?} is not a record: write <kind>:<id>, such as project:prj_... or project:prj_...:**"),
                                ));
                            }
                            Ok(pattern)
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            compiled.push(Compiled { action, resources });
        }
        Ok(RuleSet {
            name: name.into(),
            rules: compiled,
            memo: RwLock::default(),
        })
    }

    /// The role's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rules whose action pattern matches `code`.
    fn matching(&self, code: &str) -> Arc<[usize]> {
        if let Some(found) = self.memo.read().expect("rule memo").get(code) {
            return found.clone();
        }
        let found: Arc<[usize]> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.action.matches(code))
            .map(|(i, _)| i)
            .collect();
        let mut memo = self.memo.write().expect("rule memo");
        if memo.len() < MEMO_LIMIT {
            memo.insert(code.into(), found.clone());
        }
        found
    }

    /// Whether some rule allows `code` on some record.
    pub fn allows_somewhere(&self, code: &str) -> bool {
        !self.matching(code).is_empty()
    }

    /// Whether a rule allows `code` on every record (it names none).
    pub fn allows_everywhere(&self, code: &str) -> bool {
        self.matching(code)
            .iter()
            .any(|&i| self.rules[i].resources.is_none())
    }

    /// Whether a rule allows `code` on `target`.
    pub fn allows_on(&self, code: &str, target: &Target<'_>) -> bool {
        self.matching(code)
            .iter()
            .any(|&i| match &self.rules[i].resources {
                None => true,
                Some(resources) => resources.iter().any(|r| target.named_by(r)),
            })
    }
}

/// Where a principal holds a custom role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Held {
    /// Across its organization.
    Org,
    /// In one project.
    Project(String),
}

/// The custom roles a principal holds (through its teams' grants), each
/// where it holds it.
#[derive(Debug, Default)]
pub struct HeldRoles {
    pub roles: Vec<(Held, Arc<RuleSet>)>,
}

impl HeldRoles {
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// The first role that allows `code` on `target` (`None`: on the
    /// organization as a whole, no record named), if any.
    pub fn allowing(&self, code: &str, target: Option<&Target<'_>>) -> Option<&RuleSet> {
        self.roles
            .iter()
            .find(|(held, rules)| match (held, target) {
                (Held::Org, None) => rules.allows_everywhere(code),
                (Held::Org, Some(target)) => rules.allows_on(code, target),
                (Held::Project(project), Some(target)) => {
                    target.project_id == Some(project.as_str()) && rules.allows_on(code, target)
                }
                (Held::Project(_), None) => false,
            })
            .map(|(_, rules)| &**rules)
    }
}

/// What custom roles shape a principal's powers.
#[derive(Clone, Debug, Default)]
pub struct CustomRoles {
    /// The roles its user holds; `None` when not loaded (a job's
    /// principal, rebuilt from its row): a check that needs them loads
    /// them.
    pub held: Option<Arc<HeldRoles>>,
    /// The token's custom role, if it has one: the token may do only what
    /// it allows.
    pub token: Option<Arc<RuleSet>>,
}

impl CustomRoles {
    /// Whether any custom role is in play, so a decision must name its
    /// policy code.
    pub fn in_play(&self) -> bool {
        self.token.is_some() || self.held.as_ref().is_some_and(|held| !held.is_empty())
    }
}

impl PartialEq for CustomRoles {
    fn eq(&self, other: &Self) -> bool {
        fn same<T>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
        }
        same(&self.held, &other.held) && same(&self.token, &other.token)
    }
}

impl Eq for CustomRoles {}

#[cfg(test)]
mod tests {
    use super::*;
    use actiongate_wire::Effect;

    fn rule(action: &str, resources: Option<&[&str]>) -> Rule {
        Rule {
            action: action.into(),
            effect: Effect::Allow,
            resources: resources.map(|list| list.iter().map(|r| (*r).to_owned()).collect()),
        }
    }

    #[test]
    fn wildcards_stand_for_one_segment_or_any_number() {
        let p = |text: &str| Pattern::parse(text).unwrap();
        assert!(p("deploy:environment:update").matches("deploy:environment:update"));
        assert!(p("deploy:*:update").matches("deploy:environment:update"));
        assert!(!p("deploy:*:update").matches("deploy:environment:update:x"));
        assert!(p("deploy:**").matches("deploy:environment:update"));
        assert!(p("**:get").matches("console:platform/project:get"));
        assert!(p("access:team:**").matches("access:team/member:add"));
        assert!(p("**").matches("greeter::hello"));
        assert!(!p("console:*:get").matches("console:platform/project:get"));
        assert!(Pattern::parse("deploy:env*").is_err());
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse("a b").is_err());
    }

    #[test]
    fn resources_name_records_or_their_projects() {
        let rules = RuleSet::compile(
            "ops",
            &[
                rule("deploy:environment:*", Some(&["environment:env_1"])),
                rule("deploy:variable:*", Some(&["project:prj_1:**"])),
                rule("console:project:get", Some(&["project:prj_2"])),
                rule("console:org:get", None),
            ],
        )
        .unwrap();
        let env = |id| Target {
            project_id: Some("prj_1"),
            kind: "environment",
            id,
        };
        assert!(rules.allows_on("deploy:environment:update", &env("env_1")));
        assert!(!rules.allows_on("deploy:environment:update", &env("env_2")));
        assert!(rules.allows_on("deploy:variable:create", &env("env_2")));
        assert!(rules.allows_on("deploy:variable:list", &Target::project("prj_1")));
        assert!(!rules.allows_on("deploy:variable:list", &Target::project("prj_2")));
        assert!(rules.allows_on("console:project:get", &Target::project("prj_2")));
        assert!(rules.allows_somewhere("deploy:environment:delete"));
        assert!(!rules.allows_everywhere("deploy:environment:delete"));
        assert!(rules.allows_everywhere("console:org:get"));
        assert!(!rules.allows_somewhere("console:org:delete"));
        let bad = RuleSet::compile("x", &[rule("a", Some(&["project"]))]).unwrap_err();
        assert_eq!((bad.rule, bad.at.as_str()), (0, "/resources/0"));
    }

    #[test]
    fn held_roles_hold_where_they_were_granted() {
        let rules = Arc::new(RuleSet::compile("ops", &[rule("deploy:**", None)]).unwrap());
        let held = HeldRoles {
            roles: vec![(Held::Project("prj_1".into()), rules)],
        };
        let code = "deploy:environment:update";
        assert!(held
            .allowing(code, Some(&Target::project("prj_1")))
            .is_some());
        assert!(held
            .allowing(code, Some(&Target::project("prj_2")))
            .is_none());
        assert!(held.allowing(code, None).is_none());
    }
}
