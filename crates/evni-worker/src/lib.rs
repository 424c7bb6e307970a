//! Durable job workers. Jobs live in the database, enqueued in the same
//! transaction as the write that causes them, and are claimed with a lease:
//! a worker that dies (crash, `kill -9`) loses its lease and another worker,
//! or the same one after a restart, runs the job again. Handlers are written
//! so that running a job twice has the effect of running it once.

mod batch;
mod fine_tune;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use evni_engine::Engine;
use evni_store::{ClaimedJob, JobFailure, JobKind, Store, StoreError};
use rand::Rng;

pub use batch::BatchHandler;
pub use fine_tune::FineTuneHandler;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long a claimed job is ours without a heartbeat.
    pub lease: Duration,
    /// How long an idle worker waits before looking again (a job enqueued
    /// by this process wakes it at once).
    pub poll_interval: Duration,
    /// First retry delay; doubled per attempt, with jitter.
    pub retry_base: Duration,
    /// On shutdown, how long the job in progress may still run before it is
    /// given back to the queue for another worker.
    pub shutdown_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            retry_base: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What one step of a worker did; tests drain the queue with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// A job ran to completion.
    Done,
    /// A job failed and will be retried, or failed for good.
    Failed,
    /// Nothing was runnable.
    Empty,
    /// Shutdown came first: the job went back to the queue unfinished.
    Released,
}

/// Why a job handler did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (the database was busy, a conflict, ...).
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help.
    #[error("{0}")]
    Permanent(String),
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        JobError::Transient(e.to_string())
    }
}

/// Runs one kind of job.
#[async_trait]
pub trait JobHandler: Send + Sync {
    fn kind(&self) -> JobKind;
    /// `final_attempt` tells the handler to settle what it cannot finish.
    async fn run(&self, job: &ClaimedJob, final_attempt: bool) -> Result<(), JobError>;
}

pub struct Worker {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    handlers: Vec<Arc<dyn JobHandler>>,
    config: WorkerConfig,
    /// Identifies this worker's leases.
    owner: String,
}

impl Worker {
    pub fn new(engine: Arc<Engine>, config: WorkerConfig) -> Self {
        let store = engine.store().clone();
        let handlers: Vec<Arc<dyn JobHandler>> = vec![Arc::new(BatchHandler::new(engine.clone()))];
        Self {
            store,
            engine,
            handlers,
            config,
            owner: format!("worker-{}", uuid::Uuid::new_v4()),
        }
    }

    /// Adds a handler for another kind of job.
    pub fn with_handler(mut self, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.push(handler);
        self
    }

    /// Claims and runs at most one job.
    pub async fn step(&self) -> Result<StepOutcome, StoreError> {
        let (_never, running) = tokio::sync::watch::channel(false);
        self.step_until(running).await
    }

    /// Like [`Worker::step`]; once `stopping` turns true the job gets
    /// `shutdown_grace` to finish, then goes back to the queue.
    async fn step_until(
        &self,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Result<StepOutcome, StoreError> {
        let now = chrono::Utc::now().timestamp_micros();
        let lease_until = now + self.config.lease.as_micros() as i64;
        let Some(job) = self.store.claim_job(&self.owner, now, lease_until).await? else {
            return Ok(StepOutcome::Empty);
        };
        let span = tracing::info_span!(
            "job",
            id = job.id,
            kind = job.kind.as_str(),
            attempt = job.attempt
        );
        let _enter = span.enter();
        let Some(handler) = self.handlers.iter().find(|h| h.kind() == job.kind).cloned() else {
            let error = format!("no handler for {} jobs in this worker", job.kind.as_str());
            self.store
                .fail_job(job.id, &self.owner, JobFailure::Fail { error })
                .await?;
            return Ok(StepOutcome::Failed);
        };
        let final_attempt = job.attempt >= job.max_attempts;
        let result = {
            let heartbeat = self.heartbeat(job.id);
            let grace_over = grace_after_stop(stopping, self.config.shutdown_grace);
            tokio::select! {
                result = handler.run(&job, final_attempt) => result,
                () = heartbeat => Err(JobError::Transient("lost the job's lease".into())),
                () = grace_over => {
                    tracing::info!("shutting down: the job goes back to the queue");
                    self.store.fail_job(job.id, &self.owner, JobFailure::Release).await?;
                    return Ok(StepOutcome::Released);
                }
            }
        };
        match result {
            Ok(()) => {
                self.store.complete_job(job.id, &self.owner).await?;
                Ok(StepOutcome::Done)
            }
            Err(error) => {
                tracing::warn!(%error, "job attempt failed");
                let failure = match error {
                    JobError::Transient(error) if !final_attempt => JobFailure::Retry {
                        error,
                        run_after: self.retry_at(job.attempt),
                    },
                    other => JobFailure::Fail {
                        error: other.to_string(),
                    },
                };
                self.store.fail_job(job.id, &self.owner, failure).await?;
                Ok(StepOutcome::Failed)
            }
        }
    }

    /// Runs until `shutdown` resolves; the job in progress gets
    /// `shutdown_grace` to finish, then goes back to the queue.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        tokio::join!(signal, self.run_until(stopping));
    }

    async fn run_until(&self, stopping: tokio::sync::watch::Receiver<bool>) {
        let mut stopped = stopping.clone();
        let shutdown = stopped.wait_for(|stop| *stop);
        tokio::pin!(shutdown);
        loop {
            let idle = match self.step_until(stopping.clone()).await {
                Ok(StepOutcome::Released) => return,
                Ok(StepOutcome::Empty) => true,
                Ok(_) => false,
                Err(e) => {
                    tracing::error!(error = %e, "worker step failed");
                    true
                }
            };
            let pause = if idle {
                self.config.poll_interval
            } else {
                Duration::ZERO
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => return,
                () = self.engine.jobs_enqueued.notified(), if idle => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Extends the lease every third of its length; resolves only if the
    /// lease was lost (another worker took the job over).
    async fn heartbeat(&self, id: i64) {
        let every = self.config.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let until = chrono::Utc::now().timestamp_micros() + self.config.lease.as_micros() as i64;
            match self.store.heartbeat_job(id, &self.owner, until).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
    }

    /// Exponential backoff with full jitter.
    fn retry_at(&self, attempt: u32) -> i64 {
        let base = self.config.retry_base.as_micros() as i64;
        let ceiling = base.saturating_mul(1 << attempt.min(16));
        let delay = rand::rng().random_range(base..=ceiling.max(base));
        chrono::Utc::now().timestamp_micros() + delay
    }
}

/// Resolves `grace` after `stopping` turns true.
async fn grace_after_stop(mut stopping: tokio::sync::watch::Receiver<bool>, grace: Duration) {
    if stopping.wait_for(|stop| *stop).await.is_err() {
        // The sender is gone without a stop: never.
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(grace).await;
}
