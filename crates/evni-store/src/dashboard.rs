//! Aggregates only the dashboard reads, a supertrait of [`crate::Store`] so
//! every backend provides them.

use async_trait::async_trait;
use evni_domain::Micros;

use crate::model::TenantId;
use crate::StoreError;

/// Anomalous sessions of one category that started on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryDay {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub category: String,
    pub sessions: u64,
}

/// A station whose latest SHADE judgement is an anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenStationAnomaly {
    pub station_external_id: String,
    pub anomaly_score: f64,
    pub analyzed_at: Micros,
    /// JSON of the strongest anomaly.
    pub detection_details: String,
}

#[async_trait]
pub trait DashboardStore: Send + Sync {
    /// Stations whose latest SHADE result is an anomaly, highest score
    /// first, at most `limit`.
    async fn open_station_anomalies(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> Result<Vec<OpenStationAnomaly>, StoreError>;
    /// Sessions per start day and verdict category, for sessions that
    /// started at or after `from`; at most one row per day and category.
    async fn anomalies_by_day(&self, tenant: TenantId, from: Micros) -> Result<Vec<CategoryDay>, StoreError>;
}

/// The query of both backends; `{t}`/`{f}` are the parameters.
pub(crate) const ANOMALIES_BY_DAY: &str = "SELECT sc.started_at / 86400000000 AS day, sc.category, COUNT(*)
     FROM session_categories sc JOIN stations st ON st.id = sc.station_id
     WHERE st.tenant_id = {t} AND sc.started_at >= {f}
     GROUP BY 1, 2 ORDER BY 1, 2";

pub(crate) const OPEN_STATION_ANOMALIES: &str =
    "SELECT st.external_id, si.anomaly_score, si.analyzed_at, si.detection_details
     FROM stations st
     JOIN station_inferences si ON si.id = (SELECT MAX(id) FROM station_inferences WHERE station_id = st.id)
     WHERE st.tenant_id = {t} AND si.is_anomaly = TRUE
     ORDER BY si.anomaly_score DESC, st.external_id LIMIT {l}";
