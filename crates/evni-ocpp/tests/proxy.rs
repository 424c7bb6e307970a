//! Door 2: the proxy between a charger and a fake CSMS, both written with
//! tokio-tungstenite, all on 127.0.0.1.

#![allow(clippy::result_large_err)] // tungstenite's handshake callback signature

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use evni_ocpp::proxy::{self, ProxyConfig, Tap};
use evni_ocpp::tap::{Handler, OnDrop, QueueTap};
use evni_ocpp::Version;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

const AUTH: &str = "Basic Q1AtMTpzZWNyZXQ="; // CP-1:secret

/// What the fake CSMS saw.
#[derive(Debug)]
enum Seen {
    Path(String),
    Message(Message),
}

/// A CSMS that accepts `ocpp1.6` / `ocpp2.0.1` with the right credentials,
/// answers every CALL with `[3, id, {}]`-like text it builds by hand, and
/// closes with 4000 when told "bye".
async fn fake_csms() -> (String, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(csms_connection(stream, seen.clone()));
        }
    });
    (format!("ws://{addr}/csms"), seen_rx)
}

/// The same CSMS behind TLS with a self-signed certificate for `localhost`:
/// its port, what it saw, and the certificate (PEM) to trust.
async fn fake_tls_csms() -> (u16, mpsc::UnboundedReceiver<Seen>, String) {
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::rustls::{crypto::ring, ServerConfig};

    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_pair.serialize_der()));
    let chain = vec![CertificateDer::from(issued.cert.der().to_vec())];
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                // A client that does not trust the certificate gives up here.
                if let Ok(tls) = acceptor.accept(stream).await {
                    csms_connection(tls, seen).await;
                }
            });
        }
    });
    (port, seen_rx, issued.cert.pem())
}

async fn csms_connection<S>(stream: S, seen: mpsc::UnboundedSender<Seen>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let seen_path = seen.clone();
    let callback = move |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
        let _ = seen_path.send(Seen::Path(request.uri().path().to_owned()));
        if request.headers().get("authorization").map(|v| v.as_bytes()) != Some(AUTH.as_bytes()) {
            let mut refusal = ErrorResponse::new(None);
            *refusal.status_mut() = StatusCode::UNAUTHORIZED;
            return Err(refusal);
        }
        let offered = request
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let chosen = ["ocpp2.0.1", "ocpp1.6"]
            .into_iter()
            .find(|p| offered.split(',').any(|o| o.trim() == *p));
        if let Some(chosen) = chosen {
            response
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_static(chosen));
        }
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        let _ = seen.send(Seen::Message(message.clone()));
        if let Message::Text(text) = &message {
            if text.as_str() == "bye" {
                let close = CloseFrame {
                    code: CloseCode::Library(4000),
                    reason: "bye".into(),
                };
                let _ = ws.send(Message::Close(Some(close))).await;
                continue;
            }
            let id = text.as_str().split('"').nth(1).unwrap_or("?").to_owned();
            let answer = format!("[3,\"{id}\",  {{\"currentTime\":\"2026-02-27T10:00:00Z\"}}]");
            if ws.send(Message::text(answer)).await.is_err() {
                return;
            }
        }
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Version, String)>>);

impl Tap for Recorder {
    fn offer(&self, charge_box_id: &str, version: Version, frame: Utf8Bytes) {
        self.0
            .lock()
            .unwrap()
            .push((charge_box_id.to_owned(), version, frame.to_string()));
    }
}

async fn start_proxy(upstream: String, tap: Arc<dyn Tap>) -> String {
    start_proxy_with(ProxyConfig::new(upstream, None).unwrap(), tap).await
}

async fn start_proxy_with(config: ProxyConfig, tap: Arc<dyn Tap>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(proxy::serve(listener, config, tap, std::future::pending()));
    format!("ws://{addr}")
}

fn charger_request(
    proxy: &str,
    id: &str,
    protocol: &str,
    auth: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = format!("{proxy}/ocpp/{id}").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_str(protocol).unwrap());
    request
        .headers_mut()
        .insert("authorization", HeaderValue::from_str(auth).unwrap());
    request
}

async fn next_message(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Message {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), seen.recv())
            .await
            .expect("the CSMS got nothing")
        {
            Some(Seen::Message(m)) => return m,
            Some(Seen::Path(_)) => continue,
            None => panic!("CSMS gone"),
        }
    }
}

