//! Answers to questions about one session. Intents are matched by keywords,
//! so the same question always gets the same answer; a question the data
//! cannot answer gets an honest "I can't tell" and what can be told instead.

use evni_domain::{AnomalyCategory, SessionStatus};

use crate::causes;
use crate::explain::{
    average_sentence, duration_sentence, energy_sentence, explanation, figures, peak_sentence, place,
    recurrence, soc_sentence, station_counts, stop_sentence, summary,
};
use crate::facts::Facts;
use crate::format as f;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Energy,
    Duration,
    AveragePower,
    PeakPower,
    SocStart,
    SocEnd,
    Soc,
    ChargingTimes,
    Why,
    Recurring,
    Incident,
    Score,
    Readings,
}

/// Topics no meter value speaks about, and how to say so.
const OUT_OF_DATA: &[(&[&str], &str)] = &[
    (
        &[
            "cost",
            "price",
            "tariff",
            "pay",
            "paid",
            "money",
            "euro",
            "eur",
            "€",
            "$",
            "fee",
            "expensive",
            "cheap",
        ],
        "what the session cost: no tariff or price is stored with it",
    ),
    (
        &["driver", "customer", "who", "user", "owner", "rfid", "card"],
        "who charged: the session holds no driver or card identity",
    ),
    (
        &[
            "model",
            "brand",
            "make",
            "tesla",
            "manufacturer",
            "which car",
            "what car",
            "vehicle type",
        ],
        "which vehicle it was: the session holds no vehicle make or model",
    ),
    (&["weather", "rain", "outside temperature"], "the weather"),
    (
        &[
            "address",
            "located",
            "city",
            "where is the charger",
            "where is the station",
        ],
        "where the charger is: the session holds no address",
    ),
    (
        &["capacity", "range", "km", "miles"],
        "the battery's capacity or the driving range",
    ),
];

/// Categories named in everyday words.
const CATEGORY_WORDS: &[(AnomalyCategory, &[&str])] = &[
    (
        AnomalyCategory::KwhDecrease,
        &[
            "kwh_decrease",
            "register went down",
            "register decrease",
            "register drop",
            "meter went down",
            "decrease",
        ],
    ),
    (AnomalyCategory::EnergyJump, &["energy_jump", "jump"]),
    (
        AnomalyCategory::ZeroSession,
        &["zero_session", "zero", "nothing delivered", "no energy"],
    ),
    (
        AnomalyCategory::EnergyPit,
        &["energy_pit", "pit", "drop out", "dropout", "dropped out"],
    ),
    (
        AnomalyCategory::ChargingExpected,
        &["charging_expected", "stopped early", "stop early", "ended early"],
    ),
    (AnomalyCategory::PowerSpike, &["power_spike", "spike"]),
    (
        AnomalyCategory::MeterStuck,
        &["meter_stuck", "stuck", "frozen", "freeze"],
    ),
    (
        AnomalyCategory::SocDecrease,
        &[
            "soc_decrease",
            "soc drop",
            "soc fell",
            "soc decrease",
            "soc go down",
            "soc went down",
        ],
    ),
    (
        AnomalyCategory::DataGap,
        &["data_gap", "gap", "missing data", "no data"],
    ),
    (AnomalyCategory::UnusualPattern, &["unusual_pattern", "unusual"]),
];

struct Question {
    text: String,
    words: Vec<String>,
}

impl Question {
    fn new(raw: &str) -> Self {
        let text = raw.to_lowercase();
        let words = text
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '€' || c == '$'))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        Self { text, words }
    }

    /// A whole word, or a phrase / stem anywhere when it has a space, an
    /// underscore or is long enough not to hide inside other words.
    fn has(&self, needle: &str) -> bool {
        if needle.contains(' ') || needle.len() >= 6 || !needle.chars().all(char::is_alphanumeric) {
            self.text.contains(needle)
        } else {
            self.words.iter().any(|w| w == needle)
        }
    }

    fn any(&self, needles: &[&str]) -> bool {
        needles.iter().any(|n| self.has(n))
    }

    fn starts_any(&self, stems: &[&str]) -> bool {
        self.words.iter().any(|w| stems.iter().any(|s| w.starts_with(s)))
    }
}

