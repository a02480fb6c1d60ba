//! An environment's settings (Platform.sh's `enable_smtp`,
//! `restrict_robots`, ...): a JSON object of named values, stored as text.
//!
//! Updates patch it key by key (a `null` value removes a key); a merge
//! carries a child's into its parent and a sync a parent's into its child,
//! the incoming keys overwriting same-named ones and the others kept.

use crate::api::settings::SettingsPatch;
use actiongate_service::ApiError;

/// The most keys an environment's settings hold.
const KEYS_MAX: usize = 100;
/// The longest their stored text may be, in bytes.
const TEXT_MAX: usize = 16 * 1024;

pub use crate::api::settings::Settings;

/// The stored text as settings; text that is not an object reads as none.
pub fn parse(stored: &str) -> Settings {
    serde_json::from_str(stored).unwrap_or_default()
}

/// Settings as stored text.
pub fn store(settings: &Settings) -> String {
    serde_json::to_string(settings).expect("a JSON object serializes")
}

/// `into` with `incoming`'s keys laid over it.
pub fn overlay(into: &Settings, incoming: &Settings) -> Settings {
    let mut merged = into.clone();
    merged.extend(incoming.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// Applies `patch` to `current`, checking each key and the result's size;
/// errors point at `/settings/<key>`.
pub fn apply(current: &Settings, patch: SettingsPatch) -> Result<Settings, ApiError> {
    let mut settings = current.clone();
    for (key, value) in patch.0 {
        check_key(&key)?;
        if value.is_null() {
            settings.remove(&key);
        } else {
            settings.insert(key, value);
        }
    }
    if settings.len() > KEYS_MAX {
        return Err(ApiError::invalid_field(
            "/settings",
            "TooManyKeys",
            format!("holds at most {KEYS_MAX} keys"),
        ));
    }
    if store(&settings).len() > TEXT_MAX {
        return Err(ApiError::invalid_field(
            "/settings",
            "TooLarge",
            format!("must be at most {TEXT_MAX} bytes as JSON"),
        ));
    }
    Ok(settings)
}

fn check_key(key: &str) -> Result<(), ApiError> {
    let bytes = key.as_bytes();
    let ok = (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            format!("/settings/{key}"),
            "InvalidKey",
            "a setting's name is 1 to 64 of a-z, 0-9 and _, starting with a letter",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn object(value: Value) -> Settings {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn a_patch_sets_and_removes_keys() {
        let current = object(json!({"enable_smtp": true, "restrict_robots": false}));
        let patch = SettingsPatch(object(
            json!({"enable_smtp": null, "http_access": {"basic": 1}}),
        ));
        let patched = apply(&current, patch).unwrap();
        assert_eq!(
            Value::Object(patched),
            json!({"restrict_robots": false, "http_access": {"basic": 1}})
        );
    }

    #[test]
    fn a_bad_key_is_named() {
        let err = apply(
            &Settings::new(),
            SettingsPatch(object(json!({"Bad Key": 1}))),
        )
        .unwrap_err();
        assert_eq!(err.errors[0].source, "/settings/Bad Key");
    }

    #[test]
    fn overlay_keeps_the_others() {
        let parent = object(json!({"a": 1, "b": 2}));
        let child = object(json!({"b": 3, "c": 4}));
        assert_eq!(
            Value::Object(overlay(&parent, &child)),
            json!({"a": 1, "b": 3, "c": 4})
        );
    }
}
