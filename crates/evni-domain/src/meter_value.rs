//! Meter values: the raw request shape, validation into [`Reading`], and
//! normalisation into the analysis units (kWh, kW, A, V, %, °C).

use std::borrow::Cow;

use chrono::DateTime;
use serde::Deserialize;

use crate::ocpp::{Location, Measurand, Phase, ReadingContext, UnitOfMeasure};
use crate::validation::{FieldError, ValidationErrors};
use crate::Micros;

/// Readings may be at most this far ahead of the server clock.
pub const MAX_FUTURE_SKEW: Micros = 24 * 3600 * crate::MICROS_PER_SECOND;

/// A meter value as a client sends it. Fields are loosely typed so that every
/// problem can be reported with its path instead of failing on the first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterValueIn<'a> {
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(default)]
    pub value: Option<serde_json::Value>,
    #[serde(borrow, default)]
    pub measurand: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub unit: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub phase: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub location: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub context: Option<Cow<'a, str>>,
}

/// The physical quantity a measurand measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    ActiveEnergy,
    ReactiveEnergy,
    ApparentEnergy,
    ActivePower,
    ReactivePower,
    Current,
    Voltage,
    StateOfCharge,
    Temperature,
    Frequency,
    Rotation,
    Ratio,
}

impl Quantity {
    /// OCPP's default unit when a reading names none.
    pub fn default_unit(self) -> Option<UnitOfMeasure> {
        use UnitOfMeasure as U;
        match self {
            Quantity::ActiveEnergy | Quantity::ApparentEnergy => Some(U::Wh),
            Quantity::ReactiveEnergy => Some(U::Varh),
            Quantity::ActivePower => Some(U::W),
            Quantity::ReactivePower => Some(U::Var),
            Quantity::Current => Some(U::A),
            Quantity::Voltage => Some(U::V),
            Quantity::StateOfCharge => Some(U::Percent),
            Quantity::Temperature => Some(U::Celsius),
            Quantity::Frequency => Some(U::Hz),
            Quantity::Rotation => Some(U::Rpm),
            Quantity::Ratio => None,
        }
    }

    /// Units that make sense for this quantity; empty means any.
    pub fn accepted_units(self) -> &'static [UnitOfMeasure] {
        use UnitOfMeasure as U;
        match self {
            Quantity::ActiveEnergy => &[U::Wh, U::KWh],
            Quantity::ReactiveEnergy => &[U::Varh, U::Kvarh],
            Quantity::ApparentEnergy => &[U::Wh, U::KWh, U::VA, U::KVA],
            Quantity::ActivePower => &[U::W, U::KW],
            Quantity::ReactivePower => &[U::Var, U::Kvar],
            Quantity::Current => &[U::A],
            Quantity::Voltage => &[U::V],
            Quantity::StateOfCharge => &[U::Percent],
            Quantity::Temperature => &[U::Celsius, U::Fahrenheit, U::K],
            Quantity::Frequency => &[U::Hz],
            Quantity::Rotation => &[U::Rpm],
            Quantity::Ratio => &[],
        }
    }
}

/// What identifies a reading within a session: sending the same identity
/// again replaces the value, so client retries never double-count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReadingKey {
    pub ts: Micros,
    pub measurand: Measurand,
    pub phase: Option<Phase>,
    pub location: Location,
}

/// A validated meter reading. `value` is kept in the unit the client used;
/// [`Reading::normalized`] converts it for analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub ts: Micros,
    pub measurand: Measurand,
    pub phase: Option<Phase>,
    pub location: Location,
    pub unit: Option<UnitOfMeasure>,
    pub value: f64,
    pub context: Option<ReadingContext>,
}

impl Reading {
    pub fn key(&self) -> ReadingKey {
        ReadingKey {
            ts: self.ts,
            measurand: self.measurand,
            phase: self.phase,
            location: self.location,
        }
    }

    /// The value in analysis units: energy kWh (kvarh), power kW (kvar),
    /// current A, voltage V, SoC %, temperature °C.
    pub fn normalized(&self) -> f64 {
        use UnitOfMeasure as U;
        match self.unit {
            Some(U::Wh | U::Varh | U::W | U::Var | U::VA) => self.value / 1000.0,
            Some(U::Fahrenheit) => (self.value - 32.0) * 5.0 / 9.0,
            Some(U::K) => self.value - 273.15,
            _ => self.value,
        }
    }
}

