//! One-time login links (`evni dashboard-link --tenant NAME`): a URL valid
//! for ten minutes that logs its first visitor in. The link carries the
//! tenant, scope, expiry and an id, tagged with the service key (so it is
//! no bearer token for the API); its first use records the id in the token
//! revocation table, which every API process on the database shares, so a
//! second use is refused everywhere.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use evni_api::{ApiError, AppState, JwtKeys, Scope};
use evni_store::Tenant;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::UiError;
use crate::session::{self, SESSION_COOKIE};

/// How long a link may wait for its visit.
pub const LINK_SECONDS: i64 = 600;
/// Lifetime of the session a link opens.
pub const SESSION_SECONDS: u64 = 8 * 3600;
const PURPOSE: &str = "ui-login-link";

#[derive(Serialize, Deserialize)]
struct LinkClaims {
    tenant: Uuid,
    scope: Scope,
    exp: i64,
    jti: Uuid,
}

/// The login URL under `base` (e.g. `https://evni.example.com`) for
/// `tenant` with `scope`, valid for ten minutes from now.
pub fn login_url(keys: &JwtKeys, base: &str, tenant: &Tenant, scope: Scope) -> String {
    let claims = LinkClaims {
        tenant: tenant.id,
        scope,
        exp: chrono::Utc::now().timestamp() + LINK_SECONDS,
        jti: Uuid::new_v4(),
    };
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims).expect("claims serialise"));
    let tag = keys.tag(PURPOSE, body.as_bytes());
    format!("{}/ui/login/link?token={body}.{tag}", base.trim_end_matches('/'))
}

/// The link's claims if its tag is the service's and it has not expired.
fn verify(keys: &JwtKeys, token: &str) -> Result<LinkClaims, ApiError> {
    let invalid = || ApiError::Unauthorized("this login link is not valid".into());
    let (body, tag) = token.split_once('.').ok_or_else(invalid)?;
    if !keys.check_tag(PURPOSE, body.as_bytes(), tag) {
        return Err(invalid());
    }
    let claims: LinkClaims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(invalid)?;
    if claims.exp < chrono::Utc::now().timestamp() {
        return Err(ApiError::Unauthorized(
            "this login link has expired (links last ten minutes): run evni dashboard-link again".into(),
        ));
    }
    Ok(claims)
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// GET /ui/login/link?token=...: spends the link and opens a session.
pub async fn follow(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<LinkQuery>,
) -> Result<Response, UiError> {
    let claims = verify(&state.keys, &query.token)?;
    let tenant = state
        .engine
        .tenants
        .get(claims.tenant)
        .await
        .map_err(|e| match e {
            evni_store::StoreError::NotFound { .. } => {
                ApiError::Unauthorized("the link's tenant no longer exists".into())
            }
            other => other.into(),
        })?;
    // Spent before the session is opened: of two visits, one wins.
    if !state.engine.store().revoke_token(claims.jti).await? {
        return Err(ApiError::Unauthorized(
            "this login link was used already: run evni dashboard-link again".into(),
        )
        .into());
    }
    let token = state.keys.issue(
        &tenant,
        claims.scope,
        std::time::Duration::from_secs(SESSION_SECONDS),
    )?;
    let cookie = session::set_cookie(
        SESSION_COOKIE,
        &token,
        "/",
        SESSION_SECONDS as i64,
        session::is_https(&headers, &uri),
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/ui/")).into_response())
}
