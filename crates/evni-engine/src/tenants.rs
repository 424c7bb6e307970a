//! Tenants by id, cached briefly: every request needs its tenant's settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use evni_store::{Store, StoreError, Tenant, TenantId};

/// How long a settings change made by another process may go unseen.
const TTL: Duration = Duration::from_secs(10);

pub struct TenantCache {
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<TenantId, (Tenant, Instant)>>,
}

impl TenantCache {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Mutex::default(),
        }
    }

    /// The tenant, or `NotFound` when it no longer exists.
    pub async fn get(&self, id: TenantId) -> Result<Tenant, StoreError> {
        if let Some((tenant, at)) = self.cache.lock().expect("tenant cache poisoned").get(&id) {
            if at.elapsed() < TTL {
                return Ok(tenant.clone());
            }
        }
        let tenant = self.store.tenant_by_id(id).await?;
        self.cache
            .lock()
            .expect("tenant cache poisoned")
            .insert(id, (tenant.clone(), Instant::now()));
        Ok(tenant)
    }

    /// Forgets a tenant whose settings this process just changed.
    pub fn invalidate(&self, id: TenantId) {
        self.cache.lock().expect("tenant cache poisoned").remove(&id);
    }
}
