//! Fine-tune jobs: continue training a tenant's CSAR-2 from its base on the
//! tenant's normal sessions (its stored sessions matching a filter, or an
//! upload), recalibrate the threshold on held-out sessions, store the
//! artifact and register the result as a tenant model.
//!
//! Idempotent: the resulting model id and artifact path are derived from the
//! fine-tune id, training is seeded, and registering the result completes
//! the fine-tune in one transaction (a second registration changes nothing),
//! so a run after a crash finishes the same fine-tune once.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use evni_analysis::eval::Label;
use evni_analysis::features::{self, SessionFeatures};
use evni_analysis::{Outcome, SessionContext};
use evni_domain::{FeedbackLabel, Reading};
use evni_engine::registry::{describe, metrics_of, ModelRegistry};
use evni_engine::{rated_power_kw, session_rated_power_kw, Engine};
use evni_models::fine_tune::{fine_tune_csar2, FineTuneConfig, FineTuneData};
use evni_models::{data, Model};
use evni_store::objects::upload_path;
use evni_store::{
    BatchSession, ClaimedJob, FineTuneRecord, JobKind, ModelRecord, PageRequest, SessionFilter, Store,
    StoreError, TenantId,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::{JobError, JobHandler};

/// Sessions read per page of the tenant's sessions.
const PAGE_SIZE: u32 = 500;
/// At most this many of the tenant's sessions are used.
const MAX_SESSIONS: usize = 20_000;
/// Normal sessions needed: some to train on, one to calibrate with.
const MIN_SESSIONS: usize = 3;
/// Share of held-out normal sessions allowed to alarm after recalibration.
const TARGET_FALSE_ALARM_RATE: f64 = 0.005;
/// Seeds of the split, the replayed sessions, the faults and training.
const SEED: u64 = 0x5eed_f1e7;

pub struct FineTuneHandler {
    engine: Arc<Engine>,
    registry: Arc<ModelRegistry>,
}

impl FineTuneHandler {
    pub fn new(engine: Arc<Engine>, registry: Arc<ModelRegistry>) -> Self {
        Self { engine, registry }
    }
}

/// One session of training data, before the rules have seen it.
struct Candidate {
    readings: Vec<Reading>,
    context: SessionContext,
    feedback: Option<FeedbackLabel>,
}

#[async_trait]
impl JobHandler for FineTuneHandler {
    fn kind(&self) -> JobKind {
        JobKind::FineTune
    }

    async fn run(&self, job: &ClaimedJob, _final_attempt: bool) -> Result<(), JobError> {
        let id = job.payload["fine_tune_id"]
            .as_str()
            .ok_or_else(|| JobError::Permanent("bad fine-tune job payload".into()))?
            .to_string();
        let store = self.engine.store().clone();
        let record = store.fine_tune(job.tenant, &id).await.map_err(|e| match e {
            StoreError::NotFound { .. } => JobError::Permanent(format!("no fine-tune '{id}'")),
            other => other.into(),
        })?;
        if record.result_model_id.is_some() {
            // An earlier attempt registered the result.
            return Ok(());
        }
        let base_record = store
            .model(job.tenant, &record.base_model_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => {
                    JobError::Permanent(format!("the base model '{}' is gone", record.base_model_id))
                }
                other => other.into(),
            })?;
        let base = self.registry.load_csar2(&base_record).await.map_err(permanent)?;
        let config = training_config(&record, &base)?;
        let candidates = match record.config["data_source"]["type"].as_str() {
            Some("sessions") => self.tenant_sessions(job.tenant, &record).await?,
            Some("upload") => self.upload(job.tenant, &record).await?,
            other => return Err(JobError::Permanent(format!("unknown data source {other:?}"))),
        };
        let started = serde_json::json!({"epoch": 0, "epochs": config.epochs, "loss": null});
        store
            .fine_tune_progress(&id, started, chrono::Utc::now().timestamp_micros())
            .await?;

        let runtime = tokio::runtime::Handle::current();
        let progress_store = store.clone();
        let progress_id = id.clone();
        let trained = tokio::task::spawn_blocking(move || {
            let data = training_data(candidates)?;
            let mut progress = |epoch: usize, epochs: usize, loss: f32| {
                let value = serde_json::json!({"epoch": epoch, "epochs": epochs, "loss": loss});
                let now = chrono::Utc::now().timestamp_micros();
                if let Err(e) = runtime.block_on(progress_store.fine_tune_progress(&progress_id, value, now))
                {
                    tracing::warn!(error = %e, "recording fine-tune progress failed");
                }
            };
            fine_tune_csar2(&base, &data, &config, &mut progress)
                .map_err(|e| JobError::Permanent(format!("training failed: {e}")))
        })
        .await
        .map_err(|e| JobError::Transient(format!("training task failed: {e}")))??;
        let (model, weights, before, after) = trained;
        tracing::info!(
            base_false_alarms = before.false_alarms,
            false_alarms = after.false_alarms,
            normal_sessions = after.normal_sessions,
            base_recall = before.recall(),
            recall = after.recall(),
            "fine-tuned"
        );

        // The artifact, under a path of this fine-tune (written again by a
        // re-run, which trains the same model).
        let card = model.card();
        let dir = format!("models/tenants/{}/{id}", job.tenant);
        let weights_path = format!("{dir}/{}", evni_models::WEIGHTS_FILE);
        let mut json = serde_json::to_vec_pretty(card).map_err(|e| JobError::Permanent(e.to_string()))?;
        json.push(b'\n');
        let objects = self.registry.objects();
        objects.put(&weights_path, weights).await?;
        objects
            .put(&format!("{dir}/{}", evni_models::CARD_FILE), json)
            .await?;
        store
            .finish_fine_tune(
                &id,
                ModelRecord {
                    id: format!("model-csar2-{id}"),
                    tenant: Some(job.tenant),
                    name: record.name.clone(),
                    model_type: card.name.clone(),
                    version: card.version.clone(),
                    is_base: false,
                    base_model: Some(record.base_model_id.clone()),
                    metrics: Some(metrics_of(card)),
                    status: "active".into(),
                    created_at: chrono::Utc::now().timestamp_micros(),
                    s3_path: Some(weights_path),
                    description: Some(format!(
                        "{} Fine-tuned from {} on the tenant's sessions.",
                        describe(card),
                        record.base_model_id
                    )),
                },
            )
            .await?;
        Ok(())
    }
}

