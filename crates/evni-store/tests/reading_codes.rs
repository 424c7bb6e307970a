//! Readings stored with OCPP spellings (schema version 6) are rewritten with
//! codes on the first start of this version, every value kept; a spelling
//! without a code stops the migration and leaves the database as it was.

mod common;

use std::path::Path;

use common::session_write;
use evni_domain::{Location, Measurand, Phase, Reading, ReadingContext, UnitOfMeasure};
use evni_store::sqlite::{SqliteOptions, SqliteStore};
use evni_store::*;

/// A reading as version 6 stored it: measurand, phase ('' for none),
/// location, unit, value, context.
type SpelledRow<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, f64, Option<&'a str>);

/// A database with session "s-1" whose readings table is as version 6 left
/// it, holding `rows`; the later migrations (7 and up) are undone (9 and 11
/// rebuild the webhook tables and run again as they are).
async fn version_6_database(path: &Path, rows: &[SpelledRow<'_>]) -> TenantId {
    let store = SqliteStore::open(SqliteOptions::new(path.to_path_buf())).unwrap();
    let tenant = store.create_tenant("acme").await.unwrap().id;
    store
        .write_session(session_write(tenant, "s-1", "ST-1", 0..1, None, 0.1, "rules-1"))
        .await
        .unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(path).unwrap();
    let session: i64 = conn
        .query_row("SELECT id FROM sessions WHERE external_id = 's-1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    conn.execute_batch(
        "DROP TABLE readings;
         CREATE TABLE readings (
            session_id  INTEGER NOT NULL REFERENCES sessions(id),
            ts          INTEGER NOT NULL,
            measurand   TEXT NOT NULL,
            phase       TEXT NOT NULL,
            location    TEXT NOT NULL,
            unit        TEXT,
            value       REAL NOT NULL,
            context     TEXT,
            PRIMARY KEY (session_id, ts, measurand, phase, location)
         ) WITHOUT ROWID;
         DROP TABLE revoked_tokens;
         ALTER TABLE tenants DROP COLUMN disabled_at;
         DROP INDEX sessions_zero_starts;
         DROP INDEX session_categories_by_category;
         DROP INDEX sessions_by_tenant_anomaly_start;
         DROP TABLE network_movements;
         DROP TABLE network_events;
         DROP TABLE network_health;
         DELETE FROM schema_migrations WHERE version >= 7;",
    )
    .unwrap();
    for (minute, (measurand, phase, location, unit, value, context)) in rows.iter().enumerate() {
        conn.execute(
            "INSERT INTO readings VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                session,
                minute as i64 * 60_000_000,
                measurand,
                phase,
                location,
                unit,
                value,
                context
            ],
        )
        .unwrap();
    }
    tenant
}

#[tokio::test]
async fn readings_stored_with_spellings_are_kept_with_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let tenant = version_6_database(
        &path,
        &[
            (
                "Energy.Active.Import.Register",
                "",
                "Outlet",
                Some("kWh"),
                12.5,
                None,
            ),
            (
                "Voltage",
                "L1-N",
                "Inlet",
                Some("V"),
                231.0,
                Some("Sample.Periodic"),
            ),
            ("SoC", "", "EV", None, 55.0, Some("Transaction.Begin")),
            (
                "Temperature",
                "L3-L1",
                "Body",
                Some("Celsius"),
                -3.25,
                Some("Other"),
            ),
        ],
    )
    .await;

    let store = SqliteStore::open(SqliteOptions::new(path)).unwrap();
    let stored = store.load_session(tenant, "s-1").await.unwrap().unwrap();
    let reading = |minute: i64, measurand, phase, location, unit, value, context| Reading {
        ts: minute * 60_000_000,
        measurand,
        phase,
        location,
        unit,
        value,
        context,
    };
    assert_eq!(
        stored.readings,
        vec![
            reading(
                0,
                Measurand::EnergyActiveImportRegister,
                None,
                Location::Outlet,
                Some(UnitOfMeasure::KWh),
                12.5,
                None
            ),
            reading(
                1,
                Measurand::Voltage,
                Some(Phase::L1N),
                Location::Inlet,
                Some(UnitOfMeasure::V),
                231.0,
                Some(ReadingContext::SamplePeriodic)
            ),
            reading(
                2,
                Measurand::SoC,
                None,
                Location::Ev,
                None,
                55.0,
                Some(ReadingContext::TransactionBegin)
            ),
            reading(
                3,
                Measurand::Temperature,
                Some(Phase::L3L1),
                Location::Body,
                Some(UnitOfMeasure::Celsius),
                -3.25,
                Some(ReadingContext::Other)
            ),
        ]
    );
    // New readings go into the rewritten table beside the migrated ones.
    store
        .write_session(session_write(
            tenant,
            "s-1",
            "ST-1",
            10..11,
            Some(1),
            0.1,
            "rules-1",
        ))
        .await
        .unwrap();
    let stored = store.load_session(tenant, "s-1").await.unwrap().unwrap();
    assert_eq!(stored.readings.len(), 5);
}

#[tokio::test]
async fn a_spelling_without_a_code_stops_the_migration_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    version_6_database(
        &path,
        &[
            (
                "Energy.Active.Import.Register",
                "",
                "Outlet",
                Some("kWh"),
                1.0,
                None,
            ),
            (
                "Energy.Active.Import.Registr",
                "",
                "Outlet",
                Some("kWh"),
                2.0,
                None,
            ),
        ],
    )
    .await;

    let error = SqliteStore::open(SqliteOptions::new(path.clone())).err().unwrap();
    assert!(error.to_string().contains("cannot code: 1;"), "{error}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let kept: Vec<(String, f64)> = conn
        .prepare("SELECT measurand, value FROM readings ORDER BY ts")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[1].0, "Energy.Active.Import.Registr");
    let version: i64 = conn
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6);
}
