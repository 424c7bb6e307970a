//! Station health as a service: SHADE ([`evni_shade`]) runs for every
//! station on a schedule and for a station soon after its data changes;
//! each run's result is stored, new station anomalies enqueue webhook
//! events in the same transaction, and a delivery loop sends them signed
//! per Standard Webhooks, with retries, recording every attempt.

mod deliver;
pub mod guard;
mod network;
mod runner;
pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use evni_store::{Store, StoreError, TenantId};

pub use guard::{check_url, UrlRefused};
pub use sign::{generate_secret, signature};

/// How station health runs.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// Every station is assessed this often.
    pub interval: Duration,
    /// A station whose data changed is assessed once it has been quiet this long.
    pub debounce: Duration,
    pub params: evni_shade::Params,
    pub webhooks: WebhookConfig,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(15 * 60),
            debounce: Duration::from_secs(30),
            params: evni_shade::Params::default(),
            webhooks: WebhookConfig::default(),
        }
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Deliver to private, loopback and link-local addresses (tests, labs).
    pub allow_private: bool,
    /// One attempt's time limit.
    pub timeout: Duration,
    /// Wait before the first retry; doubled after each failure.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// No attempt is made this long after the event was created.
    pub max_age: Duration,
    /// Trusted for https targets besides the built-in (Mozilla) roots.
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout: Duration::from_secs(15),
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(2 * 3600),
            max_age: Duration::from_secs(24 * 3600),
            extra_roots: Vec::new(),
        }
    }
}

/// The station health service, shared by the API (on-demand runs, URL
/// checks) and the background loops.
pub struct Health {
    store: Arc<dyn Store>,
    config: HealthConfig,
    /// Wakes the delivery loop when a run enqueued deliveries.
    deliveries_enqueued: tokio::sync::Notify,
    sender: deliver::Sender,
}

impl Health {
    pub fn new(store: Arc<dyn Store>, config: HealthConfig) -> Result<Self, reqwest::Error> {
        let sender = deliver::Sender::new(&config.webhooks)?;
        Ok(Self {
            store,
            config,
            deliveries_enqueued: tokio::sync::Notify::new(),
            sender,
        })
    }

    /// Queues a `webhook.test` delivery to one of the tenant's endpoints and
    /// wakes the delivery loop; returns the delivery's `webhook_id`.
    pub async fn send_test_event(&self, tenant: TenantId, endpoint: &str) -> Result<String, StoreError> {
        let webhook_id = self.store.enqueue_test_webhook(tenant, endpoint).await?;
        self.deliveries_enqueued.notify_one();
        Ok(webhook_id)
    }

    pub fn config(&self) -> &HealthConfig {
        &self.config
    }

    /// Starts the scheduler and the delivery loop; both stop when `stop`
    /// turns true.
    pub fn spawn(
        self: &Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            tokio::spawn(self.clone().run_scheduler(stop.clone())),
            tokio::spawn(self.clone().run_deliveries(stop)),
        ]
    }
}

pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Resolves once `stop` is true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
