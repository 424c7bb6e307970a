//! The session engine: applies create / replace / append commands to a
//! session, re-analyses it and writes the result durably.
//!
//! Live sessions are kept hot in memory so an append costs one merge, one
//! analysis and one grouped commit instead of re-reading every reading. The
//! database stays the source of truth: every write carries the version the
//! hot copy was built from, and a stale copy (another API process wrote the
//! session) is reloaded and the command applied again.

mod command;
mod context;
mod error;
mod hot;
mod inference;
mod merge;
pub mod registry;
mod tenants;
mod verdict;
pub mod view;

use std::sync::Arc;

use evni_domain::{ExternalId, FeedbackLabel, Reading};
use evni_store::{
    FeedbackRecord, InferenceRecord, ReadingsChange, SessionHeader, SessionWrite, Store, StoreError,
    StoredSession, Tenant,
};

pub use command::{Command, NewSession};
pub use context::{rated_power_kw, session_rated_power_kw};
pub use error::EngineError;
use hot::HotSessions;
pub use merge::normalize as normalize_readings;
pub use tenants::TenantCache;
pub use view::SessionAnalysisResponse;

/// Attempts at a command when other processes keep winning the version race.
const MAX_ATTEMPTS: usize = 5;
/// Name recorded with each rule-based analysis in the inference history.
pub const RULES_MODEL: &str = "rules-1";

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Readings kept in memory across all hot sessions.
    pub hot_readings: u64,
    /// The learned models analysing with the rules; `None`: rules alone.
    pub models: Option<Arc<evni_models::Models>>,
    /// Analyses queued or running at once; beyond, commands answer 503.
    pub max_concurrent_analyses: usize,
    /// Threads that analyse sessions (see inference.rs).
    pub analysis_threads: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            hot_readings: 4_000_000,
            models: None,
            max_concurrent_analyses: 256,
            analysis_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// The state of a session after a command, for the response.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub header: SessionHeader,
    pub verdict: evni_store::Verdict,
    pub version: i64,
    /// The id of feedback recorded by this command.
    pub feedback_id: Option<i64>,
}

