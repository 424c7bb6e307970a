//! [`DashboardStore`] for [`SqliteStore`].

use async_trait::async_trait;
use evni_domain::Micros;
use rusqlite::params;

use super::SqliteStore;
use crate::dashboard::{
    CategoryDay, DashboardStore, OpenStationAnomaly, ANOMALIES_BY_DAY, OPEN_STATION_ANOMALIES,
};
use crate::model::TenantId;
use crate::StoreError;

#[async_trait]
impl DashboardStore for SqliteStore {
    async fn open_station_anomalies(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> Result<Vec<OpenStationAnomaly>, StoreError> {
        self.readers
            .read(move |conn| {
                let sql = OPEN_STATION_ANOMALIES.replace("{t}", "?1").replace("{l}", "?2");
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map(params![tenant.to_string(), limit], |r| {
                    Ok(OpenStationAnomaly {
                        station_external_id: r.get(0)?,
                        anomaly_score: r.get(1)?,
                        analyzed_at: r.get(2)?,
                        detection_details: r.get(3)?,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    async fn anomalies_by_day(&self, tenant: TenantId, from: Micros) -> Result<Vec<CategoryDay>, StoreError> {
        self.readers
            .read(move |conn| {
                let sql = ANOMALIES_BY_DAY.replace("{t}", "?1").replace("{f}", "?2");
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map(params![tenant.to_string(), from], |r| {
                    Ok(CategoryDay {
                        day: r.get(0)?,
                        category: r.get(1)?,
                        sessions: r.get::<_, i64>(2)? as u64,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }
}