impl FineTuneHandler {
    /// The tenant's stored sessions matching the fine-tune's session filter.
    async fn tenant_sessions(
        &self,
        tenant: TenantId,
        record: &FineTuneRecord,
    ) -> Result<Vec<Candidate>, JobError> {
        let store = self.engine.store();
        let filter = &record.config["data_source"]["session_filter"];
        let instant = |field: &str| -> Result<Option<i64>, JobError> {
            filter[field]
                .as_str()
                .map(|t| {
                    chrono::DateTime::parse_from_rfc3339(t)
                        .map(|d| d.timestamp_micros())
                        .map_err(|e| JobError::Permanent(format!("session_filter.{field}: {e}")))
                })
                .transpose()
        };
        let mut query = SessionFilter {
            page: None,
            station: filter["station_id"].as_str().map(str::to_string),
            is_anomaly: filter["is_anomaly"].as_bool(),
            date_from: instant("date_from")?,
            date_to: instant("date_to")?,
            ..SessionFilter::default()
        };
        let mut stations: HashMap<String, Option<serde_json::Value>> = HashMap::new();
        let mut out = Vec::new();
        for page in 1.. {
            query.page = Some(PageRequest {
                page,
                page_size: PAGE_SIZE,
            });
            let rows = store.list_sessions(tenant, &query).await?;
            if rows.items.is_empty() {
                break;
            }
            for row in rows.items {
                // Deleted since it was listed: not training data any more.
                let Some(session) = store.load_session(tenant, &row.external_id).await? else {
                    continue;
                };
                let header = &session.header;
                let context = context(store.as_ref(), tenant, &mut stations, header).await?;
                out.push(Candidate {
                    readings: session.readings,
                    context,
                    feedback: header.feedback,
                });
                if out.len() >= MAX_SESSIONS {
                    return Ok(out);
                }
            }
            if u64::from(page) * u64::from(PAGE_SIZE) >= rows.total {
                break;
            }
        }
        Ok(out)
    }

