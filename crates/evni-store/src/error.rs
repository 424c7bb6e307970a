use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// No `entity` (a noun: "station", "webhook endpoint") named `id` as
    /// the caller named it, for the tenant.
    #[error("{entity} '{id}' not found")]
    NotFound { entity: &'static str, id: String },
    /// A unique key exists already, or an optimistic version check failed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store cannot take more work right now (shutting down, queue full).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The database failed, or what it holds is broken; `source` is the
    /// error underneath, when there is one.
    #[error("database error: {message}")]
    Database {
        message: String,
        #[source]
        source: Option<Source>,
    },
}

/// The error underneath a [`StoreError::Database`].
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

impl StoreError {
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// A database error of our own making (a broken invariant).
    pub fn database(message: impl Into<String>) -> Self {
        StoreError::Database {
            message: message.into(),
            source: None,
        }
    }

    /// A database error that `source` caused, described by `message`.
    pub fn caused_by(message: impl Into<String>, source: impl Into<Source>) -> Self {
        StoreError::Database {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::caused_by(e.to_string(), e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::caused_by(format!("stored JSON: {e}"), e)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_database_error_keeps_the_error_underneath() {
        let json = serde_json::from_str::<u32>("x").unwrap_err();
        let e = StoreError::from(json);
        assert!(e.to_string().starts_with("database error: stored JSON: "), "{e}");
        let source = e.source().expect("the serde error");
        assert!(source.downcast_ref::<serde_json::Error>().is_some());
        assert!(StoreError::database("broken").source().is_none());
    }

    #[test]
    fn not_found_names_what_and_which() {
        let e = StoreError::not_found("station", "CP-1");
        assert_eq!(e.to_string(), "station 'CP-1' not found");
        assert!(e.is_not_found());
    }
}
