//! An action's contract, as both sides of the wire see it: where it lives
//! (service, version, path), whether it is designated asynchronous, and its
//! input and output types.
//!
//! A built-in service declares each of its actions once, as an [`Action`],
//! with [`actions!`](crate::actions); its registration names that
//! declaration, so the handler must take its `Input` and return its
//! `Output` or the server does not compile, and the typed client calls the
//! same declaration. There is no second copy of a route or a type to drift.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// How the gateway runs an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answered directly, unless it runs past the response-time threshold;
    /// then it answers 202 and finishes in the background.
    Sync,
    /// Designated asynchronous: every call answers 202 at once.
    Async,
}

/// One action's place and types. Implemented by a marker type per action,
/// never by hand: see [`actions!`](crate::actions).
pub trait Action {
    /// What the action takes: the JSON body of its call.
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// What a successful call answers in the envelope's `result`.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// The service's name, the first segment of the URL with path-prefix
    /// routing (`console`).
    const SERVICE: &'static str;
    /// `v1`, `v1beta`, ...
    const VERSION: &'static str;
    /// The resource segments and the action (`project/get`).
    const PATH: &'static str;
    const MODE: Mode;
}

/// Declares a service's actions: one marker type per action, implementing
/// [`Action`].
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] pub struct ProjectId { pub id: String }
/// # #[derive(Serialize, Deserialize)] pub struct Project { pub id: String }
/// actiongate_wire::actions! {
///     service "console";
///     /// Reads one project.
///     ProjectGet: sync "v1" "project/get", ProjectId => Project;
/// }
/// ```
#[macro_export]
macro_rules! actions {
    (service $service:literal; $($(#[$doc:meta])* $name:ident: $mode:ident $version:literal $path:literal, $input:ty => $output:ty;)*) => {
        /// The name every action of this crate is routed under.
        pub const SERVICE: &str = $service;

        $(
            $(#[$doc])*
            #[doc = concat!("\n\n`POST /", $service, "/", $version, "/", $path, "`")]
            #[derive(Clone, Copy, Debug)]
            pub enum $name {}

            impl $crate::Action for $name {
                type Input = $input;
                type Output = $output;
                const SERVICE: &'static str = $service;
                const VERSION: &'static str = $version;
                const PATH: &'static str = $path;
                const MODE: $crate::Mode = $crate::actions!(@mode $mode);
            }
        )*
    };
    (@mode sync) => { $crate::Mode::Sync };
    (@mode async) => { $crate::Mode::Async };
}
