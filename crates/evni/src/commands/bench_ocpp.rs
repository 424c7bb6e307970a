//! `evni bench ocpp`: chargers sending MeterValues every `interval` seconds to
//! a simulated CSMS, first through the OCPP proxy of an `evni serve` child
//! process (with its tap into a real store in a temporary data dir), then
//! directly. The chargers and the CSMS run in this process, so one clock
//! times each CALL from the charger's send to the CSMS's receipt (one frame
//! through the proxy) and to the CALLRESULT's return (two frames). Prints
//! those latencies through the proxy and direct, their differences (what
//! the proxy adds), and the child's resident memory per idle connection.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::Config;

/// The `evni serve` child; killed when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's data dir, removed when the bench ends.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One-way latencies the CSMS measured (charger send to CSMS receipt).
type Arrivals = Arc<Mutex<Vec<Duration>>>;

pub async fn run(chargers: usize, interval: u64, duration: u64) -> anyhow::Result<()> {
    let epoch = Instant::now();
    let arrivals = Arrivals::default();
    let csms = fake_csms(epoch, arrivals.clone()).await?;
    let free = || -> anyhow::Result<std::net::SocketAddr> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
    };
    let (proxy_addr, api_addr) = (free()?, free()?);
    let dir = TempDir(std::env::temp_dir().join(format!("evni-bench-ocpp-{}", std::process::id())));
    let token = {
        let config = Config {
            data_dir: dir.0.clone(),
            log: "warn".into(),
            ..Config::default()
        };
        let app = crate::build(&config)?;
        app.create_tenant("bench").await?.1
    };
    let exe = std::env::current_exe().context("finding the evni binary")?;
    let child = Command::new(exe)
        .arg("serve")
        .env("EVNI_DATA_DIR", &dir.0)
        .env("EVNI_LISTEN", api_addr.to_string())
        .env("EVNI_LOG", "warn")
        .env("EVNI_OCPP_LISTEN", proxy_addr.to_string())
        .env("EVNI_OCPP_UPSTREAM", format!("ws://{csms}/csms"))
        .env("EVNI_OCPP_TENANT", "bench")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("starting `evni serve`")?;
    let server = Server(child);
    let pid = server.0.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(proxy_addr).await.is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "`evni serve` never listened on {proxy_addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{chargers} chargers, MeterValues every {interval} s for {duration} s per phase, {} cores; evni serve is process {pid}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let interval = Duration::from_secs(interval);
    let duration = Duration::from_secs(duration);

    let rss_before = resident_bytes(pid)?;
    let proxied = phase(
        &format!("ws://{proxy_addr}/ocpp"),
        chargers,
        interval,
        duration,
        epoch,
        || resident_bytes(pid),
    )
    .await?;
    let proxied_one_way = std::mem::take(&mut *arrivals.lock().unwrap());
    let direct = phase(
        &format!("ws://{csms}/csms"),
        chargers,
        interval,
        duration,
        epoch,
        || resident_bytes(pid),
    )
    .await?;
    let direct_one_way = std::mem::take(&mut *arrivals.lock().unwrap());
    let recorded = recorded_sessions(api_addr, &token).await;
    drop(server);

    let report = |name: &str, through: &[Duration], direct: &[Duration]| {
        let (mut p, mut d) = (through.to_vec(), direct.to_vec());
        p.sort_unstable();
        d.sort_unstable();
        let ms = |v: Duration| v.as_secs_f64() * 1000.0;
        println!(
            "{name} through the proxy: {} frames, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            p.len(),
            ms(percentile(&p, 0.50)),
            ms(percentile(&p, 0.99)),
            ms(*p.last().unwrap_or(&Duration::ZERO))
        );
        println!(
            "{name} direct:            {} frames, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            d.len(),
            ms(percentile(&d, 0.50)),
            ms(percentile(&d, 0.99)),
            ms(*d.last().unwrap_or(&Duration::ZERO))
        );
        println!(
            "{name} added by the proxy: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            ms(percentile(&p, 0.50).saturating_sub(percentile(&d, 0.50))),
            ms(percentile(&p, 0.99).saturating_sub(percentile(&d, 0.99))),
            ms(p.last()
                .copied()
                .unwrap_or_default()
                .saturating_sub(d.last().copied().unwrap_or_default()))
        );
    };
    report("one frame (charger -> CSMS)", &proxied_one_way, &direct_one_way);
    report(
        "round trip (CALL and CALLRESULT)",
        &proxied.round_trips,
        &direct.round_trips,
    );
    let held = proxied.idle_bytes.saturating_sub(rss_before);
    println!(
        "memory per idle connection in evni serve: {:.1} KiB (resident {:.1} MiB before the chargers connected, {:.1} MiB with {chargers} idle chargers)",
        held as f64 / 1024.0 / chargers.max(1) as f64,
        rss_before as f64 / 1048576.0,
        proxied.idle_bytes as f64 / 1048576.0,
    );
    match recorded {
        Ok(sessions) => println!("sessions the tap recorded in evni serve's store: {sessions}"),
        Err(e) => println!("sessions the tap recorded: unknown ({e})"),
    }
    Ok(())
}

