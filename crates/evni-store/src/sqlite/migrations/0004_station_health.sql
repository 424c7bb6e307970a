-- Station health (SHADE): station-day aggregates kept on every session write,
-- SHADE runs and the station anomalies they found, and webhooks.

-- What the session currently contributes to station_days (JSON), so a
-- rewrite removes exactly that before adding the new contribution.
ALTER TABLE sessions ADD COLUMN day_contribution TEXT;

-- Per station, UTC day (of the session's first reading) and connector
-- ('' for sessions without one).
CREATE TABLE station_days (
    station_id          INTEGER NOT NULL REFERENCES stations(id),
    day                 INTEGER NOT NULL,            -- days since 1970-01-01
    connector_id        TEXT NOT NULL,
    sessions            INTEGER NOT NULL DEFAULT 0,
    energy_kwh          REAL NOT NULL DEFAULT 0,
    zero_sessions       INTEGER NOT NULL DEFAULT 0,
    anomalous_sessions  INTEGER NOT NULL DEFAULT 0,
    plateaus_kw         TEXT NOT NULL DEFAULT '[]',  -- sorted JSON array, for the median
    median_plateau_kw   REAL,
    PRIMARY KEY (station_id, day, connector_id)
) WITHOUT ROWID;

-- Stations whose data changed since SHADE last looked; set in the session
-- write's transaction, cleared by the run that saw the change.
CREATE TABLE station_health_dirty (
    station_id  INTEGER PRIMARY KEY REFERENCES stations(id),
    tenant_id   TEXT NOT NULL,
    changed_at  INTEGER NOT NULL
);

-- SHADE results. A run whose result equals the previous one only moves
-- confirmed_at, so the history holds changes rather than one row per tick.
CREATE TABLE station_inferences (
    id                 INTEGER PRIMARY KEY,
    inference_id       TEXT NOT NULL UNIQUE,
    tenant_id          TEXT NOT NULL,
    station_id         INTEGER NOT NULL REFERENCES stations(id),
    analyzed_at        INTEGER NOT NULL,
    confirmed_at       INTEGER NOT NULL,
    is_anomaly         INTEGER NOT NULL,
    anomaly_score      REAL NOT NULL,
    detection_details  TEXT NOT NULL,   -- JSON, the strongest anomaly (or the healthy summary)
    anomalies          TEXT NOT NULL,   -- JSON array, every anomaly found
    signature          TEXT NOT NULL
);
CREATE INDEX station_inferences_by_station ON station_inferences (station_id, id);

-- One row per station anomaly and period, however many runs see it.
CREATE TABLE station_anomalies (
    id                 INTEGER PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    station_id         INTEGER NOT NULL REFERENCES stations(id),
    anomaly_type       TEXT NOT NULL,
    connector_id       TEXT NOT NULL,   -- '' unless the anomaly is a connector's
    affected_period    TEXT NOT NULL,   -- YYYY-MM-DD, first day of the episode
    inference_id       TEXT NOT NULL,   -- the run that first found it
    anomaly_score      REAL NOT NULL,
    detection_details  TEXT NOT NULL,
    detected_at        INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (station_id, anomaly_type, connector_id, affected_period)
);
CREATE INDEX station_anomalies_by_station ON station_anomalies (station_id, detected_at);

CREATE TABLE webhook_endpoints (
    id             TEXT PRIMARY KEY,   -- "ep_<uuid>"
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    url            TEXT NOT NULL,
    secret         TEXT NOT NULL,      -- "whsec_<base64>"
    authorization  TEXT,               -- sent as the Authorization header
    description    TEXT,
    created_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id, created_at);

-- One event for one endpoint, enqueued in the transaction that found the
-- anomaly; the unique key makes "never twice" hold across restarts.
CREATE TABLE webhook_deliveries (
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
    UNIQUE (endpoint_id, station_anomaly_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id             INTEGER PRIMARY KEY,
    delivery_id    INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    attempted_at   INTEGER NOT NULL,
    status_code    INTEGER,
    error          TEXT,
    duration_ms    INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
