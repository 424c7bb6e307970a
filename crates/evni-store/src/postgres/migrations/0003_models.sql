-- The model registry, fine-tuning requests and each tenant's active models.
-- The same tables as SQLite's 0005_models.sql.

-- Base models have no tenant (tenant_id NULL) and are seen by everyone.
CREATE TABLE models (
    id           TEXT COLLATE "C" PRIMARY KEY,
    tenant_id    UUID REFERENCES tenants(id),
    name         TEXT NOT NULL,
    type         TEXT NOT NULL,            -- csar_2 | csar_c_2 | shade
    version      TEXT NOT NULL,
    is_base      BOOLEAN NOT NULL,
    base_model   TEXT,
    metrics      TEXT,                     -- JSON, measured (model card)
    status       TEXT NOT NULL,            -- active | training | archived
    created_at   BIGINT NOT NULL,
    s3_path      TEXT,
    description  TEXT
);
CREATE INDEX models_by_tenant ON models (tenant_id, created_at);

-- Status comes from the job (jobs.id = job_id).
CREATE TABLE fine_tunes (
    id               TEXT PRIMARY KEY,
    tenant_id        UUID NOT NULL REFERENCES tenants(id),
    job_id           BIGINT NOT NULL REFERENCES jobs(id),
    base_model_id    TEXT NOT NULL,
    name             TEXT NOT NULL,
    config           TEXT NOT NULL,
    progress         TEXT,
    result_model_id  TEXT REFERENCES models(id),
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    completed_at     BIGINT
);
CREATE INDEX fine_tunes_by_tenant ON fine_tunes (tenant_id, created_at);

CREATE TABLE active_models (
    tenant_id     UUID NOT NULL REFERENCES tenants(id),
    type          TEXT NOT NULL,
    model_id      TEXT NOT NULL REFERENCES models(id),
    activated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, type)
);
