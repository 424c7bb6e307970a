-- Operator feedback, and the per-category index behind is_recurring.

ALTER TABLE sessions ADD COLUMN feedback_label TEXT;

CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES sessions(id),
    label       TEXT NOT NULL,
    comment     TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX feedback_by_session ON feedback (session_id, id);

-- One row per (session, anomaly category), kept with the session's verdict.
CREATE TABLE session_categories (
    session_id  INTEGER NOT NULL REFERENCES sessions(id),
    station_id  INTEGER NOT NULL REFERENCES stations(id),
    category    TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    PRIMARY KEY (session_id, category)
) WITHOUT ROWID;
CREATE INDEX session_categories_by_station ON session_categories (station_id, category, started_at);
