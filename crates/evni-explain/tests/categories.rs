//! For each category the explanation names it, its time range and figures
//! taken from the session's readings (hand-computed here).

mod support;

use evni_analysis::SessionContext;
use evni_domain::{Anomaly, AnomalyCategory, BucketRange, Detector, TimeRange};
use support::*;

/// 11 kW for an hour (register 48213.7 → 48224.7 kWh), then the register
/// falls by 2 kWh at 11:01.
#[test]
fn kwh_decrease_names_the_drop_and_its_values() {
    let mut readings: Vec<_> = (0..=60)
        .map(|m| kwh(m, 48213.7 + 11.0 * m as f64 / 60.0))
        .collect();
    readings.push(kwh(61, 48213.7 + 11.0 - 2.0));
    let case = Case::new(readings);
    let a = case.anomaly(AnomalyCategory::KwhDecrease);
    assert_eq!(
        (
            hm(a.time_range.unwrap().start_timestamp),
            hm(a.time_range.unwrap().end_timestamp)
        ),
        ("11:00".into(), "11:01".into())
    );
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "KWH_DECREASE from 11:00 to 11:01 UTC",
            "bucket 4",
            "from 48224.7 kWh at 11:00 to 48222.7 kWh at 11:01, a drop of 2 kWh",
            "meter reset",
            "Next step:",
            "11 kWh was delivered",
            "2026-02-27",
        ],
    );
}

/// 7 kW for 30 min, then +10 kWh within one minute.
#[test]
fn energy_jump_names_the_implied_power_and_the_limit() {
    let readings: Vec<_> = (0..=40)
        .map(|m| {
            kwh(
                m,
                1000.0 + 7.0 * m as f64 / 60.0 + if m > 30 { 10.0 } else { 0.0 },
            )
        })
        .collect();
    let case = Case::new(readings);
    case.anomaly(AnomalyCategory::EnergyJump);
    let text = case.explanation();
    // 1003.5 → 1013.617 kWh in one minute: 10.117 kWh, 607 kW.
    assert_has(
        &text,
        &[
            "ENERGY_JUMP",
            "10:30 to 10:31 UTC",
            "from 1003.5 kWh at 10:30 to 1013.617 kWh at 10:31: 10.12 kWh in 1 min, which implies 607 kW, above 400 kW",
            "unit mix-up",
        ],
    );
    // With a rated connector the limit is 1.5 × its rating.
    let case = Case::with_context(
        case.readings.clone(),
        SessionContext {
            rated_power_kw: Some(22.0),
        },
    );
    assert_has(
        &case.explanation(),
        &["above 33 kW (1.5 × the connector's rated 22 kW)"],
    );
}

/// An hour plugged in, register still at 500 kWh.
#[test]
fn zero_session_names_the_energy_and_the_span() {
    let readings: Vec<_> = (0..=12).map(|i| kwh(i * 5, 500.0)).collect();
    let case = Case::new(readings);
    let a = case.anomaly(AnomalyCategory::ZeroSession);
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "ZERO_SESSION",
            &format!(
                "from {} to {} UTC",
                hm(a.time_range.unwrap().start_timestamp),
                hm(a.time_range.unwrap().end_timestamp)
            ),
            "Only 0 kWh was delivered over 1 h of readings",
            "contactor",
        ],
    );
}

/// 11 kW, nothing from 10:45 to 11:00, then 11 kW again.
#[test]
fn energy_pit_names_the_low_and_the_typical_power() {
    let case = Case::new(profile(90, |m| if (45..60).contains(&m) { 0.0 } else { 11.0 }));
    let a = case.anomaly(AnomalyCategory::EnergyPit);
    assert_eq!(
        a.bucket_range,
        BucketRange {
            start_unit: 3,
            end_unit: 3
        }
    );
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "ENERGY_PIT from 10:45 to",
            "bucket 3 of the analysed window starting 10:00 UTC",
            "Power fell to 0 kW against the session's typical charging power of 11 kW; it ran at up to 11 kW before and 11 kW after",
            "load management",
        ],
    );
}

