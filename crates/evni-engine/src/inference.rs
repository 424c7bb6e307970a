//! Where sessions are analysed. A session with up to [`INLINE_READINGS`]
//! readings in its 6 h window (a live session's, say) is analysed on the
//! task that asked: that takes tens of microseconds, less than handing it to
//! another thread and back, whose wake-ups leave cores idle under load.
//! Larger ones go to dedicated analysis threads, so that the async runtime
//! never stalls on them: a thread takes every analysis waiting in the queue
//! (up to a batch) and runs them together, so the learned models' forward
//! pass is shared by the sessions that wait at the same moment (each
//! tenant's models batch on their own). At most a configured number of
//! analyses are queued or running; beyond that the engine answers
//! `Unavailable` (503) instead of queueing without bound.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex};

use evni_analysis::{Examination, SessionContext};
use evni_domain::Reading;
use evni_models::Models;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::{EngineError, RULES_MODEL};

/// Sessions with at most this many readings in their 6 h window are analysed
/// on the calling task: 360 per measurand when sampled every minute, so up
/// to 11 measurands; about 100 us of analysis.
const INLINE_READINGS: usize = 4096;
/// Most analyses one thread takes from the queue at once.
const MAX_BATCH: usize = 64;
/// A batch stops growing past this many readings, so that one huge session
/// does not hold many small ones back for long.
const MAX_BATCH_READINGS: usize = 100_000;

struct Job {
    models: Option<Arc<Models>>,
    readings: Vec<Reading>,
    context: SessionContext,
    reply: oneshot::Sender<(Examination, Vec<Reading>)>,
    _permit: OwnedSemaphorePermit,
}

pub struct Analyzer {
    /// The models of tenants without their own (the base ones).
    models: Option<Arc<Models>>,
    permits: Arc<Semaphore>,
    queue: mpsc::Sender<Job>,
    /// Inference-history name of the default analysis: rules and model versions.
    model_id: String,
    /// Sessions with up to this many readings in their window are analysed
    /// on the calling task.
    inline_readings: usize,
}

/// Inference-history name of an analysis by `models` (rules alone: `None`).
pub fn model_id(models: Option<&Models>) -> String {
    models.map_or_else(|| RULES_MODEL.to_string(), Models::id)
}

impl Analyzer {
    /// `models: None` analyses with the rules alone. The threads stop when
    /// the analyzer is dropped.
    pub fn new(models: Option<Arc<Models>>, max_concurrent: usize, threads: usize) -> Self {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("evni-analysis-{i}"))
                .spawn(move || {
                    while let Some(batch) = next_batch(&jobs) {
                        // A panic fails its batch (the callers see 503), not the thread.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| run(batch)));
                    }
                })
                .expect("cannot start an analysis thread");
        }
        let model_id = model_id(models.as_deref());
        Self {
            models,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            queue,
            model_id,
            inline_readings: INLINE_READINGS,
        }
    }

    /// Analyses sessions of up to `readings` readings on the calling task
    /// instead of [`INLINE_READINGS`] (0: every one on an analysis thread).
    #[cfg(test)]
    fn with_inline_readings(mut self, readings: usize) -> Self {
        self.inline_readings = readings;
        self
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn models(&self) -> Option<&Arc<Models>> {
        self.models.as_ref()
    }

    /// Examines `readings` with `models` (the tenant's), here or on an
    /// analysis thread (see the module); gives them back with the examination.
    pub async fn analyze(
        &self,
        models: Option<&Arc<Models>>,
        readings: Vec<Reading>,
        context: SessionContext,
    ) -> Result<(Examination, Vec<Reading>), EngineError> {
        let unavailable = |why: &str| EngineError::Unavailable(why.into());
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| unavailable("analysis capacity is exhausted; retry shortly"))?;
        if evni_analysis::window::window(&readings).len() <= self.inline_readings {
            let _permit = permit;
            // As on an analysis thread, a panic fails this analysis only.
            let examination =
                std::panic::catch_unwind(AssertUnwindSafe(|| examine(models, &readings, &context)))
                    .map_err(|_| unavailable("the analysis failed"))?;
            return Ok((examination, readings));
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            models: models.cloned(),
            readings,
            context,
            reply,
            _permit: permit,
        };
        self.queue
            .send(job)
            .map_err(|_| unavailable("the analysis threads have stopped"))?;
        answer.await.map_err(|_| unavailable("the analysis failed"))
    }
}

