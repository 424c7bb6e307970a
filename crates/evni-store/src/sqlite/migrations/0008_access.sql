-- Revoked tokens (by JWT id) and disabled tenants, read by every API process.
CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY,            -- UUID
    revoked_at  INTEGER NOT NULL
);
ALTER TABLE tenants ADD COLUMN disabled_at INTEGER;
