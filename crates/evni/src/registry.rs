//! The model registry of the service: the object store named by the config
//! and the base models (the learned ones shipped with this build, and SHADE).

use std::sync::Arc;

use anyhow::Context;
use evni_engine::registry::{ModelRegistry, SHADE_BASE_ID};
use evni_store::objects::Objects;
use evni_store::{ModelRecord, Store};

use crate::Config;

pub fn model_registry(
    config: &Config,
    store: Arc<dyn Store>,
    base: Arc<evni_models::Models>,
) -> anyhow::Result<Arc<ModelRegistry>> {
    let objects = match &config.object_store_url {
        Some(url) => Objects::from_url(url),
        None => Objects::local(&config.data_dir.join("objects")),
    }
    .context("opening the object store")?;
    Ok(Arc::new(ModelRegistry::new(store, objects, base, vec![shade()])))
}

/// SHADE is not trained: its record carries its detection parameters.
fn shade() -> ModelRecord {
    let p = evni_shade::Params::default();
    ModelRecord {
        id: SHADE_BASE_ID.into(),
        tenant: None,
        name: "SHADE".into(),
        model_type: "shade".into(),
        version: "1.0.0".into(),
        is_base: true,
        base_model: None,
        metrics: Some(serde_json::json!({
            "parameters": {
                "baseline_days": p.baseline_days,
                "min_history_days": p.min_history_days,
                "window_days": p.window_days,
                "alpha": p.alpha,
                "z_min": p.z_min,
                "energy_drop_ratio": p.energy_drop_ratio,
                "power_drop_ratio": p.power_drop_ratio,
                "share_ratio": p.share_ratio,
                "share_min": p.share_min,
                "outage_others_ratio": p.outage_others_ratio,
            },
            "evaluated_by": "evni eval-stations (figures in the README)",
        })),
        status: "active".into(),
        created_at: chrono::Utc::now().timestamp_micros(),
        s3_path: None,
        description: Some(
            "SHADE: station health anomaly detection over station-day aggregates against each station's \
             own weekday-adjusted baseline (energy_drop, station_silent, connector_outage, zero_session_surge, \
             power_degradation, anomaly_rate_spike). Statistical tests, no learned weights."
                .into(),
        ),
    }
}
