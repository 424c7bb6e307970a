//! Embedded, forward-only migrations, applied under an advisory lock so
//! processes starting together migrate once.

use tokio_postgres::NoTls;

use crate::StoreError;

/// (version, name, SQL). Append only: a released migration is never edited.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (
        2,
        "station_health",
        include_str!("migrations/0002_station_health.sql"),
    ),
    (3, "models", include_str!("migrations/0003_models.sql")),
    (
        4,
        "inference_chain",
        include_str!("migrations/0004_inference_chain.sql"),
    ),
    (5, "access", include_str!("migrations/0005_access.sql")),
    (
        6,
        "station_events",
        include_str!("migrations/0006_station_events.sql"),
    ),
    (
        7,
        "dashboard_indexes",
        include_str!("migrations/0007_dashboard_indexes.sql"),
    ),
    (
        8,
        "webhook_test_events",
        include_str!("migrations/0008_webhook_test_events.sql"),
    ),
    (
        9,
        "anomaly_list_index",
        include_str!("migrations/0009_anomaly_list_index.sql"),
    ),
    (
        10,
        "network_health",
        include_str!("migrations/0010_network_health.sql"),
    ),
];

/// Any fixed number: the key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x6576_6e69; // "evni"

pub(super) async fn run(config: &tokio_postgres::Config) -> Result<(), StoreError> {
    let (mut client, connection) = config.connect(NoTls).await?;
    let connection = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "migration connection ended");
        }
    });
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await
        .or_else(|e| match e.code() {
            // Two processes creating it at once: the other one won.
            Some(code) if *code == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => Ok(()),
            _ => Err(e),
        })?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let applied: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])
        .await?
        .get(0);
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > applied) {
        tracing::info!(version, name, "applying migration");
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[version, name, &super::now()],
        )
        .await?;
    }
    tx.commit().await?;
    drop(client);
    let _ = connection.await;
    Ok(())
}
