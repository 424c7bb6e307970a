//! The object store of model artifacts and training uploads: a directory
//! under the data dir by default (`file://<data_dir>/objects`), an
//! S3-compatible bucket with `s3://bucket/prefix` (cargo feature `s3`;
//! credentials and endpoint from the usual `AWS_*` variables).
//!
//! Object paths are relative (`models/csar_2/1.0.0/model.safetensors`); the
//! prefix of the URL is added here, so the registry stores paths that stay
//! valid when the store moves.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::StoreError;

#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects").field("url", &self.url).finish()
    }
}

impl Objects {
    /// A local directory (created if needed).
    pub fn local(dir: &std::path::Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::database(format!("creating {}: {e}", dir.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(object_error)?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::default(),
            url: format!("file://{}", dir.display()),
        })
    }

    /// `file:///abs/dir` or `s3://bucket/prefix`.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| StoreError::database(format!("object store URL '{url}': {e}")))?;
        match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| StoreError::database(format!("'{url}' is not an absolute file URL")))?;
                Self::local(&dir)
            }
            "s3" => Self::s3(url, &parsed),
            other => Err(StoreError::database(format!(
                "object store scheme '{other}' is not supported (file:// or s3://)"
            ))),
        }
    }

    #[cfg(feature = "s3")]
    fn s3(url: &str, parsed: &url::Url) -> Result<Self, StoreError> {
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_url(url)
            .build()
            .map_err(object_error)?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::from(parsed.path().trim_matches('/')),
            url: url.to_string(),
        })
    }

    #[cfg(not(feature = "s3"))]
    fn s3(url: &str, _parsed: &url::Url) -> Result<Self, StoreError> {
        Err(StoreError::database(format!(
            "'{url}': this build has no S3 support (build with `--features s3`)"
        )))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn full(&self, path: &str) -> Path {
        let mut full = self.prefix.clone();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            full = full.join(part);
        }
        full
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.store
            .put(&self.full(path), PutPayload::from(bytes))
            .await
            .map_err(object_error)?;
        Ok(())
    }

    /// `NotFound` when there is no such object.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, StoreError> {
        let result = self.store.get(&self.full(path)).await.map_err(object_error)?;
        Ok(result.bytes().await.map_err(object_error)?.to_vec())
    }

    /// Whether the object exists with exactly these bytes' length.
    pub async fn has(&self, path: &str, len: usize) -> Result<bool, StoreError> {
        match self.store.head(&self.full(path)).await {
            Ok(meta) => Ok(meta.size == len as u64),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(object_error(e)),
        }
    }
}

impl Objects {
    /// Deletes every object under `dir`; returns how many.
    pub async fn delete_dir(&self, dir: &str) -> Result<usize, StoreError> {
        use futures_util::TryStreamExt;
        let prefix = self.full(dir);
        let paths: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(object_error)?;
        for path in &paths {
            self.store.delete(path).await.map_err(object_error)?;
        }
        Ok(paths.len())
    }
}

/// Where a tenant's objects live: its uploads and its fine-tuned models.
pub fn tenant_dirs(tenant: crate::TenantId) -> [String; 2] {
    [format!("uploads/{tenant}"), format!("models/tenants/{tenant}")]
}

/// Where a training upload lives; the tenant in the path keeps uploads apart.
pub fn upload_path(tenant: crate::TenantId, upload_id: &str) -> String {
    format!("uploads/{tenant}/{upload_id}.jsonl")
}

fn object_error(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { path, .. } => StoreError::not_found("object", path),
        other => StoreError::Unavailable(format!("object store: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_store_keeps_what_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let objects = Objects::from_url(&format!("file://{}", dir.path().display())).unwrap();
        assert!(matches!(
            objects.get("a/b.bin").await,
            Err(StoreError::NotFound { .. })
        ));
        objects.put("a/b.bin", vec![1, 2, 3]).await.unwrap();
        assert_eq!(objects.get("a/b.bin").await.unwrap(), vec![1, 2, 3]);
        assert!(objects.has("a/b.bin", 3).await.unwrap());
        assert!(!objects.has("a/b.bin", 4).await.unwrap());
        assert!(dir.path().join("a/b.bin").exists());
    }
}
