-- The sessions list, newest first, from the index alone. Its order ends
-- with the id, which PostgreSQL's index must hold to walk it in order
-- (without it, the middle of 100,000 sessions was sorted: 58 ms).
CREATE INDEX sessions_by_tenant_start_id ON sessions (tenant_id, started_at, id);
DROP INDEX sessions_by_tenant_start;
-- Anomalous sessions newest first, and their count, likewise.
CREATE INDEX sessions_by_tenant_anomaly_start ON sessions (tenant_id, is_anomaly, started_at, id);
