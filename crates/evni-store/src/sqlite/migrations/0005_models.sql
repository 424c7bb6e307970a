-- The model registry, fine-tuning requests and each tenant's active models.

-- Base models have no tenant (tenant_id NULL) and are seen by everyone.
CREATE TABLE models (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants(id),
    name         TEXT NOT NULL,
    type         TEXT NOT NULL,            -- csar_2 | csar_c_2 | shade
    version      TEXT NOT NULL,
    is_base      INTEGER NOT NULL,
    base_model   TEXT,
    metrics      TEXT,                     -- JSON, measured (model card)
    status       TEXT NOT NULL,            -- active | training | archived
    created_at   INTEGER NOT NULL,
    s3_path      TEXT,
    description  TEXT
);
CREATE INDEX models_by_tenant ON models (tenant_id, created_at);

-- Status comes from the job (jobs.id = job_id).
CREATE TABLE fine_tunes (
    id               TEXT PRIMARY KEY,     -- public, "ft-..."
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    job_id           INTEGER NOT NULL REFERENCES jobs(id),
    base_model_id    TEXT NOT NULL,
    name             TEXT NOT NULL,
    config           TEXT NOT NULL,        -- JSON data_source + training_config
    progress         TEXT,                 -- JSON {epoch, epochs, loss}
    result_model_id  TEXT REFERENCES models(id),
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    completed_at     INTEGER
);
CREATE INDEX fine_tunes_by_tenant ON fine_tunes (tenant_id, created_at);

CREATE TABLE active_models (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    type          TEXT NOT NULL,
    model_id      TEXT NOT NULL REFERENCES models(id),
    activated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, type)
) WITHOUT ROWID;
