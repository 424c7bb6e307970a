//! /ui/login and /ui/logout: a pasted bearer token becomes the session cookie.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use evni_api::{ApiError, AppState};
use serde::Deserialize;

use crate::error::UiError;
use crate::layout::Chrome;
use crate::session::{self, CsrfForm, Ui, LOGIN_COOKIE, SESSION_COOKIE};

/// How long a login form may stay open.
const LOGIN_FORM_SECONDS: i64 = 3600;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// GET /ui/login
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<NextQuery>,
) -> Result<Response, UiError> {
    let nonce = session::nonce();
    let page = LoginPage {
        chrome: Chrome::anonymous(session::login_csrf(&state, &nonce)),
        next: safe_next(query.next.as_deref()).to_string(),
        error: None,
    };
    let cookie = session::set_cookie(
        LOGIN_COOKIE,
        &nonce,
        "/ui/login",
        LOGIN_FORM_SECONDS,
        session::is_https(&headers, &uri),
    );
    Ok(([(header::SET_COOKIE, cookie)], super::render(&page)?).into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// POST /ui/login
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<LoginForm>,
) -> Result<Response, UiError> {
    let nonce = session::cookie(&headers, LOGIN_COOKIE);
    if !session::check_login_csrf(&state, nonce.as_deref(), form.csrf.as_deref()) {
        return Err(UiError::Csrf);
    }
    let token = form.token.trim();
    let next = safe_next(form.next.as_deref());
    let problem = if token.is_empty() {
        Some("is required: paste a bearer token".to_string())
    } else {
        match session::caller_for(&state, token).await {
            Ok((_, claims)) => {
                let lifetime = claims.exp - chrono::Utc::now().timestamp();
                let cookie = session::set_cookie(
                    SESSION_COOKIE,
                    token,
                    "/",
                    lifetime.max(0),
                    session::is_https(&headers, &uri),
                );
                let spent = session::set_cookie(LOGIN_COOKIE, "", "/ui/login", 0, false);
                let mut response = Redirect::to(next).into_response();
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.parse().expect("cookie"));
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, spent.parse().expect("cookie"));
                return Ok(response);
            }
            Err(ApiError::Unauthorized(message)) => Some(message),
            Err(other) => return Err(other.into()),
        }
    };
    let page = LoginPage {
        chrome: Chrome::anonymous(form.csrf.unwrap_or_default()),
        next: next.to_string(),
        error: problem,
    };
    Ok((StatusCode::UNAUTHORIZED, super::render(&page)?).into_response())
}

/// POST /ui/logout
pub async fn logout(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.csrf.as_deref())?;
    let cleared = session::set_cookie(SESSION_COOKIE, "", "/", 0, false);
    Ok(([(header::SET_COOKIE, cleared)], Redirect::to("/ui/login")).into_response())
}

/// Where to go after logging in: a dashboard path, never another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next) if next.starts_with("/ui/") && !next.starts_with("//") && !next.contains('\\') => next,
        _ => "/ui/",
    }
}
