//! What the analysis needs to know about the charging point, from station
//! metadata: the connector's rated power.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use evni_analysis::SessionContext;
use evni_store::{SessionHeader, Store, StoreError, TenantId};

/// How long another process's metadata change may go unseen.
const TTL: Duration = Duration::from_secs(30);

type Key = (TenantId, String);

#[derive(Default)]
pub(crate) struct StationContexts {
    cache: Mutex<HashMap<Key, (Option<serde_json::Value>, Instant)>>,
}

impl StationContexts {
    pub(crate) fn invalidate(&self) {
        self.cache.lock().expect("station cache poisoned").clear();
    }

    pub(crate) async fn context(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        header: &SessionHeader,
    ) -> Result<SessionContext, StoreError> {
        let key = (tenant, header.station_external_id.clone());
        let cached = self
            .cache
            .lock()
            .expect("station cache poisoned")
            .get(&key)
            .cloned();
        let metadata = match cached {
            Some((metadata, at)) if at.elapsed() < TTL => metadata,
            _ => {
                let metadata = store
                    .station_metadata(tenant, &header.station_external_id)
                    .await?;
                self.cache
                    .lock()
                    .expect("station cache poisoned")
                    .insert(key, (metadata.clone(), Instant::now()));
                metadata
            }
        };
        let rated_power_kw = session_rated_power_kw(header.metadata.as_ref())
            .or_else(|| rated_power_kw(metadata.as_ref(), header.connector_id.as_deref()));
        Ok(SessionContext { rated_power_kw })
    }
}

/// `rated_power_kw` sent with the session itself, which a CPMS may know
/// better than station metadata configured once.
pub fn session_rated_power_kw(metadata: Option<&serde_json::Value>) -> Option<f64> {
    metadata?.get("rated_power_kw")?.as_f64().filter(|kw| *kw > 0.0)
}

/// `connectors.<id>.rated_power_kw` of the station for the session's
/// connector, else the station-wide `rated_power_kw`.
pub fn rated_power_kw(metadata: Option<&serde_json::Value>, connector: Option<&str>) -> Option<f64> {
    let metadata = metadata?;
    connector
        .and_then(|c| {
            metadata
                .get("connectors")?
                .get(c)?
                .get("rated_power_kw")?
                .as_f64()
        })
        .or_else(|| metadata.get("rated_power_kw")?.as_f64())
        .filter(|kw| *kw > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_rating_wins_over_station_rating() {
        let metadata =
            serde_json::json!({"rated_power_kw": 50.0, "connectors": {"2": {"rated_power_kw": 22.0}}});
        assert_eq!(rated_power_kw(Some(&metadata), Some("2")), Some(22.0));
        assert_eq!(rated_power_kw(Some(&metadata), Some("1")), Some(50.0));
        assert_eq!(rated_power_kw(None, Some("1")), None);
    }
}
