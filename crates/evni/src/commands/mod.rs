//! CLI commands that are more than a call into the service.

pub mod eval;
pub mod simulate;
pub mod train;
pub mod stations;
