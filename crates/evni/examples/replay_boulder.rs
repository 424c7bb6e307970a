//! Replays the City of Boulder's open charging data (issue 19) through the
//! HTTP API as a client would, and prints the station health figures.
//!
//! ```text
//! cargo run -p evni --example replay_boulder -- [CSV.GZ] [weekly|one-go|both]
//! ```
//!
//! Default data: `../shared/data/real/boulder-dev.csv.gz` from the repo root.
//! Each row becomes a session: an energy register every 15 minutes rising to
//! the row's kWh and power = kWh / charging time; rows without charging
//! time or energy ('-') become 1-minute sessions without energy. Clock
//! times are sent as labelled (+00). `weekly` posts a week at a time in time
//! order and runs SHADE for every station after each week (the run the
//! scheduler makes once a station's data has settled); `one-go` posts all
//! rows, then runs SHADE until no station has unjudged days.
//!
//! Figures (the issue's targets):
//! - unlikely silences: 7 days or more without a session (aborted starts
//!   are no sessions) with p < 0.001 under a Poisson rate from the
//!   station's previous 28 days, outside network events; flagged when a
//!   station_silent or energy_drop episode starts within the silence (or
//!   the day before), with the delay from the silence's first day;
//! - false alerts: station episodes outside those silences and outside
//!   network events, per station-quarter (a station's span of data);
//! - network events found by the reference (the network's 7-day count
//!   below half of its previous 4 weeks) and those the API reports;
//! - whether the one-go import gives the weekly replay's episodes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// One row of the data: a session.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    station: String,
    /// Start as day number and minute of the day (as labelled).
    day: i64,
    minute: i64,
    minutes: Option<f64>,
    kwh: Option<f64>,
}

impl Row {
    fn aborted(&self) -> bool {
        self.kwh.is_none_or(|k| k < 0.1)
    }
}

fn station_id(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut id = String::from("BLDR");
    for part in clean.split('-').filter(|p| !p.is_empty()) {
        id.push('-');
        id.push_str(part);
    }
    id
}

/// Splits a CSV line, honouring double quotes.
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

fn number(text: &str) -> Option<f64> {
    text.trim().replace(',', "").parse::<f64>().ok()
}

fn read_rows(path: &str) -> anyhow::Result<Vec<Row>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text)?;
    let mut lines = text.lines();
    let header = fields(lines.next().context("empty file")?);
    let col = |name: &str| header.iter().position(|h| h == name).context(name.to_owned());
    let (name, date, start) = (
        col("Station_Name")?,
        col("Transaction_Date")?,
        col("Transaction_Start_Time")?,
    );
    let (minutes, kwh, object) = (
        col("Charging_Time__minutes_")?,
        col("Energy__kWh_")?,
        col("ObjectId")?,
    );
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f = fields(line);
        let d = chrono::NaiveDate::parse_from_str(&f[date][..10], "%Y/%m/%d")?;
        let t = chrono::NaiveTime::parse_from_str(&f[start][11..19], "%H:%M:%S")?;
        let day = d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() / 86_400;
        use chrono::Timelike;
        rows.push(Row {
            id: format!("bldr-{}", f[object].trim()),
            station: station_id(&f[name]),
            day,
            minute: (t.hour() * 60 + t.minute()) as i64,
            minutes: number(&f[minutes]),
            kwh: number(&f[kwh]),
        });
    }
    rows.sort_by(|a, b| (a.day, a.minute, &a.id).cmp(&(b.day, b.minute, &b.id)));
    Ok(rows)
}

