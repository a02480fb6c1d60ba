//! Wire types of the actiongate protocol, shared by the gateway and its
//! clients: the response [`Envelope`], the [`Status`] table, request and
//! record ids, the error shape carried in `result.errors`, and what every
//! action's types are built from: [`Action`] (an action's contract),
//! [`Role`], [`Page`], checked [`fields`] and [`Upload`].
//!
//! This crate does no I/O; everything here is plain data and its
//! (de)serialization, so a client can depend on it without pulling in a
//! server or a database.

mod action;
mod envelope;
mod error;
pub mod fields;
mod id;
mod page;
mod role;
mod status;
mod timestamp;
mod upload;

pub use action::{Action, Mode};
pub use envelope::{AcceptedResult, Envelope, LogLine};
pub use error::{ApiError, FieldError};
pub use id::{new_id, InvalidRequestId, RequestId};
pub use page::Page;
pub use role::{Effect, Role, RoleName, Rule};
pub use status::Status;
pub use timestamp::Timestamp;
pub use upload::{encode_data, Upload};
