//! Typed payloads of the actions evni reads, after the OCPP JSON schemas
//! (1.6 and 2.0.1; 2.1 adds optional fields to the same messages). Fields
//! evni does not use are ignored, except inside a sampled value: an unknown
//! field there (OCPP 2.0.1's `unitOfMeasure` in a 1.6 frame) would change
//! what the number means, so it is refused with its path.

use serde::Deserialize;
use serde_json::Value;

pub mod v16 {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct StartTransactionRequest {
        pub connector_id: u32,
        pub id_tag: String,
        pub meter_start: i64,
        pub timestamp: String,
        #[serde(default)]
        pub reservation_id: Option<i64>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct StartTransactionResponse {
        pub transaction_id: i64,
        pub id_tag_info: IdTagInfo,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct IdTagInfo {
        pub status: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct StopTransactionRequest {
        pub transaction_id: i64,
        pub meter_stop: i64,
        pub timestamp: String,
        #[serde(default)]
        pub reason: Option<String>,
        #[serde(default)]
        pub transaction_data: Vec<MeterValue>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MeterValuesRequest {
        pub connector_id: u32,
        #[serde(default)]
        pub transaction_id: Option<i64>,
        pub meter_value: Vec<MeterValue>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MeterValue {
        pub timestamp: String,
        pub sampled_value: Vec<SampledValue>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct SampledValue {
        pub value: String,
        #[serde(default)]
        pub context: Option<String>,
        /// `Raw` (default) or `SignedData`, which carries no number.
        #[serde(default)]
        pub format: Option<String>,
        #[serde(default)]
        pub measurand: Option<String>,
        #[serde(default)]
        pub phase: Option<String>,
        #[serde(default)]
        pub location: Option<String>,
        #[serde(default)]
        pub unit: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct BootNotificationRequest {
        pub charge_point_vendor: String,
        pub charge_point_model: String,
        #[serde(default)]
        pub charge_point_serial_number: Option<String>,
        #[serde(default)]
        pub charge_box_serial_number: Option<String>,
        #[serde(default)]
        pub firmware_version: Option<String>,
        #[serde(default)]
        pub meter_type: Option<String>,
        #[serde(default)]
        pub meter_serial_number: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct StatusNotificationRequest {
        pub connector_id: u32,
        pub error_code: String,
        pub status: String,
        #[serde(default)]
        pub timestamp: Option<String>,
        #[serde(default)]
        pub info: Option<String>,
    }
}

pub mod v2 {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TransactionEventRequest {
        pub event_type: EventType,
        pub timestamp: String,
        pub trigger_reason: String,
        pub seq_no: i64,
        pub transaction_info: TransactionInfo,
        #[serde(default)]
        pub evse: Option<Evse>,
        #[serde(default)]
        pub meter_value: Vec<MeterValue>,
        #[serde(default)]
        pub offline: Option<bool>,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
    pub enum EventType {
        Started,
        Updated,
        Ended,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TransactionInfo {
        pub transaction_id: String,
        #[serde(default)]
        pub charging_state: Option<String>,
        #[serde(default)]
        pub stopped_reason: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Evse {
        pub id: u32,
        #[serde(default)]
        pub connector_id: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MeterValuesRequest {
        pub evse_id: u32,
        pub meter_value: Vec<MeterValue>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MeterValue {
        pub timestamp: String,
        pub sampled_value: Vec<SampledValue>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct SampledValue {
        pub value: f64,
        #[serde(default)]
        pub context: Option<String>,
        #[serde(default)]
        pub measurand: Option<String>,
        #[serde(default)]
        pub phase: Option<String>,
        #[serde(default)]
        pub location: Option<String>,
        #[serde(default)]
        pub unit_of_measure: Option<UnitOfMeasure>,
        #[serde(default)]
        pub signed_meter_value: Option<Value>,
        #[serde(default)]
        pub custom_data: Option<Value>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct UnitOfMeasure {
        #[serde(default)]
        pub unit: Option<String>,
        /// Powers of ten: the value is `value × 10^multiplier`.
        #[serde(default)]
        pub multiplier: Option<i32>,
        #[serde(default)]
        pub custom_data: Option<Value>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct BootNotificationRequest {
        pub reason: String,
        pub charging_station: ChargingStation,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ChargingStation {
        pub model: String,
        pub vendor_name: String,
        #[serde(default)]
        pub serial_number: Option<String>,
        #[serde(default)]
        pub firmware_version: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct StatusNotificationRequest {
        pub timestamp: String,
        pub connector_status: String,
        pub evse_id: u32,
        pub connector_id: u32,
    }
}
