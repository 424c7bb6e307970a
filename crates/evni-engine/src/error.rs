use evni_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    /// No `entity` named `id` (as the caller named it), for the tenant.
    #[error("{entity} '{id}' not found")]
    NotFound { entity: &'static str, id: String },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, id } => EngineError::NotFound { entity, id },
            StoreError::Conflict(reason) => EngineError::Conflict(reason),
            StoreError::Unavailable(reason) => EngineError::Unavailable(reason),
            other => EngineError::Store(other),
        }
    }
}
