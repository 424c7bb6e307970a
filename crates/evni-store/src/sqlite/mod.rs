//! The embedded SQLite backend.
//!
//! One writer thread owns the only write connection and groups concurrent
//! writes into one transaction (group commit); one failing write never takes
//! the others down (see writer.rs). Another thread makes the commits durable
//! before they are answered (syncer.rs). Reads use a small pool of read-only
//! connections; WAL lets them run beside the writer.

mod access;
mod batches;
mod checkpoint;
mod codec;
mod dashboard;
mod health;
mod health_impl;
mod jobs;
mod migrate;
mod models;
mod network;
mod readers;
pub(crate) mod reading_codec;
mod reading_codes;
mod sessions;
mod stations;
mod store_impl;
mod synced_file;
mod syncer;
mod tenants;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;
use readers::ReaderPool;
use writer::Writer;

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync of every commit before it is answered: a 200 survives power
    /// loss (default).
    Full,
    /// fsync at WAL checkpoints only: survives a process crash, not power loss.
    Normal,
}

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    pub durability: Durability,
    /// Read-only connections for queries.
    pub readers: usize,
    /// Most writes grouped into one commit.
    pub max_batch: usize,
    /// WAL pages after which the writer finishes a checkpoint itself, so
    /// that the WAL starts over (see checkpoint.rs).
    pub wal_limit_pages: u32,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            durability: Durability::Full,
            readers: 4,
            max_batch: 512,
            // 512 MiB of 4 KiB pages. Reached only under sustained writes
            // (with any pause the checkpoint thread catches up and the WAL
            // starts over by itself); each time, the writer pauses for one
            // checkpoint (~20-30 ms here). Under PATCH load a 64 MiB limit
            // gave p99 18 ms, 256 MiB 12-14 ms, 512 MiB 8 ms.
            wal_limit_pages: 131_072,
        }
    }
}

pub struct SqliteStore {
    writer: Writer,
    readers: ReaderPool,
    _checkpointer: checkpoint::Checkpointer,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `options.path`.
    pub fn open(options: SqliteOptions) -> Result<Self, StoreError> {
        let mut conn = open_connection(&options.path, false, options.durability)?;
        migrate::run(&mut conn)?;
        // Checkpoints run beside the writer; the writer finishes one only
        // when the WAL has grown to the limit (see checkpoint.rs).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // A smaller page cache for the writer: its commits scan the cache's
        // hash table (SQLite's pcache1Truncate), measured under the PATCH load
        // at 4 % of the server's CPU with 64 MiB and 1.6 % with 16 MiB. Pages
        // beyond it come from the OS page cache.
        conn.pragma_update(None, "cache_size", -16_384)?;
        let progress = Arc::new(checkpoint::WalProgress::default());
        let checkpointer = checkpoint::Checkpointer::start(
            options.path.clone(),
            options.durability,
            options.wal_limit_pages,
            progress.clone(),
        )?;
        let readers = ReaderPool::new(options.path.clone(), options.readers, options.durability);
        let syncer = match options.durability {
            // The syncer's fsync makes each commit durable before it is
            // answered, so the commit itself need not wait for the disk.
            Durability::Full => {
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                let mut wal = options.path.clone().into_os_string();
                wal.push("-wal");
                Some(syncer::Syncer::start(wal.into())?)
            }
            Durability::Normal => None,
        };
        let writer = Writer::start(conn, options.max_batch, options.wal_limit_pages, progress, syncer)?;
        Ok(Self {
            writer,
            readers,
            _checkpointer: checkpointer,
        })
    }
}

fn open_connection(path: &Path, read_only: bool, durability: Durability) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::default()
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    let synchronous = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Pages of recent sessions stay in memory for queries (negative: KiB).
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}
