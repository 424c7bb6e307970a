//! The model registry: model records in the database, artifacts
//! (safetensors + JSON card) in the object store, and which CSAR-2 analyses
//! each tenant's sessions.
//!
//! The hot path asks [`ModelRegistry::models_for`]: one lookup in a map of
//! tenants with an active model of their own (refreshed every
//! [`ACTIVE_TTL`], like the tenant cache), then a map of loaded models by
//! id. Tenants without one share the base models.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use evni_models::{csar2, csarc2, Csar2, Model, ModelCard, Models};
use evni_store::objects::Objects;
use evni_store::{ModelRecord, Store, StoreError, TenantId};
use tokio::sync::OnceCell;

/// How long an activation made by another process may go unseen.
pub const ACTIVE_TTL: Duration = Duration::from_secs(10);
pub const CSAR2_BASE_ID: &str = "model-csar2-base";
pub const CSARC2_BASE_ID: &str = "model-csarc2-base";
pub const SHADE_BASE_ID: &str = "model-shade-base";

pub struct ModelRegistry {
    store: Arc<dyn Store>,
    objects: Objects,
    base: Arc<Models>,
    /// Further base records (SHADE), registered with the learned models.
    extra_base: Vec<ModelRecord>,
    registered: OnceCell<()>,
    /// Tenant -> its active CSAR-2 model id (base tenants are absent).
    active: RwLock<(HashMap<TenantId, String>, Option<Instant>)>,
    refreshing: tokio::sync::Mutex<()>,
    loaded: Mutex<HashMap<String, Arc<Models>>>,
}

impl ModelRegistry {
    pub fn new(
        store: Arc<dyn Store>,
        objects: Objects,
        base: Arc<Models>,
        extra_base: Vec<ModelRecord>,
    ) -> Self {
        Self {
            store,
            objects,
            base,
            extra_base,
            registered: OnceCell::new(),
            active: RwLock::new((HashMap::new(), None)),
            refreshing: tokio::sync::Mutex::new(()),
            loaded: Mutex::default(),
        }
    }