#[tokio::test]
async fn frames_pass_byte_for_byte_both_ways_with_subprotocol_auth_pings_and_close_codes() {
    let (upstream, mut seen) = fake_csms().await;
    let recorder = Arc::new(Recorder::default());
    let proxy = start_proxy(upstream, recorder.clone()).await;
    let (mut charger, response) =
        tokio_tungstenite::connect_async(charger_request(&proxy, "CP-1", "ocpp2.0.1, ocpp1.6", AUTH))
            .await
            .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "ocpp2.0.1");
    match seen.recv().await.unwrap() {
        Seen::Path(path) => assert_eq!(path, "/csms/CP-1"),
        other => panic!("{other:?}"),
    }

    // Odd spacing and key order survive: nothing is re-serialised.
    let frames = [
        "[2,\"m1\",\"Heartbeat\",{}]",
        "[2, \"m2\" ,\"BootNotification\",{\"reason\":\"PowerUp\",\"chargingStation\":{\"vendorName\":\"V\",\"model\":\"M\"}}]",
        "[2,\"m3\",\"DataTransfer\",{\"vendorId\":\"x\",\"data\":\"\\u00e9\\n\"}]",
    ];
    for frame in frames {
        charger.send(Message::text(frame)).await.unwrap();
        assert_eq!(next_message(&mut seen).await, Message::text(frame));
        let answer = charger.next().await.unwrap().unwrap();
        let id = frame.split('"').nth(1).unwrap();
        assert_eq!(
            answer,
            Message::text(format!(
                "[3,\"{id}\",  {{\"currentTime\":\"2026-02-27T10:00:00Z\"}}]"
            ))
        );
    }

    charger.send(Message::Ping(b"p1".to_vec().into())).await.unwrap();
    assert_eq!(
        next_message(&mut seen).await,
        Message::Ping(b"p1".to_vec().into())
    );

    // The tap saw every text frame both ways, in order, as the 2.0.1 they are.
    let tapped = recorder.0.lock().unwrap().clone();
    assert_eq!(tapped.len(), 6);
    assert_eq!(
        tapped[0],
        ("CP-1".to_owned(), Version::V201, frames[0].to_owned())
    );
    assert!(tapped[1].2.starts_with("[3,\"m1\""));

    // The CSMS's close code reaches the charger.
    charger.send(Message::text("bye")).await.unwrap();
    loop {
        match charger.next().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::Library(4000));
                assert_eq!(frame.reason.as_str(), "bye");
                break;
            }
            Some(Ok(Message::Pong(_))) => continue,
            other => panic!("expected the CSMS's close, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_refusing_csms_refuses_the_charger_with_its_status() {
    let (upstream, _seen) = fake_csms().await;
    let proxy = start_proxy(upstream, Arc::new(Recorder::default())).await;
    let refused =
        tokio_tungstenite::connect_async(charger_request(&proxy, "CP-1", "ocpp1.6", "Basic d3Jvbmc=")).await;
    match refused {
        Err(WsError::Http(response)) => assert_eq!(response.status(), StatusCode::UNAUTHORIZED),
        other => panic!("expected the CSMS's 401, got {other:?}"),
    }
}

#[tokio::test]
async fn a_csms_that_is_down_gets_the_charger_refused_unanswered() {
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("ws://{}/csms", closed.local_addr().unwrap());
    drop(closed);
    let proxy = start_proxy(upstream, Arc::new(Recorder::default())).await;
    let refused = tokio_tungstenite::connect_async(charger_request(&proxy, "CP-1", "ocpp1.6", AUTH)).await;
    assert!(
        matches!(refused, Err(WsError::Protocol(_)) | Err(WsError::Io(_))),
        "no WebSocket, no fake answer: {refused:?}"
    );
}