/// 11 kW for an hour from 20 % SoC (+0.5 points a minute), then nothing
/// for 45 min at 50 %.
#[test]
fn charging_expected_names_the_soc_and_the_stop() {
    let mut readings = profile(105, |m| if m < 60 { 11.0 } else { 0.0 });
    readings.extend((0..105).map(|m| soc(m, 20.0 + 0.5 * m.min(60) as f64)));
    let case = Case::new(readings);
    let a = case.anomaly(AnomalyCategory::ChargingExpected);
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "CHARGING_EXPECTED",
            &format!("from {} to 11:44 UTC", hm(a.time_range.unwrap().start_timestamp)),
            "The last state of charge reported was 50% at 11:44",
            "power stayed at or below 0 kW against a typical charging power of 11 kW",
            "Charging started at 10:00 and stopped at 10:59 UTC",
            "The state of charge went from 20% at 10:00 to 50% at 11:44 UTC",
        ],
    );
}

/// 11 kW with a single 40 kW power reading at 10:45 that the register
/// does not bear out.
fn spiked() -> Vec<evni_domain::Reading> {
    let mut readings = profile(90, |_| 11.0);
    for r in readings.iter_mut() {
        if r.measurand == evni_domain::Measurand::PowerActiveImport && r.ts == T0 + 45 * MINUTE {
            r.value = 40.0;
        }
    }
    readings
}

#[test]
fn power_spike_names_the_peak_and_its_time() {
    let case = Case::new(spiked());
    case.anomaly(AnomalyCategory::PowerSpike);
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "POWER_SPIKE at 10:45 UTC",
            // The plateau is the 90th percentile of bucket power; the
            // spike lifts bucket 3 to (14 × 11 + 40) / 15 = 12.93 kW, so
            // between 11 and 12.93: 11.97 kW.
            "Power reached 40 kW at 10:45 against a typical charging power of 12 kW",
            "Peak power was 40 kW at 10:45 UTC (reported power)",
        ],
    );
}

/// 11 kW for 90 min; the register stays at 105.5 kWh from 10:30 to 11:10.
#[test]
fn meter_stuck_names_the_frozen_value_and_the_power() {
    let mut readings = profile(90, |_| 11.0);
    for r in readings.iter_mut() {
        let minute = (r.ts - T0) / MINUTE;
        if r.measurand == evni_domain::Measurand::EnergyActiveImportRegister {
            if (30..=70).contains(&minute) {
                r.value = 105.5;
            } else if minute > 70 {
                r.value -= 11.0 * 40.0 / 60.0;
            }
        }
    }
    let case = Case::new(readings);
    let a = case.anomaly(AnomalyCategory::MeterStuck);
    let (from, to) = (
        a.time_range.unwrap().start_timestamp,
        a.time_range.unwrap().end_timestamp,
    );
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "METER_STUCK",
            &format!("from {} to {} UTC", hm(from), hm(to)),
            "The register stayed at 105.5 kWh for",
            "while power averaged 11 kW",
            "bill with care",
        ],
    );
    // The register under-reports; power says what flowed (11 kW × 89 min).
    assert_has(
        &text,
        &["16.32 kWh was delivered (by the reported power integrated over time)"],
    );
}

/// SoC rising half a point a minute from 40 %, falling 5 points at 10:30.
#[test]
fn soc_decrease_names_both_values() {
    let mut readings = profile(60, |_| 11.0);
    readings.extend((0..60).map(|m| soc(m, 40.0 + 0.5 * m as f64 - if m >= 30 { 5.5 } else { 0.0 })));
    let case = Case::new(readings);
    case.anomaly(AnomalyCategory::SocDecrease);
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "SOC_DECREASE at 10:29 to 10:30 UTC"
                .replace("at 10:29 to", "from 10:29 to")
                .as_str(),
            "The state of charge fell from 54.5% at 10:29 to 49.5% at 10:30, 5 points.",
        ],
    );
}