    pub fn base(&self) -> &Arc<Models> {
        &self.base
    }

    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// Uploads the base artifacts and registers the base models, once per
    /// process (idempotent across restarts).
    pub async fn ensure_base(&self) -> Result<(), StoreError> {
        self.registered
            .get_or_try_init(|| async {
                let learned: [(&str, &str, &dyn Model, Vec<u8>); 2] = [
                    (
                        CSAR2_BASE_ID,
                        "CSAR-2 Base",
                        &self.base.csar2,
                        weights_of(self.base.csar2.net())?,
                    ),
                    (
                        CSARC2_BASE_ID,
                        "CSAR-C-2 Base",
                        &self.base.csarc2,
                        weights_of(self.base.csarc2.net())?,
                    ),
                ];
                for (id, display, model, weights) in learned {
                    let card = model.card();
                    let dir = format!("models/{}/{}", card.name, card.version);
                    let s3_path = self.put_artifact(&dir, weights, card).await?;
                    self.store
                        .register_base_model(ModelRecord {
                            id: id.into(),
                            tenant: None,
                            name: display.into(),
                            model_type: card.name.clone(),
                            version: card.version.clone(),
                            is_base: true,
                            base_model: None,
                            metrics: Some(metrics_of(card)),
                            status: "active".into(),
                            created_at: chrono::Utc::now().timestamp_micros(),
                            s3_path: Some(s3_path),
                            description: Some(describe(card)),
                        })
                        .await?;
                }
                for record in &self.extra_base {
                    self.store.register_base_model(record.clone()).await?;
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Writes `model.safetensors` and `model.json` under `dir` unless they
    /// are there already; returns the weights' object path.
    pub async fn put_artifact(
        &self,
        dir: &str,
        weights: Vec<u8>,
        card: &ModelCard,
    ) -> Result<String, StoreError> {
        let weights_path = format!("{dir}/{}", evni_models::WEIGHTS_FILE);
        let card_path = format!("{dir}/{}", evni_models::CARD_FILE);
        let mut json =
            serde_json::to_vec_pretty(card).map_err(|e| StoreError::caused_by(e.to_string(), e))?;
        json.push(b'\n');
        if !self.objects.has(&card_path, json.len()).await?
            || !self.objects.has(&weights_path, weights.len()).await?
        {
            self.objects.put(&weights_path, weights).await?;
            self.objects.put(&card_path, json).await?;
        }
        Ok(weights_path)
    }

    /// The models analysing `tenant`'s sessions.
    pub async fn models_for(&self, tenant: TenantId) -> Result<Arc<Models>, StoreError> {
        let Some(id) = self.active_id(tenant).await? else {
            return Ok(self.base.clone());
        };
        self.load(tenant, &id).await
    }

    /// The tenant's active CSAR-2 model id, `None` for the base one.
    async fn active_id(&self, tenant: TenantId) -> Result<Option<String>, StoreError> {
        {
            let active = self.active.read().expect("active models poisoned");
            if active.1.is_some_and(|at| at.elapsed() < ACTIVE_TTL) {
                return Ok(active.0.get(&tenant).cloned());
            }
        }
        let _one = self.refreshing.lock().await;
        {
            let active = self.active.read().expect("active models poisoned");
            if active.1.is_some_and(|at| at.elapsed() < ACTIVE_TTL) {
                return Ok(active.0.get(&tenant).cloned());
            }
        }
        let map: HashMap<TenantId, String> = self
            .store
            .active_models()
            .await?
            .into_iter()
            .filter(|a| a.model_type == csar2::NAME && a.model_id != CSAR2_BASE_ID)
            .map(|a| (a.tenant, a.model_id))
            .collect();
        let found = map.get(&tenant).cloned();
        *self.active.write().expect("active models poisoned") = (map, Some(Instant::now()));
        Ok(found)
    }

    /// Forgets the active models so the next analysis reads them again
    /// (after an activation in this process).
    pub fn invalidate(&self) {
        self.active.write().expect("active models poisoned").1 = None;
    }

    /// A tenant's CSAR-2 with the base CSAR-C-2, loaded once per id.
    pub async fn load(&self, tenant: TenantId, id: &str) -> Result<Arc<Models>, StoreError> {
        if let Some(models) = self.loaded.lock().expect("model cache poisoned").get(id) {
            return Ok(models.clone());
        }
        let record = self.store.model(tenant, id).await?;
        let csar2 = self.load_csar2(&record).await?;
        let models = Arc::new(Models {
            csar2,
            csarc2: self.base.csarc2.clone(),
        });
        self.loaded
            .lock()
            .expect("model cache poisoned")
            .insert(id.to_string(), models.clone());
        Ok(models)
    }

    /// The CSAR-2 of a record, from the object store.
    pub async fn load_csar2(&self, record: &ModelRecord) -> Result<Csar2, StoreError> {
        if record.model_type != csar2::NAME {
            return Err(StoreError::Conflict(format!(
                "model '{}' is not a csar_2 model",
                record.id
            )));
        }
        if record.id == CSAR2_BASE_ID {
            return Ok(self.base.csar2.clone());
        }
        let weights_path = record
            .s3_path
            .as_deref()
            .ok_or_else(|| StoreError::database(format!("model '{}' has no artifact", record.id)))?;
        let card_path = match weights_path.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{}", evni_models::CARD_FILE),
            None => evni_models::CARD_FILE.to_string(),
        };
        let weights = self.objects.get(weights_path).await?;
        let card: ModelCard = serde_json::from_slice(&self.objects.get(&card_path).await?)?;
        if card.features.version != evni_analysis::features::FEATURE_VERSION {
            // Fine-tuned on features this build no longer computes (made
            // before an upgrade): the base model analyses the tenant's
            // sessions until it is fine-tuned again, rather than none.
            tracing::warn!(
                model = %record.id,
                features = card.features.version,
                "the model reads features of another version; using the base CSAR-2"
            );
            return Ok(self.base.csar2.clone());
        }
        Csar2::from_parts(&weights, card)
            .map_err(|e| StoreError::database(format!("model '{}': {e}", record.id)))
    }
}

fn weights_of(net: &evni_models::mlp::Mlp) -> Result<Vec<u8>, StoreError> {
    net.to_safetensors()
        .map_err(|e| StoreError::database(format!("serialising weights: {e}")))
}

/// The card's measured metrics as the API shows them.
pub fn metrics_of(card: &ModelCard) -> serde_json::Value {
    let m = &card.metrics;
    serde_json::json!({
        "precision": m.precision,
        "recall": m.recall,
        "f1_score": m.f1,
        "false_alarm_rate": m.false_alarm_rate,
        "evaluated_on": m.evaluated_on,
        "details": m.details,
        "thresholds": card.thresholds,
    })
}

pub fn describe(card: &ModelCard) -> String {
    match card.name.as_str() {
        csar2::NAME => format!(
            "CSAR-2 autoencoder over the bucket features of a session (layers {:?}); per-bucket \
             reconstruction error gives the normality score and UNUSUAL_PATTERN. Trained with seed {}.",
            card.architecture.layers, card.seed
        ),
        csarc2::NAME => format!(
            "CSAR-C-2 classifier proposing anomaly categories for bucket ranges (layers {:?}, classes {}). \
             Trained with seed {}.",
            card.architecture.layers,
            card.classes.join(", "),
            card.seed
        ),
        other => other.to_string(),
    }
}
