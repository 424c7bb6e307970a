//! Hot sessions: the latest state of recently written sessions, each behind
//! its own lock so commands on one session apply one after the other while
//! different sessions proceed in parallel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use evni_store::{StoredSession, TenantId};
use quick_cache::sync::Cache;
use quick_cache::Weighter;

pub(crate) struct HotSlot {
    /// Readings held when the slot was last weighed by the cache.
    weight: AtomicU64,
    state: tokio::sync::Mutex<Option<StoredSession>>,
}

impl HotSlot {
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, Option<StoredSession>> {
        self.state.lock().await
    }
}

type Key = (TenantId, String);

/// A cache entry. Its weight is fixed for as long as the entry is in the
/// cache (the cache subtracts what it added); a new weight means a new entry
/// holding the same slot.
#[derive(Clone)]
struct Entry {
    slot: Arc<HotSlot>,
    weight: u64,
}

#[derive(Clone)]
struct ReadingWeighter;

impl Weighter<Key, Entry> for ReadingWeighter {
    fn weight(&self, _key: &Key, entry: &Entry) -> u64 {
        entry.weight + 1
    }
}

/// Evicting a slot that is still in use is safe: a second slot for the same
/// session may then exist for a moment, and the store's version check turns
/// the race into a reload.
pub(crate) struct HotSessions {
    cache: Cache<Key, Entry, ReadingWeighter>,
}

/// A typical hot session holds a few hundred readings.
const READINGS_PER_SESSION_ESTIMATE: u64 = 400;

impl HotSessions {
    pub(crate) fn new(max_readings: u64) -> Self {
        let sessions = (max_readings / READINGS_PER_SESSION_ESTIMATE).max(16) as usize;
        Self {
            cache: Cache::with_weighter(sessions, max_readings.max(1), ReadingWeighter),
        }
    }

    /// Sessions and readings held (the readings as last weighed).
    pub(crate) fn size(&self) -> (usize, u64) {
        (self.cache.len(), self.cache.weight())
    }

    pub(crate) fn slot(&self, tenant: TenantId, external_id: &str) -> Arc<HotSlot> {
        let key = (tenant, external_id.to_owned());
        self.cache
            .get_or_insert_with(&key, || {
                let slot = Arc::new(HotSlot {
                    weight: AtomicU64::new(0),
                    state: tokio::sync::Mutex::new(None),
                });
                Ok::<_, std::convert::Infallible>(Entry { slot, weight: 0 })
            })
            .unwrap_or_else(|never| match never {})
            .slot
    }

    /// Records the slot's new size with the cache when it changed notably.
    pub(crate) fn reweigh(&self, slot: &Arc<HotSlot>, readings: usize, tenant: TenantId, external_id: &str) {
        let readings = readings as u64;
        let old = slot.weight.load(Ordering::Relaxed);
        if readings > old + old / 4 + 16 || readings < old / 2 {
            slot.weight.store(readings, Ordering::Relaxed);
            self.cache.insert(
                (tenant, external_id.to_owned()),
                Entry {
                    slot: slot.clone(),
                    weight: readings,
                },
            );
        }
    }
}
