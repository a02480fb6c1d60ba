//! Rust clients for actiongate (and, for the raw one, any Pangea-style API).
//!
//! - [`Gateway`] is the typed client. Every built-in action is a type
//!   ([`console`], [`access`], [`deploy`]) that names its route, its input
//!   and its output: the very types the services decode and answer with,
//!   from their crates' `api` modules, compiled without the server. A call
//!   is retried on 500/502/503/504 with `X-Pangea-Retried-Request-Ids`,
//!   takes an optional `Idempotency-Key`, has timeouts, waits for a 202's
//!   result with long-polls, and fails with an [`Error`] per kind of
//!   status.
//! - [`Client`] is the raw client: any path, any JSON, the envelope as it
//!   came back.
//!
//! # Console: organizations and projects
//!
//! ```no_run
//! use actiongate_client::{console, Error, Gateway};
//!
//! # async fn demo() -> Result<(), Error> {
//! let gateway = Gateway::new("http://127.0.0.1:8080", "agt_...");
//! let orgs = gateway
//!     .call::<console::OrgList>(&console::org::ListOrgs::default())
//!     .await?;
//! let projects = gateway
//!     .call::<console::ProjectList>(&console::project::List {
//!         org_id: Some(orgs.results[0].id.clone()),
//!         order_by: Some("-created_at".into()),
//!         ..Default::default()
//!     })
//!     .await?;
//! for project in projects.results {
//!     println!("{} {} {}", project.id, project.name, project.region);
//! }
//! match gateway
//!     .call::<console::ProjectGet>(&console::project::ProjectId { id: "nope".into() })
//!     .await
//! {
//!     Err(Error::NotFound(failure)) => println!("{}", failure.summary),
//!     other => println!("{other:?}"),
//! }
//! # Ok(()) }
//! ```
//!
//! # Deploy: environments and their activities
//!
//! `environment/clone` is designated asynchronous: the gateway answers 202
//! and [`Gateway::call`] long-polls until the clone is made.
//!
//! ```no_run
//! use actiongate_client::{deploy, fields::Slug, Gateway};
//!
//! # async fn demo(project_id: String, staging_id: String) -> Result<(), Box<dyn std::error::Error>> {
//! let gateway = Gateway::new("http://127.0.0.1:8080", "agt_...");
//! let clone = gateway
//!     .call::<deploy::EnvironmentClone>(&deploy::environment::Clone {
//!         id: staging_id,
//!         name: Slug::try_from("staging-copy")?,
//!         // The rest is the source's unless given.
//!         display_name: None,
//!         r#type: None,
//!         description: None,
//!         color: None,
//!         git_branch: None,
//!     })
//!     .await?;
//! let activities = gateway
//!     .call::<deploy::ActivityList>(&deploy::activity::List {
//!         project_id,
//!         environment_id: Some(clone.id),
//!         ..Default::default()
//!     })
//!     .await?;
//! for activity in activities.results {
//!     println!("{} {:?} {:?}", activity.r#type, activity.state, activity.result);
//! }
//! # Ok(()) }
//! ```
//!
//! # Access: the caller, members, invites, the audit trail
//!
//! An `Idempotency-Key` makes a retry of the same call answer with the
//! first call's outcome instead of inviting twice.
//!
//! ```no_run
//! use actiongate_client::{access, CallOptions, Gateway, Role};
//!
//! # async fn demo(project_id: String) -> Result<(), actiongate_client::Error> {
//! let gateway = Gateway::new("http://127.0.0.1:8080", "agt_...");
//! let me = gateway.call::<access::UserMe>(&access::user::Empty {}).await?;
//! println!("{} is {} in {}", me.user.email, me.role, me.org_id);
//! let invite = gateway
//!     .call_with::<access::InviteCreate>(
//!         &access::invite::CreateInvite {
//!             project_id: Some(project_id),
//!             org_id: None,
//!             email: "ada@example.com".into(),
//!             role: Role::Member,
//!         },
//!         &CallOptions {
//!             idempotency_key: Some("invite-ada".into()),
//!         },
//!     )
//!     .await?;
//! println!("invite {} (request {})", invite.result.id, invite.request_id);
//! # Ok(()) }
//! ```

mod error;
mod raw;
mod typed;

pub use actiongate_access::api as access;
pub use actiongate_console::api as console;
pub use actiongate_deploy::api as deploy;
pub use actiongate_wire::{
    fields, AcceptedResult, Action, Envelope, FieldError, Page, RequestId, Role, Status, Timestamp,
    Upload,
};
pub use error::{Error, Failure};
pub use raw::{read_reply, Client, Reply};
pub use typed::{Answer, CallOptions, Gateway, Pending, Retries, Submitted};
