-- Issue 19: network events, as SQLite's migration 13.
CREATE TABLE network_health (
    tenant_id          UUID PRIMARY KEY,
    judged_through     BIGINT NOT NULL,
    analyzed_at        BIGINT NOT NULL,
    is_drop            BOOLEAN NOT NULL,
    detection_details  TEXT NOT NULL,
    min_utc_offset_seconds INTEGER NOT NULL
);

CREATE TABLE network_events (
    id                 BIGSERIAL PRIMARY KEY,
    tenant_id          UUID NOT NULL,
    first_day          BIGINT NOT NULL,
    anomaly_score      DOUBLE PRECISION NOT NULL,
    detection_details  TEXT NOT NULL,
    detected_at        BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (tenant_id, first_day)
);

CREATE TABLE network_movements (
    station_id  BIGINT NOT NULL REFERENCES stations(id),
    day         BIGINT NOT NULL,
    tenant_id   UUID NOT NULL,
    factor      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (station_id, day)
);
CREATE INDEX network_movements_by_tenant ON network_movements (tenant_id, day);
