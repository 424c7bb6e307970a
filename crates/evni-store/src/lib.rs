//! Storage of evni. The [`Store`] trait (its role traits together) is what
//! the engine and the API see; each backend lives in its own module with
//! its own migrations.

pub mod access;
pub mod dashboard;
pub mod error;
pub mod health;
pub mod jobs;
pub mod model;
pub mod models;
pub mod network;
pub mod objects;
pub mod postgres;
mod session_list;
mod session_write;
pub mod sessions;
pub mod sqlite;
mod station_days;
mod station_metadata;
pub mod tenants;
pub mod webhooks;

use async_trait::async_trait;

pub use access::AccessStore;
pub use dashboard::{CategoryDay, DashboardStore, OpenStationAnomaly};
pub use error::StoreError;
pub use health::*;
pub use jobs::*;
pub use model::*;
pub use models::*;
pub use network::*;
pub use sessions::SessionStore;
pub use tenants::TenantStore;
pub use webhooks::WebhookStore;

/// Everything evni persists: one trait per role, which each backend
/// implements. Every tenant-scoped method takes the tenant first; rows of
/// another tenant are invisible (`NotFound`).
#[async_trait]
pub trait Store:
    TenantStore
    + SessionStore
    + JobStore
    + HealthStore
    + WebhookStore
    + ModelStore
    + AccessStore
    + DashboardStore
    + Send
    + Sync
    + 'static
{
    /// Whether the database answers, for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Jobs and webhook deliveries waiting, over all tenants.
    async fn queue_depths(&self) -> Result<QueueDepths, StoreError>;
}
