//! Path parameters whose rejection is the JSON error shape: axum's own
//! answers a path segment that is not UTF-8 (`/v1/sessions/%FF`) with a
//! plain-text 400.

use axum::extract::rejection::PathRejection;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like [`axum::extract::Path`], rejecting with [`ApiError`].
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::MalformedRequest(format!(
                "malformed path: {}",
                e.body_text()
            ))),
            Err(other) => Err(ApiError::Internal(format!(
                "path parameters: {}",
                other.body_text()
            ))),
        }
    }
}
