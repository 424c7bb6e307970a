//! Webhooks to an https receiver: verified against the built-in roots plus
//! `tls_ca_file`, so a receiver with a certificate of an unknown CA is never
//! sent anything, and one whose CA is configured gets signed deliveries.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{crypto::ring, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::health::{post_history, quiet_app, DAYS, SILENT};
use crate::helpers::*;
use crate::webhooks::{private_allowed, receiver_app, verify, wait_for, Received};

/// TCP connections that completed a TLS handshake.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that does not trust the certificate gives up here.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An https receiver for `localhost` with a self-signed certificate: its
/// URL, what it received, and the certificate (PEM) to trust.
async fn tls_receiver() -> (String, Arc<std::sync::Mutex<Vec<Received>>>, String) {
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_pair.serialize_der()));
    let chain = vec![CertificateDer::from(issued.cert.der().to_vec())];
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}/hook", tcp.local_addr().unwrap().port());
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    let (app, seen) = receiver_app(0);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen, issued.cert.pem())
}

/// Registers `url`, lets SHADE find the silent station and returns the
/// endpoint's secret and its deliveries path.
async fn subscribe_and_trigger(app: &TestApp, url: &str) -> (String, String) {
    let created = app.post("/v1/webhooks", &json!({"url": url})).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    post_history(app, 0..=DAYS - 1).await;
    // Nothing runs on its own in this app; this request runs SHADE.
    let inference = app.get_ok(&format!("/v1/stations/{SILENT}/inference")).await;
    assert_eq!(inference["is_anomaly"], true);
    (
        created["secret"].as_str().unwrap().to_owned(),
        format!("/v1/webhooks/{}/deliveries", created["id"].as_str().unwrap()),
    )
}

/// The first attempt of the endpoint's first delivery, once made.
async fn first_attempt(app: &TestApp, path: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let deliveries = app.get_ok(path).await;
        let attempt = &deliveries["items"][0]["attempts"][0];
        if !attempt.is_null() {
            return attempt.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no attempt: {deliveries}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn https_receivers_get_deliveries_only_when_their_certificate_is_trusted() {
    let (url, seen, ca) = tls_receiver().await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca).unwrap();

    // Unknown CA: every attempt fails in the handshake, nothing is sent.
    let untrusting = quiet_app(private_allowed).await;
    let (_, path) = subscribe_and_trigger(&untrusting, &url).await;
    let attempt = first_attempt(&untrusting, &path).await;
    assert_eq!(attempt["status_code"], Value::Null, "{attempt}");
    assert!(
        attempt["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{attempt}"
    );
    assert!(seen.lock().unwrap().is_empty());

    // The receiver's CA configured: a signed delivery over TLS.
    let ca_path = ca_file.path().to_owned();
    let trusting = quiet_app(move |c| {
        private_allowed(c);
        c.tls_ca_file = Some(ca_path);
    })
    .await;
    let (secret, path) = subscribe_and_trigger(&trusting, &url).await;
    wait_for("a delivery", || !seen.lock().unwrap().is_empty()).await;
    verify(&secret, &seen.lock().unwrap()[0]);
    // The attempt is recorded once the receiver has answered, a moment
    // after it saw the request.
    let attempt = first_attempt(&trusting, &path).await;
    assert_eq!(attempt["status_code"], 200, "{attempt}");
}
