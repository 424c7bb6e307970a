//! Tenants and their settings.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{execute, query, query_opt};
use uuid::Uuid;

use crate::model::{Tenant, TenantId, TenantSettings};
use crate::StoreError;

const COLUMNS: &str = "id, name, settings, created_at";

fn from_row(row: &Row) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        settings: serde_json::from_str(row.try_get(2)?)?,
        created_at: row.try_get(3)?,
    })
}

pub(super) async fn create(client: &impl GenericClient, name: &str, now: i64) -> Result<Tenant, StoreError> {
    let tenant = Tenant {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        settings: TenantSettings::default(),
        created_at: now,
    };
    let inserted = execute(
        client,
        "INSERT INTO tenants (id, name, settings, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[
            &tenant.id,
            &tenant.name,
            &serde_json::to_string(&tenant.settings)?,
            &now,
        ],
    )
    .await?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!("tenant '{name}' exists already")));
    }
    Ok(tenant)
}

pub(super) async fn by_name(client: &impl GenericClient, name: &str) -> Result<Tenant, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tenants WHERE name = $1");
    let row = query_opt(client, &sql, &[&name]).await?;
    from_row(&row.ok_or_else(|| StoreError::not_found("tenant", name))?)
}

pub(super) async fn by_id(client: &impl GenericClient, id: TenantId) -> Result<Tenant, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tenants WHERE id = $1");
    let row = query_opt(client, &sql, &[&id]).await?;
    from_row(&row.ok_or_else(|| StoreError::not_found("tenant", id))?)
}

pub(super) async fn list(client: &impl GenericClient) -> Result<Vec<Tenant>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tenants ORDER BY name");
    query(client, &sql, &[]).await?.iter().map(from_row).collect()
}

pub(super) async fn update_settings(
    client: &impl GenericClient,
    id: TenantId,
    settings: TenantSettings,
    now: i64,
) -> Result<Tenant, StoreError> {
    let before = by_id(client, id).await?;
    execute(
        client,
        "UPDATE tenants SET settings = $2 WHERE id = $1",
        &[&id, &serde_json::to_string(&settings)?],
    )
    .await?;
    if before.settings.time_zone != settings.time_zone {
        super::health::redate(client, id, None, now).await?;
    }
    by_id(client, id).await
}
