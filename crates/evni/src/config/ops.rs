//! Running in production: connection limits and timeouts, shutdown,
//! metrics and log format.

use anyhow::{bail, Context};

use super::Config;

impl Config {
    pub(super) fn ops_from_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = env("EVNI_HEADER_READ_TIMEOUT") {
            self.header_read_timeout = v;
        }
        if let Some(v) = env("EVNI_MAX_CONNECTIONS") {
            self.max_connections = v.parse().context("EVNI_MAX_CONNECTIONS must be a number")?;
        }
        if let Some(v) = env("EVNI_SHUTDOWN_GRACE") {
            self.shutdown_grace = v;
        }
        if let Some(v) = env("EVNI_METRICS_TOKEN") {
            self.metrics_token = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("EVNI_LOG_FORMAT") {
            self.log_format = v;
        }
        Ok(())
    }

    /// The HTTP server's settings, validated.
    pub fn server_options(&self) -> anyhow::Result<evni_api::ServerOptions> {
        let duration = |name: &str, text: &str| {
            humantime::parse_duration(text)
                .with_context(|| format!("{name} '{text}' is not a duration such as 10s or 1m"))
        };
        let header_read_timeout = duration("header_read_timeout", &self.header_read_timeout)?;
        if header_read_timeout.is_zero() {
            bail!("header_read_timeout must be above 0");
        }
        if self.max_connections == 0 {
            bail!("max_connections must be at least 1");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log_format must be 'text' or 'json', not '{}'", self.log_format);
        }
        Ok(evni_api::ServerOptions {
            header_read_timeout,
            max_connections: self.max_connections,
            shutdown_grace: duration("shutdown_grace", &self.shutdown_grace)?,
        })
    }
}
