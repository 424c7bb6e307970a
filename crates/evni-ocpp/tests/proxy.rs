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
            let seen = seen.clone();
            tokio::spawn(async move {
                let seen_path = seen.clone();
                let callback = move |request: &Request,
                                     mut response: Response|
                      -> Result<Response, ErrorResponse> {
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
            });
        }
    });
    (format!("ws://{addr}/csms"), seen_rx)
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
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(proxy::serve(
        listener,
        ProxyConfig { upstream },
        tap,
        std::future::pending(),
    ));
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
