//! Compact JSON for readings kept inside other records (batch items):
//! `[ts, measurand, phase, location, unit, value, context]`.

use evni_domain::{Location, Measurand, Phase, Reading, ReadingContext, UnitOfMeasure};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

type Row = (i64, String, String, String, Option<String>, f64, Option<String>);

pub fn serialize<S: Serializer>(readings: &[Reading], serializer: S) -> Result<S::Ok, S::Error> {
    let rows: Vec<Row> = readings
        .iter()
        .map(|r| {
            (
                r.ts,
                r.measurand.as_str().to_owned(),
                super::codec::phase_text(r.phase).to_owned(),
                r.location.as_str().to_owned(),
                r.unit.map(|u| u.as_str().to_owned()),
                r.value,
                r.context.map(|c| c.as_str().to_owned()),
            )
        })
        .collect();
    rows.serialize(serializer)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Reading>, D::Error> {
    let rows = Vec::<Row>::deserialize(deserializer)?;
    rows.into_iter()
        .map(|(ts, measurand, phase, location, unit, value, context)| {
            let bad =
                |what: &str, v: &str| D::Error::custom(format!("stored {what} '{v}' is not recognised"));
            Ok(Reading {
                ts,
                measurand: Measurand::parse(&measurand).ok_or_else(|| bad("measurand", &measurand))?,
                phase: match phase.as_str() {
                    "" => None,
                    p => Some(Phase::parse(p).ok_or_else(|| bad("phase", p))?),
                },
                location: Location::parse(&location).ok_or_else(|| bad("location", &location))?,
                unit: unit
                    .map(|u| UnitOfMeasure::parse(&u).ok_or_else(|| bad("unit", &u)))
                    .transpose()?,
                value,
                context: context
                    .map(|c| ReadingContext::parse(&c).ok_or_else(|| bad("context", &c)))
                    .transpose()?,
            })
        })
        .collect()
}
