-- Issue 19: an anomaly has two webhook events (detected, resolved), each
-- delivered once per endpoint; and the zero sessions' starts are read per
-- station, so retries of one driver count as one event.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_station_anomaly_id_key;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_endpoint_anomaly_event_key
    UNIQUE (endpoint_id, station_anomaly_id, event);

-- Only zero sessions (serde writes the flag without spaces).
CREATE INDEX sessions_zero_starts ON sessions (station_id, started_at)
    WHERE day_contribution LIKE '%"is_zero":true%';
