//! Every analysis run is kept, and a session's runs can be walked newest to
//! oldest from the session row without an index on the history.

mod common;

use common::session_write;
use evni_store::sqlite::{SqliteOptions, SqliteStore};
use evni_store::*;

/// The `readings_analyzed` of a session's runs, newest first.
fn history(db: &rusqlite::Connection, session: &str) -> Vec<i64> {
    let mut walk = db
        .prepare(
            "WITH RECURSIVE chain (id, previous_id, readings_analyzed) AS (
                 SELECT i.id, i.previous_id, i.readings_analyzed
                 FROM inferences i JOIN sessions s ON i.id = s.latest_inference_id
                 WHERE s.external_id = ?1
                 UNION ALL
                 SELECT i.id, i.previous_id, i.readings_analyzed FROM inferences i JOIN chain ON i.id = chain.previous_id
             )
             SELECT readings_analyzed FROM chain",
        )
        .unwrap();
    walk.query_map([session], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn the_runs_of_a_session_are_linked_newest_to_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let store = SqliteStore::open(SqliteOptions::new(&path)).unwrap();
    let tenant = store.create_tenant("acme").await.unwrap().id;
    // Two sessions written in turns, so that their runs interleave.
    let mut versions = [None, None];
    for minute in 0..5 {
        for (session, version) in ["a", "b"].iter().zip(&mut versions) {
            let write = session_write(tenant, session, "ST-1", 0..minute + 3, *version, 0.1, "rules-1");
            *version = Some(store.write_session(write).await.unwrap().version);
        }
    }
    let db = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(history(&db, "a"), [7, 6, 5, 4, 3]);
    assert_eq!(history(&db, "b"), [7, 6, 5, 4, 3]);
    let runs: i64 = db
        .query_row("SELECT COUNT(*) FROM inferences", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 10);
}
