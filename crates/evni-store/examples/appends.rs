//! The SQLite store alone under the PATCH hot path's writes: CONCURRENCY
//! tasks append one minute (energy, power, SoC) to SESSIONS live sessions,
//! each with HISTORY minutes already stored, four sessions per station.
//! Prints appends/s and the CPU the writer thread spends per append: that
//! thread is the serial link of every write.
//!
//! `cargo run --release -p evni-store --example appends -- [SECONDS] [SESSIONS] [HISTORY] [CONCURRENCY]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use evni_domain::{Measurand, Reading, SessionStatus, UnitOfMeasure};
use evni_store::health::SessionFacts;
use evni_store::sqlite::{SqliteOptions, SqliteStore};
use evni_store::*;

const MINUTE: i64 = 60_000_000;

fn minute_readings(minute: i64) -> Vec<Reading> {
    let ts = 1_764_000_000_000_000 + minute * MINUTE;
    let reading = |measurand, unit, value| evni_sim::fixtures::reading(ts, measurand, unit, value);
    vec![
        reading(
            Measurand::EnergyActiveImportRegister,
            UnitOfMeasure::KWh,
            minute as f64 * 0.18,
        ),
        reading(Measurand::PowerActiveImport, UnitOfMeasure::KW, 11.0),
        reading(Measurand::SoC, UnitOfMeasure::Percent, 20.0 + minute as f64 * 0.1),
    ]
}

fn write(
    tenant: TenantId,
    session: usize,
    minutes: std::ops::Range<i64>,
    version: Option<i64>,
) -> SessionWrite {
    let readings: Vec<Reading> = minutes.clone().flat_map(minute_readings).collect();
    let count = minutes.end as usize * 3;
    SessionWrite {
        tenant,
        header: SessionHeader {
            uuid: uuid::Uuid::now_v7(),
            external_id: format!("s-{session}"),
            station_external_id: format!("st-{}", session / 4),
            connector_id: Some((session % 4 + 1).to_string()),
            evse_id: None,
            metadata: None,
            created_at: 0,
            feedback: None,
        },
        expected_version: version,
        readings: ReadingsChange::Upsert(readings),
        reading_count: count,
        started_at: Some(1_764_000_000_000_000),
        verdict: Verdict {
            status: SessionStatus::Active,
            is_anomaly: Some(false),
            // Re-analysis moves the score a little on every append.
            anomaly_score: Some(0.1 + (minutes.end % 17) as f64 * 0.01),
            anomaly_confidence: Some(0.9),
            sequence_length: Some(24),
            analyzed_at: Some(minutes.end * MINUTE),
            ..Verdict::pending()
        },
        inference: Some(InferenceRecord {
            model: "csar_2-2.0.0".into(),
            readings_analyzed: count,
        }),
        feedback: None,
        summary: Some(SessionFacts {
            energy_kwh: minutes.end as f64 * 0.18,
            plateau_kw: Some(11.0),
            is_zero: false,
        }),
    }
}

/// CPU seconds of this process's thread named `name` (Linux).
fn thread_cpu(name: &str) -> f64 {
    let ticks = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .map(|stat| {
            // utime and stime: fields 14 and 15, after the parenthesised name.
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap_or(0) + 2..].split(' ').collect();
            fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
        })
        .sum::<u64>();
    ticks as f64 / 100.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let (seconds, sessions, history, concurrency) =
        (arg(0, 10), arg(1, 1000) as usize, arg(2, 300) as i64, arg(3, 32));

    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(SqliteOptions::new(
        dir.path().join("evni.sqlite3"),
    ))?);
    let tenant = store.create_tenant("bench").await?.id;
    let mut versions = Vec::with_capacity(sessions);
    for session in 0..sessions {
        versions.push(
            store
                .write_session(write(tenant, session, 0..history, None))
                .await?
                .version,
        );
    }
    println!("{sessions} sessions with {history} minutes stored; appending for {seconds} s with {concurrency} tasks");

    let appends = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let writer_before = thread_cpu("evni-sqlite-wri");
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency as usize)
        .map(|task| {
            let (store, appends) = (store.clone(), appends.clone());
            // Task t owns sessions t, t + concurrency, ...
            let mut owned: Vec<(usize, i64, i64)> = (task..sessions)
                .step_by(concurrency as usize)
                .map(|s| (s, versions[s], history))
                .collect();
            tokio::spawn(async move {
                let mut next = 0;
                while Instant::now() < deadline && !owned.is_empty() {
                    let at = next % owned.len();
                    let (session, version, minute) = &mut owned[at];
                    let append = write(tenant, *session, *minute..*minute + 1, Some(*version));
                    *version = store.write_session(append).await.expect("append").version;
                    *minute += 1;
                    next += 1;
                    appends.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let writer = thread_cpu("evni-sqlite-wri") - writer_before;
    let n = appends.load(Ordering::Relaxed) as f64;
    println!(
        "{:.0} appends/s; writer thread {:.1} µs of CPU per append ({:.0} % busy)",
        n / elapsed,
        writer / n * 1e6,
        writer / elapsed * 100.0
    );
    Ok(())
}
