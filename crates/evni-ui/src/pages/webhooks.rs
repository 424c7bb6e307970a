//! /ui/webhooks: the tenant's webhook endpoints, each with its latest
//! deliveries and every attempt. Admins create (the secret is shown once,
//! on the page the creation answers with) and delete them through the API's
//! own handlers.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use evni_api::json::JsonBody;
use evni_api::routes::webhooks;
use evni_api::{ApiError, AppState, Scope};
use evni_domain::micros_to_datetime;
use evni_store::{PageRequest, WebhookDelivery, WebhookEndpoint};
use serde::Deserialize;

use crate::error::UiError;
use crate::layout::{Chrome, Nav};
use crate::session::{CsrfForm, Ui};

/// Deliveries shown per endpoint: the newest; the API pages through all.
const DELIVERIES_SHOWN: u32 = 10;

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    can_manage: bool,
    endpoints: Vec<EndpointView>,
    /// The form as typed, with the API's error by field, after a refusal.
    form: CreateForm,
    errors: FieldErrors,
    /// Set once, on the answer to a successful creation.
    created: Option<Created>,
    deleted: bool,
    /// The webhook id of a test event just queued.
    tested: Option<String>,
}

struct Created {
    id: String,
    secret: String,
}

#[derive(Default)]
struct FieldErrors {
    url: Option<String>,
    authorization: Option<String>,
    description: Option<String>,
}

struct EndpointView {
    id: String,
    url: String,
    description: String,
    has_authorization: bool,
    created_at: String,
    total_deliveries: u64,
    deliveries: Vec<DeliveryView>,
}

struct DeliveryView {
    webhook_id: String,
    event: String,
    station: String,
    status: String,
    status_class: &'static str,
    created_at: String,
    next_attempt: String,
    attempts: Vec<AttemptView>,
}

struct AttemptView {
    at: String,
    outcome: String,
    ok: bool,
    duration_ms: u64,
}

fn time(micros: i64) -> String {
    micros_to_datetime(micros)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        let status_class = match d.status.as_str() {
            "delivered" => "normal",
            "failed" => "anomaly",
            _ => "pending",
        };
        Self {
            webhook_id: d.webhook_id,
            event: d.event,
            station: d.station_external_id,
            status_class,
            status: d.status,
            created_at: time(d.created_at),
            next_attempt: d.next_attempt_at.map(time).unwrap_or_else(|| "—".into()),
            attempts: d
                .attempts
                .into_iter()
                .map(|a| AttemptView {
                    at: time(a.attempted_at),
                    ok: a.status_code.is_some_and(|c| (200..300).contains(&c)),
                    outcome: match (a.status_code, a.error) {
                        (Some(code), _) => format!("HTTP {code}"),
                        (None, Some(error)) => error,
                        (None, None) => "no response".into(),
                    },
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

async fn endpoints(state: &AppState, ui: &Ui) -> Result<Vec<EndpointView>, UiError> {
    let store = state.engine.store();
    let tenant = ui.caller.tenant.id;
    let mut views = Vec::new();
    for WebhookEndpoint {
        id,
        url,
        description,
        has_authorization,
        created_at,
    } in store.list_webhook_endpoints(tenant).await?
    {
        let page = store
            .webhook_deliveries(
                tenant,
                &id,
                PageRequest {
                    page: 1,
                    page_size: DELIVERIES_SHOWN,
                },
            )
            .await?;
        views.push(EndpointView {
            id,
            url,
            description: description.unwrap_or_default(),
            has_authorization,
            created_at: time(created_at),
            total_deliveries: page.total,
            deliveries: page.items.into_iter().map(Into::into).collect(),
        });
    }
    Ok(views)
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    deleted: Option<String>,
    #[serde(default)]
    tested: Option<String>,
}

/// GET /ui/webhooks
pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
) -> Result<Response, UiError> {
    let page = WebhooksPage {
        endpoints: endpoints(&state, &ui).await?,
        chrome: Chrome::new(&ui, Nav::Webhooks),
        can_manage: ui.can(Scope::Admin),
        form: CreateForm::default(),
        errors: FieldErrors::default(),
        created: None,
        deleted: query.deleted.is_some(),
        tested: query.tested,
    };
    super::render(&page)
}

#[derive(Deserialize, Default)]
pub struct CreateForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    url: String,
    #[serde(default)]
    authorization: String,
    #[serde(default)]
    description: String,
}

/// POST /ui/webhooks: creates an endpoint and answers with the page showing
/// its secret (never in a URL, never again).
pub async fn create(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<CreateForm>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.csrf.as_deref())?;
    // Empty optional fields are left out, as an API client would.
    let optional = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
    let body = serde_json::json!({
        "url": form.url.trim(),
        "authorization": optional(&form.authorization),
        "description": optional(&form.description),
    });
    let body = JsonBody(Bytes::from(body.to_string()));
    let (status, created, errors) =
        match webhooks::create(State(state.clone()), ui.caller.clone(), body).await {
            Ok((_, created)) => {
                let created = created.0;
                let shown = Created {
                    id: created.endpoint.id,
                    secret: created.secret,
                };
                (StatusCode::CREATED, Some(shown), FieldErrors::default())
            }
            Err(ApiError::Validation(refused)) => {
                let mut errors = FieldErrors::default();
                for e in refused.errors {
                    let slot = match e.field.as_str() {
                        "authorization" => &mut errors.authorization,
                        "description" => &mut errors.description,
                        _ => &mut errors.url,
                    };
                    slot.get_or_insert(e.problem);
                }
                (StatusCode::UNPROCESSABLE_ENTITY, None, errors)
            }
            Err(other) => return Err(other.into()),
        };
    let form = if created.is_some() {
        CreateForm::default()
    } else {
        form
    };
    let page = WebhooksPage {
        endpoints: endpoints(&state, &ui).await?,
        chrome: Chrome::new(&ui, Nav::Webhooks),
        can_manage: true,
        form,
        errors,
        created,
        deleted: false,
        tested: None,
    };
    Ok((status, super::render(&page)?).into_response())
}

/// POST /ui/webhooks/{id}/delete
pub async fn delete(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.csrf.as_deref())?;
    webhooks::delete(State(state), ui.caller.clone(), evni_api::path::Path(id)).await?;
    Ok(Redirect::to("/ui/webhooks?deleted=1").into_response())
}

/// POST /ui/webhooks/{id}/test: queues a test event through the API's
/// handler, then shows the list where its attempts will appear.
pub async fn send_test(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    ui.check_csrf(&state, form.csrf.as_deref())?;
    let (_, queued) = webhooks::send_test(State(state), ui.caller.clone(), evni_api::path::Path(id)).await?;
    let to = format!(
        "/ui/webhooks?tested={}",
        crate::error::encode_component(&queued.0.webhook_id)
    );
    Ok(Redirect::to(&to).into_response())
}
