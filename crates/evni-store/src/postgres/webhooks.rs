//! Webhook endpoints, durable deliveries and their attempts. Deliveries are
//! leased with `FOR UPDATE SKIP LOCKED`, so several workers never send the
//! same one at once.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{execute, query, query_one, query_opt};
use crate::health::*;
use crate::model::*;
use crate::station_days::AnomalyEvent;
use crate::StoreError;

/// Inserts a pending delivery of `event` to `endpoint`, its body made for
/// its new webhook id; returns that id and 1, or 0 when the anomaly's event
/// was enqueued to the endpoint already (a test event has no anomaly).
async fn insert_delivery(
    c: &impl GenericClient,
    tenant: TenantId,
    endpoint: &str,
    anomaly: Option<i64>,
    event: &str,
    payload: impl FnOnce(&str) -> serde_json::Value,
    now: i64,
) -> Result<(String, usize), StoreError> {
    let webhook_id = new_webhook_id();
    let payload = serde_json::to_string(&payload(&webhook_id))?;
    let inserted = execute(
        c,
        "INSERT INTO webhook_deliveries (webhook_id, tenant_id, endpoint_id, station_anomaly_id, event, payload,
            status, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)
         ON CONFLICT (endpoint_id, station_anomaly_id, event) DO NOTHING",
        &[&webhook_id, &tenant, &endpoint, &anomaly, &event, &payload, &now],
    )
    .await?;
    Ok((webhook_id, inserted as usize))
}

/// Enqueues one delivery of a station anomaly's `event` (detected or
/// resolved) to every endpoint of the tenant; returns how many. Runs in the
/// transaction that found it; an event is enqueued once per endpoint.
pub(super) async fn enqueue_anomaly(
    c: &impl GenericClient,
    tenant: TenantId,
    e: &AnomalyEvent<'_>,
    analyzed_at: i64,
    now: i64,
) -> Result<usize, StoreError> {
    let payload = |webhook_id: &str| e.payload(webhook_id, analyzed_at);
    enqueue_to_all(c, tenant, Some(e.anomaly_id), e.event, payload, now).await
}

/// Enqueues one delivery of `event` to every endpoint of the tenant, each
/// body made for its webhook id; returns how many.
pub(super) async fn enqueue_to_all(
    c: &impl GenericClient,
    tenant: TenantId,
    anomaly: Option<i64>,
    event: &str,
    payload: impl Fn(&str) -> serde_json::Value,
    now: i64,
) -> Result<usize, StoreError> {
    let endpoints = query(
        c,
        "SELECT id FROM webhook_endpoints WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at",
        &[&tenant],
    )
    .await?;
    let mut enqueued = 0;
    for endpoint in endpoints {
        let endpoint: &str = endpoint.try_get(0)?;
        enqueued += insert_delivery(c, tenant, endpoint, anomaly, event, &payload, now)
            .await?
            .1;
    }
    Ok(enqueued)
}

/// Enqueues a test event to one endpoint; returns its webhook id.
pub(super) async fn enqueue_test(
    c: &impl GenericClient,
    tenant: TenantId,
    endpoint: &str,
    now: i64,
) -> Result<String, StoreError> {
    query_opt(
        c,
        "SELECT id FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        &[&tenant, &endpoint],
    )
    .await?
    .ok_or_else(|| StoreError::not_found("webhook endpoint", endpoint))?;
    let payload = |webhook_id: &str| test_event_payload(webhook_id, now);
    Ok(
        insert_delivery(c, tenant, endpoint, None, TEST_EVENT, payload, now)
            .await?
            .0,
    )
}

const ENDPOINT_COLUMNS: &str = "id, url, description, auth_header IS NOT NULL, created_at";

fn endpoint_from_row(r: &Row) -> Result<WebhookEndpoint, StoreError> {
    Ok(WebhookEndpoint {
        id: r.try_get(0)?,
        url: r.try_get(1)?,
        description: r.try_get(2)?,
        has_authorization: r.try_get(3)?,
        created_at: r.try_get(4)?,
    })
}

pub(super) async fn create_endpoint(
    c: &impl GenericClient,
    endpoint: &NewWebhookEndpoint,
    now: i64,
) -> Result<WebhookEndpoint, StoreError> {
    let id = format!("ep_{}", Uuid::now_v7().simple());
    execute(
        c,
        "INSERT INTO webhook_endpoints (id, tenant_id, url, secret, auth_header, description, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &id,
            &endpoint.tenant,
            &endpoint.url,
            &endpoint.secret,
            &endpoint.authorization,
            &endpoint.description,
            &now,
        ],
    )
    .await?;
    Ok(WebhookEndpoint {
        id,
        url: endpoint.url.clone(),
        description: endpoint.description.clone(),
        has_authorization: endpoint.authorization.is_some(),
        created_at: now,
    })
}

pub(super) async fn list_endpoints(
    c: &impl GenericClient,
    tenant: TenantId,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND deleted_at IS NULL
         ORDER BY created_at, id"
    );
    query(c, &sql, &[&tenant])
        .await?
        .iter()
        .map(endpoint_from_row)
        .collect()
}

