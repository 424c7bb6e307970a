//! WAL checkpoints on their own thread and connection. Left to SQLite, the
//! committing connection copies the WAL back into the database every 1,000
//! pages, inside a commit that clients are waiting for; here this thread
//! does the copying beside the writer.
//!
//! It cannot restart the WAL, though: the WAL starts over only when a
//! checkpoint has copied every frame and the next write begins, and under
//! steady writes new frames always arrive while it copies, so the WAL would
//! grow without end (measured: 3 GB in 30 s of PATCH load). So once the
//! WAL reaches `wal_limit_pages`, the writer finishes a checkpoint itself
//! between two commits (writer.rs): only what this thread has not copied
//! yet is left, and the next commit starts the WAL over.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use super::{open_connection, Durability};
use crate::StoreError;

const INTERVAL: Duration = Duration::from_millis(250);

/// Stops the checkpoint thread, after a last checkpoint, when dropped.
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn start(path: PathBuf, durability: Durability) -> Result<Self, StoreError> {
        let conn = open_connection(&path, false, durability)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("evni-sqlite-checkpoint".into())
            .spawn(move || loop {
                let last = !matches!(stopped.recv_timeout(INTERVAL), Err(RecvTimeoutError::Timeout));
                // PASSIVE never waits for the writer or readers; what it
                // cannot copy now it copies on a later round.
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
                if last {
                    break;
                }
            })
            .map_err(|e| StoreError::Database(format!("cannot start checkpoint thread: {e}")))?;
        Ok(Self { _stop: stop })
    }
}