pub struct Engine {
    store: Arc<dyn Store>,
    /// Wakes workers when a job is enqueued in this process.
    pub jobs_enqueued: tokio::sync::Notify,
    hot: HotSessions,
    analyzer: inference::Analyzer,
    /// Each tenant's active models; without it every tenant gets `analyzer`'s.
    registry: Option<Arc<registry::ModelRegistry>>,
    stations: context::StationContexts,
    pub tenants: TenantCache,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, config: EngineConfig) -> Self {
        Self {
            jobs_enqueued: tokio::sync::Notify::new(),
            hot: HotSessions::new(config.hot_readings),
            analyzer: inference::Analyzer::new(
                config.models,
                config.max_concurrent_analyses,
                config.analysis_threads,
            ),
            registry: None,
            stations: context::StationContexts::default(),
            tenants: TenantCache::new(store.clone()),
            store,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Sessions and readings in the hot cache (for /metrics).
    pub fn hot_cache_size(&self) -> (usize, u64) {
        self.hot.size()
    }

    /// Analyses each tenant's sessions with its active models from
    /// `registry` (tenants without one: the registry's base models).
    pub fn with_registry(mut self, registry: Arc<registry::ModelRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    pub fn registry(&self) -> Option<&Arc<registry::ModelRegistry>> {
        self.registry.as_ref()
    }

    /// The models analysing `tenant`'s sessions (`None`: the rules alone).
    pub async fn models_for(
        &self,
        tenant: evni_store::TenantId,
    ) -> Result<Option<Arc<evni_models::Models>>, EngineError> {
        match &self.registry {
            Some(registry) => match registry.models_for(tenant).await {
                Ok(models) => Ok(Some(models)),
                // The active model's record or artifact is gone: not the session's fault.
                Err(e) if e.is_not_found() => Err(EngineError::Store(StoreError::caused_by(
                    "the tenant's active model could not be found",
                    e,
                ))),
                Err(e) => Err(e.into()),
            },
            None => Ok(self.analyzer.models().cloned()),
        }
    }

    /// The learned models analysing with the rules, if any.
    pub fn models(&self) -> Option<&Arc<evni_models::Models>> {
        self.analyzer.models()
    }

    /// Inference-history name of the analysis: rules and model versions.
    pub fn analysis_id(&self) -> &str {
        self.analyzer.model_id()
    }

    /// Station metadata changed: analyses pick up the new rated power.
    pub fn station_changed(&self) {
        self.stations.invalidate();
    }

    /// Applies `command` to the session `external_id` of `tenant`.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.name, session = %external_id))]
    pub async fn apply(
        &self,
        tenant: &Tenant,
        external_id: &ExternalId,
        command: Command,
    ) -> Result<SessionState, EngineError> {
        let slot = self.hot.slot(tenant.id, external_id.as_str());
        let mut hot = slot.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            if hot.is_none() {
                *hot = self.store.load_session(tenant.id, external_id.as_str()).await?;
            }
            // Out of the slot while this attempt runs (an append moves its
            // readings into the new state): an attempt that fails, or whose
            // request is dropped midway, leaves the slot empty, to be
            // reloaded from the store, never half-changed.
            let mut current = hot.take();
            let Some(Plan { write, merged }) =
                self.plan(tenant, external_id, current.as_mut(), &command).await?
            else {
                let current = current.expect("a no-op needs an existing session");
                let state = state_of(&current);
                *hot = Some(current);
                return Ok(state);
            };
            let started = std::time::Instant::now();
            let written = self.store.write_session(write.clone()).await;
            metrics::histogram!("evni_store_write_seconds").record(started.elapsed().as_secs_f64());
            match written {
                Ok(outcome) => {
                    record_analysis(&write.verdict);
                    let mut verdict = write.verdict;
                    verdict.is_recurring = outcome.is_recurring;
                    let session = StoredSession {
                        header: write.header,
                        version: outcome.version,
                        readings: merged,
                        verdict,
                    };
                    let state = SessionState {
                        feedback_id: outcome.feedback_id,
                        ..state_of(&session)
                    };
                    self.hot
                        .reweigh(&slot, session.readings.len(), tenant.id, external_id.as_str());
                    *hot = Some(session);
                    return Ok(state);
                }
                Err(StoreError::Conflict(reason)) => {
                    tracing::debug!(%reason, "stale hot session, reloading");
                }
                // The outcome is unknown: the next command reloads.
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(
            "the session is being changed concurrently; retry".into(),
        ))
    }

    /// Builds the write for `command` on top of `current`, with the merged
    /// readings; `None` when the command changes nothing.
    async fn plan(
        &self,
        tenant: &Tenant,
        external_id: &ExternalId,
        current: Option<&mut StoredSession>,
        command: &Command,
    ) -> Result<Option<Plan>, EngineError> {
        let now = chrono::Utc::now().timestamp_micros();
        let expected_version = current.as_ref().map(|c| c.version);
        let (header, merged, change) = match (command, current) {
            (
                Command::Append {
                    readings,
                    metadata: None,
                },
                Some(_),
            ) if readings.is_empty() => return Ok(None),
            (Command::Create(new), current) => {
                let current = current.as_deref();
                let header = new.header(external_id, current.map(|c| &c.header), now);
                let (merged, changed) = merge::merge(current.map_or(&[][..], |c| &c.readings), &new.readings);
                (header, merged, ReadingsChange::Upsert(changed))
            }
            (Command::Replace { readings, metadata }, Some(current)) => {
                let mut header = current.header.clone();
                if let Some(metadata) = metadata {
                    header.metadata = Some(metadata.clone());
                }
                let merged = merge::normalize(readings);
                (header, merged.clone(), ReadingsChange::Replace(merged))
            }
            (Command::Append { readings, metadata }, Some(current)) => {
                let mut header = current.header.clone();
                if let Some(metadata) = metadata {
                    header.metadata = Some(metadata.clone());
                }
                let (merged, changed) = merge::append(&mut current.readings, readings);
                (header, merged, ReadingsChange::Upsert(changed))
            }
            (Command::Feedback { label, comment }, Some(current)) => {
                let context = self
                    .stations
                    .context(self.store.as_ref(), tenant.id, &current.header)
                    .await?;
                let summary = session_facts(&current.readings, &context);
                return Ok(Some(feedback_plan(
                    tenant,
                    current,
                    *label,
                    comment.clone(),
                    summary,
                )));
            }
            (Command::Replace { .. } | Command::Append { .. } | Command::Feedback { .. }, None) => {
                return Err(EngineError::NotFound {
                    entity: "session",
                    id: external_id.as_str().to_owned(),
                })
            }
        };

        let context = self
            .stations
            .context(self.store.as_ref(), tenant.id, &header)
            .await?;
        let models = self.models_for(tenant.id).await?;
        let model_id = inference::model_id(models.as_deref());
        let (examination, merged) = self.analyzer.analyze(models.as_ref(), merged, context).await?;
        let outcome = examination.outcome;
        let summary = examination.summary.map(facts_of);
        let verdict = verdict::from_outcome(&outcome, &tenant.settings, header.feedback, now);
        let inference = match &outcome {
            evni_analysis::Outcome::Pending => None,
            evni_analysis::Outcome::Analyzed(a) => Some(InferenceRecord {
                model: model_id,
                readings_analyzed: a.readings_analyzed,
            }),
            evni_analysis::Outcome::Failed { .. } => Some(InferenceRecord {
                model: model_id,
                readings_analyzed: merged.len(),
            }),
        };
        let write = SessionWrite {
            tenant: tenant.id,
            header,
            expected_version,
            readings: change,
            reading_count: merged.len(),
            started_at: merged.first().map(|r| r.ts),
            verdict,
            inference,
            feedback: None,
            summary,
        };
        Ok(Some(Plan { write, merged }))
    }
}

/// A write ready for the store, with the readings the session will hold.
struct Plan {
    write: SessionWrite,
    merged: Vec<Reading>,
}

/// Feedback changes the incident flag, not the analysis.
fn feedback_plan(
    tenant: &Tenant,
    current: &StoredSession,
    label: FeedbackLabel,
    comment: Option<String>,
    summary: Option<evni_store::SessionFacts>,
) -> Plan {
    let mut header = current.header.clone();
    header.feedback = Some(label);
    let mut verdict = current.verdict.clone();
    if verdict.status == evni_domain::SessionStatus::Active {
        verdict.is_incident = Some(verdict::incident(Some(label), || false));
    }
    let write = SessionWrite {
        tenant: tenant.id,
        header,
        expected_version: Some(current.version),
        readings: ReadingsChange::Upsert(Vec::new()),
        reading_count: current.readings.len(),
        started_at: current.readings.first().map(|r| r.ts),
        verdict,
        inference: None,
        feedback: Some(FeedbackRecord { label, comment }),
        summary,
    };
    Plan {
        write,
        merged: current.readings.clone(),
    }
}

fn state_of(session: &StoredSession) -> SessionState {
    SessionState {
        header: session.header.clone(),
        verdict: session.verdict.clone(),
        version: session.version,
        feedback_id: None,
    }
}

/// What the session adds to its station's day (station health).
fn session_facts(
    readings: &[Reading],
    context: &evni_analysis::SessionContext,
) -> Option<evni_store::SessionFacts> {
    evni_analysis::summarize(readings, context).map(facts_of)
}

fn facts_of(s: evni_analysis::SessionSummary) -> evni_store::SessionFacts {
    evni_store::SessionFacts {
        energy_kwh: s.energy_kwh,
        plateau_kw: s.plateau_kw,
        is_zero: s.is_zero,
    }
}

/// Counts a stored analysis and its anomalies for /metrics.
fn record_analysis(verdict: &evni_store::Verdict) {
    if verdict.analyzed_at.is_none() {
        return;
    }
    metrics::counter!("evni_analyses_total").increment(1);
    for anomaly in &verdict.anomalies {
        metrics::counter!(
            "evni_anomalies_total",
            "detector" => anomaly.detector.as_str(),
            "category" => anomaly.category.as_str()
        )
        .increment(1);
    }
}
