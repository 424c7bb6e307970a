//! A worker asked to stop gives a job it cannot finish in time back to the
//! queue, without spending one of the job's attempts.

use std::sync::Arc;
use std::time::Duration;

use evni_engine::{Engine, EngineConfig};
use evni_store::sqlite::{SqliteOptions, SqliteStore};
use evni_store::{ClaimedJob, JobKind, NewFineTune, Store};
use evni_worker::{JobError, JobHandler, StepOutcome, Worker, WorkerConfig};

/// A fine-tune that never ends.
struct Endless;

#[async_trait::async_trait]
impl JobHandler for Endless {
    fn kind(&self) -> JobKind {
        JobKind::FineTune
    }

    async fn run(&self, _job: &ClaimedJob, _final_attempt: bool) -> Result<(), JobError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_job_still_running_at_shutdown_goes_back_to_the_queue_unspent() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(SqliteOptions::new(dir.path().join("db"))).unwrap());
    let tenant = store.create_tenant("acme").await.unwrap();
    let fine_tune = store
        .create_fine_tune(NewFineTune {
            tenant: tenant.id,
            base_model_id: "csar2-base".into(),
            name: "ft".into(),
            config: serde_json::json!({}),
            max_attempts: 1,
        })
        .await
        .unwrap();
    let engine = Arc::new(Engine::new(store.clone(), EngineConfig::default()));
    let config = WorkerConfig {
        shutdown_grace: Duration::from_millis(200),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(engine.clone(), config.clone()).with_handler(Arc::new(Endless));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.fine_tune(tenant.id, &fine_tune.id).await.unwrap().status,
        "running"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the worker stops within its grace")
        .unwrap();
    assert_eq!(
        store.fine_tune(tenant.id, &fine_tune.id).await.unwrap().status,
        "queued"
    );

    // Its only attempt was not spent: the next claim is attempt 1 again.
    let attempts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let next = Worker::new(engine, config).with_handler(Arc::new(Record(attempts.clone())));
    assert_eq!(next.step().await.unwrap(), StepOutcome::Done);
    assert_eq!(*attempts.lock().unwrap(), [1]);
}

/// A fine-tune that records its attempt number and succeeds.
struct Record(Arc<std::sync::Mutex<Vec<u32>>>);

#[async_trait::async_trait]
impl JobHandler for Record {
    fn kind(&self) -> JobKind {
        JobKind::FineTune
    }

    async fn run(&self, job: &ClaimedJob, _final_attempt: bool) -> Result<(), JobError> {
        self.0.lock().unwrap().push(job.attempt);
        Ok(())
    }
}
