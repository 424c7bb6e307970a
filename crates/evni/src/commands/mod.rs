//! CLI commands that are more than a call into the service.

pub mod bench;
pub mod bench_ocpp;
pub mod eval;
pub mod simulate;
pub mod stations;
pub mod train;
