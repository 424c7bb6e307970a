//! Durability off the writer's path. With durability `full` the writer
//! commits without waiting for the disk (SQLite's `synchronous=NORMAL`) and
//! hands each batch's answers here; this thread fsyncs the WAL once for all
//! batches waiting and only then answers them. Meanwhile the writer runs the
//! next batch: a commit no longer waits for the previous one's fsync, and
//! one fsync covers several commits. A write is still answered only once it
//! is on disk; another connection may read it a moment earlier.

use std::path::PathBuf;
use std::sync::mpsc;

use super::synced_file::SyncedFile;
use super::writer::Answers;
use crate::StoreError;

pub(super) struct Syncer {
    queue: mpsc::Sender<Answers>,
}

impl Syncer {
    /// Starts the thread that syncs the WAL at `wal` (the database path
    /// with `-wal`).
    pub(super) fn start(wal: PathBuf) -> Result<Self, StoreError> {
        let (queue, batches) = mpsc::channel::<Answers>();
        std::thread::Builder::new()
            .name("evni-sqlite-sync".into())
            .spawn(move || run(wal, &batches))
            .map_err(|e| StoreError::database(format!("cannot start WAL sync thread: {e}")))?;
        Ok(Self { queue })
    }

    /// Answers a committed batch once the WAL holding it is on disk.
    pub(super) fn answer_when_durable(&self, answers: Answers) {
        if let Err(mpsc::SendError(answers)) = self.queue.send(answers) {
            answers.fail("the WAL sync thread stopped");
        }
    }
}

fn run(wal: PathBuf, batches: &mpsc::Receiver<Answers>) {
    let mut wal = SyncedFile::new(wal);
    while let Ok(first) = batches.recv() {
        let waiting: Vec<Answers> = std::iter::once(first).chain(batches.try_iter()).collect();
        match wal.sync() {
            Ok(()) => waiting.into_iter().for_each(Answers::send),
            Err(e) => {
                tracing::error!(error = %e, "fsync of the WAL failed");
                let reason = format!("fsync of the WAL failed: {e}");
                for answers in waiting {
                    answers.fail(&reason);
                }
            }
        }
    }
    tracing::debug!("sqlite WAL sync thread stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a write waiting behind the syncer for `wal` is answered.
    fn answer_for(wal: PathBuf) -> Result<i32, StoreError> {
        let syncer = Syncer::start(wal).unwrap();
        let (answers, receiver) = Answers::one(Ok(Box::new(7)));
        syncer.answer_when_durable(answers);
        receiver
            .blocking_recv()
            .unwrap()
            .map(|output| *output.downcast::<i32>().unwrap())
    }

    #[test]
    fn a_write_is_answered_once_the_wal_is_synced_and_fails_when_it_cannot_be() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("db.sqlite3-wal");
        std::fs::write(&wal, b"frames").unwrap();
        assert_eq!(answer_for(wal).unwrap(), 7);
        let error = answer_for(dir.path().join("missing-wal")).unwrap_err();
        assert!(error.to_string().contains("fsync of the WAL failed"), "{error}");
    }
}
