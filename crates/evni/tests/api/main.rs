//! Integration tests: the real server on port 0 with a fresh data dir,
//! called over HTTP.

mod auth;
mod batch;
mod boulder;
mod explain;
mod feedback;
mod fine_tune;
mod health;
mod helpers;
mod meta;
mod models;
mod network;
mod ocpp;
mod ocpp_python;
mod production;
mod restart;
mod sessions;
mod stations;
mod tenant_delete;
mod ui;
mod validation;
mod webhooks;
mod webhooks_tls;
