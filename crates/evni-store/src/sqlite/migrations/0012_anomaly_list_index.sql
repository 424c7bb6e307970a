-- Anomalous sessions newest first, and their count, from the index alone:
-- the dashboard's overview and "anomalies only" read every session's row
-- to count them (155 ms for 100,000).
CREATE INDEX sessions_by_tenant_anomaly_start ON sessions (tenant_id, is_anomaly, started_at);
