//! Request bodies: content type, size limit and parsing with field paths.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use evni_domain::{FieldError, ValidationErrors};
use serde::Deserialize;

use crate::error::ApiError;
use crate::AppState;

/// A JSON request body that passed the content-type and size checks. Parse
/// it with [`JsonBody::parse`], which may borrow from it.
pub struct JsonBody(pub Bytes);

/// Like [`JsonBody`], with the larger limit of batch submissions.
pub struct BatchBody(pub JsonBody);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read(req, state.limits.max_body_bytes).await
    }
}

impl FromRequest<AppState> for BatchBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read(req, state.limits.max_batch_body_bytes).await.map(BatchBody)
    }
}

async fn read(req: Request, limit: usize) -> Result<JsonBody, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !is_json(content_type) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "expected Content-Type: application/json, got '{content_type}'"
        )));
    }
    let too_large = || ApiError::PayloadTooLarge(format!("request body exceeds the limit of {limit} bytes"));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            too_large()
        } else {
            ApiError::MalformedJson(format!("could not read the request body: {e}"))
        }
    })?;
    Ok(JsonBody(bytes))
}

impl JsonBody {
    /// Parses the body: broken JSON is a 400, JSON of the wrong shape a 422
    /// naming the field path.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, ApiError> {
        parse_json(&self.0)
    }
}

/// Parses a JSON object body. Unknown fields are refused with the field's
/// path and the accepted names: a misspelt or foreign field (`measurnd`,
/// OCPP 2.0.1's `unitOfMeasure`) silently ignored would misread the data.
pub fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    // serde's derived structs also accept a JSON array, field by field in
    // order; no body of this API is positional.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::validation(
            "body",
            "expected a JSON object, got an array",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => data_error(&path, &inner),
            _ => ApiError::MalformedJson(format!("malformed JSON: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::MalformedJson(format!("malformed JSON: {e}")))?;
    Ok(value)
}

fn data_error(path: &str, error: &serde_json::Error) -> ApiError {
    let message = strip_position(error);
    match unknown_field(&message) {
        Some((name, accepted)) => {
            let field = match path_or_body(path) {
                // The path may already end at the unknown key.
                p if p.ends_with(name) => p,
                p if p == "body" => name.to_owned(),
                p => format!("{p}.{name}"),
            };
            ApiError::Validation(ValidationErrors::single(
                FieldError::new(field, "is not a known field").with_accepted(accepted),
            ))
        }
        None => ApiError::validation(path_or_body(path), message),
    }
}

/// Reads serde's "unknown field `x`, expected one of `a`, `b`" (or
/// "expected `a`", or "there are no fields") into the name and the accepted ones.
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, expected) = rest.split_once('`')?;
    let accepted = expected.split('`').skip(1).step_by(2).collect();
    Some((name, accepted))
}

fn path_or_body(path: &str) -> String {
    if path == "." || path.is_empty() {
        "body".into()
    } else {
        path.to_string()
    }
}

/// serde_json appends "at line 1 column 42", which means nothing next to a
/// field path.
fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}
