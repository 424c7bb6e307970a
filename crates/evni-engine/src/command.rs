//! What a client asks the engine to do to a session.

use evni_domain::{ConnectorId, ExternalId, FeedbackLabel, Micros, Reading};
use evni_store::SessionHeader;

/// A validated session command.
#[derive(Debug, Clone)]
pub enum Command {
    /// POST: create, or upsert when the session exists (descriptive fields
    /// updated, readings merged by identity).
    Create(NewSession),
    /// PUT: replace every reading.
    Replace {
        readings: Vec<Reading>,
        metadata: Option<serde_json::Value>,
    },
    /// PATCH: append (merge by identity).
    Append {
        readings: Vec<Reading>,
        metadata: Option<serde_json::Value>,
    },
    /// An operator's judgement of the verdict.
    Feedback {
        label: FeedbackLabel,
        comment: Option<String>,
    },
}

impl Command {
    pub fn metadata(&self) -> Option<&serde_json::Value> {
        match self {
            Command::Create(new) => new.metadata.as_ref(),
            Command::Replace { metadata, .. } | Command::Append { metadata, .. } => metadata.as_ref(),
            Command::Feedback { .. } => None,
        }
    }
}

/// The body of a POST.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub station: ExternalId,
    pub connector_id: Option<ConnectorId>,
    pub evse_id: Option<ExternalId>,
    pub metadata: Option<serde_json::Value>,
    pub readings: Vec<Reading>,
}

impl NewSession {
    /// The header after this POST: fields it carries replace the existing
    /// ones, fields it omits keep their value.
    pub(crate) fn header(
        &self,
        external_id: &ExternalId,
        existing: Option<&SessionHeader>,
        now: Micros,
    ) -> SessionHeader {
        let text = |id: &Option<ExternalId>| id.as_ref().map(|id| id.as_str().to_owned());
        match existing {
            Some(existing) => SessionHeader {
                uuid: existing.uuid,
                external_id: existing.external_id.clone(),
                station_external_id: self.station.as_str().to_owned(),
                connector_id: text(&self.connector_id).or_else(|| existing.connector_id.clone()),
                evse_id: text(&self.evse_id).or_else(|| existing.evse_id.clone()),
                metadata: self.metadata.clone().or_else(|| existing.metadata.clone()),
                created_at: existing.created_at,
                feedback: existing.feedback,
            },
            None => SessionHeader {
                uuid: uuid::Uuid::now_v7(),
                external_id: external_id.as_str().to_owned(),
                station_external_id: self.station.as_str().to_owned(),
                connector_id: text(&self.connector_id),
                evse_id: text(&self.evse_id),
                metadata: self.metadata.clone(),
                created_at: now,
                feedback: None,
            },
        }
    }
}
