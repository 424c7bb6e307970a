//! One SHADE run for one station, and the scheduler that runs them.

use std::time::{Duration, Instant};

use evni_shade::{day_of_micros, ConnectorDay, DayAggregate, DayExpectation, History};
use evni_store::{
    FoundAnomaly, HealthResult, HealthStation, RecordedHealth, StationInference, StoreError, TenantId,
};

use crate::{now_micros, stopped, Health};

/// A tenant whose data changed this recently is still sending: its latest
/// day may be incomplete (an import in progress) and waits.
const STILL_SENDING_MICROS: i64 = 5_000_000;

/// The key of a stored verdict's details naming the last day judged.
const JUDGED_THROUGH: &str = "judged_through";

/// The last day a stored verdict judged.
fn judged_through(details: &serde_json::Value) -> Option<i64> {
    details[JUDGED_THROUGH].as_str().and_then(evni_shade::parse_day)
}

/// A station's history as SHADE reads it, and what tells its days.
struct Loaded {
    external_id: String,
    history: History,
    tenant_last_day: Option<i64>,
    /// The station's offset from UTC now: its days are local days.
    utc_offset_micros: i64,
}

impl Health {
    /// A station's days `from..=to` as SHADE reads them.
    async fn history(
        &self,
        tenant: TenantId,
        station: &str,
        from: i64,
        to: i64,
    ) -> Result<Loaded, StoreError> {
        let stored = self.store.station_history(tenant, station, from, to).await?;
        let history = History::from_connector_days(stored.days.into_iter().map(|d| ConnectorDay {
            day: d.day,
            connector_id: d.connector_id,
            sessions: d.sessions,
            energy_kwh: d.energy_kwh,
            zero_sessions: d.zero_sessions,
            anomalous_sessions: d.anomalous_sessions,
            plateaus_kw: d.plateaus_kw,
        }))
        .with_zero_starts(
            &stored.zero_starts,
            self.config.params.retry_gap_minutes * 60_000_000,
        )
        .with_common_movement(stored.common_movement);
        Ok(Loaded {
            external_id: stored.station.external_id,
            history,
            tenant_last_day: stored.tenant_last_day,
            utc_offset_micros: i64::from(stored.utc_offset_seconds) * 1_000_000,
        })
    }

