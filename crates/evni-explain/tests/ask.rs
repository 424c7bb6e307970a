//! Ask: questions answered with the session's own numbers, and honest
//! refusals for what the data does not hold.

mod support;

use support::*;

/// 11 kW for an hour from 35 % SoC (+1 point a minute), then 29 minutes
/// idle at 95 %: a normal session of 1 h 29 min.
fn charged() -> Case {
    let mut readings = profile(90, |m| if m < 60 { 11.0 } else { 0.0 });
    readings.extend((0..90).map(|m| soc(m, 35.0 + m.min(60) as f64)));
    let case = Case::new(readings);
    assert!(case.verdict.anomalies.is_empty(), "{:?}", case.verdict.anomalies);
    case
}

#[track_caller]
fn answers(case: &Case, question: &str, needles: &[&str]) {
    let answer = case.ask(question);
    assert!(answer.answered, "{question}: {}", answer.text);
    assert_has(&answer.text, needles);
}

#[test]
fn questions_get_the_sessions_numbers() {
    let case = charged();
    answers(&case, "How much energy was delivered?", &["11 kWh was delivered"]);
    answers(&case, "how many kWh did I get?", &["11 kWh"]);
    answers(
        &case,
        "How long did the session last?",
        &["1 h 29 min", "10:00 to 11:29 UTC"],
    );
    answers(
        &case,
        "What was the peak power?",
        &["Peak power was 11 kW at 10:00 UTC"],
    );
    // 11 kWh over 89 min.
    answers(
        &case,
        "What was the average power?",
        &[
            "Average power was 7.42 kW over the whole session",
            "typical charging power while charging was 11 kW",
        ],
    );
    answers(&case, "What was the SoC at the start?", &["35%"]);
    answers(
        &case,
        "What was the state of charge at the end?",
        &["95%", "11:29"],
    );
    answers(
        &case,
        "When did charging stop?",
        &[
            "stopped at 10:59 UTC",
            "the next one, at 11:00, showed none",
            "29 min idle",
        ],
    );
    answers(&case, "Why was this session flagged?", &["Nothing was flagged"]);
    answers(&case, "Does this happen often at this station?", &["no anomaly"]);
    answers(&case, "Is this an incident?", &["not an incident"]);
    answers(
        &case,
        "Energy and peak power?",
        &["11 kWh", "Peak power was 11 kW"],
    );
}

#[test]
fn anomalies_are_explained_by_category() {
    let mut readings: Vec<_> = (0..=60)
        .map(|m| kwh(m, 48213.7 + 11.0 * m as f64 / 60.0))
        .collect();
    readings.push(kwh(61, 48213.7 + 9.0));
    let mut case = Case::new(readings);
    case.station = vec![connector("1", 6, &[("KWH_DECREASE", 3)])];
    answers(
        &case,
        "Why was it flagged?",
        &[
            "KWH_DECREASE was flagged from 11:00 to 11:01 UTC",
            "a drop of 2 kWh",
        ],
    );
    answers(&case, "Was there a data gap?", &["No DATA_GAP"]);
    answers(
        &case,
        "Does the station show this often?",
        &["found in 3 sessions so far", "does not recur"],
    );
    answers(
        &case,
        "How much energy was delivered?",
        &[
            "11 kWh was delivered",
            "net change is 9 kWh",
            "unreliable for billing",
        ],
    );
}

#[test]
fn what_the_data_cannot_tell_is_declined_honestly() {
    let case = charged();
    for question in [
        "How much did this session cost?",
        "Who was the driver?",
        "What car model was charging?",
        "Tell me a joke",
    ] {
        let answer = case.ask(question);
        assert!(!answer.answered, "{question}: {}", answer.text);
        assert_has(&answer.text, &["I can't tell", "11 kWh"]);
    }
    // Part of a question can still be answered.
    let answer = case.ask("How much energy did I get and what did it cost?");
    assert!(!answer.answered);
    assert_has(
        &answer.text,
        &[
            "I can't tell what the session cost",
            "What the data does show: 11 kWh was delivered",
        ],
    );
}

#[test]
fn soc_questions_without_soc_are_declined() {
    let case = Case::new(profile(30, |_| 11.0));
    let answer = case.ask("What was the SoC at the end?");
    assert_has(&answer.text, &["I can't tell the state of charge"]);
}