fn stamp(day: i64, minute: f64) -> String {
    let t = chrono::DateTime::from_timestamp(day * 86_400 + (minute * 60.0).round() as i64, 0).unwrap();
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The session a charge point would send for a row.
fn session_body(row: &Row) -> Value {
    let kwh = row.kwh.unwrap_or(0.0).max(0.0);
    let minutes = row.minutes.unwrap_or(1.0).max(1.0);
    let kw = kwh / (minutes / 60.0);
    let mut values = Vec::new();
    let mut at: f64 = 0.0;
    loop {
        let t = at.min(minutes);
        values.push(json!({"timestamp": stamp(row.day, row.minute as f64 + t),
            "measurand": "Energy.Active.Import.Register", "unit": "kWh", "value": kwh * t / minutes}));
        values.push(json!({"timestamp": stamp(row.day, row.minute as f64 + t),
            "measurand": "Power.Active.Import", "unit": "kW", "value": if t < minutes { kw } else { 0.0 }}));
        if t >= minutes {
            break;
        }
        at += 15.0;
    }
    json!({"session_id": row.id, "charging_station_id": row.station, "connector_id": "1",
           "meter_values": values})
}

struct Replay {
    app_state: evni_api::AppState,
    tenant: evni_store::TenantId,
    base: String,
    token: String,
    client: reqwest::Client,
    _temp: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Replay {
    async fn start() -> anyhow::Result<Self> {
        let temp = tempfile::tempdir()?;
        let config = evni::Config {
            data_dir: temp.path().to_path_buf(),
            durability: "normal".into(),
            // Runs are made by the replay, in order; the scheduler stays out.
            shade_interval: "100h".into(),
            shade_debounce: "100h".into(),
            log: "warn".into(),
            ..Default::default()
        };
        let app = evni::build(&config)?;
        let app_state = app.state.clone();
        let tenant = app_state.engine.store().create_tenant("boulder").await?;
        let token = app_state.keys.issue(
            &tenant,
            evni_api::Scope::Admin,
            std::time::Duration::from_secs(86_400),
        )?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(listener, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            app_state,
            tenant: tenant.id,
            base,
            token,
            client: reqwest::Client::new(),
            _temp: temp,
            _stop: stop,
        })
    }

    /// Posts rows, eight requests at a time.
    async fn post(&self, rows: &[Row]) -> anyhow::Result<()> {
        for chunk in rows.chunks(8) {
            let mut tasks = tokio::task::JoinSet::new();
            for row in chunk {
                let request = self
                    .client
                    .post(format!("{}/v1/sessions", self.base))
                    .bearer_auth(&self.token)
                    .json(&session_body(row));
                tasks.spawn(async move { request.send().await });
            }
            while let Some(done) = tasks.join_next().await {
                let response = done??;
                if !response.status().is_success() {
                    bail!(
                        "POST /v1/sessions: {} {}",
                        response.status(),
                        response.text().await?
                    );
                }
            }
        }
        Ok(())
    }

    /// One SHADE run per station, as the scheduler makes them.
    async fn assess(&self, stations: &BTreeSet<String>) -> anyhow::Result<()> {
        for station in stations {
            self.app_state.health.assess_station(self.tenant, station).await?;
        }
        Ok(())
    }

    async fn get(&self, path: &str) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Every station anomaly the API holds, by station.
    async fn episodes(&self, stations: &BTreeSet<String>) -> anyhow::Result<Vec<Episode>> {
        let mut out = Vec::new();
        for station in stations {
            let mut page = 1;
            loop {
                let (status, body) = self
                    .get(&format!(
                        "/v1/stations/{station}/anomalies?page={page}&page_size=100"
                    ))
                    .await?;
                if !status.is_success() {
                    bail!("anomalies of {station}: {status} {body}");
                }
                let items = body["items"].as_array().cloned().unwrap_or_default();
                for item in &items {
                    let d = &item["detection_details"];
                    let day = |key: &str| d[key].as_str().and_then(evni_shade::parse_day);
                    let first = day("affected_period").context("affected_period")?;
                    out.push(Episode {
                        station: station.clone(),
                        kind: d["anomaly_type"].as_str().unwrap_or("").to_owned(),
                        connector: d["connector_id"].as_str().map(str::to_owned),
                        first,
                        last: day("last_affected_day").unwrap_or(first),
                        detected: day("detected_on"),
                        count: d["zero_session_events"].as_u64(),
                    });
                }
                if items.len() < 100 {
                    break;
                }
                page += 1;
            }
        }
        out.sort();
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Episode {
    station: String,
    kind: String,
    connector: Option<String>,
    first: i64,
    last: i64,
    detected: Option<i64>,
    /// Zero-session events of a zero_session_surge.
    count: Option<u64>,
}

impl Episode {
    fn key(&self) -> (String, String, Option<String>, i64) {
        (
            self.station.clone(),
            self.kind.clone(),
            self.connector.clone(),
            self.first,
        )
    }
}

/// Sessions (not aborted starts) per station and day.
fn daily(rows: &[Row]) -> BTreeMap<String, BTreeMap<i64, u32>> {
    let mut out: BTreeMap<String, BTreeMap<i64, u32>> = BTreeMap::new();
    for row in rows {
        let days = out.entry(row.station.clone()).or_default();
        let n = days.entry(row.day).or_default();
        if !row.aborted() {
            *n += 1;
        }
    }
    out
}

/// Network events by the reference rule: the network's sessions in 7 days
/// below half of its weekly rate in the 4 weeks before; the event lasts
/// until a week reaches half of that pre-event rate again, and a week at least.
fn network_events(rows: &[Row]) -> Vec<(i64, i64)> {
    let mut per_day: BTreeMap<i64, f64> = BTreeMap::new();
    for row in rows.iter().filter(|r| !r.aborted()) {
        *per_day.entry(row.day).or_default() += 1.0;
    }
    let (Some(&first), Some(&last)) = (per_day.keys().next(), per_day.keys().next_back()) else {
        return Vec::new();
    };
    let sum = |from: i64, to: i64| -> f64 { per_day.range(from..=to).map(|(_, n)| n).sum() };
    let mut events = Vec::new();
    let mut open: Option<(i64, f64)> = None;
    for d in (first + 35)..=last {
        let week = sum(d - 6, d);
        match open {
            None => {
                let before = sum(d - 34, d - 7) / 4.0;
                if before >= 20.0 && week < 0.5 * before {
                    open = Some((d - 6, before));
                }
            }
            Some((start, before)) => {
                if week >= 0.5 * before {
                    // A dip of a few days (a holiday) is no event.
                    if d - 7 - start >= 6 {
                        events.push((start, d - 7));
                    }
                    open = None;
                }
            }
        }
    }
    if let Some((start, _)) = open {
        events.push((start, last));
    }
    events
}

/// A silence of 7 days or more that the station's previous 28 days made
/// unlikely (p < 0.001).
#[derive(Debug)]
struct Silence {
    station: String,
    first: i64,
    last: i64,
    p: f64,
}

fn unlikely_silences(rows: &[Row]) -> Vec<Silence> {
    let mut out = Vec::new();
    for (station, days) in daily(rows) {
        let active: Vec<i64> = days.iter().filter(|(_, n)| **n > 0).map(|(d, _)| *d).collect();
        for pair in active.windows(2) {
            let (first, last) = (pair[0] + 1, pair[1] - 1);
            let length = last - first + 1;
            if length < 7 {
                continue;
            }
            let before: u32 = days.range(first - 28..first).map(|(_, n)| n).sum();
            let p = (-(before as f64 / 28.0) * length as f64).exp();
            if p < 1e-3 {
                out.push(Silence {
                    station: station.clone(),
                    first,
                    last,
                    p,
                });
            }
        }
    }
    out
}

fn overlaps(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

fn print_episode(e: &Episode) {
    let count = e
        .count
        .map(|n| format!(", {n} zero-session events"))
        .unwrap_or_default();
    println!(
        "     {} {} {} ({} d{count})",
        e.station,
        e.kind,
        evni_shade::day_label(e.first),
        e.last - e.first + 1
    );
}

fn report(label: &str, rows: &[Row], episodes: &[Episode], api_events: &Value) {
    let events = network_events(rows);
    let in_event = |span: (i64, i64)| events.iter().any(|e| overlaps(*e, span));
    let silences: Vec<Silence> = unlikely_silences(rows)
        .into_iter()
        .filter(|s| !in_event((s.first, s.last)))
        .collect();
    println!("== {label}: {} station episodes", episodes.len());
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for e in episodes {
        *by_kind.entry(&e.kind).or_default() += 1;
    }
    println!("   by type: {by_kind:?}");
    let mut flagged = 0;
    let mut delays = Vec::new();
    let mut explained = BTreeSet::new();
    for s in &silences {
        let hit = episodes.iter().enumerate().find(|(_, e)| {
            e.station == s.station
                && (e.kind == "station_silent" || e.kind == "energy_drop")
                && e.first >= s.first - 1
                && e.first <= s.last
        });
        let status = match hit {
            Some((i, e)) => {
                flagged += 1;
                let delay = e.detected.unwrap_or(e.first) - s.first;
                delays.push(delay);
                explained.insert(i);
                format!("flagged, delay {delay} d")
            }
            None => "missed".to_owned(),
        };
        println!(
            "   silence {} {}..{} ({} d, p={:.1e}): {status}",
            s.station,
            evni_shade::day_label(s.first),
            evni_shade::day_label(s.last),
            s.last - s.first + 1,
            s.p
        );
    }
    // Episodes inside any silence (also later in a long one) are explained.
    for (i, e) in episodes.iter().enumerate() {
        if silences
            .iter()
            .any(|s| s.station == e.station && overlaps((s.first - 1, s.last), (e.first, e.first)))
        {
            explained.insert(i);
        }
    }
    let outside: Vec<&Episode> = episodes
        .iter()
        .enumerate()
        .filter(|(i, e)| !explained.contains(i) && !in_event((e.first, e.first)))
        .map(|(_, e)| e)
        .collect();
    let quarters: f64 = daily(rows)
        .values()
        .map(|days| {
            let (first, last) = (days.keys().next().unwrap(), days.keys().next_back().unwrap());
            (last - first + 1) as f64 / 91.3125
        })
        .sum();
    delays.sort();
    let median_delay = delays.get(delays.len() / 2).copied();
    println!(
        "   unlikely silences outside network events: {} flagged of {} ({:.0} %), delay median {:?} d, max {:?} d",
        flagged,
        silences.len(),
        100.0 * flagged as f64 / silences.len().max(1) as f64,
        median_delay,
        delays.last()
    );
    println!(
        "   alerts outside those silences and network events: {} over {:.1} station-quarters = {:.3} per station-quarter",
        outside.len(),
        quarters,
        outside.len() as f64 / quarters
    );
    for e in &outside {
        print_episode(e);
    }
    for (first, last) in &events {
        let inside: Vec<&Episode> = episodes
            .iter()
            .filter(|e| overlaps((*first, *last), (e.first, e.first)))
            .collect();
        println!(
            "   reference network event {}..{}: {} station episodes start in it",
            evni_shade::day_label(*first),
            evni_shade::day_label(*last),
            inside.len()
        );
        for e in inside {
            print_episode(e);
        }
    }
    println!("   GET /v1/network/health: {api_events}");
}

async fn replay(rows: &[Row], weekly: bool) -> anyhow::Result<(Vec<Episode>, Value)> {
    let started = Instant::now();
    let app = Replay::start().await?;
    let stations: BTreeSet<String> = rows.iter().map(|r| r.station.clone()).collect();
    if weekly {
        let first = rows[0].day;
        let mut seen = BTreeSet::new();
        for week in rows.chunk_by(|a, b| (a.day - first) / 7 == (b.day - first) / 7) {
            app.post(week).await?;
            seen.extend(week.iter().map(|r| r.station.clone()));
            app.assess(&seen).await?;
        }
    } else {
        app.post(rows).await?;
        // Bounded runs: repeat until a run adds nothing.
        let mut previous = None;
        for _ in 0..20 {
            app.assess(&stations).await?;
            let now = app.episodes(&stations).await?;
            if previous.as_ref() == Some(&now) {
                break;
            }
            previous = Some(now);
        }
    }
    let episodes = app.episodes(&stations).await?;
    let (_, network) = app.get("/v1/network/health").await?;
    eprintln!(
        "{} replay: {} rows in {:.1} s",
        if weekly { "weekly" } else { "one-go" },
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok((episodes, network))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .cloned()
        .unwrap_or_else(|| "../shared/data/real/boulder-dev.csv.gz".into());
    let mode = args.get(1).map(String::as_str).unwrap_or("both");
    let rows = read_rows(&path)?;
    let mut results = Vec::new();
    if mode == "weekly" || mode == "both" {
        let (episodes, network) = replay(&rows, true).await?;
        report("weekly replay", &rows, &episodes, &network);
        results.push(episodes);
    }
    if mode == "one-go" || mode == "both" {
        let (episodes, network) = replay(&rows, false).await?;
        report("one-go import", &rows, &episodes, &network);
        results.push(episodes);
    }
    if let [weekly, one_go] = &results[..] {
        let keys = |e: &[Episode]| e.iter().map(Episode::key).collect::<BTreeSet<_>>();
        let (a, b) = (keys(weekly), keys(one_go));
        println!(
            "== one-go vs weekly: {} equal, {} only weekly, {} only one-go",
            a.intersection(&b).count(),
            a.difference(&b).count(),
            b.difference(&a).count()
        );
    }
    Ok(())
}
