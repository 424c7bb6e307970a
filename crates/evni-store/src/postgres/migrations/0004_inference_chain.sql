-- The inference history of a session is linked newest to oldest instead of
-- indexed by session: an index entry cost every analysed write one more
-- index page to write. sessions.latest_inference_id is the newest run, each
-- run's previous_id the one before it.
ALTER TABLE sessions ADD COLUMN latest_inference_id BIGINT;
ALTER TABLE inferences ADD COLUMN previous_id BIGINT;

-- Link what is there, while the index still makes it cheap.
UPDATE inferences i SET previous_id = earlier.previous_id
FROM (
    SELECT id, LAG(id) OVER (PARTITION BY session_id ORDER BY id) AS previous_id FROM inferences
) earlier
WHERE earlier.id = i.id AND earlier.previous_id IS NOT NULL;
UPDATE sessions s SET latest_inference_id = latest.id
FROM (SELECT session_id, MAX(id) AS id FROM inferences GROUP BY session_id) latest
WHERE latest.session_id = s.id;

DROP INDEX inferences_by_session;
