//! The proxy's tap: a bounded queue in front of the mapping, so a slow or
//! stopped store never slows the proxy. A full queue drops the copy (never
//! the frame), counts it, logs it, and marks the station's sessions
//! incomplete.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use evni_domain::ExternalId;
use std::sync::OnceLock;

use evni_store::{StoreError, Tenant, TenantId};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::frame::Version;
use crate::ingest::{Ingest, IngestError};
use crate::proxy::Tap;

/// A copy of one frame on its way to the mapping.
#[derive(Debug, Clone)]
pub struct Tapped {
    pub charge_box_id: String,
    pub version: Version,
    pub frame: Utf8Bytes,
}

pub type Handler = Arc<dyn Fn(Tapped) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
pub type OnDrop = Arc<dyn Fn(&str) + Send + Sync>;

/// Bounded queues, one worker each; a charger's frames always go to the same
/// worker, so they are mapped in the order they travelled.
pub struct QueueTap {
    queues: Vec<mpsc::Sender<Tapped>>,
    dropped: AtomicU64,
    tapped: AtomicU64,
    on_drop: OnDrop,
}

impl QueueTap {
    /// `capacity` frames per queue, `workers` queues each running `handler`.
    pub fn spawn(capacity: usize, workers: usize, handler: Handler, on_drop: OnDrop) -> Arc<Self> {
        let queues = (0..workers.max(1))
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<Tapped>(capacity.max(1));
                let handler = handler.clone();
                tokio::spawn(async move {
                    while let Some(tapped) = rx.recv().await {
                        handler(tapped).await;
                    }
                });
                tx
            })
            .collect();
        Arc::new(Self {
            queues,
            dropped: AtomicU64::new(0),
            tapped: AtomicU64::new(0),
            on_drop,
        })
    }

    /// A tap that feeds `ingest` as the tenant named `tenant`, looked up
    /// when the first frame arrives (the tenant may be created after start).
    pub fn for_ingest(ingest: Arc<Ingest>, tenant: String, capacity: usize, workers: usize) -> Arc<Self> {
        let tenant_id: Arc<OnceLock<TenantId>> = Arc::default();
        let handler: Handler = {
            let (ingest, tenant_id) = (ingest.clone(), tenant_id.clone());
            let name: Arc<str> = tenant.into();
            Arc::new(move |tapped: Tapped| {
                let (ingest, tenant_id, name) = (ingest.clone(), tenant_id.clone(), name.clone());
                Box::pin(async move {
                    match resolve(&ingest, &tenant_id, &name).await {
                        Ok(tenant) => map_tapped(&ingest, &tenant, tapped).await,
                        Err(e) => {
                            tracing::warn!(tenant = %name, error = %e, "OCPP tap: tenant unavailable, frame not recorded");
                            if let Some(id) = tenant_id.get() {
                                ingest.frames_lost(*id, &tapped.charge_box_id);
                            }
                        }
                    }
                })
            })
        };
        let on_drop: OnDrop = Arc::new(move |station: &str| {
            if let Some(id) = tenant_id.get() {
                ingest.frames_lost(*id, station);
            }
        });
        Self::spawn(capacity, workers, handler, on_drop)
    }

    /// Copies dropped because the mapping fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Copies queued for the mapping.
    pub fn tapped(&self) -> u64 {
        self.tapped.load(Ordering::Relaxed)
    }
}

impl Tap for QueueTap {
    fn offer(&self, charge_box_id: &str, version: Version, frame: Utf8Bytes) {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        charge_box_id.hash(&mut hasher);
        let queue = &self.queues[hasher.finish() as usize % self.queues.len()];
        let tapped = Tapped {
            charge_box_id: charge_box_id.to_owned(),
            version,
            frame,
        };
        match queue.try_send(tapped) {
            Ok(()) => {
                self.tapped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("evni_ocpp_tap_frames_total", "outcome" => "queued").increment(1);
            }
            Err(_) => {
                metrics::counter!("evni_ocpp_tap_frames_total", "outcome" => "dropped").increment(1);
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(
                        charge_box_id,
                        dropped,
                        "OCPP tap queue full: frame copies dropped, sessions marked incomplete"
                    );
                }
                (self.on_drop)(charge_box_id);
            }
        }
    }
}

/// Maps one tapped frame; a frame evni cannot read is logged, never fatal.
async fn map_tapped(ingest: &Ingest, tenant: &Tenant, tapped: Tapped) {
    let Ok(station) = ExternalId::parse("charge_box_id", &tapped.charge_box_id) else {
        return;
    };
    let frame: serde_json::Value = match serde_json::from_str(tapped.frame.as_str()) {
        Ok(frame) => frame,
        Err(e) => {
            tracing::debug!(charge_box_id = %station, error = %e, "tapped frame is not JSON");
            return;
        }
    };
    let now = chrono::Utc::now().timestamp_micros();
    match ingest
        .ingest(tenant, &station, tapped.version, vec![frame], now)
        .await
    {
        Ok(_) => {}
        // A frame evni cannot read loses nothing evni could have kept.
        Err(IngestError::Invalid(e)) => {
            tracing::warn!(charge_box_id = %station, error = %e, "tapped OCPP frame not readable")
        }
        // The store or the analysis failed: the frame's readings are lost,
        // as a dropped copy's are.
        Err(e) => {
            metrics::counter!("evni_ocpp_tap_frames_total", "outcome" => "failed").increment(1);
            tracing::warn!(charge_box_id = %station, error = %e, "tapped OCPP frame not recorded; sessions marked incomplete");
            ingest.frames_lost(tenant.id, station.as_str());
        }
    }
}

/// The tap's tenant with its current settings (cached briefly by the engine).
async fn resolve(ingest: &Ingest, id: &OnceLock<TenantId>, name: &str) -> Result<Tenant, StoreError> {
    let engine = ingest.engine();
    if let Some(id) = id.get() {
        return engine.tenants.get(*id).await;
    }
    let tenant = engine.store().tenant_by_name(name).await?;
    let _ = id.set(tenant.id);
    Ok(tenant)
}