#[tokio::test]
async fn a_stalled_mapping_drops_copies_never_frames() {
    let (upstream, mut seen) = fake_csms().await;
    // The mapping never finishes a frame: a stopped store.
    let handler: Handler = Arc::new(|_| Box::pin(std::future::pending()));
    let lost = Arc::new(AtomicUsize::new(0));
    let on_drop: OnDrop = {
        let lost = lost.clone();
        Arc::new(move |station: &str| {
            assert_eq!(station, "CP-9");
            lost.fetch_add(1, Ordering::Relaxed);
        })
    };
    let tap = QueueTap::spawn(4, 1, handler, on_drop);
    let proxy = start_proxy(upstream, tap.clone()).await;
    let (mut charger, _) = tokio_tungstenite::connect_async(charger_request(&proxy, "CP-9", "ocpp1.6", AUTH))
        .await
        .unwrap();
    for i in 0..100 {
        let frame = format!("[2,\"{i}\",\"MeterValues\",{{\"connectorId\":1,\"meterValue\":[]}}]");
        charger.send(Message::text(frame.clone())).await.unwrap();
        assert_eq!(next_message(&mut seen).await, Message::text(frame));
        assert!(charger.next().await.unwrap().unwrap().is_text());
    }
    // One copy is being "mapped", 4 wait in the queue, the rest were dropped.
    assert_eq!(tap.tapped() + tap.dropped(), 200);
    assert!(tap.dropped() >= 195, "dropped {}", tap.dropped());
    assert_eq!(lost.load(Ordering::Relaxed) as u64, tap.dropped());
}

#[tokio::test]
async fn a_wss_upstream_is_verified_like_webhook_targets() {
    let (port, mut seen, ca) = fake_tls_csms().await;
    let trusted = format!("wss://localhost:{port}/csms");

    // The CSMS's CA configured (EVNI_TLS_CA_FILE): frames flow over TLS.
    let config = ProxyConfig::new(trusted.clone(), Some(ca.as_bytes())).unwrap();
    let proxy = start_proxy_with(config, Arc::new(Recorder::default())).await;
    let (mut charger, response) =
        tokio_tungstenite::connect_async(charger_request(&proxy, "CP-T", "ocpp1.6", AUTH))
            .await
            .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "ocpp1.6");
    let frame = "[2,\"t1\",\"Heartbeat\",{}]";
    charger.send(Message::text(frame)).await.unwrap();
    assert_eq!(next_message(&mut seen).await, Message::text(frame));
    assert!(charger.next().await.unwrap().unwrap().is_text());

    // Mozilla's roots alone do not know the CSMS's CA: the charger is
    // refused unanswered and the CSMS never sees an HTTP request.
    let untrusting = ProxyConfig::new(trusted, None).unwrap();
    let proxy = start_proxy_with(untrusting, Arc::new(Recorder::default())).await;
    let refused = tokio_tungstenite::connect_async(charger_request(&proxy, "CP-U", "ocpp1.6", AUTH)).await;
    assert!(refused.is_err(), "an unknown CA is not trusted");

    // The right CA but another host name than the certificate's.
    let other_name = ProxyConfig::new(format!("wss://127.0.0.1:{port}/csms"), Some(ca.as_bytes())).unwrap();
    let proxy = start_proxy_with(other_name, Arc::new(Recorder::default())).await;
    let refused = tokio_tungstenite::connect_async(charger_request(&proxy, "CP-N", "ocpp1.6", AUTH)).await;
    assert!(refused.is_err(), "the host name is checked");
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(seen) = seen.try_recv() {
        assert!(
            !matches!(&seen, Seen::Path(p) if p != "/csms/CP-T"),
            "the untrusted proxies reached the CSMS: {seen:?}"
        );
    }

    // A CA file that holds no certificate is refused at start.
    assert!(ProxyConfig::new("wss://localhost/csms", Some(b"not a certificate")).is_err());
}

#[tokio::test]
async fn a_chargers_close_code_reaches_the_csms() {
    let (upstream, mut seen) = fake_csms().await;
    let proxy = start_proxy(upstream, Arc::new(Recorder::default())).await;
    let (mut charger, _) = tokio_tungstenite::connect_async(charger_request(&proxy, "CP-C", "ocpp1.6", AUTH))
        .await
        .unwrap();
    charger
        .send(Message::Pong(b"unsolicited".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut seen).await,
        Message::Pong(b"unsolicited".to_vec().into())
    );
    let close = CloseFrame {
        code: CloseCode::Library(4001),
        reason: "rebooting".into(),
    };
    charger.send(Message::Close(Some(close.clone()))).await.unwrap();
    assert_eq!(next_message(&mut seen).await, Message::Close(Some(close)));
}
