//! The delivery loop: claims due deliveries, sends them signed, records
//! every attempt and schedules retries with exponential backoff and jitter.

use std::sync::Arc;
use std::time::{Duration, Instant};

use evni_store::{ClaimedDelivery, DeliveryNext, WebhookAttempt};
use rand::Rng;

use crate::guard::{is_public, PublicOnly};
use crate::sign::signature;
use crate::{now_micros, stopped, Health, WebhookConfig};

/// Deliveries sent at once.
const BATCH: usize = 16;

/// The outbound HTTP client: no redirects, https verified against the
/// built-in and configured roots, and (unless private targets are allowed)
/// a resolver that refuses private addresses.
pub(crate) struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    pub(crate) fn new(config: &WebhookConfig) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("evni-webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        for root in &config.extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        Ok(Self {
            client: builder.build()?,
            allow_private: config.allow_private,
        })
    }

    /// Sends one delivery: the HTTP status, or why there was none.
    async fn send(&self, delivery: &ClaimedDelivery) -> Result<u16, String> {
        let url = reqwest::Url::parse(&delivery.url).map_err(|e| format!("invalid URL: {e}"))?;
        // An IP literal never reaches the resolver.
        if !self.allow_private {
            if let Some(ip) = url
                .host_str()
                .and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok())
            {
                if !is_public(ip) {
                    return Err(format!("refused: {ip} is a private or reserved address"));
                }
            }
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signature(
            &delivery.secret,
            &delivery.webhook_id,
            timestamp,
            delivery.payload.as_bytes(),
        )
        .ok_or("the endpoint's secret is malformed")?;
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone());
        if let Some(authorization) = &delivery.authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.map_err(describe)?;
        Ok(response.status().as_u16())
    }
}

/// The error chain of a failed request, e.g. "timed out" or "refused: ...".
fn describe(error: reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The wait before attempt `attempts + 1`: exponential, capped, with
/// ±25 % jitter so that failing receivers are not hit in lockstep.
pub(crate) fn backoff(config: &WebhookConfig, attempts: u32) -> Duration {
    let base = config.initial_backoff.as_secs_f64() * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
    let capped = base.min(config.max_backoff.as_secs_f64());
    let jitter = rand::rng().random_range(0.75..1.25);
    Duration::from_secs_f64(capped * jitter)
}

impl Health {
    async fn deliver(&self, delivery: ClaimedDelivery) {
        let attempted_at = now_micros();
        let clock = Instant::now();
        let sent = self.sender.send(&delivery).await;
        let duration_ms = clock.elapsed().as_millis() as u64;
        let (status_code, error) = match sent {
            Ok(code) => (Some(code), None),
            Err(e) => (None, Some(e)),
        };
        let config = &self.config.webhooks;
        let attempts = delivery.attempts + 1;
        let next = if status_code.is_some_and(|c| (200..300).contains(&c)) {
            DeliveryNext::Delivered
        } else {
            let at = now_micros() + backoff(config, attempts).as_micros() as i64;
            if at > delivery.created_at + config.max_age.as_micros() as i64 {
                DeliveryNext::GiveUp
            } else {
                DeliveryNext::RetryAt(at)
            }
        };
        tracing::debug!(webhook_id = %delivery.webhook_id, ?status_code, ?error, ?next, "webhook attempt");
        if matches!(next, DeliveryNext::GiveUp) {
            tracing::warn!(webhook_id = %delivery.webhook_id, ?status_code, ?error, attempts, "webhook given up");
        }
        let attempt = WebhookAttempt {
            attempted_at,
            status_code,
            error,
            duration_ms,
        };
        if let Err(e) = self
            .store
            .record_webhook_attempt(delivery.id, attempt, next)
            .await
        {
            // The lease runs out and the delivery is tried again.
            tracing::warn!(error = %e, "recording a webhook attempt failed");
        }
    }

    pub(crate) async fn run_deliveries(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let lease = self.config.webhooks.timeout + Duration::from_secs(30);
        loop {
            if *stop.borrow() {
                break;
            }
            let now = now_micros();
            let claimed = match self
                .store
                .claim_webhook_deliveries(now, now + lease.as_micros() as i64, BATCH)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                let due = self.store.next_webhook_due().await.ok().flatten();
                let wait = due
                    .map(|at| Duration::from_micros((at - now_micros()).max(0) as u64))
                    .unwrap_or(Duration::from_secs(5))
                    .clamp(Duration::from_millis(20), Duration::from_secs(5));
                tokio::select! {
                    _ = stopped(&mut stop) => break,
                    _ = self.deliveries_enqueued.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            let mut sending = tokio::task::JoinSet::new();
            for delivery in claimed {
                let health = self.clone();
                sending.spawn(async move { health.deliver(delivery).await });
            }
            while sending.join_next().await.is_some() {}
        }
        tracing::debug!("webhook delivery loop stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let config = WebhookConfig::default();
        let first = backoff(&config, 1).as_secs_f64();
        assert!((3.75..=6.25).contains(&first), "{first}");
        let fifth = backoff(&config, 5).as_secs_f64();
        assert!((60.0..=100.0).contains(&fifth), "{fifth}");
        assert!(backoff(&config, 40) <= config.max_backoff.mul_f64(1.25));
    }

    fn delivery(url: &str) -> ClaimedDelivery {
        ClaimedDelivery {
            id: 1,
            webhook_id: "msg_1".into(),
            url: url.into(),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            authorization: None,
            payload: "{}".into(),
            attempts: 0,
            created_at: 0,
        }
    }

    #[tokio::test]
    async fn ipv6_literals_embedding_loopback_are_refused_at_delivery() {
        let sender = Sender::new(&WebhookConfig::default()).unwrap();
        for url in [
            "http://[::127.0.0.1]:9/",
            "http://[::ffff:127.0.0.1]:9/",
            "http://[2002:7f00:1::]:9/",
            "http://[2001:0:7f00:1::]:9/",
            "http://[64:ff9b::7f00:1]:9/",
        ] {
            let error = sender.send(&delivery(url)).await.unwrap_err();
            assert!(error.starts_with("refused:"), "{url}: {error}");
        }
    }
}