    /// The sessions of an upload (`uploads/<tenant>/<upload_id>.jsonl`).
    async fn upload(&self, tenant: TenantId, record: &FineTuneRecord) -> Result<Vec<Candidate>, JobError> {
        let upload_id = record.config["data_source"]["upload_id"]
            .as_str()
            .ok_or_else(|| JobError::Permanent("the data source names no upload".into()))?;
        let bytes = self
            .registry
            .objects()
            .get(&upload_path(tenant, upload_id))
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => {
                    JobError::Permanent(format!("the upload '{upload_id}' is gone"))
                }
                other => other.into(),
            })?;
        let store = self.engine.store();
        let mut stations: HashMap<String, Option<serde_json::Value>> = HashMap::new();
        let mut out = Vec::new();
        for line in bytes.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let session: BatchSession = serde_json::from_slice(line)
                .map_err(|e| JobError::Permanent(format!("upload '{upload_id}': {e}")))?;
            let header = evni_store::SessionHeader {
                uuid: uuid::Uuid::nil(),
                external_id: session.session_id,
                station_external_id: session.station,
                connector_id: session.connector_id,
                evse_id: session.evse_id,
                metadata: session.metadata,
                created_at: 0,
                feedback: None,
            };
            let context = context(store.as_ref(), tenant, &mut stations, &header).await?;
            out.push(Candidate {
                readings: evni_engine::normalize_readings(&session.readings),
                context,
                feedback: None,
            });
            if out.len() >= MAX_SESSIONS {
                break;
            }
        }
        Ok(out)
    }
}

/// The session's rated power as the engine finds it: from the session's
/// metadata, else from its station's.
async fn context(
    store: &dyn Store,
    tenant: TenantId,
    stations: &mut HashMap<String, Option<serde_json::Value>>,
    header: &evni_store::SessionHeader,
) -> Result<SessionContext, StoreError> {
    let station = match stations.get(&header.station_external_id) {
        Some(metadata) => metadata.clone(),
        None => {
            let metadata = store
                .station_metadata(tenant, &header.station_external_id)
                .await
                .or_else(|e| match e {
                    StoreError::NotFound { .. } => Ok(None),
                    other => Err(other),
                })?;
            stations.insert(header.station_external_id.clone(), metadata.clone());
            metadata
        }
    };
    let rated_power_kw = session_rated_power_kw(header.metadata.as_ref())
        .or_else(|| rated_power_kw(station.as_ref(), header.connector_id.as_deref()));
    Ok(SessionContext { rated_power_kw })
}

/// The validated `training_config` of the request, seeded.
fn training_config(record: &FineTuneRecord, base: &evni_models::Csar2) -> Result<FineTuneConfig, JobError> {
    let config = &record.config["training_config"];
    let bad = |field: &str| JobError::Permanent(format!("training_config.{field} is missing"));
    let suffix = record.id.trim_start_matches("ft-");
    Ok(FineTuneConfig {
        epochs: config["epochs"].as_u64().ok_or_else(|| bad("epochs"))? as usize,
        learning_rate: config["learning_rate"]
            .as_f64()
            .ok_or_else(|| bad("learning_rate"))?,
        batch_size: config["batch_size"].as_u64().ok_or_else(|| bad("batch_size"))? as usize,
        seed: SEED,
        target_false_alarm_rate: TARGET_FALSE_ALARM_RATE,
        version: format!("{}-ft.{suffix}", base.version()),
    })
}