struct Phase {
    round_trips: Vec<Duration>,
    /// `evni serve`'s resident memory with every charger connected and idle.
    idle_bytes: u64,
}

async fn phase(
    base: &str,
    chargers: usize,
    interval: Duration,
    duration: Duration,
    epoch: Instant,
    resident: impl Fn() -> anyhow::Result<u64>,
) -> anyhow::Result<Phase> {
    let mut sockets = Vec::with_capacity(chargers);
    for i in 0..chargers {
        let mut request = format!("{base}/BENCH-{i:05}").into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("ocpp1.6"));
        // No Nagle on the chargers' side either: each frame is sent at once.
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .with_context(|| format!("charger {i} connecting to {base}"))?;
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_bytes = resident()?;

    let round_trips = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            let round_trips = round_trips.clone();
            // Spread the chargers over the interval, as real ones are.
            let offset = interval.mul_f64(i as f64 / chargers as f64);
            tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                let mut n = 0u64;
                while started.elapsed() < duration {
                    n += 1;
                    let sent = Instant::now();
                    // The message id carries the send time, for the CSMS.
                    let frame = format!(
                        "[2,\"{}\",\"MeterValues\",{{\"connectorId\":1,\"transactionId\":{i},\"meterValue\":[{{\"timestamp\":\"{}\",\"sampledValue\":[{{\"value\":\"{}\",\"measurand\":\"Energy.Active.Import.Register\",\"unit\":\"Wh\"}}]}}]}}]",
                        sent.duration_since(epoch).as_nanos(),
                        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        1000 + n * 30
                    );
                    if ws.send(Message::text(frame)).await.is_err() {
                        return;
                    }
                    loop {
                        match ws.next().await {
                            Some(Ok(Message::Text(_))) => break,
                            Some(Ok(_)) => continue,
                            _ => return,
                        }
                    }
                    round_trips.lock().unwrap().push(sent.elapsed());
                    tokio::time::sleep(interval.saturating_sub(sent.elapsed())).await;
                }
                let _ = ws.close(None).await;
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let round_trips = std::mem::take(&mut *round_trips.lock().unwrap());
    Ok(Phase {
        round_trips,
        idle_bytes,
    })
}

/// A CSMS that accepts ocpp1.6, notes how long each CALL took to arrive
/// (from the send time in its message id) and answers it at once.
#[allow(clippy::result_large_err)] // tungstenite's handshake callback signature
async fn fake_csms(epoch: Instant, arrivals: Arrivals) -> anyhow::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let choose = |_: &Request, mut response: Response| {
                    response
                        .headers_mut()
                        .insert("sec-websocket-protocol", HeaderValue::from_static("ocpp1.6"));
                    Ok(response)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, choose).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if let Message::Text(text) = message {
                        let now = epoch.elapsed();
                        let id = text.as_str().split('"').nth(1).unwrap_or("0").to_owned();
                        if let Ok(sent) = id.parse::<u64>() {
                            let one_way = now.saturating_sub(Duration::from_nanos(sent));
                            arrivals.lock().unwrap().push(one_way);
                        }
                        if ws
                            .send(Message::text(format!("[3,\"{id}\",{{}}]")))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Sessions in the bench tenant, as `GET /v1/statistics` counts them.
async fn recorded_sessions(api: std::net::SocketAddr, token: &str) -> anyhow::Result<u64> {
    let statistics: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{api}/v1/statistics"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    statistics["total_sessions"]
        .as_u64()
        .context("no total_sessions in the statistics")
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Resident memory of process `pid` (Linux).
fn resident_bytes(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok(kib * 1024)
}
