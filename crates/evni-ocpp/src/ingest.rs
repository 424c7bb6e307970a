//! Applies mapped OCPP operations through the engine, with the same
//! commands `POST /v1/sessions` uses (an upsert that merges readings by
//! identity, so a charger's retransmissions never double-count).
//!
//! State between frames lives in this process (see [`Ingest`]): each
//! station's [`Mapper`] and the session each running transaction writes to.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use evni_domain::{micros_to_datetime, ExternalId, FieldError, Micros, ValidationErrors};
use evni_engine::{Command, Engine, EngineError, NewSession};
use evni_store::{StoreError, Tenant, TenantId, Verdict};
use serde_json::{json, Map, Value};

use crate::frame::Version;
use crate::mapping::{Mapper, Op, SessionEvent, SessionOp, StationOp};

/// Stations whose state is kept in memory; the least recently seen is
/// forgotten beyond (its pending StartTransaction answers with it).
const MAX_STATIONS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("invalid OCPP frames: {0}")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for IngestError {
    fn from(e: ValidationErrors) -> Self {
        IngestError::Invalid(e)
    }
}

/// What a request (or a tapped frame) did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub frames: usize,
    /// Operations stored (session readings and life-cycle, station status).
    pub stored: usize,
    /// Frames accepted and counted but not stored, by action.
    pub ignored: BTreeMap<String, u64>,
    /// Each session touched, with its verdict after the last frame, in the
    /// order first touched.
    pub sessions: Vec<(String, Verdict)>,
}

#[derive(Default)]
struct StationState {
    mapper: Mapper,
    /// transactionId -> session id, for a transaction id reused after a
    /// reboot (the latest transaction with that id).
    routes: HashMap<String, String>,
    /// Tapped frames were dropped: sessions touched until the station is
    /// idle again are marked incomplete (`marked` holds those done).
    lost_frames: bool,
    marked: HashSet<String>,
    seen: Micros,
}

/// The OCPP intake shared by door 1 (HTTP) and door 2 (the proxy's tap).
///
/// Per-station state (unanswered 1.6 StartTransaction CALLs, running
/// transactions, transaction routes) is kept in this process, not in the
/// database: a CALLRESULT must reach the same evni process as its CALL, and
/// an evni restart forgets the StartTransaction CALLs then unanswered.
pub struct Ingest {
    engine: Arc<Engine>,
    stations: Mutex<HashMap<(TenantId, String), StationState>>,
}

