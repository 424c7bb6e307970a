//! Field-level validation errors, reported to clients as the `details` of a 422.

use serde::Serialize;

/// One problem with one field of a request, e.g. `meter_values[3].unit`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field in the request body.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
    /// The values that would have been accepted, where the set is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Vec<String>>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
            accepted: None,
        }
    }

    pub fn with_accepted<S: ToString>(mut self, accepted: impl IntoIterator<Item = S>) -> Self {
        self.accepted = Some(accepted.into_iter().map(|s| s.to_string()).collect());
        self
    }
}

/// All problems found in one request. Capped so a 50,000-reading body full of
/// mistakes does not produce a megabyte of errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationErrors {
    pub errors: Vec<FieldError>,
    /// Problems found beyond the cap, reported only as a count.
    pub omitted: usize,
}

impl ValidationErrors {
    pub const CAP: usize = 50;

    pub fn push(&mut self, error: FieldError) {
        if self.errors.len() < Self::CAP {
            self.errors.push(error);
        } else {
            self.omitted += 1;
        }
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        for error in errors {
            self.push(error);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn single(error: FieldError) -> Self {
        Self {
            errors: vec![error],
            omitted: 0,
        }
    }

    /// `Ok(value)` when nothing was reported.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.problem)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self::single(error)
    }
}
