//! `evni bench ocpp`: chargers sending MeterValues every `interval` seconds to
//! a simulated CSMS, first through `evni serve`'s OCPP proxy (with its tap
//! into a real store in a temporary data dir), then directly; all in this
//! process on 127.0.0.1. Prints the round trip of a CALL to its CALLRESULT
//! both ways, the latency the proxy adds (p50, p99), and the memory the
//! proxy holds per idle connection (resident memory with the chargers
//! connected through the proxy, minus connected directly, per charger).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::Config;

pub async fn run(chargers: usize, interval: u64, duration: u64) -> anyhow::Result<()> {
    let csms = fake_csms().await?;
    let proxy_addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?
    };
    let dir = std::env::temp_dir().join(format!("evni-bench-ocpp-{}", std::process::id()));
    let mut config = Config {
        data_dir: dir.clone(),
        log: "warn".into(),
        ..Config::default()
    };
    config.ocpp.listen = Some(proxy_addr.to_string());
    config.ocpp.upstream = Some(format!("ws://{csms}/csms"));
    config.ocpp.tenant = Some("bench".into());
    let app = crate::build(&config)?;
    app.create_tenant("bench").await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(listener, async move {
        let _ = stopped.await;
    }));
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(proxy_addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "{chargers} chargers, MeterValues every {interval} s for {duration} s per phase, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let interval = Duration::from_secs(interval);
    let duration = Duration::from_secs(duration);
    // Through the proxy first: memory freed by this phase can only make the
    // direct phase look cheaper, so the proxy's share is never understated.
    // EVNI_BENCH_DIRECT_FIRST=1 runs the other order: memory freed by the
    // direct phase then makes the proxy look cheaper; the two orders bracket
    // the proxy's true share.
    let (proxied, direct) = if std::env::var("EVNI_BENCH_DIRECT_FIRST").is_ok_and(|v| v == "1") {
        let direct = phase(&format!("ws://{csms}/csms"), chargers, interval, duration).await?;
        let proxied = phase(&format!("ws://{proxy_addr}/ocpp"), chargers, interval, duration).await?;
        (proxied, direct)
    } else {
        let proxied = phase(&format!("ws://{proxy_addr}/ocpp"), chargers, interval, duration).await?;
        let direct = phase(&format!("ws://{csms}/csms"), chargers, interval, duration).await?;
        (proxied, direct)
    };
    let _ = stop.send(());
    server.await??;
    let _ = std::fs::remove_dir_all(&dir);

    let (mut p, mut d) = (proxied.round_trips, direct.round_trips);
    p.sort_unstable();
    d.sort_unstable();
    let ms = |v: Duration| v.as_secs_f64() * 1000.0;
    println!(
        "round trip through the proxy: {} frames, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        p.len(),
        ms(percentile(&p, 0.50)),
        ms(percentile(&p, 0.99)),
        ms(*p.last().unwrap_or(&Duration::ZERO))
    );
    println!(
        "round trip direct:            {} frames, p50 {:.3} ms, p99 {:.3} ms",
        d.len(),
        ms(percentile(&d, 0.50)),
        ms(percentile(&d, 0.99))
    );
    println!(
        "added latency per frame (CALL and CALLRESULT each pass the proxy once): p50 {:.3} ms, p99 {:.3} ms",
        ms(percentile(&p, 0.50).saturating_sub(percentile(&d, 0.50))),
        ms(percentile(&p, 0.99).saturating_sub(percentile(&d, 0.99)))
    );
    let per_connection = proxied.idle_bytes.saturating_sub(direct.idle_bytes) / chargers.max(1) as u64;
    println!(
        "memory per idle connection held by the proxy: {:.1} KiB (resident {:.1} MiB through the proxy, {:.1} MiB direct, for {chargers} chargers)",
        per_connection as f64 / 1024.0,
        proxied.idle_bytes as f64 / 1048576.0,
        direct.idle_bytes as f64 / 1048576.0
    );
    Ok(())
}

struct Phase {
    round_trips: Vec<Duration>,
    /// Resident memory added by the connected, idle chargers.
    idle_bytes: u64,
}

async fn phase(base: &str, chargers: usize, interval: Duration, duration: Duration) -> anyhow::Result<Phase> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = resident_bytes()?;
    let mut sockets = Vec::with_capacity(chargers);
    for i in 0..chargers {
        let mut request = format!("{base}/BENCH-{i:05}").into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("ocpp1.6"));
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .with_context(|| format!("charger {i} connecting to {base}"))?;
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_bytes = resident_bytes()?.saturating_sub(before);

    let (tx, mut rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            let tx = tx.clone();
            // Spread the chargers over the interval, as real ones are.
            let offset = interval.mul_f64(i as f64 / chargers as f64);
            tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                let mut n = 0u64;
                while started.elapsed() < duration {
                    n += 1;
                    let frame = format!(
                        "[2,\"{n}\",\"MeterValues\",{{\"connectorId\":1,\"transactionId\":{i},\"meterValue\":[{{\"timestamp\":\"{}\",\"sampledValue\":[{{\"value\":\"{}\",\"measurand\":\"Energy.Active.Import.Register\",\"unit\":\"Wh\"}}]}}]}}]",
                        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        1000 + n * 30
                    );
                    let sent = Instant::now();
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
                    let _ = tx.send(sent.elapsed());
                    tokio::time::sleep(interval.saturating_sub(sent.elapsed())).await;
                }
                let _ = ws.close(None).await;
            })
        })
        .collect();
    drop(tx);
    for task in tasks {
        let _ = task.await;
    }
    let mut round_trips = Vec::new();
    while let Some(rtt) = rx.recv().await {
        round_trips.push(rtt);
    }
    Ok(Phase {
        round_trips,
        idle_bytes,
    })
}

/// A CSMS that accepts ocpp1.6 and answers every CALL at once.
#[allow(clippy::result_large_err)] // tungstenite's handshake callback signature
async fn fake_csms() -> anyhow::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
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
                        let id = text.as_str().split('"').nth(1).unwrap_or("0").to_owned();
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

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Resident memory of this process (Linux).
fn resident_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS in /proc/self/status")?;
    Ok(kib * 1024)
}