pub(super) async fn delete_endpoint(
    c: &impl GenericClient,
    tenant: TenantId,
    id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let changed = execute(
        c,
        "UPDATE webhook_endpoints SET deleted_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        &[&tenant, &id, &now],
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::not_found("webhook endpoint", id));
    }
    execute(
        c,
        "UPDATE webhook_deliveries SET status = 'cancelled', lease_until = NULL
         WHERE endpoint_id = $1 AND status = 'pending'",
        &[&id],
    )
    .await?;
    Ok(())
}

pub(super) async fn deliveries(
    c: &impl GenericClient,
    tenant: TenantId,
    endpoint: &str,
    page: PageRequest,
) -> Result<Page<WebhookDelivery>, StoreError> {
    // Deleted endpoints keep their history readable.
    query_opt(
        c,
        "SELECT id FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &endpoint],
    )
    .await?
    .ok_or_else(|| StoreError::not_found("webhook endpoint", endpoint))?;
    let total: i64 = query_one(
        c,
        "SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1",
        &[&endpoint],
    )
    .await?
    .try_get(0)?;
    let rows = query(
        c,
        // A test event has no anomaly: it names the station its payload does;
        // a network event names none.
        "SELECT d.id, d.webhook_id, d.event, COALESCE(st.external_id, d.payload::jsonb ->> 'charging_station_id', ''),
                d.status, d.payload, d.next_attempt_at, d.created_at, d.delivered_at
         FROM webhook_deliveries d
         LEFT JOIN station_anomalies a ON a.id = d.station_anomaly_id
         LEFT JOIN stations st ON st.id = a.station_id
         WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2 OFFSET $3",
        &[&endpoint, &i64::from(page.page_size), &(page.offset() as i64)],
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let status: String = r.try_get(4)?;
        let attempts = query(
            c,
            "SELECT attempted_at, status_code, error, duration_ms FROM webhook_attempts
             WHERE delivery_id = $1 ORDER BY id",
            &[&r.try_get::<_, i64>(0)?],
        )
        .await?
        .iter()
        .map(|a| {
            Ok(WebhookAttempt {
                attempted_at: a.try_get(0)?,
                status_code: a.try_get::<_, Option<i32>>(1)?.map(|c| c as u16),
                error: a.try_get(2)?,
                duration_ms: a.try_get::<_, i64>(3)?.max(0) as u64,
            })
        })
        .collect::<Result<_, StoreError>>()?;
        items.push(WebhookDelivery {
            webhook_id: r.try_get(1)?,
            event: r.try_get(2)?,
            station_external_id: r.try_get(3)?,
            next_attempt_at: if status == "pending" {
                Some(r.try_get(6)?)
            } else {
                None
            },
            status,
            payload: serde_json::from_str(r.try_get(5)?)?,
            created_at: r.try_get(7)?,
            delivered_at: r.try_get(8)?,
            attempts,
        });
    }
    Ok(Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}

pub(super) async fn claim(
    c: &impl GenericClient,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let rows = query(
        c,
        "WITH claimed AS (
            UPDATE webhook_deliveries SET lease_until = $2
            WHERE id IN (SELECT id FROM webhook_deliveries
                         WHERE status = 'pending' AND next_attempt_at <= $1
                           AND (lease_until IS NULL OR lease_until < $1)
                         ORDER BY next_attempt_at, id LIMIT $3
                         FOR UPDATE SKIP LOCKED)
            RETURNING id, webhook_id, endpoint_id, payload, attempts, created_at, next_attempt_at)
         SELECT d.id, d.webhook_id, e.url, e.secret, e.auth_header, d.payload, d.attempts, d.created_at
         FROM claimed d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         ORDER BY d.next_attempt_at, d.id",
        &[&now, &lease_until, &(limit as i64)],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ClaimedDelivery {
                id: r.try_get(0)?,
                webhook_id: r.try_get(1)?,
                url: r.try_get(2)?,
                secret: r.try_get(3)?,
                authorization: r.try_get(4)?,
                payload: r.try_get(5)?,
                attempts: r.try_get::<_, i32>(6)?.max(0) as u32,
                created_at: r.try_get(7)?,
            })
        })
        .collect()
}

pub(super) async fn record_attempt(
    c: &impl GenericClient,
    delivery: i64,
    attempt: &WebhookAttempt,
    next: DeliveryNext,
) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error, duration_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &delivery,
            &attempt.attempted_at,
            &attempt.status_code.map(i32::from),
            &attempt.error,
            &(attempt.duration_ms as i64),
        ],
    )
    .await?;
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
    execute(
        c,
        "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = NULL,
            status = CASE WHEN status = 'cancelled' THEN status ELSE $2::TEXT END,
            next_attempt_at = COALESCE($3, next_attempt_at), delivered_at = $4,
            last_error = CASE WHEN $2::TEXT = 'delivered' THEN NULL ELSE $5 END
         WHERE id = $1",
        &[&delivery, &status, &next_at, &delivered_at, &last_error],
    )
    .await?;
    Ok(())
}

pub(super) async fn next_due(c: &impl GenericClient) -> Result<Option<i64>, StoreError> {
    Ok(query_one(
        c,
        "SELECT MIN(GREATEST(next_attempt_at, lease_until)) FROM webhook_deliveries WHERE status = 'pending'",
        &[],
    )
    .await?
    .try_get(0)?)
}
