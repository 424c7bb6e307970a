//! /v1/settings: the tenant's analysis settings.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::json::JsonBody;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct SettingsResponse {
    /// A session is anomalous when its anomaly_score reaches this (0 < t <= 1).
    pub anomaly_threshold: f64,
    /// Extension: IANA time zone whose days are the stations' days for
    /// station health, unless a station's metadata names its own.
    #[schema(example = "Europe/Amsterdam")]
    pub time_zone: String,
}

impl SettingsResponse {
    fn of(settings: &evni_store::TenantSettings) -> Self {
        Self {
            anomaly_threshold: settings.anomaly_threshold,
            time_zone: settings.time_zone.clone().unwrap_or_else(|| "UTC".into()),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// New threshold, above 0 and at most 1. Applies to analyses from now on.
    #[serde(default)]
    pub anomaly_threshold: Option<f64>,
    /// Extension: an IANA time zone name such as "America/Denver". A
    /// change moves the stations' history to the new days (those without
    /// a `time_zone` of their own).
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// Whether `name` is an IANA time zone name: the tenant's setting and a
/// station's metadata take the same names.
pub(crate) fn is_time_zone(name: &str) -> bool {
    name.parse::<chrono_tz::Tz>().is_ok()
}

/// The tenant's settings.
#[utoipa::path(get, path = "/v1/settings", operation_id = "get_settings", tag = "settings",
    responses((status = 200, body = SettingsResponse)), security(("bearer" = [])))]
pub async fn get(caller: Caller) -> Result<Json<SettingsResponse>, ApiError> {
    caller.require(Scope::Read)?;
    Ok(Json(SettingsResponse::of(&caller.tenant.settings)))
}

/// Change the tenant's settings (admin scope).
#[utoipa::path(patch, path = "/v1/settings", operation_id = "patch_settings", tag = "settings", request_body = SettingsPatch,
    responses((status = 200, body = SettingsResponse), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<Json<SettingsResponse>, ApiError> {
    caller.require(Scope::Admin)?;
    let patch: SettingsPatch = body.parse()?;
    let mut settings = caller.tenant.settings;
    if let Some(threshold) = patch.anomaly_threshold {
        if !(threshold > 0.0 && threshold <= 1.0) {
            return Err(ApiError::validation(
                "anomaly_threshold",
                "must be above 0 and at most 1",
            ));
        }
        settings.anomaly_threshold = threshold;
    }
    if let Some(zone) = patch.time_zone {
        if !is_time_zone(&zone) {
            return Err(ApiError::validation(
                "time_zone",
                "must be an IANA time zone name such as \"Europe/Amsterdam\" or \"UTC\"",
            ));
        }
        settings.time_zone = Some(zone);
    }
    let tenant = state
        .engine
        .store()
        .update_tenant_settings(caller.tenant.id, settings)
        .await?;
    state.engine.tenants.invalidate(tenant.id);
    Ok(Json(SettingsResponse::of(&tenant.settings)))
}
