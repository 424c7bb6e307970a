//! The PostgreSQL backend, for several API and worker processes over one
//! database.
//!
//! Every write is one transaction on a pooled connection. The session write
//! locks the session row (`SELECT .. FOR NO KEY UPDATE`) for the version check, and
//! keeps the aggregates with row-level increments inside the same
//! transaction; a concurrent insert of the same session fails on the unique
//! key. Both end in [`StoreError::Conflict`], and the engine reloads and
//! applies the command again. Jobs are claimed with `FOR UPDATE SKIP LOCKED`.

/// Runs `$body` with `$tx` bound to a new transaction on a pooled
/// connection, and commits when it succeeds (dropping rolls back otherwise).
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut client = $store.client().await?;
        let $tx = client.transaction().await?;
        let out = $body;
        $tx.commit().await?;
        Ok(out)
    }};
}

mod access;
mod batches;
mod codec;
mod dashboard;
mod health;
mod health_impl;
mod jobs;
mod migrate;
mod models;
mod network;
mod sessions;
mod stations;
mod store_impl;
mod tenants;
mod webhooks;

use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use crate::StoreError;

#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// Most connections this process keeps open.
    pub pool_size: usize,
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 16,
        }
    }
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// The URL with its password replaced by `***`, for logs and `Debug`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

pub struct PostgresStore {
    pool: Pool,
}

/// A pooled connection waits this long for a free slot before the request
/// answers 503.
const POOL_WAIT: Duration = Duration::from_secs(10);

impl PostgresStore {
    /// Connects, creates or upgrades the schema, and returns the store.
    /// Connections of the pool are opened on first use, on the runtime that
    /// uses them; the migration runs on a connection of its own (on a helper
    /// thread, so this works from synchronous code and inside a runtime).
    pub fn open(options: PostgresOptions) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = options
            .url
            .parse()
            .map_err(|e| StoreError::database(format!("database URL: {e}")))?;
        let migrate_config = config.clone();
        std::thread::Builder::new()
            .name("evni-pg-migrate".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| StoreError::caused_by(e.to_string(), e))?;
                runtime.block_on(migrate::run(&migrate_config))
            })
            .map_err(|e| StoreError::database(format!("cannot start migration thread: {e}")))?
            .join()
            .map_err(|_| StoreError::database("migration thread panicked"))??;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::database(format!("connection pool: {e}")))?;
        Ok(Self { pool })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Unavailable(format!("database connection: {other}")),
        })
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.code() {
            // Another transaction got there first: the caller reloads.
            Some(code)
                if *code == SqlState::UNIQUE_VIOLATION
                    || *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                StoreError::Conflict(
                    e.as_db_error()
                        .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
                )
            }
            Some(_) => {
                let message = e.as_db_error().map_or_else(|| e.to_string(), |d| d.to_string());
                StoreError::caused_by(message, e)
            }
            None if e.is_closed() => StoreError::Unavailable(format!("database connection: {e}")),
            None => StoreError::caused_by(e.to_string(), e),
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

// Statements are prepared once per connection and cached: one round trip
// per query afterwards, not two.
type Params<'a> = &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)];

async fn query<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

async fn query_one<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_one(&statement, params).await?)
}

async fn execute<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn the_password_never_shows() {
        assert_eq!(
            redact_url("postgres://evni:s3cret@db:5432/evni?sslmode=disable"),
            "postgres://evni:***@db:5432/evni?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://evni@db/evni"), "postgres://evni@db/evni");
        assert_eq!(redact_url("postgres://u:p@ss@db/x"), "postgres://u:***@db/x");
        assert_eq!(redact_url("host=db user=evni"), "host=db user=evni");
    }
}
