//! The API a service crate uses to plug actions into the gateway.
//!
//! A service is a name, its aliases, and a list of actions. An action is one
//! typed input (`serde::Deserialize`), one typed output (`serde::Serialize`),
//! one async handler, and an [`ActionSpec`] saying where it lives and whether
//! it is designated asynchronous:
//!
//! ```ignore
//! Service::new("console")
//!     .alias("api.console")
//!     .action(
//!         ActionSpec::sync("v1", "project/get", "Project found")
//!             .role(Role::Viewer)
//!             .scope(Scope::project("id")),
//!         project::get,
//!     )
//! ```
//!
//! The registration line says everything the gateway enforces before the
//! handler runs: the mode, the least role, and the scope that role is
//! checked in.
//!
//! The gateway owns everything else: routing, authentication, decoding the
//! body into the input type (with JSON-pointer errors), running the handler
//! or parking it as a job, and writing the envelope.

mod action;
mod call;
pub mod catalog;
mod context;
mod decode;
mod digest;
mod error;
mod hooks;
mod requests;
pub mod rules;
mod scope;
pub mod secrets;
mod service;
mod write;

pub use action::{Access, ActionSpec, Binding, DecodedInput, Draft, ErasedAction, Untyped};
pub use actiongate_wire::{
    encode_data, Action, ApiError, FieldError, LogLine, Mode, Page, RequestId, Role, Status,
    Timestamp, Upload,
};
pub use catalog::{policy_code, Catalog};
pub use context::{ActionName, Ctx, Db, Principal};
pub use decode::decode_body;
pub use digest::{hex, sha256_hex};
pub use error::{is_transient, is_unique_violation, ActionError, Transient};
pub use hooks::{Hooks, OnActivityEvents, OnProjectsDeleted, ResealSecrets, SweepExpired};
pub use requests::{ActivityEvent, CancelState, Engine, NewJob, Requests, RunReport};
pub use schemars::{self, JsonSchema};
pub use scope::{Home, ProjectOf, RecordPlace, Scope};
pub use service::Service;
pub use write::{OpenWrite, WriteTransaction, WriteTxn};

/// What a handler returns: `?` takes both [`ApiError`] and sea-orm's `DbErr`.
pub type ActionResult<T> = Result<T, ActionError>;
