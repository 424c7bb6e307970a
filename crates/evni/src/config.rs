//! One typed configuration: defaults, then an optional TOML file
//! (`EVNI_CONFIG`), then `EVNI_*` environment variables. Validated at start.
//! Every option is documented in `evni.example.toml`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::Deserialize;

mod ops;

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the API listens on.
    pub listen: String,
    /// Directory for the embedded database and the token signing key.
    pub data_dir: PathBuf,
    /// `postgres://user:password@host:port/db`: use PostgreSQL instead of
    /// the embedded SQLite database; the password is never printed.
    pub database_url: Option<String>,
    /// Most PostgreSQL connections this process keeps open.
    pub database_pool: usize,
    /// HS256 secret for bearer tokens; generated into the data dir if unset.
    pub jwt_secret: Option<String>,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Most meter values in one request.
    pub max_meter_values: usize,
    /// `full` (fsync every commit, default) or `normal`.
    pub durability: String,
    /// Readings kept in memory across hot sessions.
    pub hot_readings: u64,
    /// Threads analysing sessions off the async runtime.
    pub analysis_threads: usize,
    /// Job workers run inside `evni serve` (0: none; run `evni worker`).
    pub workers: usize,
    /// Largest body of a batch submission in bytes.
    pub max_batch_body_bytes: usize,
    /// Most sessions in one batch.
    pub max_batch_sessions: usize,
    /// OpenAI-compatible chat-completions URL for explain/ask wording;
    /// unset: grounded text only, no tenant data leaves the process.
    pub llm_url: Option<String>,
    pub llm_model: Option<String>,
    /// Bearer key for the LLM endpoint; never printed.
    pub llm_api_key: Option<String>,
    /// How long the model may take before the grounded text is returned.
    pub llm_timeout_ms: u64,
    /// Explain + Ask calls per tenant and minute, per process.
    pub explain_rate_per_minute: u32,
    /// How often SHADE assesses every station, e.g. `15m`.
    pub shade_interval: String,
    /// A station whose data changed is assessed once quiet this long, e.g. `30s`.
    pub shade_debounce: String,
    /// Deliver webhooks to private and loopback addresses (tests and labs only).
    pub webhook_allow_private: bool,
    /// Time limit of one webhook attempt, e.g. `15s`.
    pub webhook_timeout: String,
    /// Wait before the first webhook retry, doubled after each failure, e.g. `5s`.
    pub webhook_initial_backoff: String,
    /// Log filter, e.g. `info` or `evni=debug`.
    pub log: String,
    /// PEM file of CA certificates trusted for https webhook targets and
    /// the LLM endpoint, besides the built-in (Mozilla) roots.
    pub tls_ca_file: Option<PathBuf>,
    /// Object store of model artifacts and training uploads: unset is
    /// `file://<data_dir>/objects`; `s3://bucket/prefix` needs the `s3` feature.
    pub object_store_url: Option<String>,
    /// A client must send a request's headers within this time, e.g. `10s`;
    /// idle keep-alive connections close after it too.
    pub header_read_timeout: String,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// On SIGTERM, how long requests and jobs in flight get, e.g. `20s`.
    pub shutdown_grace: String,
    /// Bearer token /metrics asks for; unset: /metrics is open.
    pub metrics_token: Option<String>,
    /// `text` (coloured only on a terminal) or `json`, one object a line.
    pub log_format: String,
    /// Native OCPP door 2: the WebSocket proxy (`[ocpp]`, `EVNI_OCPP_*`).
    pub ocpp: crate::ocpp::OcppConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./evni-data"),
            database_url: None,
            database_pool: 16,
            jwt_secret: None,
            max_body_bytes: 16 * 1024 * 1024,
            max_meter_values: 50_000,
            durability: "full".into(),
            hot_readings: 4_000_000,
            analysis_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            workers: 2,
            max_batch_body_bytes: 256 * 1024 * 1024,
            max_batch_sessions: 10_000,
            llm_url: None,
            llm_model: None,
            llm_api_key: None,
            llm_timeout_ms: 10_000,
            explain_rate_per_minute: 60,
            shade_interval: "15m".into(),
            shade_debounce: "30s".into(),
            webhook_allow_private: false,
            webhook_timeout: "15s".into(),
            webhook_initial_backoff: "5s".into(),
            log: "info".into(),
            tls_ca_file: None,
            object_store_url: None,
            header_read_timeout: "10s".into(),
            max_connections: 4096,
            shutdown_grace: "20s".into(),
            metrics_token: None,
            log_format: "text".into(),
            ocpp: Default::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(evni_store::postgres::redact_url),
            )
            .field("database_pool", &self.database_pool)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_meter_values", &self.max_meter_values)
            .field("durability", &self.durability)
            .field("hot_readings", &self.hot_readings)
            .field("analysis_threads", &self.analysis_threads)
            .field("workers", &self.workers)
            .field("max_batch_body_bytes", &self.max_batch_body_bytes)
            .field("max_batch_sessions", &self.max_batch_sessions)
            .field("llm_url", &self.llm_url)
            .field("llm_model", &self.llm_model)
            .field("llm_api_key", &self.llm_api_key.as_ref().map(|_| "<set>"))
            .field("llm_timeout_ms", &self.llm_timeout_ms)
            .field("explain_rate_per_minute", &self.explain_rate_per_minute)
            .field("shade_interval", &self.shade_interval)
            .field("shade_debounce", &self.shade_debounce)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("webhook_timeout", &self.webhook_timeout)
            .field("webhook_initial_backoff", &self.webhook_initial_backoff)
            .field("log", &self.log)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("object_store_url", &self.object_store_url)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "<set>"))
            .field("log_format", &self.log_format)
            .field("ocpp", &self.ocpp)
            .finish()
    }
}

