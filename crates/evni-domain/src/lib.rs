//! Pure domain types of evni. No I/O lives here: everything is a value that is
//! valid by construction (parse, don't validate).

pub mod ids;
pub mod meter_value;
pub mod ocpp;
pub mod plausible;
pub mod validation;
pub mod verdict;

pub use ids::{ConnectorId, ExternalId};
pub use meter_value::{MeterValueIn, Quantity, Reading, ReadingKey};
pub use ocpp::{Location, Measurand, Phase, ReadingContext, UnitOfMeasure};
pub use validation::{FieldError, ValidationErrors};
pub use verdict::{Anomaly, AnomalyCategory, BucketRange, Detector, FeedbackLabel, SessionStatus, TimeRange};

/// Timestamps are kept as microseconds since the Unix epoch (UTC): cheap to
/// sort, subtract and store.
pub type Micros = i64;

pub const MICROS_PER_SECOND: Micros = 1_000_000;
pub const MICROS_PER_MINUTE: Micros = 60 * MICROS_PER_SECOND;

/// Converts epoch microseconds into a UTC timestamp for output.
pub fn micros_to_datetime(micros: Micros) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
}
