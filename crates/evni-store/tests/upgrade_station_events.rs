//! Migrations 9 and 11 rebuild the webhook deliveries (a delivery became
//! unique per anomaly, event and endpoint; a test event has no anomaly). A
//! database upgraded from version 8 that already holds deliveries and their
//! attempts keeps every row, and the attempts' foreign keys still hold.

use evni_store::sqlite::{SqliteOptions, SqliteStore};

/// Version 8's deliveries table: one delivery per anomaly and endpoint.
const VERSION_8_DELIVERIES: &str = "
    CREATE TABLE webhook_deliveries (
        id                  INTEGER PRIMARY KEY,
        webhook_id          TEXT NOT NULL UNIQUE,
        tenant_id           TEXT NOT NULL,
        endpoint_id         TEXT NOT NULL REFERENCES webhook_endpoints(id),
        station_anomaly_id  INTEGER NOT NULL REFERENCES station_anomalies(id),
        event               TEXT NOT NULL,
        payload             TEXT NOT NULL,
        status              TEXT NOT NULL,
        attempts            INTEGER NOT NULL DEFAULT 0,
        next_attempt_at     INTEGER NOT NULL,
        lease_until         INTEGER,
        created_at          INTEGER NOT NULL,
        delivered_at        INTEGER,
        last_error          TEXT,
        UNIQUE (endpoint_id, station_anomaly_id)
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
    CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
    CREATE TABLE webhook_attempts (
        id             INTEGER PRIMARY KEY,
        delivery_id    INTEGER NOT NULL REFERENCES webhook_deliveries(id),
        attempted_at   INTEGER NOT NULL,
        status_code    INTEGER,
        error          TEXT,
        duration_ms    INTEGER NOT NULL
    );
    CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);";

#[tokio::test]
async fn deliveries_and_their_attempts_survive_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    drop(SqliteStore::open(SqliteOptions::new(path.clone())).unwrap());

    // Back to version 8, holding a delivered event with one attempt.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = OFF;
         DROP TABLE webhook_attempts;
         DROP TABLE webhook_deliveries;
         DROP INDEX sessions_zero_starts;
         DROP INDEX session_categories_by_category;
         DROP INDEX sessions_by_tenant_anomaly_start;
         DROP TABLE network_movements;
         DROP TABLE network_events;
         DROP TABLE network_health;
         DELETE FROM schema_migrations WHERE version >= 9;
         {VERSION_8_DELIVERIES}
         PRAGMA foreign_keys = ON;
         INSERT INTO tenants (id, name, settings, created_at) VALUES ('t', 't', '{{}}', 0);
         INSERT INTO stations (id, uuid, tenant_id, external_id, created_at, total_sessions, anomalous_sessions)
             VALUES (1, 'u', 't', 'ST-1', 0, 0, 0);
         INSERT INTO webhook_endpoints (id, tenant_id, url, secret, created_at)
             VALUES ('ep-1', 't', 'https://example.com/hook', 'whsec_x', 0);
         INSERT INTO station_anomalies (id, tenant_id, station_id, anomaly_type, connector_id,
             affected_period, inference_id, anomaly_score, detection_details, detected_at, updated_at)
             VALUES (1, 't', 1, 'station_silent', '', '2026-03-01', 1, 0.9, '{{}}', 0, 0);
         INSERT INTO webhook_deliveries (id, webhook_id, tenant_id, endpoint_id, station_anomaly_id,
             event, payload, status, attempts, next_attempt_at, created_at)
             VALUES (7, 'wh-evt-1', 't', 'ep-1', 1, 'station.anomaly_detected', '{{}}', 'delivered', 1, 0, 0);
         INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, duration_ms)
             VALUES (1, 7, 0, 200, 5);"
    ))
    .unwrap();
    drop(conn);

    drop(SqliteStore::open(SqliteOptions::new(path.clone())).unwrap());

    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert!(version >= 11);
    let attempt: (i64, i64) = conn
        .query_row("SELECT id, delivery_id FROM webhook_attempts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(attempt, (1, 7));
    let violations: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(violations, 0);
    // The resolved event of the same anomaly and endpoint is now allowed.
    conn.execute(
        "INSERT INTO webhook_deliveries (webhook_id, tenant_id, endpoint_id, station_anomaly_id,
             event, payload, status, next_attempt_at, created_at)
         VALUES ('wh-evt-2', 't', 'ep-1', 1, 'station.anomaly_resolved', '{}', 'pending', 0, 0)",
        [],
    )
    .unwrap();
    // So is a test event, which belongs to no anomaly.
    conn.execute(
        "INSERT INTO webhook_deliveries (webhook_id, tenant_id, endpoint_id, station_anomaly_id,
             event, payload, status, next_attempt_at, created_at)
         VALUES ('wh-evt-3', 't', 'ep-1', NULL, 'webhook.test', '{}', 'pending', 0, 0)",
        [],
    )
    .unwrap();
}
