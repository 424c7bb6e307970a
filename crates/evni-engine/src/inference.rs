//! Where sessions are analysed: rules plus the learned models (the caller
//! passes the models per call: each tenant may have its own). Large
//! sessions go to tokio's blocking pool so that they never stall the async
//! runtime; small ones (the live-session PATCH) run in place. At most a
//! configured number of analyses run at once. Beyond
//! that the engine answers `Unavailable` (503) instead of queueing without
//! bound.

use std::sync::Arc;

use evni_analysis::{Examination, SessionContext};
use evni_domain::Reading;
use evni_models::Models;
use tokio::sync::Semaphore;

use crate::{EngineError, RULES_MODEL};

/// Sessions up to this size are analysed on the request's own task: rules
/// and both models take tens of microseconds there (p99 114 µs up to 11k
/// readings), less than handing the work to another thread and back, which
/// on the PATCH hot path costs more than the analysis itself.
const INLINE_READINGS: usize = 4_096;

fn examine_with(models: Option<&Models>, readings: &[Reading], context: &SessionContext) -> Examination {
    match models {
        Some(m) => m.examine(readings, context),
        None => evni_analysis::examine(readings, context),
    }
}

pub struct Analyzer {
    /// The models of tenants without their own (the base ones).
    models: Option<Arc<Models>>,
    permits: Arc<Semaphore>,
    /// Inference-history name of the default analysis: rules and model versions.
    model_id: String,
}

/// Inference-history name of an analysis by `models` (rules alone: `None`).
pub fn model_id(models: Option<&Models>) -> String {
    models.map_or_else(|| RULES_MODEL.to_string(), Models::id)
}

impl Analyzer {
    /// `models: None` analyses with the rules alone.
    pub fn new(models: Option<Arc<Models>>, max_concurrent: usize) -> Self {
        let model_id = model_id(models.as_deref());
        Self {
            models,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            model_id,
        }
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn models(&self) -> Option<&Arc<Models>> {
        self.models.as_ref()
    }

    /// Examines `readings` with `models` (the tenant's), off the runtime
    /// when they are many; gives them back with the examination.
    pub async fn analyze(
        &self,
        models: Option<&Arc<Models>>,
        readings: Vec<Reading>,
        context: SessionContext,
    ) -> Result<(Examination, Vec<Reading>), EngineError> {
        let permit =
            self.permits.clone().try_acquire_owned().map_err(|_| {
                EngineError::Unavailable("analysis capacity is exhausted; retry shortly".into())
            })?;
        if readings.len() <= INLINE_READINGS {
            let examination = examine_with(models.map(|m| &**m), &readings, &context);
            drop(permit);
            return Ok((examination, readings));
        }
        let models = models.cloned();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let examination = examine_with(models.as_deref(), &readings, &context);
            (examination, readings)
        })
        .await
        .map_err(|e| EngineError::Unavailable(format!("analysis task failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_pool_answers_unavailable() {
        let analyzer = Analyzer::new(None, 1);
        let held = analyzer.permits.clone().try_acquire_owned().unwrap();
        let result = analyzer
            .analyze(None, Vec::new(), SessionContext::default())
            .await;
        assert!(matches!(result, Err(EngineError::Unavailable(_))));
        drop(held);
        let (examination, _) = analyzer
            .analyze(None, Vec::new(), SessionContext::default())
            .await
            .unwrap();
        assert_eq!(examination.outcome, evni_analysis::Outcome::Pending);
        assert_eq!(analyzer.model_id(), "rules-1");
    }
}
