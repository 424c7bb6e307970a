//! Client-provided identifiers.

use crate::FieldError;

const MAX_ID_LEN: usize = 255;

/// A client identifier (session, station, connector, EVSE): 1 to 255
/// characters, no control characters, no surrounding white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternalId(String);

impl ExternalId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        if raw.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if raw.len() > MAX_ID_LEN {
            return Err(FieldError::new(field, format!("longer than {MAX_ID_LEN} bytes")));
        }
        if raw.trim() != raw {
            return Err(FieldError::new(field, "must not start or end with white space"));
        }
        if raw.chars().any(char::is_control) {
            return Err(FieldError::new(field, "must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for ExternalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Connector identifiers follow the same rules as other client ids.
pub type ConnectorId = ExternalId;