/// Readings every minute until 10:30 and again from 11:30.
#[test]
fn data_gap_names_the_silence() {
    let mut readings: Vec<_> = (0..=30).map(|m| kwh(m, 500.0 + m as f64 * 0.1)).collect();
    readings.extend((90..=120).map(|m| kwh(m, 500.0 + m as f64 * 0.1)));
    let case = Case::new(readings);
    case.anomaly(AnomalyCategory::DataGap);
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "DATA_GAP from 10:30 to 11:30 UTC (15-minute buckets 2–6",
            "No meter value arrived for 1 h, from 10:30 to 11:30, while the charger otherwise reported every 1 min.",
            "backhaul",
        ],
    );
}

/// The model's finding has no rule figures; time and buckets still show.
#[test]
fn unusual_pattern_names_its_range() {
    let mut case = Case::new(profile(60, |_| 11.0));
    case.verdict.anomalies.push(Anomaly {
        category: AnomalyCategory::UnusualPattern,
        score: 0.71,
        confidence: 0.64,
        bucket_range: BucketRange {
            start_unit: 1,
            end_unit: 2,
        },
        time_range: Some(TimeRange {
            start_timestamp: Some(evni_domain::micros_to_datetime(T0 + 15 * MINUTE)),
            end_timestamp: Some(evni_domain::micros_to_datetime(T0 + 44 * MINUTE)),
        }),
        detector: Detector::Csar2,
    });
    case.verdict.is_anomaly = Some(true);
    case.verdict.anomaly_score = Some(0.71);
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "flagged as anomalous (anomaly score 0.71",
            "UNUSUAL_PATTERN from 10:15 to 10:44 UTC (15-minute buckets 1–2",
            "score 0.71, confidence 0.64, found by the CSAR-2 model",
        ],
    );
}

#[test]
fn a_normal_session_gets_the_key_facts() {
    let case = Case::new(profile(61, |_| 11.0));
    assert!(case.verdict.anomalies.is_empty(), "{:?}", case.verdict);
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "No anomaly was detected",
            "from 10:00 to 11:00 UTC (1 h, 122 meter values)",
            "11 kWh was delivered (by the energy register, which went from 100 kWh to 111 kWh)",
            "Peak power was 11 kW",
            "Nothing needs to be done",
        ],
    );
    assert!(!text.contains("Likely causes"));
}

#[test]
fn station_history_and_recurrence_are_told() {
    let mut readings: Vec<_> = (0..=60)
        .map(|m| kwh(m, 48213.7 + 11.0 * m as f64 / 60.0))
        .collect();
    readings.push(kwh(61, 48213.7 + 9.0));
    let mut case = Case::new(readings);
    case.station = vec![
        connector("1", 10, &[("KWH_DECREASE", 3)]),
        connector("2", 5, &[("KWH_DECREASE", 1), ("DATA_GAP", 2)]),
    ];
    case.verdict.is_recurring = Some(true);
    let text = case.explanation();
    assert_has(
        &text,
        &[
            "At this station KWH_DECREASE has been found in 4 sessions so far, this one included (3 on connector 1), out of 15 sessions recorded there.",
            "This recurs at this station",
        ],
    );
}

#[test]
fn pending_and_failed_sessions_say_so() {
    let case = Case::new(vec![kwh(0, 1.0), kwh(1, 1.1)]);
    assert_has(
        &case.explanation(),
        &["not been analysed yet", "2 meter value(s)"],
    );
    let case = Case::new(vec![
        reading(
            0,
            evni_domain::Measurand::Temperature,
            evni_domain::UnitOfMeasure::Celsius,
            20.0,
        ),
        reading(
            1,
            evni_domain::Measurand::Temperature,
            evni_domain::UnitOfMeasure::Celsius,
            21.0,
        ),
        reading(
            2,
            evni_domain::Measurand::Temperature,
            evni_domain::UnitOfMeasure::Celsius,
            22.0,
        ),
    ]);
    assert_has(
        &case.explanation(),
        &["could not be analysed: no usable measurand"],
    );
}

#[test]
fn the_explanation_is_deterministic() {
    let case = Case::new(spiked());
    assert_eq!(case.explanation(), case.explanation());
}
