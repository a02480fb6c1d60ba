//! An action: its place on the wire ([`ActionSpec`]) and its handler, erased
//! behind [`ErasedAction`] so the gateway can hold many input and output
//! types in one table.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use actiongate_wire::{Action, ApiError, Mode};
use futures_util::future::BoxFuture;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::{decode_body, ActionError, Ctx, Role, Scope};

/// Who may call an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A bearer token whose principal holds at least this role; calls are
    /// rate limited per token.
    Token(Role),
    /// Anyone, without a token or a rate limit: health checks and the like.
    Public,
    /// Nobody over HTTP: run only as a job the service starts itself
    /// ([`crate::NewJob`]), such as a webhook's delivery. Never routed,
    /// never in the API description.
    Internal,
}

/// Where an action lives and how it is run.
///
/// Made in two steps, so that no action is registered without saying who
/// may call it: [`ActionSpec::sync`] or [`ActionSpec::asynchronous`] give a
/// [`Draft`], and its [`Draft::role`] (or [`Draft::public`]) the spec.
///
/// ```ignore
/// A::sync("v1", "environment/update", "Environment updated")
///     .role(Role::Member)
///     .scope(record::<Environment>("id"))
/// ```
///
/// A built-in service's actions are declared as [`Action`]s, and registered
/// with [`ActionSpec::of`], which takes the place, the mode and the types
/// from the declaration:
///
/// ```ignore
/// A::of::<api::EnvironmentUpdate>("Environment updated")
///     .role(Role::Member)
///     .scope(record::<Environment>("id"))
/// ```
#[derive(Clone, Debug)]
pub struct ActionSpec<Act = Untyped> {
    /// `v1`, `v1beta`, ...
    pub version: &'static str,
    /// The resource segments and the action, `platform/project/get`.
    pub path: &'static str,
    pub mode: Mode,
    /// The envelope's summary on success.
    pub summary: &'static str,
    /// Overrides the gateway's response-time threshold for this action.
    pub threshold: Option<Duration>,
    /// Who may call it.
    pub access: Access,
    /// Where its role is checked; the organization unless it says.
    pub scope: Scope,
    /// Whether it takes files: a `multipart/form-data` body (see
    /// [`crate::Upload`]). Other actions refuse one.
    pub accepts_files: bool,
    /// The activity type its calls are recorded as (see
    /// [`ActionSpec::activity`]).
    pub activity: Option<&'static str>,
    /// Fields of its result shown only in the direct answer (see
    /// [`ActionSpec::shows_once`]).
    pub shown_once: &'static [&'static str],
    /// The declared action whose types the handler must have.
    action: PhantomData<fn() -> Act>,
}

/// The `Act` of an action registered without a declaration: its handler's
/// types are its own (an example's or a test's service).
#[derive(Clone, Copy, Debug)]
pub enum Untyped {}

/// What ties a registration to its handler's types: anything for an
/// [`Untyped`] spec, exactly the declared `Input` and `Output` for an
/// [`Action`]'s.
pub trait Binding<I, O> {
    /// The service the action was declared in, if it was.
    const SERVICE: Option<&'static str>;
}

impl<I, O> Binding<I, O> for Untyped {
    const SERVICE: Option<&'static str> = None;
}

impl<Act: Action> Binding<Act::Input, Act::Output> for Act {
    const SERVICE: Option<&'static str> = Some(Act::SERVICE);
}

/// An action's place and mode, before it says who may call it.
#[must_use = "an action needs .role(..) or .public() before it can be registered"]
pub struct Draft<Act = Untyped> {
    version: &'static str,
    path: &'static str,
    mode: Mode,
    summary: &'static str,
    action: PhantomData<fn() -> Act>,
}

impl<Act> Draft<Act> {
    /// Callable by a token whose principal holds at least `role` in the
    /// action's scope (the organization, unless [`ActionSpec::scope`] says
    /// otherwise).
    pub const fn role(self, role: Role) -> ActionSpec<Act> {
        self.with(Access::Token(role))
    }

    /// Callable without a token, and not rate limited. Public actions are
    /// synchronous and always answered directly: with no token, nobody
    /// could poll a recorded result (the gateway refuses a public async one).
    pub const fn public(self) -> ActionSpec<Act> {
        self.with(Access::Public)
    }

    /// Run only as a job the service starts itself (see
    /// [`Access::Internal`]).
    pub const fn internal(self) -> ActionSpec<Act> {
        self.with(Access::Internal)
    }

    const fn with(self, access: Access) -> ActionSpec<Act> {
        ActionSpec {
            version: self.version,
            path: self.path,
            mode: self.mode,
            summary: self.summary,
            threshold: None,
            access,
            scope: Scope::Org,
            accepts_files: false,
            activity: None,
            shown_once: &[],
            action: PhantomData,
        }
    }
}

impl ActionSpec {
    /// The declared action `Act`, at its place and in its mode.
    pub const fn of<Act: Action>(summary: &'static str) -> Draft<Act> {
        Draft {
            version: Act::VERSION,
            path: Act::PATH,
            mode: Act::MODE,
            summary,
            action: PhantomData,
        }
    }

