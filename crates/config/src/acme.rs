//! `[[acme]]`: certificates obtained and renewed automatically (RFC 8555).
//! (Resolution to be written.)

use serde::Deserialize;

use crate::resolve::Resolver;

/// `[[acme]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeSection {
    pub name: Option<String>,
}

/// One resolved `[[acme]]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeConfig {
    pub name: String,
}

impl Resolver<'_> {
    pub(crate) fn acme(&mut self, sections: Vec<AcmeSection>) -> Vec<AcmeConfig> {
        sections
            .into_iter()
            .filter_map(|s| s.name.map(|name| AcmeConfig { name }))
            .collect()
    }
}
