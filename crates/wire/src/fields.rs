//! Checks on field values that serde's types cannot express, each naming
//! the field it rejects, and the field types that run them while an input
//! is decoded: the gateway refuses a bad value before any handler runs,
//! and a client can build a good one before it calls.

use serde::{Deserialize, Serialize};

use crate::ApiError;

const NAME_MAX: usize = 100;
const TEXT_MAX: usize = 1000;

/// A name: not blank, at most 100 characters, no control characters and
/// no bidirectional formatting marks (a name shown in a list must read as
/// what it is, not be reordered into another one).
pub fn name(pointer: &str, value: &str) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid_field(
            pointer,
            "InvalidValue",
            "must not be blank",
        ));
    }
    if trimmed.chars().any(is_bidi_mark) {
        return Err(ApiError::invalid_field(
            pointer,
            "InvalidValue",
            "must not contain right-to-left or other bidirectional marks",
        ));
    }
    text(pointer, trimmed, NAME_MAX)
}

fn is_bidi_mark(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A slug, as names of things inside a project are: lowercase letters,
/// digits, `-` and `_`, 3 to 100 characters, starting and ending with a
/// letter or digit.
pub fn slug(pointer: &str, value: &str) -> Result<String, ApiError> {
    let bytes = value.as_bytes();
    let inner = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let ok = (3..=100).contains(&bytes.len())
        && bytes.first().is_some_and(inner)
        && bytes.last().is_some_and(inner)
        && bytes.iter().all(|b| inner(b) || *b == b'-' || *b == b'_');
    accept(ok, pointer, value, || {
        format!(
                "{value:?} is not a slug: 3 to 100 of a-z, 0-9, - and _, starting and ending with a letter or digit"
            )
    })
}

/// `value` if `ok`, else an `InvalidValue` error at `pointer` saying `why`.
pub fn accept(
    ok: bool,
    pointer: &str,
    value: &str,
    why: impl FnOnce() -> String,
) -> Result<String, ApiError> {
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid_field(pointer, "InvalidValue", why()))
    }
}

/// Free text of at most `max` characters without control characters
/// (newlines and tabs allowed).
pub fn text(pointer: &str, value: &str, max: usize) -> Result<String, ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::invalid_field(
            pointer,
            "InvalidValue",
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid_field(
            pointer,
            "InvalidValue",
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

pub fn description(pointer: &str, value: &str) -> Result<String, ApiError> {
    text(pointer, value, TEXT_MAX)
}

/// Free text of at most 100 characters: ids of things outside the gateway.
pub fn short_text(pointer: &str, value: &str) -> Result<String, ApiError> {
    text(pointer, value, NAME_MAX)
}

/// A branch name as git allows it, in short: no spaces, control
/// characters, `..`, or `~^:?*[\`, at most 255 bytes.
pub fn git_branch(pointer: &str, value: &str) -> Result<String, ApiError> {
    let ok = !value.is_empty()
        && value.len() <= 255
        && !value.contains("..")
        && !value.starts_with(['/', '-'])
        && !value.ends_with(['/', '.'])
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
    accept(ok, pointer, value, || {
        format!("{value:?} is not a git branch name")
    })
}

/// Field types checked as the input is decoded, each by the check of the
/// same name above: an action taking one refuses a bad value, with a
/// pointer to it, before anything runs (even when it is designated
/// asynchronous), and its handler holds a value known to be good.
macro_rules! checked_field {
    ($($(#[$doc:meta])* $name:ident by $check:ident, $schema:tt;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                $check("", &value).map($name).map_err(|err| {
                    err.errors
                        .into_iter()
                        .next()
                        .map(|e| e.detail)
                        .unwrap_or(err.summary)
                })
            }
        }

        impl TryFrom<&str> for $name {
            type Error = String;

            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::try_from(value.to_owned())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::try_from(value.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    )*};
}

// The schemas say what JSON Schema can of each check; the check itself
// stays the authority (a schema cannot say "not blank once trimmed").
checked_field! {
    /// A [`name`], trimmed.
    Name by name, {
        "type": "string", "minLength": 1, "maxLength": 100,
        "description": "not blank, no control characters or bidirectional marks",
    };
    /// A [`slug`].
    Slug by slug, {
        "type": "string", "minLength": 3, "maxLength": 100,
        "pattern": "^[a-z0-9][a-z0-9_-]*[a-z0-9]$",
    };
    /// A [`description`].
    Description by description, {
        "type": "string", "maxLength": 1000,
        "description": "no control characters but newline and tab",
    };
    /// A [`color`].
    Color by color, { "type": "string", "pattern": "^#[0-9A-Fa-f]{6}$" };
    /// A [`short_text`].
    ShortText by short_text, {
        "type": "string", "maxLength": 100,
        "description": "no control characters but newline and tab",
    };
    /// A [`git_branch`].
    GitBranch by git_branch, {
        "type": "string", "minLength": 1, "maxLength": 255,
        "description": "a git branch name: no spaces, control characters, `..`, or `~^:?*[\\`",
    };
}

/// A `#RRGGBB` color.
pub fn color(pointer: &str, value: &str) -> Result<String, ApiError> {
    let ok = value.len() == 7
        && value.starts_with('#')
        && value[1..].bytes().all(|b| b.is_ascii_hexdigit());
    accept(ok, pointer, value, || {
        format!("{value:?} is not a color of the form #RRGGBB")
    })
}
