//! Whole sessions through `analyze`: the "must stay normal" cases of
//! analysis.md §3, windowing of long sessions, and the pending / failed
//! outcomes.

use evni_analysis::{analyze, Analysis, Outcome, SessionContext};
use evni_domain::{AnomalyCategory, Measurand, Micros, Phase, Reading, UnitOfMeasure};
use evni_sim::fixtures::{ac, charge, dc, noise, reading, Meter, MINUTE, T0};

fn analysed(readings: &[Reading]) -> Analysis {
    match analyze(readings, &SessionContext::default()) {
        Outcome::Analyzed(a) => a,
        other => panic!("not analysed: {other:?}"),
    }
}

#[track_caller]
fn assert_normal(readings: &[Reading]) -> Analysis {
    let a = analysed(readings);
    assert!(a.anomalies.is_empty(), "unexpected anomalies: {:#?}", a.anomalies);
    assert!(
        a.anomaly_score < 0.5 && a.anomaly_score >= 0.02,
        "score {}",
        a.anomaly_score
    );
    a
}

#[test]
fn constant_ac_with_noise_is_normal() {
    let a = assert_normal(&charge(Meter::default(), 240.0, &[], ac));
    assert_eq!(a.sequence_length, 17);
    assert!(a.anomaly_confidence > 0.9);
}

#[test]
fn dc_taper_with_soc_is_normal() {
    let meter = Meter {
        soc: Some((15.0, 60.0)),
        ..Meter::default()
    };
    assert_normal(&charge(meter, 150.0, &[], dc));
}

#[test]
fn load_management_steps_are_normal() {
    // 22 kW, stepped to 11 kW, to 2.5 kW (11 % of the plateau), back up.
    let steps = |minute: f64, _| match minute as i64 {
        0..=59 => 22.0,
        60..=89 => 11.0,
        90..=149 => 2.5,
        _ => 22.0,
    } + noise(minute, 0.1);
    assert_normal(&charge(Meter::default(), 240.0, &[], steps));
}

#[test]
fn idle_tail_after_a_full_battery_is_normal() {
    let meter = Meter {
        soc: Some((40.0, 40.0)),
        ..Meter::default()
    };
    // 11 kW until 95 %, then nothing for two hours.
    let full = |_m: f64, soc: f64| if soc < 95.0 { 11.0 } else { 0.0 };
    assert_normal(&charge(meter, 300.0, &[], full));
    // Without SoC the same stop is a full battery too.
    let stop = |m: f64, _| if m < 120.0 { 11.0 } else { 0.0 };
    assert_normal(&charge(Meter::default(), 300.0, &[], stop));
}

#[test]
fn delayed_start_is_normal() {
    let later = |m: f64, s: f64| if m < 50.0 { 0.0 } else { ac(m, s) };
    assert_normal(&charge(Meter::default(), 200.0, &[], later));
    let meter = Meter {
        soc: Some((20.0, 60.0)),
        ..Meter::default()
    };
    let dc_later = |m: f64, s: f64| if m < 50.0 { 0.0 } else { dc(m, s) };
    assert_normal(&charge(meter, 200.0, &[], dc_later));
}

#[test]
fn sampling_from_30_s_to_15_min_with_jitter_is_normal() {
    for interval_s in [30, 60, 120, 300, 600, 900] {
        for jitter in [0.0, 0.3] {
            let meter = Meter {
                interval_s,
                jitter,
                soc: Some((20.0, 60.0)),
                ..Meter::default()
            };
            let a = assert_normal(&charge(meter, 300.0, &[], ac));
            assert!(
                a.anomaly_confidence > 0.5,
                "{interval_s} s: {}",
                a.anomaly_confidence
            );
            assert_normal(&charge(meter, 180.0, &[], dc));
        }
    }
}

#[test]
fn a_single_missed_reading_is_normal() {
    for interval_s in [60, 300, 600, 900] {
        let meter = Meter {
            interval_s,
            jitter: 0.2,
            ..Meter::default()
        };
        assert_normal(&charge(meter, 300.0, &[7], ac));
    }
}

#[test]
fn units_do_not_change_the_verdict() {
    let wh = charge(Meter::default(), 180.0, &[], ac);
    let kwh = charge(
        Meter {
            energy_unit: UnitOfMeasure::KWh,
            power_unit: Some(UnitOfMeasure::KW),
            ..Meter::default()
        },
        180.0,
        &[],
        ac,
    );
    let (a, b) = (assert_normal(&wh), assert_normal(&kwh));
    assert!((a.anomaly_score - b.anomaly_score).abs() < 1e-6);
    // A register-only session is judged on its increase alone.
    let register_only = Meter {
        power_unit: None,
        ..Meter::default()
    };
    assert_normal(&charge(register_only, 180.0, &[], ac));
}

