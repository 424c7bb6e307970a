//! A small pool of read-only connections, used from blocking threads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::{open_connection, Durability};
use crate::StoreError;

pub(super) struct ReaderPool {
    path: PathBuf,
    durability: Durability,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl ReaderPool {
    pub(super) fn new(path: PathBuf, size: usize, durability: Durability) -> Self {
        Self {
            path,
            durability,
            idle: Arc::default(),
            permits: Arc::new(Semaphore::new(size.max(1))),
        }
    }

    /// Runs `query` on an idle connection (opening one if needed) off the
    /// async runtime.
    pub(super) async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| closed())?;
        let idle = self.idle.clone();
        let path = self.path.clone();
        let durability = self.durability;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match idle.lock().expect("reader pool poisoned").pop() {
                Some(conn) => conn,
                None => open_connection(&path, true, durability)?,
            };
            let result = query(&conn);
            idle.lock().expect("reader pool poisoned").push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::database(format!("reader task failed: {e}")))?
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("store is shutting down".into())
}
