//! Webhook endpoints, durable deliveries and their attempts.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use crate::health::*;
use crate::model::*;
use crate::station_days::AnomalyEvent;
use crate::StoreError;

/// Inserts a pending delivery of `event` to `endpoint`, its body made for
/// its new webhook id; returns that id and 1, or 0 when the anomaly's event
/// was enqueued to the endpoint already (a test event has no anomaly).
fn insert_delivery(
    conn: &Connection,
    tenant: TenantId,
    endpoint: &str,
    anomaly: Option<i64>,
    event: &str,
    payload: impl FnOnce(&str) -> serde_json::Value,
    now: i64,
) -> Result<(String, usize), StoreError> {
    let webhook_id = new_webhook_id();
    let payload = serde_json::to_string(&payload(&webhook_id))?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO webhook_deliveries (webhook_id, tenant_id, endpoint_id, station_anomaly_id, event, payload,
                status, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)
             ON CONFLICT (endpoint_id, station_anomaly_id, event) DO NOTHING",
        )?
        .execute(params![webhook_id, tenant.to_string(), endpoint, anomaly, event, payload, now])?;
    Ok((webhook_id, inserted))
}

/// Enqueues one delivery of a station anomaly's `event` (detected or
/// resolved) to every endpoint of the tenant; returns how many. Runs in the
/// transaction that found it; an event is enqueued once per endpoint.
pub(super) fn enqueue_anomaly(
    conn: &Connection,
    tenant: TenantId,
    e: &AnomalyEvent<'_>,
    analyzed_at: i64,
    now: i64,
) -> Result<usize, StoreError> {
    let payload = |webhook_id: &str| e.payload(webhook_id, analyzed_at);
    enqueue_to_all(conn, tenant, Some(e.anomaly_id), e.event, payload, now)
}

/// Enqueues one delivery of `event` to every endpoint of the tenant, each
/// body made for its webhook id; returns how many.
pub(super) fn enqueue_to_all(
    conn: &Connection,
    tenant: TenantId,
    anomaly: Option<i64>,
    event: &str,
    payload: impl Fn(&str) -> serde_json::Value,
    now: i64,
) -> Result<usize, StoreError> {
    let endpoints: Vec<String> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM webhook_endpoints WHERE tenant_id = ?1 AND deleted_at IS NULL ORDER BY created_at",
        )?;
        let rows = stmt.query_map([tenant.to_string()], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut enqueued = 0;
    for endpoint in endpoints {
        enqueued += insert_delivery(conn, tenant, &endpoint, anomaly, event, &payload, now)?.1;
    }
    Ok(enqueued)
}

/// Enqueues a test event to one endpoint; returns its webhook id.
pub(super) fn enqueue_test(
    conn: &Connection,
    tenant: TenantId,
    endpoint: &str,
    now: i64,
) -> Result<String, StoreError> {
    find_endpoint(conn, tenant, endpoint)?;
    let payload = |webhook_id: &str| test_event_payload(webhook_id, now);
    Ok(insert_delivery(conn, tenant, endpoint, None, TEST_EVENT, payload, now)?.0)
}

const ENDPOINT_COLUMNS: &str = "id, url, description, authorization IS NOT NULL, created_at";

fn endpoint_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: r.get(0)?,
        url: r.get(1)?,
        description: r.get(2)?,
        has_authorization: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub(super) fn create_endpoint(
    conn: &Connection,
    endpoint: &NewWebhookEndpoint,
    now: i64,
) -> Result<WebhookEndpoint, StoreError> {
    let id = format!("ep_{}", Uuid::now_v7().simple());
    conn.prepare_cached(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, secret, authorization, description, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        endpoint.tenant.to_string(),
        endpoint.url,
        endpoint.secret,
        endpoint.authorization,
        endpoint.description,
        now
    ])?;
    Ok(WebhookEndpoint {
        id,
        url: endpoint.url.clone(),
        description: endpoint.description.clone(),
        has_authorization: endpoint.authorization.is_some(),
        created_at: now,
    })
}

pub(super) fn list_endpoints(
    conn: &Connection,
    tenant: TenantId,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND deleted_at IS NULL
         ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([tenant.to_string()], endpoint_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn find_endpoint(conn: &Connection, tenant: TenantId, id: &str) -> Result<WebhookEndpoint, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2 AND deleted_at IS NULL"
    ))?
    .query_row(params![tenant.to_string(), id], endpoint_from_row)
    .optional()?
    .ok_or_else(|| StoreError::not_found("webhook endpoint", id))
}

pub(super) fn delete_endpoint(
    conn: &Connection,
    tenant: TenantId,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    find_endpoint(conn, tenant, id)?;
    conn.prepare_cached("UPDATE webhook_endpoints SET deleted_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET status = 'cancelled', lease_until = NULL
         WHERE endpoint_id = ?1 AND status = 'pending'",
    )?
    .execute([id])?;
    Ok(())
}

