-- A test event an operator sends to an endpoint belongs to no station anomaly.
ALTER TABLE webhook_deliveries ALTER COLUMN station_anomaly_id DROP NOT NULL;
