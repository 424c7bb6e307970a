-- Issue 19: an anomaly has two webhook events (detected, resolved), each
-- delivered once per endpoint; and the zero sessions' starts are read per
-- station, so retries of one driver count as one event.

-- SQLite cannot drop a table's UNIQUE constraint: the table is rebuilt, and
-- its attempts with it. Dropping a parent table deletes its rows first,
-- which would break the attempts' foreign keys (migrations run in one
-- transaction, where foreign keys cannot be switched off): the attempts are
-- copied to a table pointing at the new deliveries before the old tables go.
-- Renaming the new deliveries rewrites that reference to the final name.
CREATE TABLE webhook_deliveries_new (
    id                  INTEGER PRIMARY KEY,
    webhook_id          TEXT NOT NULL UNIQUE,   -- "wh-evt-...", same on every attempt
    tenant_id           TEXT NOT NULL,
    endpoint_id         TEXT NOT NULL REFERENCES webhook_endpoints(id),
    station_anomaly_id  INTEGER NOT NULL REFERENCES station_anomalies(id),
    event               TEXT NOT NULL,
    payload             TEXT NOT NULL,          -- the exact body sent
    status              TEXT NOT NULL,          -- pending | delivered | failed
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    lease_until         INTEGER,
    created_at          INTEGER NOT NULL,
    delivered_at        INTEGER,
    last_error          TEXT,
    UNIQUE (endpoint_id, station_anomaly_id, event)
);
INSERT INTO webhook_deliveries_new
    SELECT id, webhook_id, tenant_id, endpoint_id, station_anomaly_id, event, payload, status, attempts,
           next_attempt_at, lease_until, created_at, delivered_at, last_error
    FROM webhook_deliveries;
CREATE TABLE webhook_attempts_new (
    id             INTEGER PRIMARY KEY,
    delivery_id    INTEGER NOT NULL REFERENCES webhook_deliveries_new(id),
    attempted_at   INTEGER NOT NULL,
    status_code    INTEGER,
    error          TEXT,
    duration_ms    INTEGER NOT NULL
);
INSERT INTO webhook_attempts_new
    SELECT id, delivery_id, attempted_at, status_code, error, duration_ms FROM webhook_attempts;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
ALTER TABLE webhook_attempts_new RENAME TO webhook_attempts;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);

-- Only zero sessions (serde writes the flag without spaces).
CREATE INDEX sessions_zero_starts ON sessions (station_id, started_at)
    WHERE day_contribution LIKE '%"is_zero":true%';
