//! Door 2 of native OCPP in `evni serve`: the transparent OCPP-J WebSocket
//! proxy, on when `EVNI_OCPP_LISTEN`, `EVNI_OCPP_UPSTREAM` and
//! `EVNI_OCPP_TENANT` are set (or `[ocpp]` in the config file).

use anyhow::{bail, Context};
use serde::Deserialize;

use evni_api::AppState;
use evni_ocpp::proxy::ProxyConfig;
use evni_ocpp::tap::QueueTap;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcppConfig {
    /// `ADDR:PORT` chargers connect to, at `ws://ADDR:PORT/ocpp/{charge_box_id}`.
    pub listen: Option<String>,
    /// The CSMS, `ws://HOST:PORT/PATH` or `wss://...`; the charge box id is appended.
    pub upstream: Option<String>,
    /// The tenant the tapped sessions belong to.
    pub tenant: Option<String>,
    /// Frame copies waiting for the mapping; beyond, copies are dropped (never frames).
    pub tap_queue: usize,
    /// CAs trusted for a `wss://` upstream besides Mozilla's roots: the
    /// top-level `tls_ca_file` (EVNI_TLS_CA_FILE), as for webhook targets.
    #[serde(skip)]
    pub tls_ca_file: Option<std::path::PathBuf>,
}

impl Default for OcppConfig {
    fn default() -> Self {
        Self {
            listen: None,
            upstream: None,
            tenant: None,
            tap_queue: 10_000,
            tls_ca_file: None,
        }
    }
}

/// What the proxy needs, once validated.
struct Settings<'a> {
    listen: &'a str,
    upstream: &'a str,
    tenant: &'a str,
}

impl OcppConfig {
    pub fn from_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let set = |v: String| Some(v).filter(|v| !v.is_empty());
        if let Some(v) = env("EVNI_OCPP_LISTEN") {
            self.listen = set(v);
        }
        if let Some(v) = env("EVNI_OCPP_UPSTREAM") {
            self.upstream = set(v);
        }
        if let Some(v) = env("EVNI_OCPP_TENANT") {
            self.tenant = set(v);
        }
        if let Some(v) = env("EVNI_OCPP_TAP_QUEUE") {
            self.tap_queue = v
                .parse()
                .context("EVNI_OCPP_TAP_QUEUE must be a number of frames")?;
        }
        Ok(())
    }

    pub fn with_tls_ca_file(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.tls_ca_file = path;
        self
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.settings().map(|_| ())
    }

    fn settings(&self) -> anyhow::Result<Option<Settings<'_>>> {
        let (listen, upstream, tenant) = match (&self.listen, &self.upstream, &self.tenant) {
            (None, None, None) => return Ok(None),
            (Some(l), Some(u), Some(t)) => (l, u, t),
            _ => {
                bail!("the OCPP proxy needs all of EVNI_OCPP_LISTEN, EVNI_OCPP_UPSTREAM and EVNI_OCPP_TENANT")
            }
        };
        listen
            .parse::<std::net::SocketAddr>()
            .with_context(|| format!("EVNI_OCPP_LISTEN '{listen}' is not host:port"))?;
        if !(upstream.starts_with("ws://") || upstream.starts_with("wss://")) {
            bail!("EVNI_OCPP_UPSTREAM must start with ws:// or wss://");
        }
        if self.tap_queue == 0 {
            bail!("EVNI_OCPP_TAP_QUEUE must be at least 1");
        }
        Ok(Some(Settings {
            listen,
            upstream,
            tenant,
        }))
    }
}

/// Starts the proxy when configured; it stops accepting when `stopped` turns true.
pub async fn spawn(
    state: &AppState,
    config: &OcppConfig,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(settings) = config.settings()? else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding the OCPP proxy to {}", settings.listen))?;
    // Two workers: frames of one charger stay in order, two chargers map at once.
    let tap = QueueTap::for_ingest(
        state.ocpp.clone(),
        settings.tenant.to_owned(),
        config.tap_queue,
        2,
    );
    let ca = match &config.tls_ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("tls_ca_file '{}' cannot be read", path.display()))?,
        ),
        None => None,
    };
    let proxy = ProxyConfig::new(settings.upstream, ca.as_deref())
        .with_context(|| format!("the OCPP upstream {}", settings.upstream))?;
    tracing::info!(address = %listener.local_addr()?, tenant = settings.tenant, "OCPP proxy is listening");
    // The proxy runs on a runtime of its own: the API, the tap's mapping and
    // the job workers share the main runtime, and a busy moment there must
    // never hold a frame (the tap's queues are the only link). When evni
    // stops, this runtime ends with it, dropping the chargers' connections;
    // chargers reconnect, as after any restart of their CSMS's front.
    let listener = listener.into_std()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the OCPP proxy's runtime")?;
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("evni-ocpp-proxy".into())
        .spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        let stop = async move {
                            let _ = stopped.wait_for(|stop| *stop).await;
                        };
                        evni_ocpp::proxy::serve(listener, proxy, tap, stop).await;
                    }
                    Err(e) => tracing::error!(error = %e, "the OCPP proxy cannot listen"),
                }
            });
            let _ = done.send(());
        })
        .context("starting the OCPP proxy's thread")?;
    Ok(Some(tokio::spawn(async move {
        let _ = finished.await;
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_env(pairs: &[(&str, &str)]) -> anyhow::Result<OcppConfig> {
        let mut config = OcppConfig::default();
        config.from_env(&|k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })?;
        config.validate().map(|_| config)
    }

    #[test]
    fn the_proxy_needs_all_three_settings_and_a_websocket_upstream() {
        assert!(from_env(&[]).unwrap().listen.is_none());
        let all = [
            ("EVNI_OCPP_LISTEN", "127.0.0.1:9000"),
            ("EVNI_OCPP_UPSTREAM", "wss://csms.example.com/ocpp"),
            ("EVNI_OCPP_TENANT", "acme"),
        ];
        assert!(from_env(&all).is_ok());
        assert!(from_env(&all[..2]).is_err(), "no tenant");
        let mut http = all;
        http[1].1 = "https://csms.example.com";
        assert!(from_env(&http).is_err());
        let mut bad_listen = all;
        bad_listen[0].1 = "9000";
        assert!(from_env(&bad_listen).is_err());
    }
}
