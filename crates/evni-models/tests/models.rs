//! Training is reproducible, artifacts round-trip, the shipped models load
//! with their measured metrics, and CSAR-2 finds held-out novel faults.

use evni_analysis::features::SessionFeatures;
use evni_analysis::Outcome;
use evni_domain::{AnomalyCategory, Detector};
use evni_models::train::{train_csar2, train_csarc2, TrainConfig};
use evni_models::{data, read_artifact, write_artifact, Csar2, CsarC2, Model, Models};
use evni_sim::{NovelFault, SessionKind, SimConfig};

fn tiny(config: TrainConfig) -> TrainConfig {
    TrainConfig {
        threads: 2,
        ..config.tiny()
    }
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let (a, wa) = train_csar2(&tiny(TrainConfig::csar2(7))).unwrap();
    let (b, wb) = train_csar2(&tiny(TrainConfig::csar2(7))).unwrap();
    assert_eq!(a.card().weights_sha256, b.card().weights_sha256);
    assert_eq!(wa, wb);
    assert_eq!(a.card(), b.card());
    let (c, _) = train_csar2(&tiny(TrainConfig::csar2(8))).unwrap();
    assert_ne!(a.card().weights_sha256, c.card().weights_sha256);

    let (x, _) = train_csarc2(&tiny(TrainConfig::csarc2(7))).unwrap();
    let (y, _) = train_csarc2(&tiny(TrainConfig::csarc2(7))).unwrap();
    assert_eq!(x.card().weights_sha256, y.card().weights_sha256);
}

fn some_features(n: usize, seed: u64) -> Vec<SessionFeatures> {
    let config = SimConfig {
        novel_share: 0.3,
        ..SimConfig::new(n, seed)
    };
    data::simulate(&config, 1)
        .unwrap()
        .iter()
        .filter_map(|s| s.features())
        .collect()
}

