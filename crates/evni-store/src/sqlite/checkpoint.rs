//! WAL checkpoints on their own thread and connection. Left to SQLite, the
//! committing connection copies the WAL back into the database every 1,000
//! pages, inside a commit that clients are waiting for; here this thread
//! does the copying beside the writer.
//!
//! It cannot restart the WAL, though: the WAL starts over only when a
//! checkpoint has copied every frame and the next write begins, and under
//! steady writes new frames always arrive while it copies, so the WAL would
//! grow without end (measured: 3 GB in 30 s of PATCH load). So once the WAL
//! reaches `wal_limit_pages`, this thread copies without pausing and the
//! writer, between two commits, finishes the checkpoint as soon as little
//! is left to copy (writer.rs); the next commit starts the WAL over. That
//! pause is about one fsync of the database. SQLite syncs the database only
//! in a checkpoint that copies the whole WAL, which under steady writes is
//! the writer's; so that this fsync does not have to write out everything
//! copied since the last restart (20-30 ms on the benchmark machine), this
//! thread syncs the database after each round that copied something, and
//! the writer's pause is 2-6 ms.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use super::synced_file::SyncedFile;
use super::{open_connection, Durability};
use crate::StoreError;

const INTERVAL: Duration = Duration::from_millis(250);
/// Between checkpoints while the WAL is at its limit.
const CATCHING_UP: Duration = Duration::from_millis(20);
/// Frames the writer may have to copy itself when it finishes a checkpoint.
pub(super) const WRITER_RESIDUE_FRAMES: u32 = 1_024;

/// How far this thread's checkpoints got, for the writer.
#[derive(Debug, Default)]
pub(super) struct WalProgress {
    /// WAL frames copied into the database by the last checkpoint.
    pub(super) backfilled: AtomicU32,
}

/// Stops the checkpoint thread, after a last checkpoint, when dropped.
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn start(
        path: std::path::PathBuf,
        durability: Durability,
        wal_limit_pages: u32,
        progress: Arc<WalProgress>,
    ) -> Result<Self, StoreError> {
        let conn = open_connection(&path, false, durability)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("evni-sqlite-checkpoint".into())
            .spawn(move || {
                let mut pause = INTERVAL;
                let mut synced_up_to = 0;
                let mut database = SyncedFile::new(path.clone());
                loop {
                    let last = !matches!(stopped.recv_timeout(pause), Err(RecvTimeoutError::Timeout));
                    // PASSIVE never waits for the writer or readers; what it
                    // cannot copy now it copies on a later round.
                    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    }) {
                        Ok((frames, copied)) => {
                            // Frames were copied (or, with a smaller count, the
                            // WAL started over). Extra fsyncs never make
                            // anything less durable, so a failure is only
                            // logged: the sync in the checkpoint that restarts
                            // the WAL reports it where it counts.
                            if copied != synced_up_to {
                                if let Err(e) = database.sync() {
                                    tracing::warn!(error = %e, "fsync of the database after a checkpoint failed");
                                }
                                synced_up_to = copied;
                            }
                            progress.backfilled.store(copied.max(0) as u32, Ordering::Relaxed);
                            pause = if frames >= i64::from(wal_limit_pages) {
                                CATCHING_UP
                            } else {
                                INTERVAL
                            };
                        }
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                    }
                    if last {
                        break;
                    }
                }
            })
            .map_err(|e| StoreError::database(format!("cannot start checkpoint thread: {e}")))?;
        Ok(Self { _stop: stop })
    }
}
