//! Door 2: a transparent OCPP-J WebSocket proxy.
//!
//! A charger connects to `ws://LISTEN/ocpp/{charge_box_id}`; the proxy first
//! opens `UPSTREAM/{charge_box_id}` with the charger's subprotocols and
//! `Authorization` header, and only then answers the charger: with the
//! subprotocol the CSMS chose, or with the CSMS's own refusal status. An
//! unreachable CSMS gets the charger's connection closed unanswered, as if
//! the CSMS were not there; nothing pretends to be the CSMS.
//!
//! A `wss://` upstream is verified as webhook targets are: its chain against
//! Mozilla's roots and the operator's CAs, its host name against the URL.
//!
//! Frames are forwarded as they come, both ways, payload bytes unchanged
//! (never re-serialised), pings and close codes included. A copy of every
//! text frame is offered to a [`Tap`] that must not block.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::{Connector, WebSocketStream};

use crate::frame::Version;

/// Largest charger handshake read.
const MAX_HANDSHAKE: usize = 16 * 1024;
/// A charger must finish its handshake within this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Subprotocols the proxy passes on.
const SUBPROTOCOLS: [&str; 3] = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"];

/// Where tapped frames go. `offer` is called on the forwarding path: it must
/// return at once (queue or drop), never wait.
pub trait Tap: Send + Sync + 'static {
    fn offer(&self, charge_box_id: &str, version: Version, frame: Utf8Bytes);
}