pub(super) fn deliveries(
    conn: &Connection,
    tenant: TenantId,
    endpoint: &str,
    page: PageRequest,
) -> Result<Page<WebhookDelivery>, StoreError> {
    // Deleted endpoints keep their history readable.
    let exists: Option<String> = conn
        .prepare_cached("SELECT id FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![tenant.to_string(), endpoint], |r| r.get(0))
        .optional()?;
    exists.ok_or_else(|| StoreError::not_found("webhook endpoint", endpoint))?;
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = ?1")?
        .query_row([endpoint], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        // A test event has no anomaly: it names the station its payload does;
        // a network event names none.
        "SELECT d.id, d.webhook_id, d.event, COALESCE(st.external_id, json_extract(d.payload, '$.charging_station_id'), ''),
                d.status, d.payload, d.next_attempt_at, d.created_at, d.delivered_at
         FROM webhook_deliveries d
         LEFT JOIN station_anomalies a ON a.id = d.station_anomaly_id
         LEFT JOIN stations st ON st.id = a.station_id
         WHERE d.endpoint_id = ?1 ORDER BY d.id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let mut rows = stmt.query(params![endpoint, page.page_size, page.offset() as i64])?;
    let mut items = Vec::new();
    let mut ids = Vec::new();
    while let Some(r) = rows.next()? {
        let status: String = r.get(4)?;
        let payload: String = r.get(5)?;
        ids.push(r.get::<_, i64>(0)?);
        items.push(WebhookDelivery {
            webhook_id: r.get(1)?,
            event: r.get(2)?,
            station_external_id: r.get(3)?,
            next_attempt_at: (status == "pending").then(|| r.get(6)).transpose()?,
            status,
            payload: serde_json::from_str(&payload)?,
            created_at: r.get(7)?,
            delivered_at: r.get(8)?,
            attempts: Vec::new(),
        });
    }
    let mut attempts = conn.prepare_cached(
        "SELECT attempted_at, status_code, error, duration_ms FROM webhook_attempts
         WHERE delivery_id = ?1 ORDER BY id",
    )?;
    for (item, id) in items.iter_mut().zip(ids) {
        let rows = attempts.query_map([id], |r| {
            Ok(WebhookAttempt {
                attempted_at: r.get(0)?,
                status_code: r.get::<_, Option<i64>>(1)?.map(|c| c as u16),
                error: r.get(2)?,
                duration_ms: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?;
        item.attempts = rows.collect::<Result<_, _>>()?;
    }
    Ok(Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}

pub(super) fn claim(
    conn: &Connection,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.webhook_id, e.url, e.secret, e.authorization, d.payload, d.attempts, d.created_at
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 AND (d.lease_until IS NULL OR d.lease_until < ?1)
         ORDER BY d.next_attempt_at, d.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit as i64], |r| {
        Ok(ClaimedDelivery {
            id: r.get(0)?,
            webhook_id: r.get(1)?,
            url: r.get(2)?,
            secret: r.get(3)?,
            authorization: r.get(4)?,
            payload: r.get(5)?,
            attempts: r.get::<_, i64>(6)?.max(0) as u32,
            created_at: r.get(7)?,
        })
    })?;
    let claimed: Vec<ClaimedDelivery> = rows.collect::<Result<_, _>>()?;
    let mut lease = conn.prepare_cached("UPDATE webhook_deliveries SET lease_until = ?2 WHERE id = ?1")?;
    for delivery in &claimed {
        lease.execute(params![delivery.id, lease_until])?;
    }
    Ok(claimed)
}

pub(super) fn record_attempt(
    conn: &Connection,
    delivery: i64,
    attempt: &WebhookAttempt,
    next: DeliveryNext,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        delivery,
        attempt.attempted_at,
        attempt.status_code.map(i64::from),
        attempt.error,
        attempt.duration_ms as i64
    ])?;
    let last_error = attempt
        .error
        .clone()
        .or_else(|| attempt.status_code.map(|c| format!("HTTP {c}")));
    let (status, next_at, delivered_at) = match next {
        DeliveryNext::Delivered => ("delivered", None, Some(attempt.attempted_at)),
        DeliveryNext::RetryAt(at) => ("pending", Some(at), None),
        DeliveryNext::GiveUp => ("failed", None, None),
    };
    // A delivery cancelled meanwhile (endpoint deleted) stays cancelled.
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = NULL,
            status = CASE WHEN status = 'cancelled' THEN status ELSE ?2 END,
            next_attempt_at = COALESCE(?3, next_attempt_at), delivered_at = ?4,
            last_error = CASE WHEN ?2 = 'delivered' THEN NULL ELSE ?5 END
         WHERE id = ?1",
    )?
    .execute(params![delivery, status, next_at, delivered_at, last_error])?;
    Ok(())
}

pub(super) fn next_due(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT MIN(COALESCE(MAX(next_attempt_at, lease_until), next_attempt_at)) FROM webhook_deliveries WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))?)
}
