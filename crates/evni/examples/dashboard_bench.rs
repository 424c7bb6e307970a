//! The dashboard's page-speed benchmark: a tenant with 100,000 analysed
//! sessions on 1,000 stations (SQLite in a fresh temp dir), then every
//! dashboard page requested repeatedly over loopback; prints p50/p99 per page.
//!
//!   cargo run --release -p evni --example dashboard_bench [SESSIONS] [STATIONS] [REQUESTS]
//!
//! With EVNI_BENCH_KEEP set, the data directory is kept and printed.
//! With EVNI_DATABASE_URL set, the data go to that (empty) PostgreSQL
//! database instead.
//!
//! Sessions go straight to the engine (the analysis and store write a POST
//! does, without HTTP and JSON) so setting up takes a minute, not an hour.

use std::sync::Arc;
use std::time::Instant;

use evni::Config;
use evni_domain::{ExternalId, Location, Measurand, Reading, UnitOfMeasure};
use evni_engine::{Command, NewSession};
use futures_util::stream::{self, StreamExt};

const BASE: &str = "2026-01-01T00:00:00Z";

/// One hour at 5-minute sampling, energy and power; one in ten has a
/// register that steps back (KWH_DECREASE), one in 25 delivers nothing.
fn readings(i: usize, stations: usize) -> Vec<Reading> {
    let start = chrono::DateTime::parse_from_rfc3339(BASE).unwrap().timestamp_micros()
        // One session a day per station, at a different hour each.
        + (i / stations) as i64 * 86_400_000_000
        + (i % 24) as i64 * 3_600_000_000;
    let kw = if i % 25 == 3 {
        0.0
    } else {
        [7.4, 11.0, 22.0][i % 3]
    };
    let register = 10_000.0 + 37.0 * (i % 1000) as f64;
    (0..=12)
        .flat_map(|step| {
            let ts = start + step * 300_000_000;
            let mut energy = register + kw * step as f64 / 12.0;
            if i.is_multiple_of(10) && step >= 6 {
                energy -= 0.8;
            }
            [
                reading(
                    ts,
                    Measurand::EnergyActiveImportRegister,
                    UnitOfMeasure::KWh,
                    energy,
                ),
                reading(ts, Measurand::PowerActiveImport, UnitOfMeasure::KW, kw),
            ]
        })
        .collect()
}

fn reading(ts: i64, measurand: Measurand, unit: UnitOfMeasure, value: f64) -> Reading {
    Reading {
        ts,
        measurand,
        phase: None,
        location: Location::Outlet,
        unit: Some(unit),
        value,
        context: None,
    }
}

fn external_id(field: &str, value: &str) -> anyhow::Result<ExternalId> {
    ExternalId::parse(field, value).map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.problem))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arg = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .map_or(Ok(default), |a| a.parse::<usize>())
    };
    let (sessions, stations, requests) = (arg(1, 100_000)?, arg(2, 1_000)?, arg(3, 200)?);
    let dir = std::env::temp_dir().join(format!("evni-dashboard-bench-{}", std::process::id()));
    // The token key lives here on either backend.
    std::fs::create_dir_all(&dir)?;
    let config = Config {
        data_dir: dir.clone(),
        database_url: std::env::var("EVNI_DATABASE_URL").ok(),
        workers: 0,
        log: "warn".into(),
        ..Config::default()
    };
    let app = evni::build(&config)?;
    let (tenant, token) = app.create_tenant("bench").await?;
    let engine = app.state.engine.clone();
    let tenant = Arc::new(tenant);

    let started = Instant::now();
    let mut written = stream::iter(0..sessions)
        .map(|i| {
            let (engine, tenant) = (engine.clone(), tenant.clone());
            async move {
                let id = external_id("session_id", &format!("bench-{i:06}"))?;
                let command = Command::Create(NewSession {
                    station: external_id("station", &format!("CP-{:04}", i % stations))?,
                    connector_id: Some(external_id("connector_id", &format!("{}", 1 + i % 2))?),
                    evse_id: None,
                    metadata: None,
                    readings: readings(i, stations),
                });
                engine.apply(&tenant, &id, command).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32);
    let mut done = 0;
    while let Some(result) = written.next().await {
        result?;
        done += 1;
        if done % 10_000 == 0 {
            eprintln!(
                "{done} sessions written ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop(written);
    println!(
        "{sessions} sessions on {stations} stations written in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(url) = &config.database_url {
        // What autovacuum does soon after a bulk load: without the
        // visibility map, index-only scans read every row anyway.
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client
            .batch_execute("VACUUM ANALYZE sessions, session_categories, stations, station_days")
            .await?;
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let cookie = format!("evni_session={token}");
    let last_page = sessions.div_ceil(20);
    let pages: Vec<(&str, String)> = vec![
        ("overview", "/ui/".into()),
        ("sessions", "/ui/sessions".into()),
        ("sessions, anomalies only", "/ui/sessions?is_anomaly=true".into()),
        (
            "sessions, by category",
            "/ui/sessions?category=KWH_DECREASE".into(),
        ),
        (
            "sessions, by station",
            "/ui/sessions?charging_station_id=CP-0042".into(),
        ),
        (
            "sessions, date range",
            "/ui/sessions?date_from=2026-02-01&date_to=2026-02-07".into(),
        ),
        ("sessions, page 500", "/ui/sessions?page=500".into()),
        // The middle page skips the most rows (older pages are read from
        // the oldest end).
        (
            "sessions, middle page",
            format!("/ui/sessions?page={}", last_page.div_ceil(2)),
        ),
        ("sessions, last page", format!("/ui/sessions?page={last_page}")),
        ("session detail", "/ui/sessions/bench-050000".into()),
        ("stations", "/ui/stations".into()),
        (
            "stations, last page",
            format!("/ui/stations?page={}", stations.div_ceil(20)),
        ),
        ("station detail", "/ui/stations/CP-0042".into()),
        ("webhooks", "/ui/webhooks".into()),
        ("models", "/ui/models".into()),
        ("batches", "/ui/batches".into()),
        ("settings", "/ui/settings".into()),
    ];
    println!("{requests} requests per page, one at a time, over loopback (ms):");
    println!("{:<28} {:>8} {:>8} {:>8}", "page", "p50", "p99", "max");
    let mut worst: f64 = 0.0;
    for (name, path) in &pages {
        let mut times = Vec::with_capacity(requests);
        for round in 0..requests + 5 {
            let sent = Instant::now();
            let response = client
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await?;
            let status = response.status();
            let body = response.bytes().await?;
            let elapsed = sent.elapsed().as_secs_f64() * 1000.0;
            anyhow::ensure!(status.is_success(), "{path} answered {status}: {body:?}");
            // The first few warm the caches.
            if round >= 5 {
                times.push(elapsed);
            }
        }
        times.sort_by(f64::total_cmp);
        let p99 = percentile(&times, 0.99);
        worst = worst.max(p99);
        println!(
            "{name:<28} {:>8.2} {:>8.2} {:>8.2}",
            percentile(&times, 0.5),
            p99,
            times[times.len() - 1]
        );
    }
    println!("worst p99: {worst:.2} ms (target < 50 ms)");
    let _ = stop.send(());
    server.await??;
    if std::env::var_os("EVNI_BENCH_KEEP").is_some() {
        // For EXPLAIN QUERY PLAN with sqlite3 on the same data.
        println!("data kept in {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}
