//! Model artifacts and uploads on an S3-compatible store. Runs when the
//! crate is built with `--features s3` and `EVNI_TEST_S3_URL` names a bucket
//! (scripts/test.sh starts a local one with scripts/s3-mock.sh and sets the
//! `AWS_*` variables the store reads).
#![cfg(feature = "s3")]

use evni_store::objects::Objects;
use evni_store::StoreError;

#[tokio::test]
async fn artifacts_round_trip_through_an_s3_bucket() {
    let Ok(url) = std::env::var("EVNI_TEST_S3_URL") else {
        eprintln!("EVNI_TEST_S3_URL is not set: S3 test skipped");
        return;
    };
    let prefix = format!("{url}/run-{}", uuid::Uuid::now_v7().simple());
    let objects = Objects::from_url(&prefix).unwrap();
    assert_eq!(objects.url(), prefix);

    let weights = vec![7u8; 300_000];
    objects
        .put("models/csar_2/model.safetensors", weights.clone())
        .await
        .unwrap();
    assert_eq!(
        objects.get("models/csar_2/model.safetensors").await.unwrap(),
        weights
    );
    assert!(objects
        .has("models/csar_2/model.safetensors", weights.len())
        .await
        .unwrap());
    assert!(!objects.has("models/csar_2/model.safetensors", 1).await.unwrap());
    assert!(matches!(
        objects.get("models/none/model.json").await,
        Err(StoreError::NotFound { .. })
    ));
}
