//! The OpenAPI 3.1 description, generated from the handlers and types.
//!
//! Each handler's annotation documents what that handler answers (its
//! operationId, 200, and the 404/409/422/429 its body can return); the
//! answers every operation of a kind shares are added here in one place, so
//! no operation can forget them:
//! - an operation with a bearer security requirement: 401 (no, a malformed
//!   or an expired token), 403 (the token's scope is too small) and 503 (the
//!   store is briefly unavailable; see Retry-After);
//! - an operation with a path parameter: 400 (the parameter is not UTF-8);
//! - an operation with a JSON request body: 400 (malformed JSON), 413 (over
//!   the body limit) and 422 (a field is wrong or unknown); 415 (not
//!   `application/json`) when the body is required (an optional one, like
//!   explain's, is read whatever its Content-Type).
//!
//! Request bodies refuse unknown fields (only free-form `metadata` objects
//! are open), so every object schema a request body refers to is closed with
//! `additionalProperties: false` here too.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes::explain;

use crate::routes::{batch, feedback, ocpp, sessions, settings, stations};

#[derive(OpenApi)]
#[openapi(
    info(title = "evni — EV Network Intelligence API", version = "1.0.0",
        description = "Push OCPP meter values of charging sessions, get anomaly verdicts back."),
    paths(
        sessions::create, sessions::replace, sessions::append, sessions::list, sessions::detail,
        batch::submit, batch::list, batch::status, feedback::create, explain::explain, explain::ask, stations::list, stations::detail, stations::connectors, stations::patch,
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
    doc.merge(crate::routes::network::NetworkDoc::openapi());
    doc.merge(crate::routes::webhooks::WebhooksDoc::openapi());
    doc.merge(crate::routes::models::ModelsDoc::openapi());
    add_shared_responses(&mut doc);
    close_request_schemas(&mut doc);
    add_enumerations(&mut doc);
    doc
}

/// The closed value sets that travel as strings, taken from the types that
/// parse or write them, so the document cannot drift from the code.
fn add_enumerations(doc: &mut utoipa::openapi::OpenApi) {
    use evni_domain::{Location, Measurand, Phase, ReadingContext, UnitOfMeasure};
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let ocpp: [(&str, Vec<&str>); 5] = [
        ("measurand", Measurand::accepted()),
        ("unit", UnitOfMeasure::accepted()),
        ("phase", Phase::accepted()),
        ("location", Location::accepted()),
        ("context", ReadingContext::accepted()),
    ];
    for (property, values) in &ocpp {
        restrict(components, "MeterValue", property, values);
        restrict(components, "MeterValueOut", property, values);
    }
    let batch = ["pending", "processing", "completed", "failed"];
    restrict(components, "BatchSubmitResponse", "status", &batch);
    restrict(components, "BatchStatusResponse", "status", &batch);
    let job = ["queued", "running", "completed", "failed"];
    restrict(components, "FineTuneCreated", "status", &job);
    restrict(components, "FineTuneStatus", "status", &job);
    restrict(components, "DataSourceIn", "type", &["sessions", "upload"]);
}

/// Restricts a string property to `values` (and null when it is nullable).
fn restrict(components: &mut utoipa::openapi::Components, schema: &str, property: &str, values: &[&str]) {
    let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
        return;
    };
    let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(property) else {
        return;
    };
    let nullable = matches!(&property.schema_type, SchemaType::Array(types) if types.contains(&Type::Null));
    let mut allowed: Vec<serde_json::Value> = values.iter().map(|v| (*v).into()).collect();
    if nullable {
        allowed.push(serde_json::Value::Null);
    }
    property.enum_values = Some(allowed);
}

/// Media types whose bodies go through the JSON body extractor.
const JSON_BODY: &str = "application/json";

fn add_shared_responses(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            optional_body(operation);
            add_to_operation(operation);
            describe(operation);
        }
    }
}

