//! Readings are upserted in multi-row statements: every count of readings
//! is stored whole, and a rewrite of stored readings replaces them.

mod common;

use common::session_write;
use evni_store::*;

#[tokio::test]
async fn every_count_of_readings_is_stored_whole() {
    for backend in common::backends::backends().await {
        eprintln!("on {}", backend.name);
        every_count_of_readings_is_stored_whole_on(backend.store.as_ref()).await;
    }
}

async fn every_count_of_readings_is_stored_whole_on(store: &dyn Store) {
    let tenant = store.create_tenant("acme").await.unwrap().id;
    // Around the statement sizes (32, 8 and the rest).
    for count in [1, 7, 8, 9, 31, 32, 33, 77] {
        let id = format!("s-{count}");
        let write = session_write(tenant, &id, "ST-1", 0..count, None, 0.1, "rules-1");
        store.write_session(write).await.unwrap();
        let stored = store.load_session(tenant, &id).await.unwrap().unwrap();
        let minutes: Vec<i64> = stored.readings.iter().map(|r| r.ts / 60_000_000).collect();
        assert_eq!(minutes, (0..count).collect::<Vec<_>>(), "{count} readings");
    }
    // The same identities again with new values: replaced, not added.
    let mut again = session_write(tenant, "s-77", "ST-1", 0..77, Some(1), 0.1, "rules-1");
    if let ReadingsChange::Upsert(readings) = &mut again.readings {
        readings.iter_mut().for_each(|r| r.value += 1000.0);
    }
    store.write_session(again).await.unwrap();
    let stored = store.load_session(tenant, "s-77").await.unwrap().unwrap();
    assert_eq!(stored.readings.len(), 77);
    assert!(stored.readings.iter().all(|r| r.value >= 1000.0));
}