impl Ingest {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            stations: Mutex::new(HashMap::new()),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Maps every frame first: one malformed frame refuses the whole request
    /// (422 naming `frames[i]` and the field) and nothing is kept. Then
    /// applies the operations in order.
    pub async fn ingest(
        &self,
        tenant: &Tenant,
        station: &ExternalId,
        version: Version,
        frames: Vec<Value>,
        now: Micros,
    ) -> Result<Outcome, IngestError> {
        let key = (tenant.id, station.as_str().to_owned());
        let mut mapper = self
            .lock()
            .get(&key)
            .map(|s| s.mapper.clone())
            .unwrap_or_default();
        let mut outcome = Outcome {
            frames: frames.len(),
            ..Outcome::default()
        };
        let mut ops = Vec::new();
        for (i, frame) in frames.into_iter().enumerate() {
            ops.extend(mapper.map(version, &format!("frames[{i}]"), frame, now)?);
        }
        {
            let mut stations = self.lock();
            evict_idle(&mut stations);
            let state = stations.entry(key).or_default();
            state.mapper = mapper;
            state.seen = now;
        }
        for op in ops {
            match op {
                Op::Ignored(what) => *outcome.ignored.entry(what).or_default() += 1,
                Op::Station(op) => {
                    self.apply_station(tenant, station, version, op, now).await?;
                    outcome.stored += 1;
                }
                Op::Session(op) => {
                    let (id, verdict) = self.apply_session(tenant, station, version, op).await?;
                    outcome.stored += 1;
                    match outcome.sessions.iter_mut().find(|(known, _)| *known == id) {
                        Some(entry) => entry.1 = verdict,
                        None => outcome.sessions.push((id, verdict)),
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// The proxy dropped tapped frames of `station`: the sessions it writes
    /// until it is idle again are marked incomplete.
    pub fn frames_lost(&self, tenant: TenantId, station: &str) {
        let mut stations = self.lock();
        let state = stations.entry((tenant, station.to_owned())).or_default();
        state.lost_frames = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, String), StationState>> {
        self.stations.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn apply_session(
        &self,
        tenant: &Tenant,
        station: &ExternalId,
        version: Version,
        op: SessionOp,
    ) -> Result<(String, Verdict), IngestError> {
        let key = (tenant.id, station.as_str().to_owned());
        let base = format!("{station}:{}", op.transaction_id);
        let (routed, mark) = {
            let mut stations = self.lock();
            let state = stations.entry(key.clone()).or_default();
            let mark = state.lost_frames && !state.marked.contains(&op.transaction_id);
            (state.routes.get(&op.transaction_id).cloned(), mark)
        };
        let mut session_id = routed.unwrap_or_else(|| base.clone());
        let mut ocpp = Map::new();
        match &op.event {
            SessionEvent::Started { at } => {
                session_id = self.session_for_start(tenant, &base, *at).await?;
                ocpp.insert("version".into(), version.as_str().into());
                ocpp.insert("transaction_id".into(), op.transaction_id.clone().into());
                ocpp.insert("state".into(), "started".into());
                ocpp.insert("started_at".into(), json!(micros_to_datetime(*at)));
                let mut stations = self.lock();
                let state = stations.entry(key.clone()).or_default();
                if session_id == base {
                    state.routes.remove(&op.transaction_id);
                } else {
                    state.routes.insert(op.transaction_id.clone(), session_id.clone());
                }
            }
            SessionEvent::Updated => {}
            SessionEvent::Ended { at, reason } => {
                ocpp.insert("transaction_id".into(), op.transaction_id.clone().into());
                ocpp.insert("state".into(), "ended".into());
                ocpp.insert("ended_at".into(), json!(micros_to_datetime(*at)));
                if let Some(reason) = reason {
                    ocpp.insert("stop_reason".into(), reason.clone().into());
                }
            }
        }
        if mark {
            ocpp.insert("incomplete".into(), true.into());
        }
        let id = ExternalId::parse("session_id", &session_id).map_err(ValidationErrors::from)?;
        let metadata = if ocpp.is_empty() {
            None
        } else {
            Some(self.merged_metadata(tenant, &session_id, ocpp).await?)
        };
        let command = Command::Create(NewSession {
            station: station.clone(),
            connector_id: op
                .connector_id
                .as_deref()
                .map(|c| ExternalId::parse("connector_id", c))
                .transpose()
                .map_err(ValidationErrors::from)?,
            evse_id: op
                .evse_id
                .as_deref()
                .map(|e| ExternalId::parse("evse_id", e))
                .transpose()
                .map_err(ValidationErrors::from)?,
            metadata,
            readings: op.readings,
        });
        let state = self.engine.apply(tenant, &id, command).await?;
        if mark {
            // Only once written: a write that failed marks nothing.
            let mut stations = self.lock();
            stations
                .entry(key.clone())
                .or_default()
                .marked
                .insert(op.transaction_id.clone());
        }
        if let SessionEvent::Ended { .. } = op.event {
            let mut stations = self.lock();
            let state = stations.entry(key).or_default();
            // The route stays: a frame of this transaction sent again after
            // its end must reach the same session, not the first one with this id.
            if state.mapper.is_idle() {
                state.lost_frames = false;
                state.marked.clear();
            }
        }
        Ok((session_id, state.verdict))
    }

    /// The session a transaction start writes to: `{station}:{transactionId}`,
    /// unless that session holds an earlier transaction with the same id (the
    /// charger rebooted and counts again); that one is told apart by its start
    /// time: `{station}:{transactionId}:{start, Unix seconds}`.
    async fn session_for_start(
        &self,
        tenant: &Tenant,
        base: &str,
        at: Micros,
    ) -> Result<String, IngestError> {
        let started_at = json!(micros_to_datetime(at));
        match self.engine.store().session_detail(tenant.id, base).await {
            Err(e) if e.is_not_found() => Ok(base.to_owned()),
            Err(e) => Err(e.into()),
            Ok(detail) => {
                let known = detail
                    .header
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("ocpp"))
                    .and_then(|o| o.get("started_at"))
                    .cloned();
                match known {
                    Some(known) if known != started_at => Ok(format!(
                        "{base}:{}",
                        at.div_euclid(evni_domain::MICROS_PER_SECOND)
                    )),
                    _ => Ok(base.to_owned()),
                }
            }
        }
    }

    /// The session's metadata with `ocpp` merged into its `ocpp` object.
    async fn merged_metadata(
        &self,
        tenant: &Tenant,
        id: &str,
        ocpp: Map<String, Value>,
    ) -> Result<Value, IngestError> {
        let current = match self.engine.store().session_detail(tenant.id, id).await {
            Ok(detail) => detail.header.metadata,
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        Ok(merge_ocpp(current, ocpp))
    }

    async fn apply_station(
        &self,
        tenant: &Tenant,
        station: &ExternalId,
        version: Version,
        op: StationOp,
        now: Micros,
    ) -> Result<(), IngestError> {
        let store = self.engine.store();
        let current = match store.station_metadata(tenant.id, station.as_str()).await {
            Ok(metadata) => metadata,
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        let mut ocpp = current
            .as_ref()
            .and_then(|m| m.get("ocpp"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        ocpp.insert("version".into(), version.as_str().into());
        match op {
            StationOp::Boot(info) => {
                ocpp.insert("boot".into(), Value::Object(info));
                ocpp.insert("booted_at".into(), json!(micros_to_datetime(now)));
            }
            StationOp::Status {
                connector,
                status,
                error_code,
                timestamp,
            } => {
                let connectors = ocpp
                    .entry("connectors")
                    .or_insert_with(|| Value::Object(Map::new()));
                if !connectors.is_object() {
                    *connectors = Value::Object(Map::new());
                }
                let mut entry = Map::new();
                entry.insert("status".into(), status.into());
                if let Some(code) = error_code {
                    entry.insert("error_code".into(), code.into());
                }
                entry.insert(
                    "timestamp".into(),
                    timestamp.map_or_else(|| json!(micros_to_datetime(now)), Value::from),
                );
                if let Some(map) = connectors.as_object_mut() {
                    map.insert(connector, Value::Object(entry));
                }
            }
        }
        let mut patch = Map::new();
        patch.insert("ocpp".into(), Value::Object(ocpp));
        store
            .patch_station_metadata(tenant.id, station.as_str(), patch)
            .await?;
        Ok(())
    }
}

impl From<IngestError> for ValidationErrors {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(errors) => errors,
            other => FieldError::new("frames", other.to_string()).into(),
        }
    }
}

fn merge_ocpp(current: Option<Value>, ocpp: Map<String, Value>) -> Value {
    let mut metadata = match current {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let entry = metadata
        .entry("ocpp")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Some(existing) = entry.as_object_mut() {
        existing.extend(ocpp);
    }
    Value::Object(metadata)
}

fn evict_idle(stations: &mut HashMap<(TenantId, String), StationState>) {
    if stations.len() < MAX_STATIONS {
        return;
    }
    if let Some(oldest) = stations
        .iter()
        .min_by_key(|(_, s)| s.seen)
        .map(|(k, _)| k.clone())
    {
        stations.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocpp_metadata_merges_into_what_the_session_holds() {
        let current = json!({"fleet": "north", "ocpp": {"state": "started", "started_at": "t0"}});
        let mut end = Map::new();
        end.insert("state".into(), "ended".into());
        let merged = merge_ocpp(Some(current), end);
        assert_eq!(
            merged,
            json!({"fleet": "north", "ocpp": {"state": "ended", "started_at": "t0"}})
        );
    }
}