fn add_to_operation(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    if secured {
        add(operation, "401", "Missing, malformed or expired bearer token");
        add(operation, "403", "The token's scope does not allow this call");
        add(
            operation,
            "503",
            "The store is briefly unavailable; retry after `Retry-After` seconds",
        );
    }
    let path_parameters = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Path);
    let json_body = operation
        .request_body
        .as_ref()
        .filter(|body| body.content.contains_key(JSON_BODY))
        .map(|body| matches!(body.required, Some(Required::True)));
    match (path_parameters, json_body.is_some()) {
        (true, true) => add(
            operation,
            "400",
            "A path parameter is not UTF-8, or the body is not well-formed JSON",
        ),
        (true, false) => add(operation, "400", "A path parameter is not UTF-8"),
        (false, true) => add(operation, "400", "The body is not well-formed JSON"),
        (false, false) => {}
    }
    if let Some(required) = json_body {
        add(operation, "413", "The body exceeds the configured limit");
        if required {
            add(operation, "415", "The Content-Type is not application/json");
        }
        add(
            operation,
            "422",
            "A field is missing, wrong or unknown; `details` names each one",
        );
    }
}

/// utoipa writes `request_body = Option<T>` as a required body of `T` or
/// `null`; the handlers mean an optional body of `T` (a `null` body is a 422).
fn optional_body(operation: &mut Operation) {
    let Some(body) = operation.request_body.as_mut() else {
        return;
    };
    for content in body.content.values_mut() {
        let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
            continue;
        };
        let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
        if let [first, second] = one_of.items.as_slice() {
            let inner = match (is_null(first), is_null(second)) {
                (true, false) => second.clone(),
                (false, true) => first.clone(),
                _ => continue,
            };
            content.schema = Some(inner);
            body.required = Some(Required::False);
        }
    }
}

/// Fills in the descriptions the handlers leave empty.
fn describe(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !response.description.is_empty() {
            continue;
        }
        response.description = match status.as_str() {
            "200" => "OK",
            "201" => "Created",
            "204" => "Done; no body",
            "400" => "The request cannot be read",
            "401" => "Missing, malformed or expired bearer token",
            "403" => "The token's scope does not allow this call",
            "404" => "Not found (another tenant's is not found either)",
            "409" => "Conflicts with the current state",
            "413" => "The body exceeds the configured limit",
            "415" => "Unsupported Content-Type",
            "422" => "A field or parameter is missing, wrong or unknown; `details` names each one",
            "429" => "Rate limited; retry after `Retry-After` seconds",
            _ => "See the error's message",
        }
        .to_owned();
    }
}

/// Adds an error response unless the handler documents that status itself.
fn add(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(error_response(description)));
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// Sets `additionalProperties: false` on every component schema a request
/// body refers to, directly or through other components.
fn close_request_schemas(doc: &mut utoipa::openapi::OpenApi) {
    let mut pending: Vec<String> = Vec::new();
    for item in doc.paths.paths.values() {
        let operations = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
        for operation in operations.into_iter().flatten() {
            let bodies = operation.request_body.iter().flat_map(|b| b.content.values());
            for schema in bodies.filter_map(|content| content.schema.as_ref()) {
                references(schema, &mut pending);
            }
        }
    }
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let mut closed = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !closed.insert(name.clone()) {
            continue;
        }
        if let Some(RefOr::T(schema)) = components.schemas.get_mut(&name) {
            if let Schema::Object(object) = schema {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
            references(&RefOr::T(schema.clone()), &mut pending);
        }
    }
}

/// The component names `schema` refers to, one level deep.
fn references(schema: &RefOr<Schema>, names: &mut Vec<String>) {
    let schema = match schema {
        RefOr::Ref(r) => {
            if let Some(name) = r.ref_location.strip_prefix("#/components/schemas/") {
                names.push(name.to_owned());
            }
            return;
        }
        RefOr::T(schema) => schema,
    };
    match schema {
        Schema::Object(object) => {
            for property in object.properties.values() {
                references(property, names);
            }
        }
        Schema::Array(array) => {
            if let utoipa::openapi::schema::ArrayItems::RefOrSchema(items) = &array.items {
                references(items, names);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter().for_each(|s| references(s, names)),
        Schema::AllOf(all_of) => all_of.items.iter().for_each(|s| references(s, names)),
        Schema::AnyOf(any_of) => any_of.items.iter().for_each(|s| references(s, names)),
        _ => {}
    }
}
