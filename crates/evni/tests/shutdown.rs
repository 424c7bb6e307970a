//! `evni serve` on SIGTERM: stops accepting, lets the request in flight
//! finish, and exits within its grace period.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn evni(args: &[&str], data_dir: &std::path::Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evni"));
    command
        .args(args)
        .env("EVNI_DATA_DIR", data_dir)
        .env("EVNI_LISTEN", format!("127.0.0.1:{port}"))
        .env("EVNI_SHUTDOWN_GRACE", "5s")
        .env("EVNI_LOG", "warn")
        .env_remove("EVNI_DATABASE_URL")
        .env_remove("EVNI_CONFIG");
    command
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_and_exits_in_time() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = evni(&["tenant", "create", "acme"], data.path(), port)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let mut server = evni(&["serve"], data.path(), port)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let address = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let mut stream = loop {
        match TcpStream::connect(&address).await {
            Ok(stream) => break stream,
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the server did not start: {e}"),
        }
    };

    // Half a request, then SIGTERM, then the rest.
    let body = r#"{"session_id":"s1","charging_station_id":"ST-1","meter_values":[{"timestamp":"2026-02-27T10:00:00Z","unit":"kWh","value":1.0}]}"#;
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..20]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body.as_bytes()[20..]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("the request in flight is answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // New connections are refused once the listener is closed.
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(TcpStream::connect(&address).await.is_err());
}
