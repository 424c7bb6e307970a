//! Request bodies: content type, size limit and parsing with field paths.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use evni_domain::{FieldError, ValidationErrors};
use serde::Deserialize;

use crate::body;
use crate::error::ApiError;
use crate::requests::BatchIn;
use crate::AppState;

/// A JSON request body that passed the content-type and size checks. Parse
/// it with [`JsonBody::parse`], which may borrow from it.
pub struct JsonBody(pub Bytes);

/// A batch submission, parsed as it streams in under the batch limits.
pub struct BatchBody(pub BatchIn<'static>);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read(req, &state.limits).await
    }
}

impl FromRequest<AppState> for BatchBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limits = state.limits;
        check_headers(&req, limits.max_batch_body_bytes)?;
        body::parse_streaming(
            req.into_body(),
            limits.max_batch_body_bytes,
            limits.body_grace,
            move |reader| {
                body::with_limits(limits.max_batch_sessions, limits.max_meter_values, || {
                    parse_json_reader(reader)
                })
            },
        )
        .await
        .map(BatchBody)
    }
}

/// A body that may be empty and carry any content type (explain's `{}`),
/// read within the same limits.
pub struct OptionalBody(pub Bytes);

impl FromRequest<AppState> for OptionalBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.limits.max_body_bytes;
        check_length(&req, limit)?;
        body::collect(req.into_body(), limit, state.limits.body_grace)
            .await
            .map(OptionalBody)
    }
}

async fn read(req: Request, limits: &crate::Limits) -> Result<JsonBody, ApiError> {
    check_headers(&req, limits.max_body_bytes)?;
    body::collect(req.into_body(), limits.max_body_bytes, limits.body_grace)
        .await
        .map(JsonBody)
}

/// Content type and declared length, checked before any byte is read.
pub fn check_headers(req: &Request, limit: usize) -> Result<(), ApiError> {
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
    check_length(req, limit)
}

/// A declared Content-Length over the limit is refused at once. (A gzip
/// body's length is checked again decoded, as it streams.)
pub fn check_length(req: &Request, limit: usize) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(format!(
            "request body exceeds the limit of {limit} bytes"
        )));
    }
    Ok(())
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
        return Err(not_an_object());
    }
    deserialize(&mut serde_json::Deserializer::from_slice(bytes))
}

/// Like [`parse_json`], reading as it parses: strings are owned, so the
/// result outlives the reader.
pub fn parse_json_reader<T: Deserialize<'static>>(reader: &mut dyn std::io::BufRead) -> Result<T, ApiError> {
    let first = loop {
        let buffer = reader.fill_buf().map_err(body::io_error)?;
        match buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break Some(buffer[i]),
            None if buffer.is_empty() => break None,
            None => {
                let n = buffer.len();
                reader.consume(n);
            }
        }
    };
    if first == Some(b'[') {
        return Err(not_an_object());
    }
    deserialize(&mut serde_json::Deserializer::from_reader(reader))
}

fn not_an_object() -> ApiError {
    ApiError::validation("body", "expected a JSON object, got an array")
}

fn deserialize<'de, R, T>(deserializer: &mut serde_json::Deserializer<R>) -> Result<T, ApiError>
where
    R: serde_json::de::Read<'de>,
    T: Deserialize<'de>,
{
    let value = serde_path_to_error::deserialize(&mut *deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => data_error(&path, &inner),
            serde_json::error::Category::Io => body::io_error(inner.into()),
            _ => ApiError::MalformedJson(format!("malformed JSON: {inner}")),
        }
    })?;
    deserializer.end().map_err(|e| match e.classify() {
        serde_json::error::Category::Io => body::io_error(e.into()),
        _ => ApiError::MalformedJson(format!("malformed JSON: {e}")),
    })?;
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
