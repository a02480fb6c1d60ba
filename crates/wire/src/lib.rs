//! Wire types of the actiongate protocol, shared by the gateway and its
//! clients: the response [`Envelope`], the [`Status`] table, request and
//! record ids, and the error shape carried in `result.errors`.
//!
//! This crate does no I/O; everything here is plain data and its
//! (de)serialization, so a client can depend on it without pulling in a
//! server or a database.

mod envelope;
mod error;
mod id;
mod status;
mod timestamp;

pub use envelope::{AcceptedResult, Envelope};
pub use error::{ApiError, FieldError};
pub use id::{new_id, InvalidRequestId, RequestId};
pub use status::Status;
pub use timestamp::Timestamp;