#[test]
fn per_phase_power_is_summed() {
    // Three phases of 3.7 kW each: the session runs at 11.1 kW, so a
    // 25 kW total would be a spike but 11.1 kW is its level.
    let mut readings = charge(
        Meter {
            power_unit: None,
            ..Meter::default()
        },
        120.0,
        &[],
        |_, _| 11.1,
    );
    let timestamps: Vec<Micros> = readings.iter().map(|r| r.ts).collect();
    for ts in timestamps {
        for phase in [Phase::L1, Phase::L2, Phase::L3] {
            let mut r = reading(ts, Measurand::PowerActiveImport, UnitOfMeasure::W, 3700.0);
            r.phase = Some(phase);
            readings.push(r);
        }
    }
    readings.sort_by_key(|r| r.ts);
    assert_normal(&readings);
}

#[test]
fn a_long_session_is_analysed_on_its_last_six_hours() {
    // 8 h at 5-min readings; delivery drops out from 6:00 to 6:45.
    let pit = |m: f64, s: f64| {
        if (360.0..405.0).contains(&m) {
            0.0
        } else {
            ac(m, s)
        }
    };
    let readings = charge(
        Meter {
            interval_s: 300,
            ..Meter::default()
        },
        480.0,
        &[],
        pit,
    );
    let a = analysed(&readings);
    // The window starts at 2:00 (latest - 6 h): 73 timestamps of 2 readings.
    assert_eq!(a.window_start, T0 + 120 * MINUTE);
    assert_eq!(a.readings_analyzed, 146);
    assert_eq!(a.sequence_length, 24);
    // 6:00..6:45 is 4:00..4:45 into the window: buckets 16..18, evidenced
    // by the readings from 6:00 (first zero power) to 6:40 (last one).
    let pits: Vec<_> = a
        .anomalies
        .iter()
        .filter(|x| x.category == AnomalyCategory::EnergyPit)
        .collect();
    assert_eq!(pits.len(), 1, "{:#?}", a.anomalies);
    assert_eq!(
        (pits[0].bucket_range.start_unit, pits[0].bucket_range.end_unit),
        (16, 18)
    );
    let time = pits[0].time_range.unwrap();
    assert_eq!(
        time.start_timestamp.unwrap().timestamp_micros(),
        T0 + 360 * MINUTE
    );
    assert_eq!(time.end_timestamp.unwrap().timestamp_micros(), T0 + 400 * MINUTE);
    assert!(a.anomaly_score > 0.8);
}

#[test]
fn a_data_gap_has_hand_computed_ranges() {
    // 2-min readings; readings 19..=35 (38..70 min) are lost: the silence
    // runs from 36 min (bucket 2) to 72 min (bucket 4).
    let lost: Vec<usize> = (19..=35).collect();
    let a = analysed(&charge(
        Meter {
            interval_s: 120,
            ..Meter::default()
        },
        150.0,
        &lost,
        ac,
    ));
    assert_eq!(a.anomalies.len(), 1, "{:#?}", a.anomalies);
    let gap = &a.anomalies[0];
    assert_eq!(gap.category, AnomalyCategory::DataGap);
    assert_eq!((gap.bucket_range.start_unit, gap.bucket_range.end_unit), (2, 4));
    let time = gap.time_range.unwrap();
    assert_eq!(time.start_timestamp.unwrap().timestamp_micros(), T0 + 36 * MINUTE);
    assert_eq!(time.end_timestamp.unwrap().timestamp_micros(), T0 + 72 * MINUTE);
}

#[test]
fn a_reading_exactly_six_hours_after_t0_goes_in_the_last_bucket() {
    let readings = charge(
        Meter {
            interval_s: 900,
            ..Meter::default()
        },
        360.0,
        &[],
        ac,
    );
    let a = assert_normal(&readings);
    assert_eq!(a.window_start, T0);
    assert_eq!(a.sequence_length, 24);
}

#[test]
fn fewer_than_three_readings_are_pending() {
    let readings = charge(Meter::default(), 0.0, &[], ac);
    assert_eq!(readings.len(), 2);
    assert_eq!(analyze(&readings, &SessionContext::default()), Outcome::Pending);
}

#[test]
fn without_a_usable_measurand_analysis_fails_and_says_why() {
    let readings: Vec<Reading> = (0..10)
        .flat_map(|i| {
            let ts = T0 + i * MINUTE;
            [
                reading(ts, Measurand::Temperature, UnitOfMeasure::Celsius, 31.0),
                reading(ts, Measurand::Voltage, UnitOfMeasure::V, 230.0),
            ]
        })
        .collect();
    match analyze(&readings, &SessionContext::default()) {
        Outcome::Failed { reason } => {
            assert!(reason.contains("no usable measurand"), "{reason}");
            assert!(
                reason.contains("Temperature") && reason.contains("Voltage"),
                "{reason}"
            );
        }
        other => panic!("expected failure, got {other:?}"),
    }
}
