//! Tenants and their settings.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use crate::model::{Tenant, TenantId, TenantSettings};
use crate::StoreError;

const COLUMNS: &str = "id, name, settings, created_at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn build((id, name, settings, created_at): (String, String, String, i64)) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: Uuid::parse_str(&id).map_err(|e| StoreError::caused_by(e.to_string(), e))?,
        name,
        settings: serde_json::from_str(&settings)?,
        created_at,
    })
}

pub(super) fn create(conn: &Connection, name: &str, now: i64) -> Result<Tenant, StoreError> {
    let tenant = Tenant {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        settings: TenantSettings::default(),
        created_at: now,
    };
    let inserted = conn
        .prepare_cached("INSERT INTO tenants (id, name, settings, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")?
        .execute(params![tenant.id.to_string(), tenant.name, serde_json::to_string(&tenant.settings)?, now])?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!("tenant '{name}' exists already")));
    }
    Ok(tenant)
}

pub(super) fn by_name(conn: &Connection, name: &str) -> Result<Tenant, StoreError> {
    let row = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM tenants WHERE name = ?1"))?
        .query_row([name], from_row)
        .optional()?;
    build(row.ok_or_else(|| StoreError::not_found("tenant", name))?)
}

pub(super) fn by_id(conn: &Connection, id: TenantId) -> Result<Tenant, StoreError> {
    let row = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM tenants WHERE id = ?1"))?
        .query_row([id.to_string()], from_row)
        .optional()?;
    build(row.ok_or_else(|| StoreError::not_found("tenant", id))?)
}

pub(super) fn list(conn: &Connection) -> Result<Vec<Tenant>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tenants ORDER BY name"))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(build).collect()
}

pub(super) fn update_settings(
    conn: &Connection,
    id: TenantId,
    settings: TenantSettings,
    now: i64,
) -> Result<Tenant, StoreError> {
    let before = by_id(conn, id)?;
    conn.prepare_cached("UPDATE tenants SET settings = ?2 WHERE id = ?1")?
        .execute(params![id.to_string(), serde_json::to_string(&settings)?])?;
    if before.settings.time_zone != settings.time_zone {
        super::health::redate(conn, id, None, now)?;
    }
    by_id(conn, id)
}
