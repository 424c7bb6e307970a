//! Simulated sessions (evni-sim, another generator than the dev set's):
//! analyses them as `evni eval` does and checks the targets.

mod common;

use evni_analysis::eval::{Evaluation, Label};
use evni_analysis::{analyze, SessionContext};
use evni_domain::{MeterValueIn, Reading};
use evni_sim::{SessionRequest, SimConfig};
use serde::Deserialize;

/// The part of a request body the analysis reads.
#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    meter_values: Vec<MeterValueIn<'a>>,
    metadata: Option<serde_json::Value>,
}

/// Validated readings sorted by time, one per identity (last write wins),
/// and the rating the session carries, as the API receives them.
fn prepare(request: &SessionRequest) -> (Vec<Reading>, SessionContext) {
    let json = serde_json::to_string(request).expect("serialisable request");
    let body: Body = serde_json::from_str(&json).expect("a POST /v1/sessions body");
    let readings = common::readings(&body.meter_values);
    let rated_power_kw = body
        .metadata
        .and_then(|m| m.get("rated_power_kw")?.as_f64())
        .filter(|kw| *kw > 0.0);
    (readings, SessionContext { rated_power_kw })
}

#[test]
fn simulated_sessions_meet_the_targets() {
    let mut eval = Evaluation::default();
    for session in evni_sim::simulate(SimConfig::new(800, 20_260_611)) {
        let labels: Vec<Label> = session
            .labels
            .iter()
            .map(|l| Label {
                category: l.category,
                start_unit: l.start_unit,
                end_unit: l.end_unit,
            })
            .collect();
        let (readings, context) = prepare(&session.request);
        eval.add(&labels, &analyze(&readings, &context));
    }
    println!("{eval}");

    let session = eval.session();
    assert!(session.f1.unwrap() >= 0.98, "session F1 {:?}", session.f1);
    assert!(
        eval.false_alarm_rate().unwrap() <= 0.005,
        "false alarms {:?}",
        eval.false_alarm_rate()
    );
    let mut scored = 0;
    for category in evni_domain::AnomalyCategory::ALL {
        if let Some(f1) = eval.category(category).f1 {
            assert!(f1 >= 0.95, "{category} F1 {f1:.3}");
            scored += 1;
        }
    }
    // Every physical category was simulated and scored.
    assert_eq!(scored, 9);
}

/// `examine` is the three separate functions in one pass, also for sessions
/// cut short (pending) and for every fault the simulator makes.
#[test]
fn examine_agrees_with_analyze_extract_and_summarize() {
    for session in evni_sim::simulate(SimConfig::new(200, 7)) {
        let (readings, context) = prepare(&session.request);
        for cut in [0, 1, 2, readings.len() / 2, readings.len()] {
            let readings = &readings[..cut];
            let examination = evni_analysis::examine(readings, &context);
            assert_eq!(examination.outcome, analyze(readings, &context));
            assert_eq!(
                examination.features,
                evni_analysis::features::extract_from_readings(readings, &context)
            );
            assert_eq!(examination.summary, evni_analysis::summarize(readings, &context));
        }
    }
}