fn intents(q: &Question) -> Vec<Intent> {
    let mut out = Vec::new();
    let soc = q.any(&["soc", "state of charge", "battery", "percent", "%"]);
    let power = q.any(&["power", "kw", "rate", "fast", "speed"]);
    let average = q.any(&["average", "mean", "avg"]);
    let peak = q.any(&["peak", "max", "maximum", "highest", "top", "fastest"]);
    if q.starts_any(&["energy", "kwh", "deliver", "consum"])
        || q.has("how much") && q.starts_any(&["charg", "get", "got"])
    {
        out.push(Intent::Energy);
    }
    if q.any(&[
        "how long", "duration", "length", "minutes", "hours", "last for", "lasted",
    ]) {
        out.push(Intent::Duration);
    }
    if average && (power || !soc) {
        out.push(Intent::AveragePower);
    }
    if peak && (power || !soc) {
        out.push(Intent::PeakPower);
    }
    if power && !average && !peak && !q.has("power_spike") && !q.has("spike") {
        out.push(Intent::AveragePower);
        out.push(Intent::PeakPower);
    }
    if soc {
        let start = q.any(&[
            "start",
            "begin",
            "beginning",
            "initial",
            "began",
            "plugged",
            "arrived",
        ]);
        let end = q.any(&[
            "end",
            "final",
            "finish",
            "finished",
            "last",
            "left",
            "unplugged",
            "ended",
        ]);
        out.push(match (start, end) {
            (true, false) => Intent::SocStart,
            (false, true) => Intent::SocEnd,
            _ => Intent::Soc,
        });
    }
    let charging_times = q.starts_any(&["stop", "finish", "ended"])
        || (q.has("when") && q.any(&["start", "started", "begin", "began", "end", "charging"]) && !soc);
    if charging_times {
        out.push(Intent::ChargingTimes);
    }
    if q.any(&[
        "why", "anomal", "flag", "wrong", "problem", "issue", "cause", "explain", "happened", "normal", "ok",
        "fine", "alert", "error", "fault",
    ]) || CATEGORY_WORDS.iter().any(|(_, words)| q.any(words))
    {
        out.push(Intent::Why);
    }
    if q.any(&[
        "often",
        "recur",
        "again",
        "before",
        "other sessions",
        "frequent",
        "repeat",
        "how many times",
        "common",
        "usual for",
        "station",
    ]) {
        out.push(Intent::Recurring);
    }
    if q.any(&["incident", "bill", "billing", "invoice"]) {
        out.push(Intent::Incident);
    }
    if q.any(&["score", "confidence", "sure", "severe", "severity", "certain"]) {
        out.push(Intent::Score);
    }
    if q.any(&["meter values", "readings", "samples", "sampling", "measurand"]) {
        out.push(Intent::Readings);
    }
    out.dedup();
    out
}

/// Categories the question names.
fn named_categories(q: &Question) -> Vec<AnomalyCategory> {
    CATEGORY_WORDS
        .iter()
        .filter(|(_, words)| q.any(words))
        .map(|(c, _)| *c)
        .collect()
}

/// An answer and whether the data answered the question.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    /// False when the question was (partly) beyond the session's data.
    pub answered: bool,
}

