//! [`DashboardStore`] for [`PostgresStore`].

use async_trait::async_trait;
use evni_domain::Micros;

use super::{query, PostgresStore};
use crate::dashboard::{
    CategoryDay, DashboardStore, OpenStationAnomaly, ANOMALIES_BY_DAY, OPEN_STATION_ANOMALIES,
};
use crate::model::TenantId;
use crate::StoreError;

#[async_trait]
impl DashboardStore for PostgresStore {
    async fn open_station_anomalies(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> Result<Vec<OpenStationAnomaly>, StoreError> {
        let sql = OPEN_STATION_ANOMALIES.replace("{t}", "$1").replace("{l}", "$2");
        let rows = query(&self.client().await?, &sql, &[&tenant, &i64::from(limit)]).await?;
        rows.iter()
            .map(|r| {
                Ok(OpenStationAnomaly {
                    station_external_id: r.try_get(0)?,
                    anomaly_score: r.try_get(1)?,
                    analyzed_at: r.try_get(2)?,
                    detection_details: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn anomalies_by_day(&self, tenant: TenantId, from: Micros) -> Result<Vec<CategoryDay>, StoreError> {
        let sql = ANOMALIES_BY_DAY.replace("{t}", "$1").replace("{f}", "$2");
        let rows = query(&self.client().await?, &sql, &[&tenant, &from]).await?;
        rows.iter()
            .map(|r| {
                Ok(CategoryDay {
                    day: r.try_get(0)?,
                    category: r.try_get(1)?,
                    sessions: r.try_get::<_, i64>(2)? as u64,
                })
            })
            .collect()
    }
}
