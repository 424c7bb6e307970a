//! One SHADE run for one station, and the scheduler that runs them.

use std::time::{Duration, Instant};

use evni_shade::{day_of_micros, ConnectorDay, History};
use evni_store::{
    FoundAnomaly, HealthResult, HealthStation, RecordedHealth, StationInference, StoreError, TenantId,
};

use crate::{now_micros, stopped, Health};

impl Health {
    /// Assesses a station now and stores the result; returns the stored
    /// latest result. The station is named by the client's id or the UUID.
    #[tracing::instrument(skip_all, fields(%tenant, station))]
    pub async fn assess_station(
        &self,
        tenant: TenantId,
        station: &str,
    ) -> Result<(RecordedHealth, StationInference), StoreError> {
        let store = &self.store;
        let params = &self.config.params;
        let now = now_micros();
        // Only complete days are judged, and none past the tenant's latest
        // data: a day nobody has sent anything for yet is not "silent".
        let yesterday = day_of_micros(now) - 1;
        let as_of = match store.tenant_last_day(tenant).await? {
            Some(last) => last.min(yesterday),
            None => yesterday,
        };
        let from = as_of - params.window_days - params.baseline_days - 1;
        let stored = store.station_history(tenant, station, from, as_of).await?;
        let history = History::from_connector_days(stored.days.into_iter().map(|d| ConnectorDay {
            day: d.day,
            connector_id: d.connector_id,
            sessions: d.sessions,
            energy_kwh: d.energy_kwh,
            zero_sessions: d.zero_sessions,
            anomalous_sessions: d.anomalous_sessions,
            plateaus_kw: d.plateaus_kw,
        }));
        let assessment = evni_shade::assess(&history, as_of, params);
        let result = HealthResult {
            analyzed_at: now_micros(),
            is_anomaly: assessment.is_anomaly,
            anomaly_score: assessment.anomaly_score,
            detection_details: assessment.detection_details,
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
            data_read_at: now,
        };
        let external_id = stored.station.external_id;
        let recorded = store.record_station_health(tenant, &external_id, result).await?;
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
        let latest = store
            .latest_station_inference(tenant, &external_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((recorded, latest))
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
                    Ok(all) => self.assess_all(all).await,
                    Err(e) => tracing::warn!(error = %e, "listing stations failed"),
                }
            }
        }
        tracing::debug!("station health scheduler stopped");
    }
}
