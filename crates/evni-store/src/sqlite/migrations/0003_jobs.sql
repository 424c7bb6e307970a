-- Durable jobs and batch analysis.

-- A job is claimed with a lease (lease_owner, lease_until); a job whose lease
-- ran out is claimed again, so a crashed worker's job resumes elsewhere.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,              -- JSON, per kind
    status        TEXT NOT NULL,              -- queued | running | done | failed
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_after     INTEGER NOT NULL,
    lease_owner   TEXT,
    lease_until   INTEGER,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX jobs_by_status ON jobs (status, run_after);

CREATE TABLE batches (
    id                  INTEGER PRIMARY KEY,
    batch_id            TEXT NOT NULL UNIQUE,     -- public id, "batch-..."
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    total_sessions      INTEGER NOT NULL,
    processed_sessions  INTEGER NOT NULL DEFAULT 0,
    failed_sessions     INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    completed_at        INTEGER
);

-- One row per submitted session; `result` is the verdict once processed.
CREATE TABLE batch_items (
    batch_id    INTEGER NOT NULL REFERENCES batches(id),
    idx         INTEGER NOT NULL,
    session_id  TEXT NOT NULL,
    request     TEXT NOT NULL,                   -- JSON BatchSession
    status      TEXT NOT NULL,                   -- pending | done | failed
    result      TEXT,                            -- JSON BatchResult
    PRIMARY KEY (batch_id, idx)
) WITHOUT ROWID;
