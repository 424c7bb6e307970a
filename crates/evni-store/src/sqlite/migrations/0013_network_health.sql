-- Issue 19: network events. A tenant's stations are judged together; a drop
-- they share is one tenant-level event, and each station is judged against
-- the others' movement on the days the network fell.
CREATE TABLE network_health (
    tenant_id          TEXT PRIMARY KEY,
    judged_through     INTEGER NOT NULL,   -- day number
    analyzed_at        INTEGER NOT NULL,
    is_drop            INTEGER NOT NULL,
    detection_details  TEXT NOT NULL,
    -- The westernmost station's offset from UTC at the run: when the
    -- network's next day is complete.
    min_utc_offset_seconds INTEGER NOT NULL
);

CREATE TABLE network_events (
    id                 INTEGER PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    first_day          INTEGER NOT NULL,
    anomaly_score      REAL NOT NULL,
    detection_details  TEXT NOT NULL,
    detected_at        INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (tenant_id, first_day)
);

-- Only days the network fell have a row: every other day's factor is 1.
CREATE TABLE network_movements (
    station_id  INTEGER NOT NULL REFERENCES stations(id),
    day         INTEGER NOT NULL,
    tenant_id   TEXT NOT NULL,
    factor      REAL NOT NULL,
    PRIMARY KEY (station_id, day)
) WITHOUT ROWID;
CREATE INDEX network_movements_by_tenant ON network_movements (tenant_id, day);
