-- evni schema for PostgreSQL. Released migrations are never edited: add a new file.
-- The same tables as the SQLite backend (its migrations 0001-0003 in one),
-- with native UUID, BOOLEAN and DOUBLE PRECISION columns. Timestamps are
-- BIGINT microseconds since the Unix epoch (UTC), as in SQLite.
-- JSON documents (metadata, anomalies, settings, payloads) are TEXT, not
-- JSONB: JSONB reorders keys and rewrites numbers, and the API returns these
-- documents byte for byte as SQLite does.
-- Identifiers the API sorts by are COLLATE "C" so the order is the bytewise
-- order SQLite uses, whatever the database's locale.

CREATE TABLE tenants (
    id          UUID PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);

CREATE TABLE stations (
    id                  BIGSERIAL PRIMARY KEY,
    uuid                UUID NOT NULL UNIQUE,
    tenant_id           UUID NOT NULL REFERENCES tenants(id),
    external_id         TEXT COLLATE "C" NOT NULL,
    metadata            TEXT,
    created_at          BIGINT NOT NULL,
    -- Aggregates maintained inside every session write's transaction.
    total_sessions      BIGINT NOT NULL DEFAULT 0,
    anomalous_sessions  BIGINT NOT NULL DEFAULT 0,
    max_anomaly_score   DOUBLE PRECISION,
    last_anomaly_at     BIGINT,
    UNIQUE (tenant_id, external_id)
);

CREATE TABLE sessions (
    id                  BIGSERIAL PRIMARY KEY,
    uuid                UUID NOT NULL UNIQUE,
    tenant_id           UUID NOT NULL REFERENCES tenants(id),
    external_id         TEXT COLLATE "C" NOT NULL,
    station_id          BIGINT NOT NULL REFERENCES stations(id),
    connector_id        TEXT COLLATE "C",
    evse_id             TEXT,
    metadata            TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    version             BIGINT NOT NULL,
    reading_count       BIGINT NOT NULL,
    started_at          BIGINT,
    status              TEXT NOT NULL,
    status_reason       TEXT,
    is_anomaly          BOOLEAN,
    anomaly_score       DOUBLE PRECISION,
    anomaly_confidence  DOUBLE PRECISION,
    is_incident         BOOLEAN,
    is_recurring        BOOLEAN,
    anomaly_count       INTEGER NOT NULL DEFAULT 0,
    categories          TEXT NOT NULL DEFAULT '',
    anomalies           TEXT NOT NULL DEFAULT '[]',
    sequence_length     BIGINT,
    analyzed_at         BIGINT,
    feedback_label      TEXT,
    UNIQUE (tenant_id, external_id)
);
CREATE INDEX sessions_by_station_score ON sessions (station_id, anomaly_score);
CREATE INDEX sessions_by_tenant_start ON sessions (tenant_id, started_at);

CREATE TABLE readings (
    session_id  BIGINT NOT NULL REFERENCES sessions(id),
    ts          BIGINT NOT NULL,
    measurand   TEXT NOT NULL,
    phase       TEXT NOT NULL,
    location    TEXT NOT NULL,
    unit        TEXT,
    value       DOUBLE PRECISION NOT NULL,
    context     TEXT,
    PRIMARY KEY (session_id, ts, measurand, phase, location)
);

CREATE TABLE inferences (
    id                  BIGSERIAL PRIMARY KEY,
    session_id          BIGINT NOT NULL REFERENCES sessions(id),
    analyzed_at         BIGINT NOT NULL,
    model               TEXT NOT NULL,
    status              TEXT NOT NULL,
    status_reason       TEXT,
    is_anomaly          BOOLEAN,
    anomaly_score       DOUBLE PRECISION,
    anomaly_confidence  DOUBLE PRECISION,
    sequence_length     BIGINT,
    readings_analyzed   BIGINT NOT NULL,
    anomalies           TEXT NOT NULL
);
CREATE INDEX inferences_by_session ON inferences (session_id, id);

CREATE TABLE connector_stats (
    station_id          BIGINT NOT NULL REFERENCES stations(id),
    connector_id        TEXT COLLATE "C" NOT NULL,
    total_sessions      BIGINT NOT NULL DEFAULT 0,
    anomalous_sessions  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (station_id, connector_id)
);

CREATE TABLE connector_category_stats (
    station_id    BIGINT NOT NULL REFERENCES stations(id),
    connector_id  TEXT COLLATE "C" NOT NULL,
    category      TEXT COLLATE "C" NOT NULL,
    sessions      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (station_id, connector_id, category)
);

CREATE TABLE feedback (
    id          BIGSERIAL PRIMARY KEY,
    session_id  BIGINT NOT NULL REFERENCES sessions(id),
    label       TEXT NOT NULL,
    comment     TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX feedback_by_session ON feedback (session_id, id);

CREATE TABLE session_categories (
    session_id  BIGINT NOT NULL REFERENCES sessions(id),
    station_id  BIGINT NOT NULL REFERENCES stations(id),
    category    TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, category)
);
CREATE INDEX session_categories_by_station ON session_categories (station_id, category, started_at);

-- Jobs: claimed with FOR UPDATE SKIP LOCKED plus a lease, so a crashed
-- worker's job is claimed again once its lease runs out.
CREATE TABLE jobs (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants(id),
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL,              -- queued | running | done | failed
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_after     BIGINT NOT NULL,
    lease_owner   TEXT,
    lease_until   BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
-- Only unfinished jobs are ever searched; done ones stay out of the index.
CREATE INDEX jobs_runnable ON jobs (id) WHERE status IN ('queued', 'running');

CREATE TABLE batches (
    id                  BIGSERIAL PRIMARY KEY,
    batch_id            TEXT NOT NULL UNIQUE,
    tenant_id           UUID NOT NULL REFERENCES tenants(id),
    total_sessions      BIGINT NOT NULL,
    processed_sessions  BIGINT NOT NULL DEFAULT 0,
    failed_sessions     BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    completed_at        BIGINT
);

CREATE TABLE batch_items (
    batch_id    BIGINT NOT NULL REFERENCES batches(id),
    idx         INTEGER NOT NULL,
    session_id  TEXT NOT NULL,
    request     TEXT NOT NULL,
    status      TEXT NOT NULL,                   -- pending | done | failed
    result      TEXT,
    PRIMARY KEY (batch_id, idx)
);
