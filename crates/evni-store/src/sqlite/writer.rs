//! Group commit: one thread owns the write connection, takes every write
//! waiting in its queue, runs them all in one transaction and answers all of
//! them once the commit is durable. If one of them fails, nothing of the
//! batch is kept and the batch runs again with each write in its own
//! savepoint, so that only the failed write is lost. With durability `full`
//! the answers wait for the WAL's fsync on another thread (syncer.rs). Once
//! the WAL has grown to its limit, the thread finishes a checkpoint after
//! committing, so that the WAL starts over (see checkpoint.rs).

use std::any::Any;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::{WalProgress, WRITER_RESIDUE_FRAMES};
use super::syncer::Syncer;
use crate::StoreError;

type Output = Box<dyn Any + Send>;
/// `Fn`, not `FnOnce`: a write may run twice (see [`commit_batch`]).
type Work = Box<dyn Fn(&Connection) -> Result<Output, StoreError> + Send>;

type Reply = oneshot::Sender<Result<Output, StoreError>>;

struct Job {
    work: Work,
    reply: Reply,
}

/// Writes waiting beyond this answer `Unavailable` instead of queueing
/// without bound.
const QUEUE_CAPACITY: usize = 65_536;

pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// `syncer`: where committed batches wait for the fsync before their
    /// answers; `None` answers them at commit.
    pub(super) fn start(
        conn: Connection,
        max_batch: usize,
        wal_limit_pages: u32,
        progress: Arc<WalProgress>,
        syncer: Option<Syncer>,
    ) -> Result<Self, StoreError> {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("evni-sqlite-writer".into())
            .spawn(move || {
                conn.wal_hook(Some(|_, pages| {
                    WAL_PAGES.set(pages);
                    Ok(())
                }));
                run(conn, jobs, max_batch.max(1), wal_limit_pages, &progress, syncer)
            })
            .map_err(|e| StoreError::database(format!("cannot start writer thread: {e}")))?;
        Ok(Self { queue })
    }

    /// Runs `work` in the next group commit and returns its result once the
    /// transaction holding it is committed. If `work` fails, nothing it did
    /// is kept. `work` may run more than once, each time in a transaction
    /// that is rolled back but for the last.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |conn| work(conn).map(|t| Box::new(t) as Output));
        self.queue.try_send(Job { work, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Unavailable("write queue is full".into()),
            mpsc::error::TrySendError::Closed(_) => StoreError::Unavailable("store is shutting down".into()),
        })?;
        let output = answer
            .await
            .map_err(|_| StoreError::Unavailable("writer stopped before answering".into()))??;
        Ok(*output
            .downcast::<T>()
            .expect("writer returns the type it was given"))
    }
}

thread_local! {
    /// Pages in the WAL after the writer's last commit (SQLite's WAL hook).
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

fn run(
    conn: Connection,
    mut jobs: mpsc::Receiver<Job>,
    max_batch: usize,
    wal_limit_pages: u32,
    progress: &WalProgress,
    syncer: Option<Syncer>,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let answers = commit_batch(&conn, &mut batch);
        match &syncer {
            Some(syncer) => syncer.answer_when_durable(answers),
            None => answers.send(),
        }
        let pages = WAL_PAGES.get().max(0) as u32;
        let residue = pages.saturating_sub(progress.backfilled.load(Ordering::Relaxed));
        let caught_up = residue <= WRITER_RESIDUE_FRAMES;
        // Past four limits the checkpoint thread is not keeping up: the
        // writer copies the rest itself rather than let the WAL grow.
        if (pages >= wal_limit_pages && caught_up) || pages / 4 >= wal_limit_pages {
            // Between commits the checkpoint can finish, and the next commit
            // starts the WAL over.
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint by the writer failed");
            }
            WAL_PAGES.set(0);
        }
    }
    tracing::debug!("sqlite writer stopped");
}

/// The results of a committed batch, for the writes that wait for them.
pub(super) struct Answers(Vec<(Reply, Result<Output, StoreError>)>);

impl Answers {
    /// One write's answer, waited for on `receiver`.
    #[cfg(test)]
    pub(super) fn one(
        result: Result<Output, StoreError>,
    ) -> (Self, oneshot::Receiver<Result<Output, StoreError>>) {
        let (reply, receiver) = oneshot::channel();
        (Self(vec![(reply, result)]), receiver)
    }

    pub(super) fn send(self) {
        for (reply, result) in self.0 {
            // A client that went away still had its write committed.
            let _ = reply.send(result);
        }
    }

    /// The batch was committed but may not be durable: its writes fail.
    pub(super) fn fail(self, reason: &str) {
        for (reply, _) in self.0 {
            let _ = reply.send(Err(StoreError::database(reason.to_string())));
        }
    }
}

/// Runs the batch in one transaction. Savepoints would make SQLite copy
/// every page a write touches first (its sub-journal); a failed write is
/// rare, so only then does the batch run again with one savepoint per write.
fn commit_batch(conn: &Connection, batch: &mut Vec<Job>) -> Answers {
    let results = match run_together(conn, batch) {
        Ok(Some(outputs)) => outputs.into_iter().map(Ok).collect(),
        Ok(None) => run_isolated(conn, batch).unwrap_or_else(|e| failed(batch.len(), &e)),
        Err(e) => failed(batch.len(), &e),
    };
    Answers(batch.drain(..).map(|job| job.reply).zip(results).collect())
}

fn failed(writes: usize, error: &StoreError) -> Vec<Result<Output, StoreError>> {
    (0..writes)
        .map(|_| Err(StoreError::database(error.to_string())))
        .collect()
}

/// Every write in one transaction: their outputs once committed, or `None`
/// (and nothing kept) when one of them failed.
fn run_together(conn: &Connection, batch: &[Job]) -> Result<Option<Vec<Output>>, StoreError> {
    exec(conn, "BEGIN IMMEDIATE")?;
    let mut outputs = Vec::with_capacity(batch.len());
    for job in batch {
        match (job.work)(conn) {
            Ok(output) => outputs.push(output),
            Err(_) => {
                // Fails only if SQLite already rolled back by itself.
                let _ = exec(conn, "ROLLBACK");
                return Ok(None);
            }
        }
    }
    commit(conn, batch.len())?;
    Ok(Some(outputs))
}

/// Every write in its own savepoint: a failed one leaves no trace.
fn run_isolated(conn: &Connection, batch: &[Job]) -> Result<Vec<Result<Output, StoreError>>, StoreError> {
    exec(conn, "BEGIN IMMEDIATE")?;
    let results = batch
        .iter()
        .map(|job| run_in_savepoint(conn, &job.work))
        .collect();
    commit(conn, batch.len())?;
    Ok(results)
}

fn commit(conn: &Connection, writes: usize) -> Result<(), StoreError> {
    exec(conn, "COMMIT").map_err(|e| {
        tracing::error!(error = %e, writes, "group commit failed");
        let _ = exec(conn, "ROLLBACK");
        StoreError::database(format!("commit failed: {e}"))
    })
}

fn run_in_savepoint(conn: &Connection, work: &Work) -> Result<Output, StoreError> {
    exec(conn, "SAVEPOINT write")?;
    let result = work(conn);
    let closing = if result.is_ok() {
        "RELEASE write"
    } else {
        "ROLLBACK TO write; RELEASE write"
    };
    if let Err(e) = conn.execute_batch(closing) {
        return Err(e.into());
    }
    result
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}
