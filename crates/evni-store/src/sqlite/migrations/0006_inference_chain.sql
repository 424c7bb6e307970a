-- The inference history of a session is linked newest to oldest instead of
-- indexed by session: an index entry cost every analysed write one more
-- page in the WAL. sessions.latest_inference_id is the newest run, each
-- run's previous_id the one before it.
ALTER TABLE sessions ADD COLUMN latest_inference_id INTEGER;
ALTER TABLE inferences ADD COLUMN previous_id INTEGER;

-- Link what is there, while the index still makes it cheap.
UPDATE inferences SET previous_id = (
    SELECT MAX(earlier.id) FROM inferences earlier
    WHERE earlier.session_id = inferences.session_id AND earlier.id < inferences.id
);
UPDATE sessions SET latest_inference_id = (
    SELECT MAX(i.id) FROM inferences i WHERE i.session_id = sessions.id
);

DROP INDEX inferences_by_session;