    /// Answered directly, unless it outlasts its response-time threshold.
    pub const fn sync(version: &'static str, path: &'static str, summary: &'static str) -> Draft {
        Draft {
            version,
            path,
            mode: Mode::Sync,
            summary,
            action: PhantomData,
        }
    }

    /// Designated asynchronous: every call answers 202 at once.
    pub const fn asynchronous(
        version: &'static str,
        path: &'static str,
        summary: &'static str,
    ) -> Draft {
        Draft {
            version,
            path,
            mode: Mode::Async,
            summary,
            action: PhantomData,
        }
    }
}

impl<Act> ActionSpec<Act> {
    /// The spec without its declaration, as the route table keeps it once
    /// the handler's types have been checked against it.
    pub fn erase(self) -> ActionSpec {
        ActionSpec {
            version: self.version,
            path: self.path,
            mode: self.mode,
            summary: self.summary,
            threshold: self.threshold,
            access: self.access,
            scope: self.scope,
            accepts_files: self.accepts_files,
            activity: self.activity,
            shown_once: self.shown_once,
            action: PhantomData,
        }
    }

    pub const fn threshold(mut self, threshold: Duration) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// Checks the role in the project an input field names (see [`Scope`]).
    pub const fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Takes files as `multipart/form-data` (see [`crate::Upload`]).
    pub const fn accepts_files(mut self) -> Self {
        self.accepts_files = true;
        self
    }

    /// Records every call as an activity of type `kind`
    /// (`environment.branch`): listed with its project's activities, its
    /// progress, log and description kept where every node reads them.
    ///
    /// Calls on the same record, the one the action's [`Scope::Record`]
    /// names, run one at a time in the order they were accepted, on
    /// whichever node claims them: the record is the job's serialization
    /// key. Only for designated-asynchronous actions scoped to a project
    /// or a record in one; the route table refuses others.
    pub const fn activity(mut self, kind: &'static str) -> Self {
        self.activity = Some(kind);
        self
    }

    /// Shows the result's fields at `pointers` (JSON pointers into
    /// `result`, such as `/secret`) once: in the direct answer to the call
    /// that made them. What the gateway keeps of the call (to replay it,
    /// or for a poll of it) holds `null` there, so a secret is never
    /// stored or answered again.
    pub const fn shows_once(mut self, pointers: &'static [&'static str]) -> Self {
        self.shown_once = pointers;
        self
    }

    /// The least role, or `None` for a public or internal action.
    pub fn least_role(&self) -> Option<Role> {
        match self.access {
            Access::Token(role) => Some(role),
            Access::Public | Access::Internal => None,
        }
    }
}

/// A decoded input, waiting to be run.
pub type DecodedInput = Box<dyn Any + Send>;

/// An action with its types erased: decode bytes, then run.
///
/// Decoding is separate from running so that the gateway can reject bad
/// input before it parks a designated-async call, and decode again from the
/// stored body when a job is resumed after a restart.
pub trait ErasedAction: Send + Sync {
    fn decode(&self, body: &[u8]) -> Result<DecodedInput, ApiError>;
    /// The input type's JSON Schema, from a generator of the deserialize
    /// contract (what the action accepts).
    fn input_schema(&self, generator: &mut SchemaGenerator) -> Schema;
    /// The output type's JSON Schema, from a generator of the serialize
    /// contract (what the action answers in `result`).
    fn output_schema(&self, generator: &mut SchemaGenerator) -> Schema;
    /// Runs the handler and serializes its output.
    fn run(
        &self,
        ctx: Ctx,
        input: DecodedInput,
    ) -> BoxFuture<'static, Result<Box<RawValue>, ActionError>>;
}

pub(crate) struct Typed<I, O, F> {
    handler: F,
    types: PhantomData<fn(I) -> O>,
}

impl<I, O, F> Typed<I, O, F> {
    pub(crate) fn new(handler: F) -> Self {
        Typed {
            handler,
            types: PhantomData,
        }
    }
}

impl<I, O, F, Fut> ErasedAction for Typed<I, O, F>
where
    I: DeserializeOwned + JsonSchema + Send + 'static,
    O: Serialize + JsonSchema + Send + 'static,
    F: Fn(Ctx, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ActionError>> + Send + 'static,
{
    fn decode(&self, body: &[u8]) -> Result<DecodedInput, ApiError> {
        decode_body::<I>(body).map(|input| Box::new(input) as DecodedInput)
    }

    fn input_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<I>()
    }

    fn output_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<O>()
    }

    fn run(
        &self,
        ctx: Ctx,
        input: DecodedInput,
    ) -> BoxFuture<'static, Result<Box<RawValue>, ActionError>> {
        let request_id = ctx.request_id;
        let input = match input.downcast::<I>() {
            Ok(input) => *input,
            // Only the gateway calls `run`, always with what `decode` made.
            Err(_) => unreachable!("input decoded by another action"),
        };
        let output = (self.handler)(ctx, input);
        Box::pin(async move {
            let output = output.await?;
            serde_json::value::to_raw_value(&output).map_err(|err| {
                tracing::error!(%request_id, error = %err, "action output failed to serialize");
                ActionError::Api(ApiError::internal(request_id))
            })
        })
    }
}