impl MeterValueIn<'_> {
    /// Validates one meter value at `path` (e.g. `meter_values[3]`). `now` is
    /// the server clock, used to refuse readings from the future.
    pub fn validate(&self, path: &str, now: Micros) -> Result<Reading, Vec<FieldError>> {
        let mut errors = Vec::new();
        let ts = match self.timestamp.as_deref() {
            None => {
                errors.push(FieldError::new(format!("{path}.timestamp"), "is required"));
                None
            }
            Some(raw) => match parse_timestamp(raw, now) {
                Ok(ts) => Some(ts),
                Err(problem) => {
                    errors.push(FieldError::new(format!("{path}.timestamp"), problem));
                    None
                }
            },
        };
        let value = match parse_value(self.value.as_ref()) {
            Ok(v) => Some(v),
            Err(problem) => {
                errors.push(FieldError::new(format!("{path}.value"), problem));
                None
            }
        };
        let measurand = match self.measurand.as_deref() {
            None => Some(Measurand::EnergyActiveImportRegister),
            Some(raw) => lookup(
                &mut errors,
                path,
                "measurand",
                raw,
                Measurand::parse,
                Measurand::accepted,
            ),
        };
        let unit = match self.unit.as_deref() {
            None => None,
            Some(raw) => lookup(
                &mut errors,
                path,
                "unit",
                raw,
                UnitOfMeasure::parse,
                UnitOfMeasure::accepted,
            ),
        };
        let phase = match self.phase.as_deref() {
            None => None,
            Some(raw) => lookup(&mut errors, path, "phase", raw, Phase::parse, Phase::accepted),
        };
        let location = match self.location.as_deref() {
            None => Some(Location::Outlet),
            Some(raw) => lookup(
                &mut errors,
                path,
                "location",
                raw,
                Location::parse,
                Location::accepted,
            ),
        };
        let context = match self.context.as_deref() {
            None => None,
            Some(raw) => lookup(
                &mut errors,
                path,
                "context",
                raw,
                ReadingContext::parse,
                ReadingContext::accepted,
            ),
        };

        let (Some(ts), Some(value), Some(measurand), Some(location)) = (ts, value, measurand, location)
        else {
            return Err(errors);
        };
        if self.phase.is_some() && phase.is_none() || self.context.is_some() && context.is_none() {
            return Err(errors);
        }
        let quantity = measurand.quantity();
        let unit = match (self.unit.is_some(), unit) {
            (true, None) => return Err(errors),
            (true, Some(unit)) => {
                let accepted = quantity.accepted_units();
                if !accepted.is_empty() && !accepted.contains(&unit) {
                    errors.push(
                        FieldError::new(
                            format!("{path}.unit"),
                            format!("unit '{unit}' does not fit measurand '{measurand}'"),
                        )
                        .with_accepted(accepted.iter().map(|u| u.as_str())),
                    );
                    return Err(errors);
                }
                Some(unit)
            }
            (false, _) => quantity.default_unit(),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let reading = Reading {
            ts,
            measurand,
            phase,
            location,
            unit,
            value,
            context,
        };
        let bounds = crate::plausible::bounds(measurand);
        if !bounds.contains(reading.normalized()) {
            let unit = unit.map(|u| format!(" {u}")).unwrap_or_default();
            return Err(vec![FieldError::new(
                format!("{path}.value"),
                format!(
                    "{value}{unit} is outside what a meter produces for '{measurand}' ({})",
                    bounds.describe()
                ),
            )
            .with_accepted([bounds.describe()])]);
        }
        Ok(reading)
    }
}

