-- evni schema for SQLite. Released migrations are never edited: add a new file.
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC).

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,            -- UUID
    name        TEXT NOT NULL UNIQUE,
    settings    TEXT NOT NULL DEFAULT '{}',  -- JSON TenantSettings
    created_at  INTEGER NOT NULL
);

CREATE TABLE stations (
    id                  INTEGER PRIMARY KEY,
    uuid                TEXT NOT NULL UNIQUE,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    external_id         TEXT NOT NULL,
    metadata            TEXT,                -- JSON object
    created_at          INTEGER NOT NULL,
    -- Aggregates maintained on every session write.
    total_sessions      INTEGER NOT NULL DEFAULT 0,
    anomalous_sessions  INTEGER NOT NULL DEFAULT 0,
    max_anomaly_score   REAL,
    last_anomaly_at     INTEGER,
    UNIQUE (tenant_id, external_id)
);

CREATE TABLE sessions (
    id                  INTEGER PRIMARY KEY,
    uuid                TEXT NOT NULL UNIQUE,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    external_id         TEXT NOT NULL,
    station_id          INTEGER NOT NULL REFERENCES stations(id),
    connector_id        TEXT,
    evse_id             TEXT,
    metadata            TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    reading_count       INTEGER NOT NULL,
    started_at          INTEGER,             -- first reading, for date filters
    status              TEXT NOT NULL,
    status_reason       TEXT,
    is_anomaly          INTEGER,
    anomaly_score       REAL,
    anomaly_confidence  REAL,
    is_incident         INTEGER,
    is_recurring        INTEGER,
    anomaly_count       INTEGER NOT NULL DEFAULT 0,
    categories          TEXT NOT NULL DEFAULT '',  -- comma separated, for aggregate deltas
    anomalies           TEXT NOT NULL DEFAULT '[]',
    sequence_length     INTEGER,
    analyzed_at         INTEGER,
    UNIQUE (tenant_id, external_id)
);
CREATE INDEX sessions_by_station_score ON sessions (station_id, anomaly_score);
CREATE INDEX sessions_by_tenant_start ON sessions (tenant_id, started_at);

-- One row per reading identity (timestamp, measurand, phase, location).
CREATE TABLE readings (
    session_id  INTEGER NOT NULL REFERENCES sessions(id),
    ts          INTEGER NOT NULL,
    measurand   TEXT NOT NULL,
    phase       TEXT NOT NULL,               -- '' when the reading has none
    location    TEXT NOT NULL,
    unit        TEXT,
    value       REAL NOT NULL,
    context     TEXT,
    PRIMARY KEY (session_id, ts, measurand, phase, location)
) WITHOUT ROWID;

-- Every analysis run, newest last; the session row holds the latest.
CREATE TABLE inferences (
    id                  INTEGER PRIMARY KEY,
    session_id          INTEGER NOT NULL REFERENCES sessions(id),
    analyzed_at         INTEGER NOT NULL,
    model               TEXT NOT NULL,
    status              TEXT NOT NULL,
    status_reason       TEXT,
    is_anomaly          INTEGER,
    anomaly_score       REAL,
    anomaly_confidence  REAL,
    sequence_length     INTEGER,
    readings_analyzed   INTEGER NOT NULL,
    anomalies           TEXT NOT NULL
);
CREATE INDEX inferences_by_session ON inferences (session_id, id);

-- Per-connector aggregates, maintained on write.
CREATE TABLE connector_stats (
    station_id          INTEGER NOT NULL REFERENCES stations(id),
    connector_id        TEXT NOT NULL,
    total_sessions      INTEGER NOT NULL DEFAULT 0,
    anomalous_sessions  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (station_id, connector_id)
) WITHOUT ROWID;

CREATE TABLE connector_category_stats (
    station_id    INTEGER NOT NULL REFERENCES stations(id),
    connector_id  TEXT NOT NULL,
    category      TEXT NOT NULL,
    sessions      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (station_id, connector_id, category)
) WITHOUT ROWID;