    /// A station's days `from..=to` (delivering sessions and energy) with
    /// what SHADE expected of each, for charts; judged from enough earlier
    /// history that each baseline is the one a run would use.
    pub async fn daily_expectations(
        &self,
        tenant: TenantId,
        station: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(DayExpectation, DayAggregate)>, StoreError> {
        let params = &self.config.params;
        let Loaded { history, .. } = self
            .history(
                tenant,
                station,
                from - params.lookback_days - 3 * params.baseline_days,
                to,
            )
            .await?;
        let assessment = evni_shade::assess_since(&history, from, to, params);
        Ok(assessment
            .expected
            .into_iter()
            .map(|e| (e, history.day(e.day).clone()))
            .collect())
    }

    /// Assesses a station now and stores the result; returns the last
    /// stored result. Every complete day not judged yet is judged, in order,
    /// in runs of at most `params.max_days_per_run` days, each stored on its
    /// own: imported history gets its episodes, and a restart goes on from
    /// the last stored run. The latest `params.window_days` are judged again
    /// by every run (late data). The station is named by the client's id or
    /// the UUID.
    #[tracing::instrument(skip_all, fields(%tenant, station))]
    pub async fn assess_station(
        &self,
        tenant: TenantId,
        station: &str,
    ) -> Result<(RecordedHealth, StationInference), StoreError> {
        let store = &self.store;
        let params = &self.config.params;
        let now = now_micros();
        // Through UTC tomorrow: the station's local today may be ahead.
        let mut loaded = self.history(tenant, station, 0, day_of_micros(now) + 1).await?;
        // Only complete days are judged (the station's local days), and none
        // past the tenant's latest data: a day nobody has sent anything for
        // yet is not "silent". Later days in `history` are not read.
        let yesterday = day_of_micros(now + loaded.utc_offset_micros) - 1;
        let target = self.target(tenant, loaded.tenant_last_day, yesterday).await?;
        // A day is judged against the network's movement on it: the
        // network is judged first (and the station's days read again with
        // its new movements), and the station not past it. The network's
        // day may end later than the station's (a station further west).
        let network_target = |n: &evni_store::NetworkHealth| {
            day_of_micros(now + i64::from(n.min_utc_offset_seconds) * 1_000_000) - 1
        };
        let network = match self.store.network_health(tenant).await? {
            Some(n) if n.judged_through >= target.min(network_target(&n)) => n.judged_through,
            _ => {
                let judged = self.assess_network(tenant).await?;
                loaded = self.history(tenant, station, 0, day_of_micros(now) + 1).await?;
                judged
            }
        };
        let target = target.min(network);
        let Loaded {
            external_id, history, ..
        } = loaded;
        let judged = store
            .latest_station_inference(tenant, &external_id)
            .await?
            .and_then(|i| judged_through(&i.detection_details));
        let first = judged
            .map(|j| j + 1)
            .or(history.first_day())
            .unwrap_or(target)
            .min(target - params.window_days + 1);
        let mut from = first;
        loop {
            let as_of = (from + params.max_days_per_run - 1).min(target);
            let recorded = self
                .record(tenant, &external_id, &history, from, as_of, now)
                .await?;
            if as_of >= target {
                let latest = store
                    .latest_station_inference(tenant, &external_id)
                    .await?
                    .ok_or_else(|| StoreError::not_found("station", station))?;
                return Ok((recorded, latest));
            }
            from = as_of + 1;
        }
    }

    /// Whether a stored verdict leaves complete days unjudged (data came
    /// after the run): the API then runs SHADE before answering.
    pub async fn is_behind(&self, tenant: TenantId, latest: &StationInference) -> Result<bool, StoreError> {
        let judged = judged_through(&latest.detection_details);
        Ok(match self.complete_everywhere(tenant).await? {
            Some(target) => judged.is_none_or(|judged| judged < target),
            None => false,
        })
    }

    /// The last day to judge ([`Self::target`]) with the day complete in
    /// every zone (UTC-12 ends last): a day complete only in a station's
    /// zone waits for the scheduler.
    pub(crate) async fn complete_everywhere(&self, tenant: TenantId) -> Result<Option<i64>, StoreError> {
        let yesterday = day_of_micros(now_micros() - 12 * 3_600_000_000) - 1;
        match self.store.tenant_last_day(tenant).await? {
            Some(last) => Ok(Some(self.target(tenant, Some(last), yesterday).await?)),
            None => Ok(None),
        }
    }

    /// The last day to judge: complete by the clock (`yesterday`), not
    /// past the tenant's latest data (a day nobody sent anything for yet is
    /// not "silent"), and not that latest day while the tenant is still
    /// sending: an import of the past, day by day, is still filling it.
    pub(crate) async fn target(
        &self,
        tenant: TenantId,
        last_day: Option<i64>,
        yesterday: i64,
    ) -> Result<i64, StoreError> {
        let Some(last) = last_day else {
            return Ok(yesterday);
        };
        let sending = self
            .store
            .tenant_changed_at(tenant)
            .await?
            .is_some_and(|at| at > now_micros() - STILL_SENDING_MICROS);
        Ok(if sending { last - 1 } else { last }.min(yesterday))
    }

    /// One run: judges `from..=as_of` and stores the result.
    async fn record(
        &self,
        tenant: TenantId,
        external_id: &str,
        history: &History,
        from: i64,
        as_of: i64,
        data_read_at: i64,
    ) -> Result<RecordedHealth, StoreError> {
        let assessment = evni_shade::assess_since(history, from, as_of, &self.config.params);
        let mut detection_details = assessment.detection_details;
        if let Some(details) = detection_details.as_object_mut() {
            details.insert(JUDGED_THROUGH.into(), evni_shade::day_label(as_of).into());
        }
        let result = HealthResult {
            analyzed_at: now_micros(),
            is_anomaly: assessment.is_anomaly,
            anomaly_score: assessment.anomaly_score,
            detection_details,
            anomalies: assessment
                .anomalies
                .into_iter()
                .map(|a| FoundAnomaly {
                    anomaly_type: a.anomaly_type.as_str().to_owned(),
                    connector_id: a.connector_id,
                    affected_period: evni_shade::day_label(a.first_day),
                    anomaly_score: a.score,
                    detection_details: a.details,
                })
                .collect(),
            data_read_at,
        };
        let recorded = self
            .store
            .record_station_health(tenant, external_id, result)
            .await?;
        metrics::counter!("evni_shade_runs_total").increment(1);
        metrics::counter!("evni_shade_anomalies_new_total").increment(recorded.new_anomalies as u64);
        if recorded.deliveries_enqueued > 0 {
            self.deliveries_enqueued.notify_one();
        }
        if recorded.new_anomalies > 0 {
            tracing::info!(
                station = %external_id,
                new_anomalies = recorded.new_anomalies,
                inference_id = %recorded.inference_id,
                "station anomaly detected"
            );
        }
        Ok(recorded)
    }

    async fn assess_all(&self, stations: Vec<HealthStation>) {
        for station in stations {
            if let Err(e) = self.assess_station(station.tenant, &station.external_id).await {
                tracing::warn!(station = %station.external_id, error = %e, "station health run failed");
            }
        }
    }

    /// Assesses stations whose data changed (once quiet for the debounce)
    /// and, every interval, all stations.
    pub(crate) async fn run_scheduler(
        self: std::sync::Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let debounce = self.config.debounce;
        let poll = (debounce / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
        let mut next_full = Instant::now();
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => break,
                _ = tokio::time::sleep(poll) => {}
            }
            let quiet_since = now_micros() - debounce.as_micros() as i64;
            match self.store.dirty_stations(quiet_since).await {
                Ok(dirty) => self.assess_all(dirty).await,
                Err(e) => tracing::warn!(error = %e, "listing changed stations failed"),
            }
            if Instant::now() >= next_full {
                next_full = Instant::now() + self.config.interval;
                match self.store.health_stations().await {
                    Ok(all) => {
                        // Every network first, so late data moves it before
                        // its stations are judged against it.
                        let mut tenants: Vec<TenantId> = all.iter().map(|s| s.tenant).collect();
                        tenants.dedup();
                        for tenant in tenants {
                            if let Err(e) = self.assess_network(tenant).await {
                                tracing::warn!(%tenant, error = %e, "network health run failed");
                            }
                        }
                        self.assess_all(all).await
                    }
                    Err(e) => tracing::warn!(error = %e, "listing stations failed"),
                }
            }
        }
        tracing::debug!("station health scheduler stopped");
    }
}