pub fn answer(facts: &Facts, question: &str) -> Answer {
    let q = Question::new(question);
    let unknown: Vec<&str> = OUT_OF_DATA
        .iter()
        .filter(|(words, _)| q.any(words))
        .map(|(_, what)| *what)
        .collect();
    let mut intents = intents(&q);
    if !unknown.is_empty() {
        // "How much did the energy cost?" is about cost, not the session's
        // problems; keep the data intents that still make sense.
        intents.retain(|i| !matches!(i, Intent::Why | Intent::Recurring | Intent::Incident));
    }
    let parts: Vec<String> = intents.iter().filter_map(|i| part(facts, *i, &q)).collect();
    if unknown.is_empty() && !parts.is_empty() {
        return Answer {
            text: parts.join(" "),
            answered: true,
        };
    }
    let mut text = if unknown.is_empty() {
        "I can't tell from this session's data: the question is about something its meter values and verdict do not cover.".to_string()
    } else {
        format!("I can't tell {} from this session's data.", unknown.join(", or "))
    };
    if parts.is_empty() {
        let known = summary(facts);
        if !known.is_empty() {
            text.push_str(&format!(" What I can tell: {known}"));
        }
        text.push_str(
            " You can ask about the energy delivered, the duration, average or peak power, the state of charge \
             at the start or end, when charging stopped, why the session was flagged and whether that recurs at this station.",
        );
    } else {
        text.push_str(&format!(" What the data does show: {}", parts.join(" ")));
    }
    Answer {
        text,
        answered: false,
    }
}

fn part(facts: &Facts, intent: Intent, q: &Question) -> Option<String> {
    match intent {
        Intent::Energy => Some(energy_answer(facts)),
        Intent::Duration => Some(duration_sentence(facts).unwrap_or_else(|| "The session holds no meter values yet.".into())),
        Intent::AveragePower => Some(average_sentence(facts).unwrap_or_else(|| {
            "I can't tell the average power: the session has no energy or power readings to compute it from.".into()
        })),
        Intent::PeakPower => Some(peak_sentence(facts).unwrap_or_else(|| {
            "I can't tell the peak power: the session has no power readings and too few energy readings.".into()
        })),
        Intent::SocStart | Intent::SocEnd | Intent::Soc => Some(soc_answer(facts, intent)),
        Intent::ChargingTimes => Some(stop_sentence(facts).unwrap_or_else(|| {
            "I can't tell when charging started or stopped: no reading of this session shows energy flowing.".into()
        })),
        Intent::Why => Some(why_answer(facts, q)),
        Intent::Recurring => Some(recurring_answer(facts)),
        Intent::Incident => Some(incident_answer(facts)),
        Intent::Score => Some(score_answer(facts)),
        Intent::Readings => Some(readings_answer(facts)),
    }
}

fn energy_answer(facts: &Facts) -> String {
    let Some(mut text) = energy_sentence(facts) else {
        return "I can't tell how much energy was delivered: the session has no energy register or power readings.".into();
    };
    let unreliable: Vec<String> = facts
        .anomalies
        .iter()
        .map(|a| a.anomaly.category)
        .filter(|c| {
            matches!(
                c,
                AnomalyCategory::KwhDecrease | AnomalyCategory::EnergyJump | AnomalyCategory::MeterStuck
            )
        })
        .map(|c| c.to_string())
        .collect();
    if let (false, Some(e)) = (unreliable.is_empty(), facts.energy) {
        if let (Some(first), Some(last)) = (e.register_first_kwh, e.register_last_kwh) {
            text.push_str(&format!(
                " The register's net change is {}; the {} found in this session makes the register unreliable for billing.",
                f::kwh(last - first),
                unreliable.join(" and ")
            ));
        }
    }
    text
}

fn soc_answer(facts: &Facts, intent: Intent) -> String {
    let Some(s) = facts.soc else {
        return "I can't tell the state of charge: the charger reported no SoC for this session.".into();
    };
    let day = facts.start.unwrap_or(0);
    match intent {
        Intent::SocStart => format!(
            "The state of charge at the start was {} (first SoC reading, {} UTC).",
            f::soc(s.first),
            f::time(s.first_ts, day)
        ),
        Intent::SocEnd => format!(
            "The state of charge at the end was {} (last SoC reading, {} UTC).",
            f::soc(s.last),
            f::time(s.last_ts, day)
        ),
        _ => soc_sentence(facts).unwrap_or_default(),
    }
}

