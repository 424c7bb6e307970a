//! A file of SQLite's that evni fsyncs itself (the WAL for durability, the
//! database ahead of a checkpoint), through a handle of its own.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::PathBuf;

pub(super) struct SyncedFile {
    path: PathBuf,
    /// Opened on first use: SQLite creates the WAL with the first write.
    file: Option<File>,
}

impl SyncedFile {
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path, file: None }
    }

    /// fsyncs the file's data. After a failure the file is opened again
    /// next time, in case it was replaced.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        let synced = match &self.file {
            Some(file) => file.sync_data(),
            // Opened for writing, which some systems need for fsync; it
            // never writes.
            None => OpenOptions::new()
                .write(true)
                .open(&self.path)
                .and_then(|opened| {
                    opened.sync_data()?;
                    self.file = Some(opened);
                    Ok(())
                }),
        };
        if synced.is_err() {
            self.file = None;
        }
        synced
    }
}
