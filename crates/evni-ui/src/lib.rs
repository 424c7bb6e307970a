//! The management dashboard: server-rendered pages under `/ui/`, served by
//! `evni serve` beside the API. Each page calls the same handlers and store
//! functions the JSON API calls, with the caller of the session cookie.

mod assets;
mod error;
mod layout;
mod pages;
mod session;

use axum::http::{header, HeaderValue};
use axum::response::{Redirect, Response};
use axum::routing::{any, get, post};
use axum::Router;
use evni_api::AppState;

pub use error::UiError;
pub use pages::link::login_url;

/// Content security policy of every dashboard response: scripts, styles and
/// data only from the dashboard itself; no inline script, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The largest file of sessions the batches page takes (the API's default
/// batch body limit; the API's own limits apply to what is inside).
const BATCH_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// The dashboard's routes, with `/` redirecting to `/ui/`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(pages::overview::page))
        .route("/ui/login", get(pages::login::form).post(pages::login::submit))
        .route("/ui/login/link", get(pages::link::follow))
        .route("/ui/logout", post(pages::login::logout))
        .route("/ui/sessions", get(pages::sessions::page))
        .route("/ui/sessions/{session_id}", get(pages::session::page))
        .route(
            "/ui/sessions/{session_id}/feedback",
            post(pages::session::feedback),
        )
        .route("/ui/sessions/{session_id}/ask", post(pages::session::ask))
        .route(
            "/ui/settings",
            get(pages::settings::page).post(pages::settings::save),
        )
        .route("/ui/stations", get(pages::stations::list))
        .route("/ui/stations/{station_id}", get(pages::stations::detail))
        .route(
            "/ui/stations/{station_id}/metadata",
            post(pages::stations::save_metadata),
        )
        .route(
            "/ui/webhooks",
            get(pages::webhooks::page).post(pages::webhooks::create),
        )
        .route("/ui/webhooks/{id}/delete", post(pages::webhooks::delete))
        .route("/ui/webhooks/{id}/test", post(pages::webhooks::send_test))
        .route(
            "/ui/batches",
            get(pages::batches::page)
                .post(pages::batches::upload)
                .layer(axum::extract::DefaultBodyLimit::max(BATCH_UPLOAD_BYTES)),
        )
        .route("/ui/models", get(pages::models::page))
        .route("/ui/models/fine-tune", post(pages::models::fine_tune))
        .route("/ui/models/{id}/activate", post(pages::models::activate))
        .route("/ui/static/{name}", get(assets::serve))
        // The API's router keeps the fallback; unknown dashboard paths get a page.
        .route("/ui/{*rest}", any(not_found))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> UiError {
    UiError::Api(evni_api::ApiError::NotFound(format!("no page at {}", uri.path())))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages hold a tenant's data: never cached. Assets set their own.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
