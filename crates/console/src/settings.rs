//! The console's settings: `[services.console]` in the gateway config.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Reported as the organizations' `csp`.
    pub csp: String,
    /// The geos projects may be created in, each with its regions; the
    /// first region of a geo is its default.
    pub regions: BTreeMap<String, Vec<String>>,
    /// The geo of a project created without one (v1 only; v1beta requires it).
    pub default_geo: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            csp: "self-hosted".to_owned(),
            regions: BTreeMap::from([
                (
                    "us".to_owned(),
                    vec!["us-west-1".to_owned(), "us-east-1".to_owned()],
                ),
                ("eu".to_owned(), vec!["eu-central-1".to_owned()]),
            ]),
            default_geo: "us".to_owned(),
        }
    }
}
