//! The OpenAPI 3.1 description, generated from the handlers and types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::explain;

use crate::routes::{batch, feedback, ocpp, sessions, settings, stations};

#[derive(OpenApi)]
#[openapi(
    info(title = "evni — EV Network Intelligence API", version = "1.0.0",
        description = "Push OCPP meter values of charging sessions, get anomaly verdicts back."),
    paths(
        sessions::create, sessions::replace, sessions::append, sessions::list, sessions::detail,
        batch::submit, batch::status, feedback::create, explain::explain, explain::ask, stations::list, stations::detail, stations::connectors, stations::patch,
        stations::statistics, settings::get, settings::patch,
        ocpp::ingest,
    ),
    modifiers(&BearerAuth),
    tags((name = "sessions"), (name = "stations"), (name = "statistics"), (name = "settings"), (name = "batches"), (name = "ocpp"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::routes::health::HealthDoc::openapi());
    doc.merge(crate::routes::webhooks::WebhooksDoc::openapi());
    doc.merge(crate::routes::models::ModelsDoc::openapi());
    doc
}
