-- Readings with small integer codes (sqlite/reading_codes.rs) instead of
-- their OCPP spellings: half the bytes a row. Run by reading_codes::migrate,
-- which fills temp.reading_codes and checks every spelling has a code first.
CREATE TABLE readings_coded (
    session_id  INTEGER NOT NULL REFERENCES sessions(id),
    ts          INTEGER NOT NULL,
    measurand   INTEGER NOT NULL,
    phase       INTEGER NOT NULL,            -- 0 when the reading has none
    location    INTEGER NOT NULL,
    unit        INTEGER,
    value       REAL NOT NULL,
    context     INTEGER,
    PRIMARY KEY (session_id, ts, measurand, phase, location)
) WITHOUT ROWID;

INSERT INTO readings_coded (session_id, ts, measurand, phase, location, unit, value, context)
SELECT r.session_id, r.ts,
       (SELECT code FROM temp.reading_codes WHERE kind = 'measurand' AND spelling = r.measurand),
       (SELECT code FROM temp.reading_codes WHERE kind = 'phase' AND spelling = r.phase),
       (SELECT code FROM temp.reading_codes WHERE kind = 'location' AND spelling = r.location),
       (SELECT code FROM temp.reading_codes WHERE kind = 'unit' AND spelling = r.unit),
       r.value,
       (SELECT code FROM temp.reading_codes WHERE kind = 'context' AND spelling = r.context)
FROM readings r;

DROP TABLE readings;
ALTER TABLE readings_coded RENAME TO readings;
DROP TABLE temp.reading_codes;
