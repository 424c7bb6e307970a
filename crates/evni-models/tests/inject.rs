//! Faults written into recorded sessions (`evni_models::inject`): each
//! family changes what it should and nothing else, registers stay
//! registers, and the label covers the fault.

use evni_domain::{AnomalyCategory, Measurand, Micros, Phase, Reading};
use evni_models::data::{self, Sample};
use evni_models::inject::{faults, inject};
use evni_sim::{NovelFault, SessionKind, SimConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn clean_sessions(n: usize) -> Vec<Sample> {
    let config = SimConfig {
        sessions: n,
        seed: 11,
        kinds: Some(vec![SessionKind::Clean]),
        ..SimConfig::default()
    };
    data::simulate(&config, 1).unwrap()
}

fn series(readings: &[Reading], measurand: Measurand, phase: Option<Phase>) -> Vec<(Micros, f64)> {
    readings
        .iter()
        .filter(|r| r.measurand == measurand && r.phase == phase)
        .map(|r| (r.ts, r.value))
        .collect()
}

/// Each family into the first sessions that carry it.
fn injected(fault: NovelFault) -> Vec<(Vec<Reading>, Vec<Reading>, evni_analysis::eval::Label)> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    clean_sessions(300)
        .into_iter()
        .filter_map(|s| {
            let window = evni_analysis::window::window(&s.readings).to_vec();
            let (out, label) = inject(&s.readings, fault, &mut rng)?;
            Some((window, out, label))
        })
        .take(20)
        .collect()
}

#[test]
fn every_family_fits_many_ordinary_sessions_and_is_labelled_as_a_pattern() {
    for fault in NovelFault::ALL {
        let sessions = injected(fault);
        assert!(sessions.len() >= 10, "{fault:?}: {}", sessions.len());
        for (before, after, label) in &sessions {
            assert_eq!(label.category, AnomalyCategory::UnusualPattern);
            assert!(
                label.start_unit >= 3 && label.end_unit >= label.start_unit + 3,
                "{label:?}"
            );
            assert_eq!(before.len(), after.len());
            assert!(before.iter().zip(after).all(|(b, a)| b.key() == a.key()));
            // A register never runs backwards.
            let register = series(after, Measurand::EnergyActiveImportRegister, None);
            assert!(register.windows(2).all(|w| w[1].1 >= w[0].1 - 1e-9), "{fault:?}");
        }
    }
}

#[test]
fn oscillation_switches_power_off_and_holds_back_its_energy() {
    let sessions = injected(NovelFault::Oscillation);
    let mut seen_off = 0;
    for (before, after, _) in &sessions {
        let power = |s: &[Reading]| series(s, Measurand::PowerActiveImport, None);
        let (power_before, power_after) = (power(before), power(after));
        assert!(power_before
            .iter()
            .zip(&power_after)
            .all(|(b, a)| a.1 == b.1 || a.1 == 0.0));
        // A meter sampling power seldom may see only the "on" halves; its
        // register still runs slow.
        seen_off += usize::from(
            power_before
                .iter()
                .zip(&power_after)
                .any(|(b, a)| b.1 > 0.0 && a.1 == 0.0),
        );
        let register = |s: &[Reading]| series(s, Measurand::EnergyActiveImportRegister, None);
        let (register_before, register_after) = (register(before), register(after));
        assert!(register_before
            .iter()
            .zip(&register_after)
            .all(|(b, a)| a.1 <= b.1));
        assert!(register_after.last().unwrap().1 < register_before.last().unwrap().1);
    }
    assert!(seen_off * 2 >= sessions.len(), "{seen_off} of {}", sessions.len());
}

#[test]
fn phase_loss_leaves_one_phase_and_a_third_of_the_power() {
    for (before, after, _) in injected(NovelFault::PhaseLoss) {
        let l2 = series(&after, Measurand::CurrentImport, Some(Phase::L2));
        let l1_before = series(&before, Measurand::CurrentImport, Some(Phase::L1));
        let l1_after = series(&after, Measurand::CurrentImport, Some(Phase::L1));
        assert_eq!(l1_before, l1_after);
        let lost: Vec<Micros> = l2
            .iter()
            .zip(series(&before, Measurand::CurrentImport, Some(Phase::L2)))
            .filter(|(a, b)| b.1 > 1.0 && a.1 == 0.0)
            .map(|(a, _)| a.0)
            .collect();
        assert!(!lost.is_empty());
        // From the fault on, for good.
        let from = lost[0];
        assert!(l2.iter().filter(|s| s.0 >= from).all(|s| s.1 == 0.0));
        let power = series(&before, Measurand::PowerActiveImport, None)
            .into_iter()
            .zip(series(&after, Measurand::PowerActiveImport, None));
        for (b, a) in power.filter(|(b, _)| b.0 >= from) {
            assert!((a.1 - b.1 / 3.0).abs() < 1e-9);
        }
    }
}