/// Whether a session is normal training data: the operator said so
/// (false_positive, normal), or the rules find nothing in it and the
/// operator did not call it an incident.
fn is_normal(candidate: &Candidate) -> bool {
    match candidate.feedback {
        Some(FeedbackLabel::FalsePositive | FeedbackLabel::Normal) => true,
        Some(FeedbackLabel::Incident) => false,
        None => matches!(
            evni_analysis::analyze(&candidate.readings, &candidate.context),
            Outcome::Analyzed(a) if a.anomalies.is_empty()
        ),
    }
}

/// Splits the tenant's normal sessions 60/20/20 into training, calibration
/// and evaluation; adds twice as many simulated ordinary sessions to
/// training (so the model does not forget ordinary charging) and held-out
/// ordinary ones to calibration. Faults are written into the tenant's own
/// held-out sessions ([`evni_models::inject`]): those of the calibration
/// sessions keep the threshold low enough to find as many as the base
/// model, those of the evaluation sessions measure recall.
fn training_data(candidates: Vec<Candidate>) -> Result<FineTuneData, JobError> {
    let total = candidates.len();
    let mut normal: Vec<(SessionFeatures, Candidate)> = candidates
        .into_iter()
        .filter(is_normal)
        .filter_map(|c| Some((features::extract_from_readings(&c.readings, &c.context)?, c)))
        .collect();
    if normal.len() < MIN_SESSIONS {
        return Err(JobError::Permanent(format!(
            "fine-tuning needs at least {MIN_SESSIONS} normal sessions with enough readings; the data source \
             has {total} sessions of which {} are usable (sessions the rules flag count only with operator \
             feedback false_positive)",
            normal.len()
        )));
    }
    normal.shuffle(&mut rand::rngs::StdRng::seed_from_u64(SEED));
    let train_len = (normal.len() * 6 / 10).max(1);
    let evaluation = normal.split_off(train_len + (normal.len() - train_len).div_ceil(2));
    let calibration = normal.split_off(train_len);
    // Twice as many ordinary sessions as the tenant's to train on, and a
    // held-out set large enough for the threshold's quantile.
    let (replay, replay_calibration) = evni_models::fine_tune::replay(
        2 * normal.len(),
        (4 * calibration.len()).clamp(200, 2000),
        SEED + 1,
    )
    .map_err(|e| JobError::Permanent(format!("simulating sessions: {e}")))?;
    let faults_in = |sessions: &[(SessionFeatures, Candidate)], seed| {
        evni_models::inject::faults(
            sessions.iter().map(|(_, c)| (&c.readings[..], &c.context)),
            evni_models::inject::DRAWS,
            seed,
        )
    };
    let mut faults = faults_in(&evaluation, SEED + 3);
    if faults.is_empty() {
        // Sessions that carry none (no energy register, too short): recall
        // on faults in simulated ordinary sessions instead.
        faults = simulated_faults((evaluation.len() / 4).clamp(8, 250))?;
    }
    let features = |sessions: Vec<(SessionFeatures, Candidate)>| sessions.into_iter().map(|(f, _)| f);
    Ok(FineTuneData {
        calibration_faults: faults_in(&calibration, SEED + 2),
        faults,
        train: features(normal).chain(replay).collect(),
        calibration: features(calibration).collect(),
        replay_calibration,
        evaluation: features(evaluation).collect(),
    })
}

fn simulated_faults(sessions: usize) -> Result<Vec<(SessionFeatures, Vec<Label>)>, JobError> {
    let config = evni_sim::SimConfig {
        sessions,
        seed: SEED + 4,
        fault_share: 0.0,
        novel_share: 1.0,
        id_prefix: "FAULT".into(),
        ..evni_sim::SimConfig::default()
    };
    Ok(data::simulate(&config, data::default_threads())
        .map_err(|e| JobError::Permanent(format!("simulating sessions: {e}")))?
        .iter()
        .filter(|s| !s.labels.is_empty())
        .filter_map(|s| Some((s.features()?, s.labels.clone())))
        .collect())
}

fn permanent(e: StoreError) -> JobError {
    match e {
        StoreError::Unavailable(e) => JobError::Transient(e),
        other => JobError::Permanent(other.to_string()),
    }
}
