-- A test event an operator sends to an endpoint belongs to no station
-- anomaly: station_anomaly_id becomes nullable. SQLite cannot drop a NOT
-- NULL constraint, so the deliveries and their attempts are rebuilt as in
-- migration 9 (see there why the attempts move too).
CREATE TABLE webhook_deliveries_new (
    id                  INTEGER PRIMARY KEY,
    webhook_id          TEXT NOT NULL UNIQUE,   -- "wh-evt-...", same on every attempt
    tenant_id           TEXT NOT NULL,
    endpoint_id         TEXT NOT NULL REFERENCES webhook_endpoints(id),
    station_anomaly_id  INTEGER REFERENCES station_anomalies(id),  -- NULL for a test event
    event               TEXT NOT NULL,
    payload             TEXT NOT NULL,          -- the exact body sent
    status              TEXT NOT NULL,          -- pending | delivered | failed | cancelled
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
