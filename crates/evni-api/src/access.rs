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
    /// Every tenant that exists: a deleted tenant's tokens stop working
    /// here, whatever this process's tenant cache still holds.
    tenants: HashSet<TenantId>,
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
        let mut snapshot = self.current(None).await?;
        if !snapshot.tenants.contains(&tenant) {
            // Perhaps created since the last read: read again, once.
            snapshot = self.current(Some(Instant::now())).await?;
            if !snapshot.tenants.contains(&tenant) {
                return Err(ApiError::Unauthorized(
                    "the token's tenant no longer exists".into(),
                ));
            }
        }
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

    /// The lists, read again when older than [`REFRESH`] or, with
    /// `read_after`, when read before that instant.
    async fn current(&self, read_after: Option<Instant>) -> Result<Arc<Snapshot>, ApiError> {
        let usable = |s: &Snapshot| match read_after {
            None => s.fresh(),
            Some(after) => s.at.is_some_and(|at| at >= after),
        };
        let cached = self.snapshot.read().expect("access list poisoned").clone();
        if usable(&cached) {
            return Ok(cached);
        }
        let _only_one = self.refreshing.lock().await;
        let cached = self.snapshot.read().expect("access list poisoned").clone();
        if usable(&cached) {
            return Ok(cached);
        }
        // Read before the lists, so that the copy is never younger than it says.
        let at = Instant::now();
        let snapshot = Arc::new(Snapshot {
            revoked: self.store.revoked_tokens().await?.into_iter().collect(),
            disabled: self.store.disabled_tenants().await?.into_iter().collect(),
            tenants: self
                .store
                .list_tenants()
                .await?
                .into_iter()
                .map(|t| t.id)
                .collect(),
            at: Some(at),
        });
        *self.snapshot.write().expect("access list poisoned") = snapshot.clone();
        Ok(snapshot)
    }
}
