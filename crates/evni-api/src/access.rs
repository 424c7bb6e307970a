//! Revoked tokens and disabled tenants, as this process last read them from
//! the database. Several API processes may share one database (PostgreSQL
//! scale-out) and `evni token revoke` / `evni tenant disable` write only to
//! it, so each process reads the lists again when its copy is older than
//! [`REFRESH`]: a revocation holds everywhere within about a second.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use evni_store::{Store, TenantId};
use uuid::Uuid;

use crate::error::ApiError;

/// The longest a process goes on accepting a revoked token.
pub const REFRESH: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Snapshot {
    revoked: HashSet<Uuid>,
    disabled: HashSet<TenantId>,
    /// When it was read; `None` before the first read.
    at: Option<Instant>,
}

impl Snapshot {
    fn fresh(&self) -> bool {
        self.at.is_some_and(|at| at.elapsed() < REFRESH)
    }
}

pub struct AccessList {
    store: Arc<dyn Store>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// One reader of the database at a time; the others wait for its result.
    refreshing: tokio::sync::Mutex<()>,
}

impl AccessList {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            snapshot: RwLock::default(),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// Refuses a revoked token (401) and a disabled tenant's calls (403).
    pub async fn check(&self, jti: Uuid, tenant: TenantId) -> Result<(), ApiError> {
        let snapshot = self.current().await?;
        if snapshot.revoked.contains(&jti) {
            return Err(ApiError::Unauthorized("this token has been revoked".into()));
        }
        if snapshot.disabled.contains(&tenant) {
            return Err(ApiError::Forbidden(
                "this tenant is disabled; ask the operator to enable it again".into(),
            ));
        }
        Ok(())
    }

    async fn current(&self) -> Result<Arc<Snapshot>, ApiError> {
        let cached = self.snapshot.read().expect("access list poisoned").clone();
        if cached.fresh() {
            return Ok(cached);
        }
        let _only_one = self.refreshing.lock().await;
        let cached = self.snapshot.read().expect("access list poisoned").clone();
        if cached.fresh() {
            return Ok(cached);
        }
        // Read before the lists, so that the copy is never younger than it says.
        let at = Instant::now();
        let snapshot = Arc::new(Snapshot {
            revoked: self.store.revoked_tokens().await?.into_iter().collect(),
            disabled: self.store.disabled_tenants().await?.into_iter().collect(),
            at: Some(at),
        });
        *self.snapshot.write().expect("access list poisoned") = snapshot.clone();
        Ok(snapshot)
    }
}
