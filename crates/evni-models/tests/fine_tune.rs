//! Fine-tuning matters (issue 5): a fleet whose chargers pause every half
//! hour gets many false alarms from the base CSAR-2 and far fewer from
//! CSAR-2 fine-tuned on its sessions, which finds at least as many faults
//! in the fleet as the base model, and more than the base model with a
//! threshold raised for the fleet, or than the base model itself at any
//! equal number of false alarms.

use evni_models::fleet::{self, FleetConfig};
use evni_models::{Model, Models};

#[test]
fn fine_tuning_on_a_load_balanced_fleet_removes_false_alarms_and_keeps_finding_faults() {
    let base = Models::base().unwrap();
    let config = FleetConfig {
        fault_sessions: 160,
        replay_calibration: 1500,
        ..FleetConfig::new(600, 30)
    };
    let r = fleet::run(&base, &config).unwrap();
    let [base_csar2, tuned_csar2] = r.csar2;
    let [base_all, tuned_all] = r.analysis;
    let report = format!("{:#?} {:#?} {:#?}", r.csar2, r.ordinary, r.analysis);
    // Many false alarms before, far fewer after.
    assert!(base_all.false_alarm_rate() >= 0.2, "{report}");
    assert!(
        tuned_all.false_alarm_rate() * 3.0 <= base_all.false_alarm_rate(),
        "{report}"
    );
    assert!(
        tuned_csar2.false_alarms * 3 <= base_csar2.false_alarms,
        "{report}"
    );
    // The rules' faults are found as before.
    assert!(
        tuned_all.physical_recall() >= base_all.physical_recall() - 0.02,
        "{report}"
    );
    // Novel faults in ordinary sessions: nothing forgotten.
    let [base_ordinary, tuned_ordinary] = r.ordinary;
    assert!(
        tuned_ordinary.recall() >= base_ordinary.recall() - 0.03,
        "{report}"
    );
    // Novel faults in the fleet's own sessions, which the pauses make hard
    // to tell from normal: no loss. The threshold was lowered until the
    // model found as many of the faults written into held-out fleet
    // sessions as the base model.
    let threshold = &r.tuned.card().training["threshold"];
    assert!(
        threshold["calibration_faults"].as_u64().unwrap() >= 100,
        "{threshold}"
    );
    assert!(
        threshold["bucket_error"].as_f64() < threshold["for_false_alarm_target"].as_f64(),
        "{threshold}"
    );
    assert!(tuned_csar2.recall() >= base_csar2.recall(), "{report}");
    assert!(tuned_all.novel_recall() >= base_all.novel_recall(), "{report}");
    // That part, measured: a fault's labels laid over normal fleet
    // sessions meet a base-model finding far more often than a fine-tuned one.
    let [base_chance, tuned_chance] = r.chance;
    assert!(base_chance.pairs > 0, "{:#?}", r.chance);
    assert!(base_chance.rate() >= 3.0 * tuned_chance.rate(), "{:#?}", r.chance);
    // That loss is the threshold's choice, not the model's: allowed the
    // same number of false alarms on the fleet, the fine-tuned model finds
    // at least as many of those faults as the base model, at every number
    // up to the base model's own.
    assert!(r.equal_alarms.len() >= 3, "{:#?}", r.equal_alarms);
    for e in &r.equal_alarms {
        assert!(e.tuned_found >= e.base_found, "{e:#?} {report}");
    }
    let last = r.equal_alarms.last().unwrap();
    assert_eq!(last.false_alarms, base_csar2.false_alarms);
    assert!(last.tuned_found > base_csar2.faults_found, "{last:#?} {report}");
    // Recalibrating the base model's threshold on the same sessions instead
    // cuts false alarms by losing faults, in the fleet and in ordinary
    // sessions.
    let other = &r.recalibrated;
    let report = format!("{report} {other:#?}");
    assert!(other.csar2.recall() < base_csar2.recall(), "{report}");
    assert!(tuned_csar2.recall() > other.csar2.recall(), "{report}");
    assert!(
        tuned_ordinary.recall() >= other.ordinary.recall() + 0.03,
        "{report}"
    );
}
