//! Native OCPP-J: charger traffic taken as it travels.
//!
//! - [`frame`]: OCPP-J frames (`[2, id, action, payload]`, `[3, id, payload]`,
//!   `[4, ...]`) and the version they speak;
//! - [`messages`]: typed payloads of the handled actions, 1.6 and 2.0.1 / 2.1;
//! - [`mapping`]: frames into session and station operations, sharing the
//!   meter value validation of the REST API;
//! - [`ingest`]: operations applied through the same engine commands as
//!   `POST /v1/sessions`;
//! - [`proxy`] and [`tap`]: door 2, a transparent OCPP-J WebSocket proxy
//!   whose frames are copied, through a bounded queue, into the same mapping.

pub mod frame;
pub mod ingest;
pub mod mapping;
pub mod messages;
pub mod proxy;
pub mod tap;

pub use frame::{Frame, Version};
pub use ingest::{Ingest, IngestError, Outcome};
pub use mapping::{Mapper, Op, SessionEvent, SessionOp, StationOp};