fn examine(models: Option<&Arc<Models>>, readings: &[Reading], context: &SessionContext) -> Examination {
    match models {
        Some(models) => models.examine(readings, context),
        None => evni_analysis::examine(readings, context),
    }
}

/// Every job waiting, up to a batch; `None` once the analyzer is gone.
fn next_batch(jobs: &Mutex<mpsc::Receiver<Job>>) -> Option<Vec<Job>> {
    let jobs = jobs.lock().ok()?;
    let first = jobs.recv().ok()?;
    let mut readings = first.readings.len();
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH && readings < MAX_BATCH_READINGS {
        let Ok(job) = jobs.try_recv() else { break };
        readings += job.readings.len();
        batch.push(job);
    }
    Some(batch)
}

/// Examines a batch, the sessions of each set of models together.
fn run(mut batch: Vec<Job>) {
    while let Some(first) = batch.first() {
        let models = first.models.clone();
        let (group, rest): (Vec<Job>, Vec<Job>) =
            batch.into_iter().partition(|job| match (&job.models, &models) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            });
        batch = rest;
        let examinations = {
            let sessions: Vec<_> = group.iter().map(|j| (&j.readings[..], &j.context)).collect();
            match &models {
                Some(models) => models.examine_batch(&sessions),
                None => sessions
                    .iter()
                    .map(|(readings, context)| evni_analysis::examine(readings, context))
                    .collect(),
            }
        };
        for (job, examination) in group.into_iter().zip(examinations) {
            // A caller that went away no longer needs its answer.
            let _ = job.reply.send((examination, job.readings));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_answers_unavailable() {
        let analyzer = Analyzer::new(None, 1, 1);
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

    /// On analysis threads (in batches) and on the calling task alike.
    #[tokio::test]
    async fn sessions_are_analysed_as_alone_wherever_they_run() {
        for inline_readings in [0, usize::MAX] {
            sessions_are_analysed_as_alone(inline_readings).await;
        }
    }

    async fn sessions_are_analysed_as_alone(inline_readings: usize) {
        let models = Arc::new(Models::base().unwrap());
        let analyzer =
            Arc::new(Analyzer::new(Some(models.clone()), 256, 2).with_inline_readings(inline_readings));
        let config = evni_sim::SimConfig {
            novel_share: 0.3,
            ..evni_sim::SimConfig::new(40, 5)
        };
        let sessions: Vec<_> = evni_models::data::simulate(&config, 1)
            .unwrap()
            .into_iter()
            .map(|s| (s.readings, s.context))
            .collect();
        let tasks: Vec<_> = sessions
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, (readings, context))| {
                let analyzer = analyzer.clone();
                // Every other session with the rules alone: mixed batches.
                let models = (i % 2 == 0).then(|| models.clone());
                tokio::spawn(async move { analyzer.analyze(models.as_ref(), readings, context).await })
            })
            .collect();
        for (i, (task, (readings, context))) in tasks.into_iter().zip(&sessions).enumerate() {
            let (examination, back) = task.await.unwrap().unwrap();
            assert_eq!(&back, readings);
            let alone = if i % 2 == 0 {
                models.examine(readings, context)
            } else {
                evni_analysis::examine(readings, context)
            };
            assert_eq!(
                examination.outcome, alone.outcome,
                "session {i}, inline up to {inline_readings}"
            );
        }
    }
}