impl Config {
    /// Defaults, then the file named by `EVNI_CONFIG`, then the environment.
    pub fn load() -> anyhow::Result<Self> {
        Self::from_sources(std::env::var("EVNI_CONFIG").ok().map(PathBuf::from), |k| {
            std::env::var(k).ok()
        })
    }

    pub fn from_sources(file: Option<PathBuf>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => Config::default(),
        };
        if let Some(v) = env("EVNI_LISTEN") {
            config.listen = v;
        }
        if let Some(v) = env("EVNI_DATA_DIR") {
            config.data_dir = v.into();
        }
        if let Some(v) = env("EVNI_DATABASE_URL") {
            config.database_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("EVNI_DATABASE_POOL") {
            config.database_pool = v.parse().context("EVNI_DATABASE_POOL must be a number")?;
        }
        if let Some(v) = env("EVNI_JWT_SECRET") {
            config.jwt_secret = Some(v);
        }
        if let Some(v) = env("EVNI_MAX_BODY_BYTES") {
            config.max_body_bytes = v
                .parse()
                .context("EVNI_MAX_BODY_BYTES must be a number of bytes")?;
        }
        if let Some(v) = env("EVNI_MAX_METER_VALUES") {
            config.max_meter_values = v.parse().context("EVNI_MAX_METER_VALUES must be a number")?;
        }
        if let Some(v) = env("EVNI_DURABILITY") {
            config.durability = v;
        }
        if let Some(v) = env("EVNI_HOT_READINGS") {
            config.hot_readings = v.parse().context("EVNI_HOT_READINGS must be a number")?;
        }
        if let Some(v) = env("EVNI_ANALYSIS_THREADS") {
            config.analysis_threads = v
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .context("EVNI_ANALYSIS_THREADS must be a whole number of at least 1")?;
        }
        if let Some(v) = env("EVNI_WORKERS") {
            config.workers = v.parse().context("EVNI_WORKERS must be a number")?;
        }
        if let Some(v) = env("EVNI_MAX_BATCH_BODY_BYTES") {
            config.max_batch_body_bytes = v
                .parse()
                .context("EVNI_MAX_BATCH_BODY_BYTES must be a number of bytes")?;
        }
        if let Some(v) = env("EVNI_MAX_BATCH_SESSIONS") {
            config.max_batch_sessions = v.parse().context("EVNI_MAX_BATCH_SESSIONS must be a number")?;
        }
        if let Some(v) = env("EVNI_LLM_URL") {
            config.llm_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("EVNI_LLM_MODEL") {
            config.llm_model = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("EVNI_LLM_API_KEY") {
            config.llm_api_key = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("EVNI_LLM_TIMEOUT_MS") {
            config.llm_timeout_ms = v
                .parse()
                .context("EVNI_LLM_TIMEOUT_MS must be a number of milliseconds")?;
        }
        if let Some(v) = env("EVNI_EXPLAIN_RATE_PER_MINUTE") {
            config.explain_rate_per_minute = v
                .parse()
                .context("EVNI_EXPLAIN_RATE_PER_MINUTE must be a number")?;
        }
        config.health_from_env(&env)?;
        config.ops_from_env(&env)?;
        if let Some(v) = env("EVNI_LOG") {
            config.log = v;
        }
        if let Some(v) = env("EVNI_TLS_CA_FILE") {
            config.tls_ca_file = Some(PathBuf::from(v)).filter(|p| !p.as_os_str().is_empty());
        }
        if let Some(v) = env("EVNI_OBJECT_STORE_URL") {
            config.object_store_url = Some(v).filter(|v| !v.is_empty());
        }
        config.ocpp.from_env(&env)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.server_options()?;
        self.listen
            .parse::<std::net::SocketAddr>()
            .with_context(|| format!("listen '{}' is not host:port", self.listen))?;
        if !matches!(self.durability.as_str(), "full" | "normal") {
            bail!("durability must be 'full' or 'normal', not '{}'", self.durability);
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if self.max_meter_values == 0 {
            bail!("max_meter_values must be at least 1");
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!(
                    "database_url '{}' must start with postgres:// (unset for the embedded SQLite database)",
                    evni_store::postgres::redact_url(url)
                );
            }
        }
        if !(1..=1000).contains(&self.database_pool) {
            bail!("database_pool must be between 1 and 1000");
        }
        if self.jwt_secret.as_ref().is_some_and(|s| s.len() < 32) {
            bail!("EVNI_JWT_SECRET must be at least 32 characters");
        }
        self.validate_explain()?;
        self.explain_config()?;
        self.health_config()?;
        self.ocpp.validate()?;
        Ok(())
    }
}

impl Config {
    /// Where the data lives, for logs: the database URL without its
    /// password, or the SQLite data dir.
    pub fn database_label(&self) -> String {
        match &self.database_url {
            Some(url) => evni_store::postgres::redact_url(url),
            None => self.data_dir.display().to_string(),
        }
    }

    fn validate_explain(&self) -> anyhow::Result<()> {
        match (&self.llm_url, &self.llm_model) {
            (None, None) => {
                if self.llm_api_key.is_some() {
                    bail!("llm_api_key is set but llm_url is not");
                }
            }
            (Some(url), Some(_)) => {
                let rest = url
                    .strip_prefix("https://")
                    .or_else(|| url.strip_prefix("http://"))
                    .with_context(|| format!("llm_url '{url}' must start with https:// or http://"))?;
                if rest.is_empty() || rest.starts_with('/') {
                    bail!("llm_url '{url}' has no host");
                }
            }
            (Some(_), None) => bail!("llm_url is set but llm_model is not"),
            (None, Some(_)) => bail!("llm_model is set but llm_url is not"),
        }
        if !(100..=120_000).contains(&self.llm_timeout_ms) {
            bail!("llm_timeout_ms must be between 100 and 120000");
        }
        if self.explain_rate_per_minute == 0 {
            bail!("explain_rate_per_minute must be at least 1");
        }
        Ok(())
    }

    /// Settings of the explain and ask endpoints.
    pub fn explain_config(&self) -> anyhow::Result<evni_api::ExplainConfig> {
        let llm = match (&self.llm_url, &self.llm_model) {
            (Some(url), Some(model)) => Some(evni_api::LlmConfig {
                url: url.clone(),
                model: model.clone(),
                api_key: self.llm_api_key.clone(),
                timeout: std::time::Duration::from_millis(self.llm_timeout_ms),
                extra_roots: self.tls_roots()?,
            }),
            _ => None,
        };
        Ok(evni_api::ExplainConfig {
            llm,
            rate_per_minute: self.explain_rate_per_minute,
        })
    }

    /// The CA certificates of `tls_ca_file`, if set.
    fn tls_roots(&self) -> anyhow::Result<Vec<reqwest::Certificate>> {
        let Some(path) = &self.tls_ca_file else {
            return Ok(Vec::new());
        };
        let pem = std::fs::read(path)
            .with_context(|| format!("tls_ca_file '{}' cannot be read", path.display()))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
            format!(
                "tls_ca_file '{}' is not a PEM file of certificates",
                path.display()
            )
        })?;
        if roots.is_empty() {
            bail!("tls_ca_file '{}' holds no certificate", path.display());
        }
        Ok(roots)
    }
}

/// Station health and webhooks.
impl Config {
    fn health_from_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = env("EVNI_SHADE_INTERVAL") {
            self.shade_interval = v;
        }
        if let Some(v) = env("EVNI_SHADE_DEBOUNCE") {
            self.shade_debounce = v;
        }
        if let Some(v) = env("EVNI_WEBHOOK_ALLOW_PRIVATE") {
            self.webhook_allow_private = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                _ => bail!("EVNI_WEBHOOK_ALLOW_PRIVATE must be 1 or 0, not '{v}'"),
            };
        }
        if let Some(v) = env("EVNI_WEBHOOK_TIMEOUT") {
            self.webhook_timeout = v;
        }
        if let Some(v) = env("EVNI_WEBHOOK_INITIAL_BACKOFF") {
            self.webhook_initial_backoff = v;
        }
        Ok(())
    }

    /// The station health settings, validated.
    pub fn health_config(&self) -> anyhow::Result<evni_health::HealthConfig> {
        let duration = |name: &str, text: &str| {
            humantime::parse_duration(text)
                .with_context(|| format!("{name} '{text}' is not a duration such as 15m, 30s or 1h"))
        };
        let interval = duration("shade_interval", &self.shade_interval)?;
        if interval < std::time::Duration::from_secs(1) {
            bail!("shade_interval must be at least 1s");
        }
        let timeout = duration("webhook_timeout", &self.webhook_timeout)?;
        if timeout.is_zero() {
            bail!("webhook_timeout must be above 0");
        }
        let defaults = evni_health::HealthConfig::default();
        Ok(evni_health::HealthConfig {
            interval,
            debounce: duration("shade_debounce", &self.shade_debounce)?,
            webhooks: evni_health::WebhookConfig {
                allow_private: self.webhook_allow_private,
                timeout,
                initial_backoff: duration("webhook_initial_backoff", &self.webhook_initial_backoff)?,
                extra_roots: self.tls_roots()?,
                ..defaults.webhooks
            },
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults_and_is_validated() {
        let config =
            Config::from_sources(None, |k| (k == "EVNI_LISTEN").then(|| "0.0.0.0:9000".into())).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert!(
            Config::from_sources(None, |k| (k == "EVNI_DURABILITY").then(|| "sometimes".into())).is_err()
        );
    }

    #[test]
    fn the_example_file_holds_every_default() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../evni.example.toml");
        let config = Config::from_sources(Some(path.into()), |_| None).unwrap();
        assert_eq!(format!("{config:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn llm_settings_are_validated() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let ok = Config::from_sources(
            None,
            env(&[
                ("EVNI_LLM_URL", "http://127.0.0.1:11434/v1"),
                ("EVNI_LLM_MODEL", "llama3"),
                ("EVNI_LLM_API_KEY", "k3y-never-printed"),
            ]),
        )
        .unwrap();
        assert!(ok.explain_config().unwrap().llm.is_some());
        assert!(!format!("{ok:?}").contains("k3y-never-printed"));
        assert!(Config::from_sources(None, env(&[("EVNI_LLM_URL", "http://h/v1")])).is_err());
        assert!(Config::from_sources(None, env(&[("EVNI_LLM_MODEL", "m")])).is_err());
        assert!(
            Config::from_sources(None, env(&[("EVNI_LLM_URL", "ftp://h"), ("EVNI_LLM_MODEL", "m")])).is_err()
        );
        assert!(Config::from_sources(None, env(&[("EVNI_EXPLAIN_RATE_PER_MINUTE", "0")])).is_err());
        assert!(Config::from_sources(None, env(&[("EVNI_LLM_TIMEOUT_MS", "soon")])).is_err());
        assert!(Config::default().explain_config().unwrap().llm.is_none());
        let https = env(&[
            ("EVNI_LLM_URL", "https://llm.example/v1"),
            ("EVNI_LLM_MODEL", "m"),
        ]);
        assert!(Config::from_sources(None, https).is_ok());
        let missing = env(&[("EVNI_TLS_CA_FILE", "/nonexistent/ca.pem")]);
        let error = Config::from_sources(None, missing).unwrap_err().to_string();
        assert!(error.contains("tls_ca_file"), "{error}");
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let config = Config {
            jwt_secret: Some("s".repeat(40)),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("sss"));
    }

    #[test]
    fn database_url_is_checked_and_its_password_never_printed() {
        let env = |url: &'static str| move |k: &str| (k == "EVNI_DATABASE_URL").then(|| url.to_string());
        let config = Config::from_sources(None, env("postgres://evni:pa55word@db:5432/evni")).unwrap();
        assert_eq!(
            config.database_url.as_deref(),
            Some("postgres://evni:pa55word@db:5432/evni")
        );
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("pa55word") && printed.contains("db:5432"),
            "{printed}"
        );
        assert!(Config::from_sources(None, env("mysql://u:p@db/x")).is_err());
        assert!(Config::from_sources(None, env(""))
            .unwrap()
            .database_url
            .is_none());
        assert!(Config::from_sources(None, |k| (k == "EVNI_DATABASE_POOL").then(|| "0".into())).is_err());
    }
}