fn why_answer(facts: &Facts, q: &Question) -> String {
    match facts.status {
        SessionStatus::Pending | SessionStatus::Failed => return explanation(facts),
        SessionStatus::Active => {}
    }
    let named = named_categories(q);
    let mut parts = Vec::new();
    for category in &named {
        if !facts.anomalies.iter().any(|a| a.anomaly.category == *category) {
            parts.push(format!(
                "No {category} ({}) was found in this session.",
                causes::label(*category)
            ));
        }
    }
    let chosen: Vec<_> = facts
        .by_severity()
        .into_iter()
        .filter(|a| named.is_empty() || named.contains(&a.anomaly.category))
        .collect();
    if facts.anomalies.is_empty() {
        parts.push(format!(
            "Nothing was flagged: no anomaly was detected{}.",
            facts
                .anomaly_score
                .map(|s| format!(" (anomaly score {})", f::score(s)))
                .unwrap_or_default()
        ));
    }
    for a in chosen {
        let category = a.anomaly.category;
        let mut text = format!(
            "{category} was flagged {} because {}.",
            place(facts, a),
            causes::meaning(category)
        );
        if let Some(figures) = figures(facts, a) {
            text.push(' ');
            text.push_str(&figures);
        }
        text.push_str(&format!(
            " Usual causes: {}.",
            causes::causes(category).join("; ")
        ));
        parts.push(text);
    }
    parts.join(" ")
}

fn recurring_answer(facts: &Facts) -> String {
    if facts.status != SessionStatus::Active {
        return "I can't tell yet: the session has not been analysed.".into();
    }
    if facts.anomalies.is_empty() {
        let mut text = "This session has no anomaly, so there is nothing to recur.".to_string();
        if facts.station_sessions > 0 {
            text.push_str(&format!(
                " Its station has {} recorded, {} of them anomalous.",
                f::count(facts.station_sessions, "session", "sessions"),
                facts.station_anomalous_sessions
            ));
        }
        return text;
    }
    let mut parts: Vec<String> = facts
        .anomalies
        .iter()
        .map(|a| a.anomaly.category)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter_map(|c| station_counts(facts, c))
        .collect();
    if let Some(r) = recurrence(facts) {
        parts.push(r.to_string());
    }
    if parts.is_empty() {
        "I can't tell: the station's history is not available for this session.".into()
    } else {
        parts.join(" ")
    }
}

fn incident_answer(facts: &Facts) -> String {
    match facts.is_incident {
        Some(true) => "Yes, this session is an incident: a billing-critical anomaly (KWH_DECREASE, ENERGY_JUMP or METER_STUCK) \
                       found with confidence of at least 0.9, or one confirmed by an operator."
            .into(),
        Some(false) => {
            let critical: Vec<String> = facts
                .anomalies
                .iter()
                .filter(|a| a.anomaly.category.is_billing_critical())
                .map(|a| format!("{} (confidence {})", a.anomaly.category, f::score(a.anomaly.confidence)))
                .collect();
            if critical.is_empty() {
                "No, this session is not an incident, and none of its findings puts the bill at risk.".into()
            } else {
                format!(
                    "No, this session is not confirmed as an incident, but {} can put the bill at risk: check it before billing.",
                    critical.join(", ")
                )
            }
        }
        None => "I can't tell yet: the session has not been analysed.".into(),
    }
}

fn score_answer(facts: &Facts) -> String {
    match (facts.anomaly_score, facts.anomaly_confidence) {
        (Some(score), Some(confidence)) => format!(
            "The anomaly score is {} (0 = normal, 1 = clearly anomalous) with confidence {}; the session is {}.",
            f::score(score),
            f::score(confidence),
            if facts.is_anomaly == Some(true) {
                "flagged as anomalous"
            } else {
                "not flagged"
            }
        ),
        _ => "I can't tell: the session has not been analysed, so it has no score yet.".into(),
    }
}

fn readings_answer(facts: &Facts) -> String {
    let names: Vec<&str> = facts.measurands.iter().map(|m| m.as_str()).collect();
    format!(
        "The session holds {} meter values ({}).",
        facts.reading_count,
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )
}