#[derive(Clone)]
pub struct ProxyConfig {
    /// `ws://host:port/path` or `wss://...`; the charge box id is appended.
    upstream: String,
    /// How a `wss://` upstream is verified: its certificate chain against
    /// Mozilla's roots plus the operator's CAs, and its host name.
    tls: Option<Arc<rustls::ClientConfig>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyConfigError {
    #[error("the CA file is not PEM certificates: {0}")]
    Pem(String),
    #[error("the CA file holds no certificate")]
    NoCertificate,
    #[error("a CA certificate is not usable: {0}")]
    Certificate(String),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
}

impl ProxyConfig {
    /// An upstream verified (when `wss://`) against the Mozilla roots built
    /// into evni and the certificates of `extra_ca_pem` (EVNI_TLS_CA_FILE),
    /// exactly as webhook targets are.
    pub fn new(upstream: impl Into<String>, extra_ca_pem: Option<&[u8]>) -> Result<Self, ProxyConfigError> {
        let upstream = upstream.into();
        let tls = if upstream.starts_with("wss://") {
            Some(Arc::new(tls_config(extra_ca_pem)?))
        } else {
            None
        };
        Ok(Self { upstream, tls })
    }
}

fn tls_config(extra_ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, ProxyConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_ca_pem {
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ProxyConfigError::Pem(e.to_string()))?;
        if certificates.is_empty() {
            return Err(ProxyConfigError::NoCertificate);
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|e| ProxyConfigError::Certificate(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Accepts chargers on `listener` until `shutdown` resolves; connections in
/// progress keep running until either side closes.
pub async fn serve(
    listener: TcpListener,
    config: ProxyConfig,
    tap: Arc<dyn Tap>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let config = Arc::new(config);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (config, tap) = (config.clone(), tap.clone());
                    tokio::spawn(async move {
                        if let Err(e) = connection(stream, peer, &config, tap).await {
                            tracing::debug!(%peer, error = %e, "OCPP connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an OCPP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Small buffers: most chargers are idle most of the time (one frame every
/// few seconds), so an idle connection should cost little memory.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
}

#[derive(Debug, thiserror::Error)]
enum ProxyError {
    #[error("handshake: {0}")]
    Handshake(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Ws(#[from] WsError),
}

/// The parts of a charger's handshake the proxy passes on.
struct Handshake {
    charge_box_id: String,
    key: String,
    protocols: Option<String>,
    authorization: Option<HeaderValue>,
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: &ProxyConfig,
    tap: Arc<dyn Tap>,
) -> Result<(), ProxyError> {
    stream.set_nodelay(true)?;
    let handshake = match tokio::time::timeout(HANDSHAKE_TIMEOUT, Box::pin(read_handshake(&mut stream))).await
    {
        Ok(Ok(h)) => h,
        Ok(Err(HandshakeRefusal(status, why))) => {
            respond(&mut stream, status, &[]).await?;
            return Err(ProxyError::Handshake(why));
        }
        Err(_) => return Err(ProxyError::Handshake("timed out".into())),
    };
    let url = format!(
        "{}/{}",
        config.upstream.trim_end_matches('/'),
        handshake.charge_box_id
    );
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ProxyError::Handshake(format!("upstream url '{url}': {e}")))?;
    if let Some(protocols) = &handshake.protocols {
        let value = HeaderValue::from_str(protocols).map_err(|e| ProxyError::Handshake(e.to_string()))?;
        request
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    if let Some(auth) = handshake.authorization.clone() {
        request.headers_mut().insert(header::AUTHORIZATION, auth);
    }
    // Boxed: the connect future is large and would otherwise stay part of
    // this task's allocation for the whole life of the connection.
    let connector = config.tls.clone().map(Connector::Rustls);
    let upstream = Box::pin(tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(ws_config()),
        true,
        connector,
    ))
    .await;
    let (upstream, response) = match upstream {
        Ok(connected) => connected,
        Err(WsError::Http(refusal)) => {
            // The CSMS refused the charger (bad credentials, unknown id,
            // subprotocol): the charger gets the same answer.
            let status = refusal.status().as_u16();
            let mut headers = Vec::new();
            if let Some(v) = refusal
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
            {
                headers.push(("WWW-Authenticate", v.to_owned()));
            }
            respond(&mut stream, status, &headers).await?;
            return Err(ProxyError::Handshake(format!("upstream refused with {status}")));
        }
        // Down or unreachable: closed unanswered, as a missing CSMS would.
        Err(e) => return Err(ProxyError::Handshake(format!("upstream {url}: {e}"))),
    };
    let chosen = response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut headers = vec![
        ("Upgrade", "websocket".to_owned()),
        ("Connection", "Upgrade".to_owned()),
        (
            "Sec-WebSocket-Accept",
            derive_accept_key(handshake.key.as_bytes()),
        ),
    ];
    if let Some(chosen) = &chosen {
        headers.push(("Sec-WebSocket-Protocol", chosen.clone()));
    }
    respond(&mut stream, 101, &headers).await?;
    let charger = WebSocketStream::from_raw_socket(stream, Role::Server, Some(ws_config())).await;
    let version = chosen.as_deref().and_then(Version::parse).unwrap_or(Version::V16);
    tracing::debug!(%peer, charge_box_id = %handshake.charge_box_id, version = version.as_str(), "OCPP charger connected");
    relay(charger, upstream, &handshake.charge_box_id, version, tap.as_ref()).await
}

/// Forwards frames both ways until both directions closed.
async fn relay<A, B>(
    charger: WebSocketStream<A>,
    upstream: WebSocketStream<B>,
    charge_box_id: &str,
    version: Version,
    tap: &dyn Tap,
) -> Result<(), ProxyError>
where
    A: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    B: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut to_charger, mut from_charger) = charger.split();
    let (mut to_upstream, mut from_upstream) = upstream.split();
    let (mut charger_open, mut upstream_open) = (true, true);
    while charger_open || upstream_open {
        tokio::select! {
            message = from_charger.next(), if charger_open => {
                charger_open = forward(message, &mut to_upstream, charge_box_id, version, tap).await;
            }
            message = from_upstream.next(), if upstream_open => {
                upstream_open = forward(message, &mut to_charger, charge_box_id, version, tap).await;
            }
        }
        if !charger_open && upstream_open || charger_open && !upstream_open {
            // One side is gone: its close went to the other side, whose
            // answer (if any) follows; do not wait for a dead peer forever.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    let message = if charger_open {
                        from_charger.next().await
                    } else {
                        from_upstream.next().await
                    };
                    match message {
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    }
                }
            })
            .await;
            break;
        }
    }
    let _ = to_charger.close().await;
    let _ = to_upstream.close().await;
    Ok(())
}

/// Forwards one message; `false` once its direction has ended.
async fn forward<S>(
    message: Option<Result<Message, WsError>>,
    sink: &mut S,
    charge_box_id: &str,
    version: Version,
    tap: &dyn Tap,
) -> bool
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    match message {
        Some(Ok(Message::Text(text))) => {
            let ok = sink.send(Message::Text(text.clone())).await.is_ok();
            // After the send: the tap costs the frame nothing.
            tap.offer(charge_box_id, version, text);
            ok
        }
        Some(Ok(Message::Close(frame))) => {
            let _ = sink.send(Message::Close(frame)).await;
            false
        }
        // Raw frames only appear when writing; pongs are forwarded too.
        Some(Ok(Message::Frame(_))) => true,
        Some(Ok(other)) => sink.send(other).await.is_ok(),
        None | Some(Err(_)) => {
            let _ = sink.close().await;
            false
        }
    }
}

struct HandshakeRefusal(u16, String);

async fn read_handshake(stream: &mut TcpStream) -> Result<Handshake, HandshakeRefusal> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| HandshakeRefusal(400, e.to_string()))?;
        if n == 0 {
            return Err(HandshakeRefusal(400, "closed during the handshake".into()));
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if buffer.len() > MAX_HANDSHAKE {
            return Err(HandshakeRefusal(431, "handshake too large".into()));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(&buffer) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(HandshakeRefusal(400, "not an HTTP request".into())),
    }
    let path = request.path.unwrap_or("");
    let Some(charge_box_id) = path
        .strip_prefix("/ocpp/")
        .filter(|id| !id.is_empty() && !id.contains(['/', '?', '#']))
    else {
        return Err(HandshakeRefusal(
            404,
            format!("no charger path '{path}' (expected /ocpp/{{charge_box_id}})"),
        ));
    };
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let Some(key) = header("sec-websocket-key").and_then(|v| std::str::from_utf8(v).ok()) else {
        return Err(HandshakeRefusal(400, "not a WebSocket handshake".into()));
    };
    let protocols = header("sec-websocket-protocol")
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned);
    if let Some(offered) = &protocols {
        if !offered.split(',').any(|p| SUBPROTOCOLS.contains(&p.trim())) {
            tracing::debug!(%offered, "no OCPP subprotocol offered; passed on as is");
        }
    }
    Ok(Handshake {
        charge_box_id: charge_box_id.to_owned(),
        key: key.to_owned(),
        protocols,
        authorization: header("authorization").and_then(|v| HeaderValue::from_bytes(v).ok()),
    })
}

async fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, String)]) -> std::io::Result<()> {
    let reason = match status {
        101 => "Switching Protocols",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        431 => "Request Header Fields Too Large",
        _ => "Refused",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if status != 101 {
        out.push_str("Content-Length: 0\r\nConnection: close\r\n");
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes()).await?;
    stream.flush().await
}
