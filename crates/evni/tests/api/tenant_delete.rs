//! `evni tenant delete`: every row and object of the tenant goes, nothing of
//! another tenant does.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::health::quiet_app;
use crate::helpers::*;

/// Sessions (one anomalous, with feedback), station metadata, a webhook, a
/// batch, an upload and a SHADE run: a row in most tables.
async fn populate(app: &TestApp, token: &str) {
    let mut values = steady_charge(30, 11.0, 100.0);
    values.push(kwh(31, 90.0));
    let ok =
        |r: reqwest::Response| async move { assert!(r.status().is_success(), "{}", r.text().await.unwrap()) };
    ok(app
        .post_as(token, "/v1/sessions", &session("s1", "ST-1", values))
        .await)
    .await;
    ok(app.post_as(token, "/v1/sessions", &reference_example()).await).await;
    ok(app
        .post_as(
            token,
            "/v1/sessions/s1/feedback",
            &json!({"label": "incident", "comment": "seen"}),
        )
        .await)
    .await;
    ok(app
        .post_as(token, "/v1/webhooks", &json!({"url": "http://127.0.0.1:9/evni"}))
        .await)
    .await;
    ok(app
        .post_as(
            token,
            "/v1/sessions/batch",
            &json!({"sessions": [session("b1", "ST-2", steady_charge(5, 7.0, 0.0))]}),
        )
        .await)
    .await;
    let upload = app
        .client
        .post(app.url("/v1/models/uploads"))
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(format!("{}\n", session("u1", "ST-1", steady_charge(5, 7.0, 0.0))))
        .send()
        .await
        .unwrap();
    ok(upload).await;
    ok(app.get_as(token, "/v1/stations/ST-1/inference").await).await;
}

fn table_rows(app: &TestApp) -> BTreeMap<String, i64> {
    let conn = rusqlite::Connection::open(app.data_dir.join("evni.sqlite3")).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let n = conn
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect()
}

async fn batches_done(app: &TestApp, token: &str) {
    for _ in 0..200 {
        let list = json_ok(app.get_as(token, "/v1/sessions/batch").await).await;
        if list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["status"] == "completed")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the batch did not complete");
}

#[tokio::test]
async fn deleting_a_tenant_removes_every_row_and_object_of_it_and_nothing_else() {
    let app = quiet_app(|c| c.webhook_allow_private = true).await;
    let other = app.new_tenant("other").await;
    populate(&app, &other).await;
    batches_done(&app, &other).await;
    let sqlite = app.database.is_none();
    let before = sqlite.then(|| table_rows(&app));

    populate(&app, &app.token).await;
    batches_done(&app, &app.token).await;
    let acme = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let uploads = app.data_dir.join("objects/uploads").join(acme.id.to_string());
    if sqlite {
        assert!(uploads.exists());
        assert_ne!(table_rows(&app), before.clone().unwrap());
    }

    evni::delete_tenant(&app.app_state, "acme").await.unwrap();

    if let Some(mut before) = before {
        // acme's own row was there from the start.
        *before.get_mut("tenants").unwrap() -= 1;
        assert_eq!(table_rows(&app), before, "only the other tenant's rows remain");
        // The local object store leaves empty directories behind.
        let left = std::fs::read_dir(&uploads).map_or(0, |d| d.count());
        assert_eq!(left, 0, "objects left under {}", uploads.display());
    }
    json_error(app.get("/v1/sessions").await, StatusCode::UNAUTHORIZED).await;
    let theirs = json_ok(app.get_as(&other, "/v1/sessions/s1").await).await;
    assert_eq!(theirs["is_incident"], true);
    assert!(evni::delete_tenant(&app.app_state, "acme").await.is_err());
}
