//! Embedded, forward-only migrations.

use rusqlite::Connection;

use crate::StoreError;

/// (version, name, SQL). Append only: a released migration is never edited.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (
        2,
        "feedback_recurrence",
        include_str!("migrations/0002_feedback_recurrence.sql"),
    ),
    (3, "jobs", include_str!("migrations/0003_jobs.sql")),
    (
        4,
        "station_health",
        include_str!("migrations/0004_station_health.sql"),
    ),
    (5, "models", include_str!("migrations/0005_models.sql")),
    (
        6,
        "inference_chain",
        include_str!("migrations/0006_inference_chain.sql"),
    ),
];

pub(super) fn run(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > applied) {
        tracing::info!(version, name, "applying migration");
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, chrono::Utc::now().timestamp_micros()],
        )?;
    }
    tx.commit()?;
    Ok(())
}
