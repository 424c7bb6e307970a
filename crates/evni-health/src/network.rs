//! The network run: a tenant's stations judged together (network events,
//! and each station's movement with the others, which its own run reads).

use std::collections::BTreeMap;

use evni_shade::{day_of_micros, DayAggregate, History};
use evni_store::{
    FoundNetworkEvent, NetworkHealth, NetworkHistory, NetworkResult, StationMovement, StoreError, TenantId,
};

use crate::{now_micros, Health};

impl Health {
    /// Judges the tenant's network through its last complete day (complete
    /// at every station, and not past the tenant's latest data), in runs
    /// of at most `params.max_days_per_run` days, each stored on its own,
    /// so an import is judged in order and a restart goes on from the last
    /// stored run. The latest `params.window_days` are judged again (late
    /// data). Returns the day judged through.
    #[tracing::instrument(skip_all, fields(%tenant))]
    pub async fn assess_network(&self, tenant: TenantId) -> Result<i64, StoreError> {
        let params = &self.config.params;
        let now = now_micros();
        let judged = self.store.network_health(tenant).await?.map(|h| h.judged_through);
        // Enough days before the first judged one for its baselines.
        let context = params.window_days + params.lookback_days + 3 * params.baseline_days;
        let loaded = self
            .store
            .network_history(
                tenant,
                judged.map_or(0, |j| j + 1 - context),
                day_of_micros(now) + 1,
            )
            .await?;
        let loaded_offset = loaded.min_utc_offset_seconds;
        let yesterday = day_of_micros(now + i64::from(loaded_offset) * 1_000_000) - 1;
        let target = self.target(tenant, loaded.tenant_last_day, yesterday).await?;
        let (names, histories) = station_histories(loaded);
        let first = judged
            .map(|j| j + 1)
            .or(histories.iter().filter_map(History::first_day).min())
            .unwrap_or(target)
            .min(target - params.window_days + 1);
        let mut from = first;
        loop {
            let as_of = (from + params.max_days_per_run - 1).min(target);
            let assessment = evni_shade::assess_network(&histories, from, as_of, params);
            let result = NetworkResult {
                analyzed_at: now_micros(),
                judged_through: as_of,
                is_drop: assessment.is_drop,
                detection_details: assessment.details,
                min_utc_offset_seconds: loaded_offset,
                events: assessment
                    .events
                    .into_iter()
                    .map(|e| FoundNetworkEvent {
                        first_day: e.first_day,
                        anomaly_score: e.score,
                        detection_details: e.details,
                    })
                    .collect(),
                rejudged_from: assessment.rejudged_from,
                movements: assessment
                    .movements
                    .into_iter()
                    .map(|m| StationMovement {
                        station_external_id: names[m.station].clone(),
                        day: m.day,
                        factor: m.factor,
                    })
                    .collect(),
            };
            let recorded = self.store.record_network_health(tenant, result).await?;
            metrics::counter!("evni_network_runs_total").increment(1);
            if recorded.deliveries_enqueued > 0 {
                self.deliveries_enqueued.notify_one();
            }
            if recorded.new_events > 0 {
                tracing::info!(new_events = recorded.new_events, "network event detected");
            }
            if as_of >= target {
                return Ok(as_of);
            }
            from = as_of + 1;
        }
    }

    /// The tenant's network verdict, judged first when it leaves complete
    /// days unjudged (or was never made).
    pub async fn network_health(&self, tenant: TenantId) -> Result<NetworkHealth, StoreError> {
        if let Some(stored) = self.store.network_health(tenant).await? {
            let target = self.complete_everywhere(tenant).await?;
            if target.is_none_or(|t| stored.judged_through >= t) {
                return Ok(stored);
            }
        }
        self.assess_network(tenant).await?;
        self.store
            .network_health(tenant)
            .await?
            .ok_or_else(|| StoreError::not_found("network health", tenant))
    }
}

/// The stations' names and day histories, in the same order.
fn station_histories(loaded: NetworkHistory) -> (Vec<String>, Vec<History>) {
    let mut by_station: BTreeMap<String, Vec<(i64, DayAggregate)>> = BTreeMap::new();
    for d in loaded.days {
        by_station.entry(d.station_external_id).or_default().push((
            d.day,
            DayAggregate {
                sessions: d.sessions,
                zero_sessions: d.zero_sessions,
                energy_kwh: d.energy_kwh,
                ..Default::default()
            },
        ));
    }
    by_station
        .into_iter()
        .map(|(name, days)| (name, History::from_days(days)))
        .unzip()
}
