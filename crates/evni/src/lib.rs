//! evni as a library: build the service from a [`Config`] and run it. The
//! binary (`main.rs`) is a thin CLI over this; tests use it to start the real
//! server on port 0.

pub mod commands;
pub mod config;
mod keys;

use std::sync::Arc;

use anyhow::Context;
use evni_api::{AppState, JwtKeys, Limits, Scope};
use evni_engine::{Engine, EngineConfig};
use evni_store::sqlite::{Durability, SqliteOptions, SqliteStore};
use evni_store::{Store, Tenant};

pub use config::Config;

/// The assembled service.
pub struct App {
    pub state: AppState,
}

/// Opens (creating and migrating) the store named by `config`.
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let mut options = SqliteOptions::new(config.data_dir.join("evni.sqlite3"));
    options.durability = if config.durability == "normal" {
        Durability::Normal
    } else {
        Durability::Full
    };
    let store = SqliteStore::open(options).context("opening the SQLite database")?;
    Ok(Arc::new(store))
}

/// Builds the service: store, engine, signing keys.
pub fn build(config: &Config) -> anyhow::Result<App> {
    let store = open_store(config)?;
    let secret = keys::load_or_create(config)?;
    let engine = Engine::new(
        store,
        EngineConfig {
            hot_readings: config.hot_readings,
        },
    );
    let state = AppState {
        engine: Arc::new(engine),
        keys: Arc::new(JwtKeys::from_secret(&secret)),
        limits: Limits {
            max_body_bytes: config.max_body_bytes,
            max_meter_values: config.max_meter_values,
        },
    };
    Ok(App { state })
}

impl App {
    pub fn router(&self) -> axum::Router {
        evni_api::router(self.state.clone())
    }

    /// Serves the API on `listener` until `shutdown` resolves.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = self.router();
        evni_api::serve(listener, router, shutdown)
            .await
            .context("serving HTTP")
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.state.engine.store()
    }

    /// Creates a tenant and an admin token for it.
    pub async fn create_tenant(&self, name: &str) -> anyhow::Result<(Tenant, String)> {
        validate_tenant_name(name)?;
        let tenant = self.store().create_tenant(name).await?;
        let token = self.issue_token(&tenant, Scope::Admin, DEFAULT_TOKEN_TTL)?;
        Ok((tenant, token))
    }

    pub fn issue_token(
        &self,
        tenant: &Tenant,
        scope: Scope,
        ttl: std::time::Duration,
    ) -> anyhow::Result<String> {
        Ok(self.state.keys.issue(tenant, scope, ttl)?)
    }
}

/// Tokens live a year unless `--ttl` says otherwise.
pub const DEFAULT_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

fn validate_tenant_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    anyhow::ensure!(
        ok,
        "a tenant name is 1 to 64 characters of letters, digits, '-', '_' or '.'"
    );
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
