//! Errors of dashboard pages. They render as a page with a request id; the
//! cause of a 5xx is logged under that id, never shown.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use evni_api::ApiError;

#[derive(Debug)]
pub enum UiError {
    /// No valid session: off to the login page, then back to this path.
    LoginRequired(Option<String>),
    /// A form without this session's CSRF token.
    Csrf,
    Api(ApiError),
    Render(askama::Error),
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Api(e)
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::Render(e)
    }
}

impl From<evni_store::StoreError> for UiError {
    fn from(e: evni_store::StoreError) -> Self {
        UiError::Api(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
    request_id: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (status, title, message) = match self {
            UiError::LoginRequired(next) => {
                let target = match next.filter(|n| n.starts_with("/ui/")) {
                    Some(next) => format!("/ui/login?next={}", percent_encode(&next)),
                    None => "/ui/login".to_string(),
                };
                return Redirect::to(&target).into_response();
            }
            UiError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "The form was not sent by this dashboard session (missing or invalid CSRF token); nothing was changed. Reload the page and try again.".to_string(),
            ),
            UiError::Api(ApiError::NotFound(message)) => (StatusCode::NOT_FOUND, "Not found", message),
            UiError::Api(ApiError::Unauthorized(message)) => (StatusCode::UNAUTHORIZED, "Not logged in", message),
            UiError::Api(ApiError::Forbidden(message)) => (StatusCode::FORBIDDEN, "Not allowed", message),
            UiError::Api(ApiError::Validation(errors)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid request",
                errors
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.problem))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            UiError::Api(ApiError::TooManyRequests { message, .. }) => {
                (StatusCode::TOO_MANY_REQUESTS, "Too many requests", message)
            }
            UiError::Api(ApiError::Unavailable(message)) => {
                tracing::warn!(%request_id, %message, "dashboard: unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "Unavailable", message)
            }
            UiError::Api(other @ (ApiError::Internal(_) | ApiError::MalformedJson(_))) => {
                tracing::error!(%request_id, cause = %other, detail = ?other, "dashboard: internal error");
                internal()
            }
            UiError::Api(other) => {
                let message = other.to_string();
                (StatusCode::BAD_REQUEST, "Request refused", message)
            }
            UiError::Render(e) => {
                tracing::error!(%request_id, cause = %e, "dashboard: template error");
                internal()
            }
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message,
            request_id: request_id.clone(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{title} (request {request_id})"));
        (
            status,
            [(header::HeaderName::from_static("x-request-id"), request_id)],
            Html(body),
        )
            .into_response()
    }
}

fn internal() -> (StatusCode, &'static str, String) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not show this page; the cause is in its log under the request id below."
            .to_string(),
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters and `/`.
pub fn percent_encode(text: &str) -> String {
    encode(text, b"/")
}

/// Percent-encodes one path segment or query value.
pub fn encode_component(text: &str) -> String {
    encode(text, b"")
}

fn encode(text: &str, keep: &[u8]) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b if keep.contains(&b) => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