#[test]
fn a_saved_model_loads_and_scores_identically() {
    let (model, weights) = train_csar2(&tiny(TrainConfig::csar2(3))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_artifact(dir.path(), &weights, model.card()).unwrap();
    let (w, card) = read_artifact(dir.path()).unwrap();
    let loaded = Csar2::from_parts(&w, card).unwrap();
    let features = some_features(40, 11);
    let refs: Vec<&SessionFeatures> = features.iter().collect();
    assert_eq!(model.score_batch(&refs), loaded.score_batch(&refs));
    // One at a time equals batched.
    assert_eq!(loaded.score(&features[0]), loaded.score_batch(&refs)[0]);

    let (classifier, weights) = train_csarc2(&tiny(TrainConfig::csarc2(3))).unwrap();
    write_artifact(dir.path(), &weights, classifier.card()).unwrap();
    let (w, card) = read_artifact(dir.path()).unwrap();
    let loaded = CsarC2::from_parts(&w, card).unwrap();
    assert_eq!(classifier.score_batch(&refs), loaded.score_batch(&refs));
}

#[test]
fn tampered_weights_are_refused() {
    let models = Models::base().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut weights = models.csar2.net().to_safetensors().unwrap();
    let last = weights.len() - 1;
    weights[last] ^= 1;
    write_artifact(dir.path(), &weights, models.csar2.card()).unwrap();
    let (w, card) = read_artifact(dir.path()).unwrap();
    assert!(Csar2::from_parts(&w, card).is_err());
}

#[test]
fn the_shipped_models_load_with_measured_metrics() {
    let models = Models::base().unwrap();
    assert_eq!(models.id(), "rules-1+csar_2-2.0.0+csar_c_2-2.0.0");
    for card in [models.csar2.card(), models.csarc2.card()] {
        let m = &card.metrics;
        assert!(
            m.precision > 0.0 && m.recall > 0.0 && m.f1 > 0.0,
            "{}: {m:?}",
            card.name
        );
        assert!(m.false_alarm_rate <= 0.005, "{}: {m:?}", card.name);
        assert!(!card.thresholds.is_empty());
        assert_eq!(card.weights_sha256.len(), 64);
        assert_eq!(card.seed, 1);
    }
    // CSAR-2 finds most novel faults, measured at training time (2.0.0:
    // 0.907 at a threshold calibrated for 0.2 % false alarms).
    assert!(models.csar2.card().metrics.recall >= 0.8);
}

/// Sessions of a seed no training set uses.
fn held_out(kind: SessionKind, n: usize) -> Vec<data::Sample> {
    let config = SimConfig {
        sessions: n,
        seed: 987_654,
        kinds: Some(vec![kind]),
        ..SimConfig::default()
    };
    data::simulate(&config, 2).unwrap()
}

/// CSAR-2's claimed recall on novel faults is 0.81-0.90 (docs/models.md);
/// on this seed it finds 83, 87 and 79 of 100: the bound sits a few points
/// below, so a model that loses them fails here.
#[test]
fn unusual_pattern_fires_on_held_out_novel_faults() {
    let models = Models::base().unwrap();
    for fault in NovelFault::ALL {
        let samples = held_out(SessionKind::Novel(fault), 100);
        let found = samples
            .iter()
            .filter(|s| {
                let Outcome::Analyzed(a) = models.analyze(&s.readings, &s.context) else {
                    return false;
                };
                a.anomaly_score >= 0.5
                    && a.anomalies.iter().any(|x| {
                        x.category == AnomalyCategory::UnusualPattern
                            && x.detector == Detector::Csar2
                            && s.labels.iter().any(|l| l.matches(x))
                    })
            })
            .count();
        assert!(found >= 75, "{}: {found} of 100", fault.as_str());
    }
}

/// Claimed: 0.2 % false alarms; 1 in 1,000 on this seed; at most 0.3 %.
#[test]
fn held_out_clean_sessions_stay_normal() {
    let models = Models::base().unwrap();
    let samples = held_out(SessionKind::Clean, 1000);
    let alarms = samples
        .iter()
        .filter(|s| matches!(models.analyze(&s.readings, &s.context), Outcome::Analyzed(a) if a.anomaly_score >= 0.5))
        .count();
    assert!(alarms <= 3, "{alarms} false alarms in 1000");
}

/// Classifying only around the unusual buckets finds exactly the runs that
/// classifying every bucket finds there.
#[test]
fn proposals_around_buckets_match_the_full_classification() {
    let models = Models::base().unwrap();
    let mut compared = 0;
    for features in some_features(300, 4242) {
        let all = models.csarc2.propose(&features);
        let n = features.sequence_length;
        let sets: Vec<Vec<usize>> = (0..n)
            .map(|b| vec![b])
            .chain([(0..n).collect(), (0..n).step_by(3).collect(), Vec::new()])
            .collect();
        for buckets in sets {
            let expected: Vec<_> = all
                .iter()
                .filter(|p| buckets.iter().any(|b| (p.start..=p.end).contains(b)))
                .copied()
                .collect();
            compared += expected.len();
            assert_eq!(models.csarc2.propose_around(&features, &buckets), expected);
        }
    }
    assert!(compared > 100, "only {compared} proposals compared");
}

/// Sessions examined together get what each gets alone.
#[test]
fn a_batch_examines_each_session_as_alone() {
    let models = Models::base().unwrap();
    let config = SimConfig {
        novel_share: 0.3,
        ..SimConfig::new(120, 77)
    };
    let samples = data::simulate(&config, 1).unwrap();
    let sessions: Vec<_> = samples.iter().map(|s| (&s.readings[..], &s.context)).collect();
    let batch = models.examine_batch(&sessions);
    let mut flagged = 0;
    for ((readings, context), together) in sessions.iter().zip(&batch) {
        let alone = models.examine(readings, context);
        assert_eq!(together.outcome, alone.outcome);
        // As `evni eval` composes them: the rules, both models, combined.
        let rules = evni_analysis::analyze(readings, context);
        let window = evni_analysis::window::window(readings);
        let composed = match models.score(readings, context) {
            Some(scores) => evni_models::combine(rules, scores.findings(), window),
            None => rules,
        };
        assert_eq!(together.outcome, composed);
        flagged += usize::from(
            matches!(&alone.outcome, Outcome::Analyzed(a) if a.anomalies.iter().any(|x| x.detector != Detector::Rule)),
        );
    }
    assert!(flagged > 0, "no session had a model finding to compare");
}