/// Validates a list of meter values under `field` (e.g. `meter_values`).
pub fn validate_meter_values(
    field: &str,
    values: &[MeterValueIn<'_>],
    now: Micros,
    errors: &mut ValidationErrors,
) -> Vec<Reading> {
    let mut readings = Vec::with_capacity(values.len());
    for (i, mv) in values.iter().enumerate() {
        match mv.validate(&format!("{field}[{i}]"), now) {
            Ok(r) => readings.push(r),
            Err(problems) => errors.extend(problems),
        }
    }
    readings
}

fn lookup<T>(
    errors: &mut Vec<FieldError>,
    path: &str,
    name: &str,
    raw: &str,
    parse: fn(&str) -> Option<T>,
    accepted: fn() -> Vec<&'static str>,
) -> Option<T> {
    let parsed = parse(raw);
    if parsed.is_none() {
        errors.push(
            FieldError::new(format!("{path}.{name}"), format!("unknown {name} '{raw}'"))
                .with_accepted(accepted()),
        );
    }
    parsed
}

/// RFC 3339 with an explicit offset, from 2000-01-01 to a day in the future.
/// A leap second (`23:59:60`) is refused: it would silently become the
/// next second and could replace the reading there.
pub fn parse_timestamp(raw: &str, now: Micros) -> Result<Micros, String> {
    let parsed = DateTime::parse_from_rfc3339(raw).map_err(|_| {
        format!("'{raw}' is not an RFC 3339 timestamp with an offset (e.g. 2026-02-27T10:00:00Z)")
    })?;
    if chrono::Timelike::nanosecond(&parsed) >= 1_000_000_000 {
        return Err(format!(
            "'{raw}' is a leap second (:60); send it as :59.999 or the next second"
        ));
    }
    let ts = parsed.timestamp_micros();
    if ts < crate::plausible::EARLIEST_TIMESTAMP {
        return Err(format!("'{raw}' is before 2000-01-01T00:00:00Z"));
    }
    if ts > now + MAX_FUTURE_SKEW {
        return Err(format!("'{raw}' is more than 24 h in the future"));
    }
    Ok(ts)
}

/// A finite JSON number, or a string holding one (as OCPP 1.6 sends it).
fn parse_value(raw: Option<&serde_json::Value>) -> Result<f64, String> {
    use serde_json::Value;
    let value = match raw {
        None | Some(Value::Null) => return Err("is required".into()),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("{n} is not representable"))?,
        Some(Value::String(s)) => s
            .parse::<f64>()
            .map_err(|_| format!("'{s}' is not a number"))
            .and_then(|v| {
                if s.trim() != s {
                    Err(format!("'{s}' is not a number"))
                } else {
                    Ok(v)
                }
            })?,
        Some(other) => {
            return Err(format!(
                "expected a number or a numeric string, got {}",
                json_kind(other)
            ))
        }
    };
    if value.is_finite() {
        Ok(value)
    } else {
        Err("must be a finite number".into())
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Micros = 1_800_000_000_000_000;

    fn parse(json: &str) -> Result<Reading, Vec<FieldError>> {
        let mv: MeterValueIn = serde_json::from_str(json).unwrap();
        mv.validate("meter_values[0]", NOW)
    }

    #[test]
    fn defaults_follow_ocpp() {
        let r = parse(r#"{"timestamp":"2026-02-27T10:00:00Z","value":1500}"#).unwrap();
        assert_eq!(r.measurand, Measurand::EnergyActiveImportRegister);
        assert_eq!(r.unit, Some(UnitOfMeasure::Wh));
        assert_eq!(r.location, Location::Outlet);
        assert!((r.normalized() - 1.5).abs() < 1e-12);
    }

    #[test]
    fn enums_are_case_insensitive_and_strings_are_numbers() {
        let r = parse(r#"{"timestamp":"2026-02-27T12:00:00+02:00","value":"7.5","measurand":"power.active.import","unit":"kw","phase":"l1-n"}"#).unwrap();
        assert_eq!(r.measurand, Measurand::PowerActiveImport);
        assert_eq!(r.unit, Some(UnitOfMeasure::KW));
        assert_eq!(r.phase, Some(Phase::L1N));
        assert_eq!(
            r.ts,
            DateTime::parse_from_rfc3339("2026-02-27T10:00:00Z")
                .unwrap()
                .timestamp_micros()
        );
        assert_eq!(r.value, 7.5);
    }

    #[test]
    fn bad_values_name_their_field() {
        let errs = parse(r#"{"timestamp":"2026-02-27T10:00:00","value":true,"unit":"kwhh"}"#).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "meter_values[0].timestamp",
                "meter_values[0].value",
                "meter_values[0].unit"
            ]
        );
        assert!(errs[2].accepted.as_ref().unwrap().contains(&"kWh".to_string()));
        for bad in [r#""""#, r#""NaN""#, r#""inf""#, "null"] {
            let json = format!(r#"{{"timestamp":"2026-02-27T10:00:00Z","value":{bad}}}"#);
            assert!(parse(&json).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn unit_must_fit_measurand() {
        let errs = parse(r#"{"timestamp":"2026-02-27T10:00:00Z","value":1,"unit":"A"}"#).unwrap_err();
        assert_eq!(errs[0].field, "meter_values[0].unit");
    }

    #[test]
    fn future_timestamps_are_refused() {
        let later = chrono::DateTime::from_timestamp_micros(NOW + MAX_FUTURE_SKEW + 1).unwrap();
        let json = format!(r#"{{"timestamp":"{}","value":1}}"#, later.to_rfc3339());
        assert!(parse(&json).is_err());
    }

    #[test]
    fn implausible_values_are_refused_with_their_bounds() {
        for (value, measurand, unit) in [
            ("-5", "Energy.Active.Import.Register", "kWh"),
            ("1e20", "Energy.Active.Import.Register", "kWh"),
            ("1e308", "Energy.Active.Import.Register", "kWh"),
            ("-1e308", "Energy.Active.Import.Register", "Wh"),
            ("1e13", "Energy.Active.Import.Register", "Wh"),
            ("101", "SoC", "Percent"),
            ("-1", "SoC", "Percent"),
            ("1e6", "Power.Active.Import", "kW"),
            ("1e9", "Current.Import", "A"),
            ("1e7", "Voltage", "V"),
            ("-300", "Temperature", "Celsius"),
            ("-1", "Temperature", "K"),
            ("2", "Power.Factor", "Percent"),
        ] {
            let unit = if measurand == "Power.Factor" {
                String::new()
            } else {
                format!(r#","unit":"{unit}""#)
            };
            let json = format!(
                r#"{{"timestamp":"2026-02-27T10:00:00Z","value":{value},"measurand":"{measurand}"{unit}}}"#
            );
            let errs = parse(&json).unwrap_err();
            assert_eq!(errs.len(), 1, "{json}");
            assert_eq!(errs[0].field, "meter_values[0].value", "{json}");
            assert!(
                errs[0].problem.contains("outside what a meter produces"),
                "{json}"
            );
            assert!(
                errs[0].accepted.as_ref().unwrap()[0].starts_with("from "),
                "{json}"
            );
        }
        for (value, measurand, unit) in [
            ("0", "Energy.Active.Import.Register", "kWh"),
            ("999999999", "Energy.Active.Import.Register", "kWh"),
            ("-5", "Energy.Active.Net", "kWh"),
            ("-7.2", "Power.Active.Export", "kW"),
            ("-20", "Temperature", "Celsius"),
            ("100", "SoC", "Percent"),
            ("2662288", "Power.Active.Import", "W"),
        ] {
            let json = format!(
                r#"{{"timestamp":"2026-02-27T10:00:00Z","value":{value},"measurand":"{measurand}","unit":"{unit}"}}"#
            );
            assert!(parse(&json).is_ok(), "{json}");
        }
    }

    #[test]
    fn timestamps_before_2000_and_leap_seconds_are_refused() {
        for ts in [
            "0001-01-01T00:00:00Z",
            "1900-01-01T00:00:00Z",
            "1999-12-31T23:59:59Z",
            "2000-01-01T00:30:00+01:00",
        ] {
            let errs = parse(&format!(r#"{{"timestamp":"{ts}","value":1}}"#)).unwrap_err();
            assert_eq!(errs[0].field, "meter_values[0].timestamp");
            assert!(
                errs[0].problem.contains("before 2000-01-01"),
                "{ts}: {}",
                errs[0].problem
            );
        }
        assert!(parse(r#"{"timestamp":"2000-01-01T00:00:00Z","value":1}"#).is_ok());
        for ts in ["2016-12-31T23:59:60Z", "2026-02-27T10:59:60.5+01:00"] {
            let errs = parse(&format!(r#"{{"timestamp":"{ts}","value":1}}"#)).unwrap_err();
            assert!(
                errs[0].problem.contains("leap second"),
                "{ts}: {}",
                errs[0].problem
            );
        }
    }
}
