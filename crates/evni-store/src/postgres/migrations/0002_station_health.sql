-- Station health (SHADE): station-day aggregates kept on every session write,
-- SHADE runs and the station anomalies they found, and webhooks. The same
-- tables as SQLite's 0004_station_health.sql.

-- What the session currently contributes to station_days (JSON), so a
-- rewrite removes exactly that before adding the new contribution.
ALTER TABLE sessions ADD COLUMN day_contribution TEXT;

-- Per station, UTC day (of the session's first reading) and connector
-- ('' for sessions without one).
CREATE TABLE station_days (
    station_id          BIGINT NOT NULL REFERENCES stations(id),
    day                 BIGINT NOT NULL,                 -- days since 1970-01-01
    connector_id        TEXT COLLATE "C" NOT NULL,
    sessions            BIGINT NOT NULL DEFAULT 0,
    energy_kwh          DOUBLE PRECISION NOT NULL DEFAULT 0,
    zero_sessions       BIGINT NOT NULL DEFAULT 0,
    anomalous_sessions  BIGINT NOT NULL DEFAULT 0,
    plateaus_kw         TEXT NOT NULL DEFAULT '[]',      -- sorted JSON array, for the median
    median_plateau_kw   DOUBLE PRECISION,
    PRIMARY KEY (station_id, day, connector_id)
);

-- Stations whose data changed since SHADE last looked; set in the session
-- write's transaction, cleared by the run that saw the change.
CREATE TABLE station_health_dirty (
    station_id  BIGINT PRIMARY KEY REFERENCES stations(id),
    tenant_id   UUID NOT NULL,
    changed_at  BIGINT NOT NULL
);

CREATE TABLE station_inferences (
    id                 BIGSERIAL PRIMARY KEY,
    inference_id       TEXT NOT NULL UNIQUE,
    tenant_id          UUID NOT NULL,
    station_id         BIGINT NOT NULL REFERENCES stations(id),
    analyzed_at        BIGINT NOT NULL,
    confirmed_at       BIGINT NOT NULL,
    is_anomaly         BOOLEAN NOT NULL,
    anomaly_score      DOUBLE PRECISION NOT NULL,
    detection_details  TEXT NOT NULL,
    anomalies          TEXT NOT NULL,
    signature          TEXT NOT NULL
);
CREATE INDEX station_inferences_by_station ON station_inferences (station_id, id);

CREATE TABLE station_anomalies (
    id                 BIGSERIAL PRIMARY KEY,
    tenant_id          UUID NOT NULL,
    station_id         BIGINT NOT NULL REFERENCES stations(id),
    anomaly_type       TEXT NOT NULL,
    connector_id       TEXT NOT NULL,
    affected_period    TEXT COLLATE "C" NOT NULL,
    inference_id       TEXT NOT NULL,
    anomaly_score      DOUBLE PRECISION NOT NULL,
    detection_details  TEXT NOT NULL,
    detected_at        BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (station_id, anomaly_type, connector_id, affected_period)
);
CREATE INDEX station_anomalies_by_station ON station_anomalies (station_id, detected_at);

-- "authorization" is a reserved word in PostgreSQL: auth_header here.
CREATE TABLE webhook_endpoints (
    id           TEXT PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants(id),
    url          TEXT NOT NULL,
    secret       TEXT NOT NULL,
    auth_header  TEXT,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    deleted_at   BIGINT
);
CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id, created_at);

CREATE TABLE webhook_deliveries (
    id                  BIGSERIAL PRIMARY KEY,
    webhook_id          TEXT NOT NULL UNIQUE,
    tenant_id           UUID NOT NULL,
    endpoint_id         TEXT NOT NULL REFERENCES webhook_endpoints(id),
    station_anomaly_id  BIGINT NOT NULL REFERENCES station_anomalies(id),
    event               TEXT NOT NULL,
    payload             TEXT NOT NULL,
    status              TEXT NOT NULL,          -- pending | delivered | failed | cancelled
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     BIGINT NOT NULL,
    lease_until         BIGINT,
    created_at          BIGINT NOT NULL,
    delivered_at        BIGINT,
    last_error          TEXT,
    UNIQUE (endpoint_id, station_anomaly_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id             BIGSERIAL PRIMARY KEY,
    delivery_id    BIGINT NOT NULL REFERENCES webhook_deliveries(id),
    attempted_at   BIGINT NOT NULL,
    status_code    INTEGER,
    error          TEXT,
    duration_ms    BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
