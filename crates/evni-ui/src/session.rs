//! The dashboard's login session: the pasted bearer token in an HttpOnly,
//! SameSite=Strict cookie that expires with the token, and CSRF tokens bound
//! to that cookie.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use evni_api::{ApiError, AppState, Caller, Claims, Scope};

use crate::error::UiError;

pub const SESSION_COOKIE: &str = "evni_session";

/// A form that carries nothing but its CSRF token (logout, delete, activate,
/// send a test event).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: Option<String>,
}
/// Nonce cookie of the login form (login CSRF, before there is a session).
pub const LOGIN_COOKIE: &str = "evni_login";
const CSRF_PURPOSE: &str = "ui-csrf";
const LOGIN_PURPOSE: &str = "ui-login";

/// A logged-in dashboard user: the same [`Caller`] the API sees for the
/// token, and the CSRF token every form of the page carries.
pub struct Ui {
    pub caller: Caller,
    pub csrf: String,
    /// The session's bearer token.
    token: String,
}

impl Ui {
    pub fn can(&self, scope: Scope) -> bool {
        self.caller.scope >= scope
    }

    /// Refuses a form whose CSRF token is missing or not this session's.
    pub fn check_csrf(&self, state: &AppState, token: Option<&str>) -> Result<(), UiError> {
        match token {
            Some(token) if state.keys.check_tag(CSRF_PURPOSE, self.token.as_bytes(), token) => Ok(()),
            _ => Err(UiError::Csrf),
        }
    }
}

/// Verifies `token` as the API does and finds its tenant.
pub async fn caller_for(state: &AppState, token: &str) -> Result<(Caller, Claims), ApiError> {
    let claims = state.keys.verify(token)?;
    let tenant = state.engine.tenants.get(claims.sub).await.map_err(|e| match e {
        evni_store::StoreError::NotFound { .. } => {
            ApiError::Unauthorized("the token's tenant no longer exists".into())
        }
        other => other.into(),
    })?;
    let caller = Caller {
        tenant,
        scope: claims.scope,
    };
    Ok((caller, claims))
}

impl FromRequestParts<AppState> for Ui {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let login = || UiError::LoginRequired(parts.uri.path_and_query().map(|p| p.to_string()));
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(login)?;
        let (caller, _) = caller_for(state, &token).await.map_err(|e| match e {
            ApiError::Unauthorized(_) => login(),
            other => UiError::Api(other),
        })?;
        Ok(Ui {
            caller,
            csrf: state.keys.tag(CSRF_PURPOSE, token.as_bytes()),
            token,
        })
    }
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over https (directly or via a proxy).
pub fn is_https(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, and Secure over https.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// The login form's CSRF token for its nonce cookie.
pub fn login_csrf(state: &AppState, nonce: &str) -> String {
    state.keys.tag(LOGIN_PURPOSE, nonce.as_bytes())
}

pub fn check_login_csrf(state: &AppState, nonce: Option<&str>, token: Option<&str>) -> bool {
    match (nonce, token) {
        (Some(nonce), Some(token)) => state.keys.check_tag(LOGIN_PURPOSE, nonce.as_bytes(), token),
        _ => false,
    }
}

/// A fresh random nonce, base64url.
pub fn nonce() -> String {
    use base64::Engine as _;
    let bytes: [u8; 24] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
