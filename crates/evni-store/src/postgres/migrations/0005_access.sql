-- Revoked tokens (by JWT id) and disabled tenants, read by every API process.
CREATE TABLE revoked_tokens (
    jti         UUID PRIMARY KEY,
    revoked_at  BIGINT NOT NULL
);
ALTER TABLE tenants ADD COLUMN disabled_at BIGINT;
