//! evni as a library: build the service from a [`Config`] and run it. The
//! binary (`main.rs`) is a thin CLI over this; tests use it to start the real
//! server on port 0.

pub mod commands;
pub mod config;
mod keys;
pub mod ocpp;
mod registry;

use std::sync::Arc;

use anyhow::Context;
use evni_api::{AppState, JwtKeys, Limits, Scope};
use evni_engine::{Engine, EngineConfig};
use evni_store::postgres::{PostgresOptions, PostgresStore};
use evni_store::sqlite::{Durability, SqliteOptions, SqliteStore};
use evni_store::{Store, Tenant};

pub use config::Config;

/// The assembled service.
pub struct App {
    pub state: AppState,
    /// Job workers started beside the API by [`App::run`].
    workers: usize,
    server: evni_api::ServerOptions,
    /// The OCPP proxy started beside the API by [`App::run`], if configured.
    ocpp: ocpp::OcppConfig,
}

/// Opens (creating and migrating) the store named by `config`: PostgreSQL
/// when `database_url` is set, else SQLite in the data dir.
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &config.database_url {
        let options = PostgresOptions {
            url: url.clone(),
            pool_size: config.database_pool,
        };
        let store = PostgresStore::open(options)
            .with_context(|| format!("opening the PostgreSQL database {}", config.database_label()))?;
        return Ok(Arc::new(store));
    }
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
    let base_models = Arc::new(evni_models::Models::base().context("loading the base models")?);
    let models = registry::model_registry(config, store.clone(), base_models.clone())?;
    // Tenants without a model of their own share the base models.
    let engine = Engine::new(
        store,
        EngineConfig {
            hot_readings: config.hot_readings,
            analysis_threads: config.analysis_threads,
            models: Some(base_models),
            ..EngineConfig::default()
        },
    )
    .with_registry(models.clone());
    let health = evni_health::Health::new(engine.store().clone(), config.health_config()?)
        .context("building the webhook client")?;
    let engine = Arc::new(engine);
    let state = AppState {
        ocpp: Arc::new(evni_ocpp::Ingest::new(engine.clone())),
        models,
        health: Arc::new(health),
        access: Arc::new(evni_api::AccessList::new(engine.store().clone())),
        engine,
        keys: Arc::new(JwtKeys::from_secret(&secret)),
        explain: Arc::new(evni_api::Explainer::new(config.explain_config()?)),
        metrics: Arc::new(evni_api::MetricsConfig {
            token: config.metrics_token.clone(),
            wal_path: config
                .database_url
                .is_none()
                .then(|| config.data_dir.join("evni.sqlite3-wal")),
        }),
        limits: Limits {
            max_body_bytes: config.max_body_bytes,
            max_meter_values: config.max_meter_values,
            max_batch_body_bytes: config.max_batch_body_bytes,
            max_batch_sessions: config.max_batch_sessions,
            // Bodies get twice the headers' time before their pace counts.
            body_grace: config.server_options()?.header_read_timeout * 2,
        },
    };
    Ok(App {
        state,
        workers: config.workers,
        server: config.server_options()?,
        ocpp: config.ocpp.clone().with_tls_ca_file(config.tls_ca_file.clone()),
    })
}

impl App {
    pub fn router(&self) -> axum::Router {
        // The management dashboard under /ui/ beside the API.
        evni_ui::router(self.state.clone()).merge(evni_api::router(self.state.clone()))
    }

    /// Serves the API on `listener`, with the configured job workers beside
    /// it, until `shutdown` resolves; then finishes requests and jobs in flight.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers = self.spawn_workers(self.workers, &stopped);
        // Station health: scheduled and on-change SHADE runs, webhook deliveries.
        let health = self.state.health.spawn(stopped.clone());
        let ocpp = ocpp::spawn(&self.state, &self.ocpp, stopped.clone()).await?;
        let router = self.router();
        let mut http_stopped = stopped.clone();
        let served = evni_api::serve(listener, router, self.server, async move {
            let _ = http_stopped.wait_for(|stop| *stop).await;
        });
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let (served, ()) = tokio::join!(served, signal);
        for worker in workers.into_iter().chain(health).chain(ocpp) {
            let _ = worker.await;
        }
        served.context("serving HTTP")
    }

    /// Runs job workers only (`evni worker`) until `shutdown` resolves.
    pub async fn run_workers(&self, count: usize, shutdown: impl std::future::Future<Output = ()>) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers = self.spawn_workers(count.max(1), &stopped);
        shutdown.await;
        let _ = stop.send(true);
        for worker in workers {
            let _ = worker.await;
        }
    }

    fn spawn_workers(
        &self,
        count: usize,
        stopped: &tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..count)
            .map(|_| {
                let config = evni_worker::WorkerConfig {
                    shutdown_grace: self.server.shutdown_grace,
                    ..evni_worker::WorkerConfig::default()
                };
                let worker = worker(&self.state, config);
                let mut stopped = stopped.clone();
                tokio::spawn(worker.run(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                }))
            })
            .collect()
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

    /// Deletes a tenant and all its data; see [`delete_tenant`].
    pub async fn delete_tenant(&self, name: &str) -> anyhow::Result<Tenant> {
        delete_tenant(&self.state, name).await
    }

    /// Revokes a token given by its id (`jti`) or whole: every API process
    /// on this database refuses it within `evni_api::access::REFRESH`.
    /// Answers the id and whether it was revoked already.
    pub async fn revoke_token(&self, token_or_id: &str) -> anyhow::Result<(uuid::Uuid, bool)> {
        let jti =
            match uuid::Uuid::parse_str(token_or_id.trim()) {
                Ok(jti) => jti,
                Err(_) => self.state.keys.token_id(token_or_id.trim()).map_err(|e| {
                    anyhow::anyhow!("neither a token id nor a token signed by this service: {e}")
                })?,
            };
        let newly = self.store().revoke_token(jti).await?;
        Ok((jti, !newly))
    }
}

/// Deletes a tenant and all its data: every row in the database (one
/// transaction), then its uploads and fine-tuned models in the object store.
/// The tenant is disabled first, and deletion waits until every API process
/// refuses its tokens.
pub async fn delete_tenant(state: &AppState, name: &str) -> anyhow::Result<Tenant> {
    let store = state.engine.store();
    let tenant = store
        .tenant_by_name(name)
        .await
        .with_context(|| format!("no tenant named '{name}'"))?;
    store.set_tenant_disabled(tenant.id, true).await?;
    tokio::time::sleep(evni_api::access::REFRESH * 2).await;
    store.delete_tenant(tenant.id).await?;
    for dir in evni_store::objects::tenant_dirs(tenant.id) {
        state.models.objects().delete_dir(&dir).await.with_context(|| {
            format!(
                "the tenant's rows are deleted; deleting its objects under {dir} failed, remove them by hand"
            )
        })?;
    }
    Ok(tenant)
}

/// A job worker of the service: batch chunks and fine-tunes.
pub fn worker(state: &AppState, config: evni_worker::WorkerConfig) -> evni_worker::Worker {
    evni_worker::Worker::new(state.engine.clone(), config).with_handler(Arc::new(
        evni_worker::FineTuneHandler::new(state.engine.clone(), state.models.clone()),
    ))
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
