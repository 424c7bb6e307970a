//! One module per page.

pub mod batches;
pub mod chart;
pub mod link;
pub mod login;
pub mod models;
pub mod overview;
pub mod session;
pub mod sessions;
pub mod settings;
pub mod stations;
pub mod webhooks;

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use crate::error::UiError;

/// Renders a page template, or the error page when rendering fails.
pub fn render(page: &impl Template) -> Result<Response, UiError> {
    Ok(Html(page.render()?).into_response())
}

/// A verdict in words and as a CSS class.
pub fn verdict_words(is_anomaly: Option<bool>) -> (&'static str, &'static str) {
    match is_anomaly {
        Some(true) => ("anomaly", "anomaly"),
        Some(false) => ("normal", "normal"),
        None => ("not analysed", "pending"),
    }
}
