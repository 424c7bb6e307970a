//! Embedded, forward-only migrations.

use rusqlite::{Connection, Transaction};

use crate::StoreError;

/// How a migration changes the schema.
enum Step {
    Sql(&'static str),
    /// For a change that needs the code's own tables (e.g. reading codes).
    Code(fn(&Transaction<'_>) -> Result<(), StoreError>),
}

/// (version, name, step). Append only: a released migration is never edited.
const MIGRATIONS: &[(i64, &str, Step)] = &[
    (1, "init", Step::Sql(include_str!("migrations/0001_init.sql"))),
    (
        2,
        "feedback_recurrence",
        Step::Sql(include_str!("migrations/0002_feedback_recurrence.sql")),
    ),
    (3, "jobs", Step::Sql(include_str!("migrations/0003_jobs.sql"))),
    (
        4,
        "station_health",
        Step::Sql(include_str!("migrations/0004_station_health.sql")),
    ),
    (5, "models", Step::Sql(include_str!("migrations/0005_models.sql"))),
    (
        6,
        "inference_chain",
        Step::Sql(include_str!("migrations/0006_inference_chain.sql")),
    ),
    (7, "reading_codes", Step::Code(super::reading_codes::migrate)),
    (8, "access", Step::Sql(include_str!("migrations/0008_access.sql"))),
    (
        9,
        "station_events",
        Step::Sql(include_str!("migrations/0009_station_events.sql")),
    ),
    (
        10,
        "dashboard_indexes",
        Step::Sql(include_str!("migrations/0010_dashboard_indexes.sql")),
    ),
    (
        11,
        "webhook_test_events",
        Step::Sql(include_str!("migrations/0011_webhook_test_events.sql")),
    ),
    (
        12,
        "anomaly_list_index",
        Step::Sql(include_str!("migrations/0012_anomaly_list_index.sql")),
    ),
    (
        13,
        "network_health",
        Step::Sql(include_str!("migrations/0013_network_health.sql")),
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
    for (version, name, step) in MIGRATIONS.iter().filter(|(v, _, _)| *v > applied) {
        tracing::info!(version, name, "applying migration");
        match step {
            Step::Sql(sql) => tx.execute_batch(sql)?,
            Step::Code(apply) => apply(&tx)?,
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, chrono::Utc::now().timestamp_micros()],
        )?;
    }
    tx.commit()?;
    Ok(())
}
