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
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Database(format!("stored JSON: {e}"))
    }
}
