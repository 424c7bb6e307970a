//! Batch chunks: analyse a range of a batch's sessions as ordinary sessions.

use std::sync::Arc;

use async_trait::async_trait;
use evni_domain::ExternalId;
use evni_engine::{Command, Engine, EngineError, NewSession, SessionAnalysisResponse};
use evni_store::{BatchChunk, BatchResult, BatchSession, ClaimedJob, JobKind};
use tokio::task::JoinSet;

use crate::{JobError, JobHandler};

/// Sessions of one chunk written at once; their writes share commits.
const CONCURRENCY: usize = 64;

pub struct BatchHandler {
    engine: Arc<Engine>,
}

impl BatchHandler {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

#[async_trait]
impl JobHandler for BatchHandler {
    fn kind(&self) -> JobKind {
        JobKind::BatchChunk
    }

    async fn run(&self, job: &ClaimedJob, final_attempt: bool) -> Result<(), JobError> {
        let chunk: BatchChunk = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad batch job payload: {e}")))?;
        let store = self.engine.store();
        let tenant = store.tenant_by_id(job.tenant).await?;
        // Sessions recorded by an earlier attempt are not pending any more.
        let pending = store.batch_sessions(chunk).await?;
        let mut results = Vec::with_capacity(pending.len());
        let mut transient = None;
        let mut tasks = JoinSet::new();
        let mut queue = pending.into_iter();
        loop {
            while tasks.len() < CONCURRENCY {
                let Some((idx, session)) = queue.next() else { break };
                let engine = self.engine.clone();
                let tenant = tenant.clone();
                tasks.spawn(async move { (idx, analyse(&engine, &tenant, session).await) });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let (idx, outcome) =
                joined.map_err(|e| JobError::Transient(format!("batch task failed: {e}")))?;
            match outcome {
                Ok(result) => results.push((idx, result)),
                Err(SessionError::Permanent(body)) => results.push((idx, BatchResult { failed: true, body })),
                Err(SessionError::Transient(error, body)) if final_attempt => {
                    tracing::warn!(%error, idx, "batch session failed for good");
                    results.push((idx, BatchResult { failed: true, body }));
                }
                Err(SessionError::Transient(error, _)) => transient = Some(error),
            }
        }
        store.record_batch_results(chunk.batch, results).await?;
        match transient {
            Some(error) => Err(JobError::Transient(error)),
            None => Ok(()),
        }
    }
}

enum SessionError {
    /// Retrying cannot help; the body explains it in the results.
    Permanent(serde_json::Value),
    Transient(String, serde_json::Value),
}

async fn analyse(
    engine: &Engine,
    tenant: &evni_store::Tenant,
    session: BatchSession,
) -> Result<BatchResult, SessionError> {
    let failure = |message: String| serde_json::json!({"session_id": session.session_id, "status": "failed", "status_reason": message});
    let parse = |field: &str, id: &str| {
        ExternalId::parse(field, id).map_err(|e| SessionError::Permanent(failure(e.problem)))
    };
    let session_id = parse("session_id", &session.session_id)?;
    let command = Command::Create(NewSession {
        station: parse("charging_station_id", &session.station)?,
        connector_id: session
            .connector_id
            .as_deref()
            .map(|c| parse("connector_id", c))
            .transpose()?,
        evse_id: session
            .evse_id
            .as_deref()
            .map(|e| parse("evse_id", e))
            .transpose()?,
        metadata: session.metadata.clone(),
        readings: session.readings.clone(),
    });
    match engine.apply(tenant, &session_id, command).await {
        Ok(state) => {
            let view = SessionAnalysisResponse::new(session_id.as_str(), &state.verdict)
                .with_sequence_length(&state.verdict);
            let body =
                serde_json::to_value(view).map_err(|e| SessionError::Permanent(failure(e.to_string())))?;
            Ok(BatchResult { failed: false, body })
        }
        Err(e @ (EngineError::Conflict(_) | EngineError::Unavailable(_) | EngineError::Store(_))) => {
            Err(SessionError::Transient(
                e.to_string(),
                failure("could not be stored; see the server log".into()),
            ))
        }
        Err(EngineError::NotFound { .. }) => {
            Err(SessionError::Permanent(failure("session not found".into())))
        }
    }
}