#[test]
fn register_sawtooth_changes_only_the_register_and_gives_the_excess_back() {
    for (before, after, _) in injected(NovelFault::RegisterSawtooth) {
        let changed: Vec<(&Reading, &Reading)> = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| b.value != a.value)
            .collect();
        assert!(!changed.is_empty());
        assert!(changed
            .iter()
            .all(|(b, _)| b.measurand == Measurand::EnergyActiveImportRegister));
        // Runs fast, never slow of the true energy, and ends on it.
        assert!(changed.iter().all(|(b, a)| a.value > b.value));
        let register = |s: &[Reading]| series(s, Measurand::EnergyActiveImportRegister, None);
        assert_eq!(register(&before).last(), register(&after).last());
    }
}

#[test]
fn sessions_that_cannot_carry_a_fault_get_none() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // A session that carries every family, then without what each needs.
    let carries = |readings: &[Reading], fault, rng: &mut ChaCha8Rng| {
        (0..10).any(|_| inject(readings, fault, rng).is_some())
    };
    let session = clean_sessions(300)
        .into_iter()
        .find(|s| NovelFault::ALL.iter().all(|f| carries(&s.readings, *f, &mut rng)))
        .expect("a session carrying every family");
    let without = |drop: fn(&Reading) -> bool| -> Vec<Reading> {
        session.readings.iter().filter(|r| !drop(r)).copied().collect()
    };
    // Without power readings: no oscillation to see.
    let no_power = without(|r| r.measurand == Measurand::PowerActiveImport);
    assert!(!carries(&no_power, NovelFault::Oscillation, &mut rng));
    // Without per-phase currents: no phase loss.
    let no_phases = without(|r| r.phase.is_some());
    assert!(!carries(&no_phases, NovelFault::PhaseLoss, &mut rng));
    // Without an energy register: nothing.
    let no_register = without(|r| r.measurand == Measurand::EnergyActiveImportRegister);
    for fault in NovelFault::ALL {
        assert!(!carries(&no_register, fault, &mut rng), "{fault:?}");
    }
}

#[test]
fn faults_are_the_same_for_the_same_seed() {
    let sessions = clean_sessions(40);
    let written = |seed| faults(sessions.iter().map(|s| (&s.readings[..], &s.context)), 2, seed);
    let (a, b) = (written(5), written(5));
    assert!(a.len() >= 40, "{}", a.len());
    assert!(a.len() <= 40 * 3 * 2);
    assert_eq!(
        a.iter()
            .map(|(f, l)| (f.values.to_vec(), l.clone()))
            .collect::<Vec<_>>(),
        b.iter()
            .map(|(f, l)| (f.values.to_vec(), l.clone()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn phase_loss_reads_phases_to_neutral_too() {
    let to_neutral = |p: Option<Phase>| match p {
        Some(Phase::L1) => Some(Phase::L1N),
        Some(Phase::L2) => Some(Phase::L2N),
        Some(Phase::L3) => Some(Phase::L3N),
        other => other,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut carried = 0;
    for session in clean_sessions(100) {
        let readings: Vec<Reading> = session
            .readings
            .iter()
            .map(|r| Reading {
                phase: to_neutral(r.phase),
                ..*r
            })
            .collect();
        let Some((after, _)) = inject(&readings, NovelFault::PhaseLoss, &mut rng) else {
            continue;
        };
        carried += 1;
        let lost = |s: &[Reading]| {
            series(s, Measurand::CurrentImport, Some(Phase::L3N))
                .iter()
                .filter(|x| x.1 == 0.0)
                .count()
        };
        assert!(lost(&after) > lost(evni_analysis::window::window(&readings)));
    }
    assert!(carried >= 3, "{carried}");
}

#[test]
fn a_register_that_once_ran_backwards_keeps_its_glitch() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut carried = 0;
    for session in clean_sessions(60) {
        let mut readings = evni_analysis::window::window(&session.readings).to_vec();
        // A glitch early in the window: the fifth register sample reads
        // below the fourth.
        let register: Vec<usize> = (0..readings.len())
            .filter(|&i| readings[i].measurand == Measurand::EnergyActiveImportRegister)
            .collect();
        let Some(&[before, i]) = register.get(3..5).map(|w| <&[usize; 2]>::try_from(w).unwrap()) else {
            continue;
        };
        readings[i].value = readings[before].value - 1.0;
        let Some((after, _)) = inject(&readings, NovelFault::RegisterSawtooth, &mut rng) else {
            continue;
        };
        carried += 1;
        assert_eq!(after[i].value, readings[i].value);
    }
    assert!(carried >= 3, "{carried}");
}
