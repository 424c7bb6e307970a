//! Durable jobs and batches: the records the worker and the batch API share.

use evni_domain::{Micros, Reading};
use serde::{Deserialize, Serialize};

use crate::model::{Page, PageRequest, TenantId};
use crate::StoreError;

/// Work waiting in the queues, for /metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepths {
    pub jobs_queued: i64,
    pub jobs_running: i64,
    pub webhook_deliveries_pending: i64,
}

/// What a job does; its payload is interpreted per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Analyse a range of a batch's sessions.
    BatchChunk,
    /// Fine-tune a model.
    FineTune,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::BatchChunk => "batch_chunk",
            JobKind::FineTune => "fine_tune",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "batch_chunk" => Some(JobKind::BatchChunk),
            "fine_tune" => Some(JobKind::FineTune),
            _ => None,
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub tenant: TenantId,
    pub kind: JobKind,
    pub payload: serde_json::Value,
    pub max_attempts: u32,
}

/// A job claimed by a worker until `lease_until`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: i64,
    pub tenant: TenantId,
    pub kind: JobKind,
    pub payload: serde_json::Value,
    /// 1 on the first run.
    pub attempt: u32,
    pub max_attempts: u32,
    pub lease_until: Micros,
}

/// How a failed attempt ends.
#[derive(Debug, Clone, PartialEq)]
pub enum JobFailure {
    /// Run again at `run_after`.
    Retry { error: String, run_after: Micros },
    /// Give up.
    Fail { error: String },
    /// The worker is shutting down: back to the queue at once, and the
    /// attempt it claimed does not count.
    Release,
}

/// A session of a batch, validated at submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSession {
    pub session_id: String,
    pub station: String,
    pub connector_id: Option<String>,
    pub evse_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
    #[serde(with = "crate::sqlite::reading_codec")]
    pub readings: Vec<Reading>,
}

/// A batch as submitted: its sessions, split into chunks of `chunk_size`,
/// one job each.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBatch {
    pub tenant: TenantId,
    pub sessions: Vec<BatchSession>,
    pub chunk_size: usize,
    pub max_attempts: u32,
}

/// The work of one batch job: sessions `first..=last` of batch `batch`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchChunk {
    pub batch: i64,
    pub first: u32,
    pub last: u32,
}

/// What processing one batch session produced, shown in the batch results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub failed: bool,
    /// The verdict as the API shows it, or the error for a failed session.
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchStatus {
    pub batch_id: String,
    pub total_sessions: u64,
    pub processed_sessions: u64,
    pub failed_sessions: u64,
    pub created_at: Micros,
    pub completed_at: Option<Micros>,
    /// Results of processed sessions on the requested page, in batch order.
    pub results: Vec<serde_json::Value>,
}

/// The [`JobStore`] role: durable jobs and the batches they run.
#[async_trait::async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a batch and enqueues its jobs in the same transaction; returns
    /// the public batch id.
    async fn create_batch(&self, batch: NewBatch) -> Result<String, StoreError>;
    /// Claims the next runnable job (queued and due, or running with an
    /// expired lease) for `owner` until `lease_until`.
    async fn claim_job(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<ClaimedJob>, StoreError>;
    /// Extends a claimed job's lease; `false` when the job is no longer ours.
    async fn heartbeat_job(&self, id: i64, owner: &str, lease_until: i64) -> Result<bool, StoreError>;
    async fn complete_job(&self, id: i64, owner: &str) -> Result<(), StoreError>;
    async fn fail_job(&self, id: i64, owner: &str, failure: JobFailure) -> Result<(), StoreError>;
    /// The pending sessions of a chunk, with their batch index.
    async fn batch_sessions(&self, chunk: BatchChunk) -> Result<Vec<(u32, BatchSession)>, StoreError>;
    /// Records results of a chunk's sessions and advances the batch's
    /// counters, once per session however often it is called.
    async fn record_batch_results(
        &self,
        batch: i64,
        results: Vec<(u32, BatchResult)>,
    ) -> Result<(), StoreError>;
    /// A batch's progress and one page of its results.
    async fn batch_status(
        &self,
        tenant: TenantId,
        batch_id: &str,
        page: PageRequest,
    ) -> Result<BatchStatus, StoreError>;
    /// The tenant's batches, newest first, without their results.
    async fn list_batches(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<BatchStatus>, StoreError>;
}
