//! The explanation of a session, written from its facts.

use evni_domain::{AnomalyCategory, SessionStatus};

use crate::causes;
use crate::facts::{detector_name, AnomalyFacts, Detail, EnergySource, Facts, PowerSource};
use crate::format as f;

/// Times are written relative to the session's first day.
fn day(facts: &Facts) -> i64 {
    facts.start.unwrap_or(0)
}

fn t(facts: &Facts, ts: i64) -> String {
    f::time(ts, day(facts))
}

/// "from 10:00 to 10:15 UTC" or "at 10:00 UTC".
pub(crate) fn span(facts: &Facts, from: i64, to: i64) -> String {
    if from == to {
        format!("at {} UTC", t(facts, from))
    } else {
        format!("from {} to {} UTC", t(facts, from), t(facts, to))
    }
}

/// Where an anomaly sits: time and buckets.
pub(crate) fn place(facts: &Facts, a: &AnomalyFacts) -> String {
    let r = a.anomaly.bucket_range;
    let buckets = if r.start_unit == r.end_unit {
        format!("15-minute bucket {}", r.start_unit)
    } else {
        format!("15-minute buckets {}–{}", r.start_unit, r.end_unit)
    };
    let window = match facts.window_start {
        Some(t0) => format!(" of the analysed window starting {} UTC", t(facts, t0)),
        None => String::new(),
    };
    format!("{} ({buckets}{window})", span(facts, a.from_ts, a.to_ts))
}

/// The figures behind an anomaly, as one or two sentences.
pub(crate) fn figures(facts: &Facts, a: &AnomalyFacts) -> Option<String> {
    let text = match a.detail {
        Detail::RegisterDrop {
            before_kwh,
            after_kwh,
            before_ts,
            after_ts,
        } => format!(
            "The register fell from {} at {} to {} at {}, a drop of {}.",
            f::register(before_kwh),
            t(facts, before_ts),
            f::register(after_kwh),
            t(facts, after_ts),
            f::kwh(before_kwh - after_kwh)
        ),
        Detail::RegisterJump {
            from_kwh,
            to_kwh,
            from_ts,
            to_ts,
            implied_kw,
            threshold_kw,
        } => {
            let limit = match facts.rated_power_kw {
                Some(rated) => format!("1.5 × the connector's rated {}", f::kw(rated)),
                None => "the limit used when no rated power is known".to_string(),
            };
            format!(
                "The register rose from {} at {} to {} at {}: {} in {}, which implies {}, above {} ({limit}).",
                f::register(from_kwh),
                t(facts, from_ts),
                f::register(to_kwh),
                t(facts, to_ts),
                f::kwh(to_kwh - from_kwh),
                f::duration(to_ts - from_ts),
                f::kw(implied_kw),
                f::kw(threshold_kw),
            )
        }
        Detail::Zero { delivered_kwh, span } => format!(
            "Only {} was delivered over {} of readings; a session needs at least 0.1 kWh to count as a charge.",
            f::kwh(delivered_kwh),
            f::duration(span)
        ),
        Detail::Pit {
            lowest_kw,
            typical_kw,
            before_kw,
            after_kw,
        } => {
            let mut text = format!(
                "Power fell to {} against the session's typical charging power of {}",
                f::kw(lowest_kw),
                f::kw(typical_kw)
            );
            if let (Some(before), Some(after)) = (before_kw, after_kw) {
                text.push_str(&format!(
                    "; it ran at up to {} before and {} after",
                    f::kw(before),
                    f::kw(after)
                ));
            }
            text.push('.');
            text
        }
        Detail::Stopped {
            soc,
            soc_ts,
            typical_kw,
            after_kw,
        } => {
            let mut text = format!(
                "The last state of charge reported was {} at {}, yet delivery stopped from {} until the last reading at {}",
                f::soc(soc),
                t(facts, soc_ts),
                t(facts, a.from_ts),
                t(facts, a.to_ts)
            );
            if let (Some(after), Some(typical)) = (after_kw, typical_kw) {
                text.push_str(&format!(
                    ": power stayed at or below {} against a typical charging power of {}",
                    f::kw(after),
                    f::kw(typical)
                ));
            }
            text.push('.');
            text
        }
        Detail::Spike {
            peak_kw,
            peak_ts,
            typical_kw,
            rated_kw,
        } => {
            let mut text = format!("Power reached {} at {}", f::kw(peak_kw), t(facts, peak_ts));
            if let Some(typical) = typical_kw {
                text.push_str(&format!(" against a typical charging power of {}", f::kw(typical)));
            }
            if let Some(rated) = rated_kw {
                text.push_str(&format!(" and a rated power of {}", f::kw(rated)));
            }
            text.push('.');
            text
        }
        Detail::Stuck {
            register_kwh,
            span,
            mean_kw,
            soc_rise,
        } => {
            let mut text = format!(
                "The register stayed at {} for {}",
                f::register(register_kwh),
                f::duration(span)
            );
            if let Some(mean) = mean_kw {
                text.push_str(&format!(" while power averaged {}", f::kw(mean)));
            }
            if let Some(rise) = soc_rise.filter(|r| *r > 0.0) {
                text.push_str(&format!(
                    "{} the state of charge rose by {} points",
                    if mean_kw.is_some() { " and" } else { " while" },
                    f::num(rise, 1)
                ));
            }
            text.push('.');
            text
        }
        Detail::SocDrop {
            from,
            to,
            from_ts,
            to_ts,
        } => format!(
            "The state of charge fell from {} at {} to {} at {}, {} points.",
            f::soc(from),
            t(facts, from_ts),
            f::soc(to),
            t(facts, to_ts),
            f::num(from - to, 1)
        ),
        Detail::Gap {
            from_ts,
            to_ts,
            median_interval,
        } => {
            let mut text = format!(
                "No meter value arrived for {}, from {} to {}",
                f::duration(to_ts - from_ts),
                t(facts, from_ts),
                t(facts, to_ts)
            );
            if median_interval > 0 {
                text.push_str(&format!(
                    ", while the charger otherwise reported every {}",
                    f::duration(median_interval)
                ));
            }
            text.push('.');
            text
        }
        Detail::None => return None,
    };
    Some(text)
}

/// How often the category shows at the station.
pub(crate) fn station_counts(facts: &Facts, category: AnomalyCategory) -> Option<String> {
    let s = facts.station_for(category)?;
    let mut text = format!(
        "At this station {category} has been found in {} so far, this one included",
        f::count(s.station_sessions, "session", "sessions")
    );
    if let (Some(n), Some(connector)) = (s.connector_sessions, facts.connector_id.as_deref()) {
        text.push_str(&format!(" ({n} on connector {connector})"));
    }
    if facts.station_sessions > 0 {
        text.push_str(&format!(
            ", out of {} recorded there",
            f::count(facts.station_sessions, "session", "sessions")
        ));
    }
    text.push('.');
    Some(text)
}

pub(crate) fn recurrence(facts: &Facts) -> Option<&'static str> {
    match facts.is_recurring? {
        true => Some(
            "This recurs at this station: the same kind of anomaly was found in at least 2 other sessions \
             there in the 30 days before this one, so look at the charger rather than at this one session.",
        ),
        false if !facts.anomalies.is_empty() => Some(
            "It does not recur at this station: fewer than 2 other sessions there showed the same kind of \
             anomaly in the previous 30 days.",
        ),
        false => None,
    }
}

/// "anomaly score 0.87, confidence 0.92".
fn scores(facts: &Facts) -> String {
    let mut parts = Vec::new();
    if let Some(score) = facts.anomaly_score {
        parts.push(format!("anomaly score {}", f::score(score)));
    }
    if let Some(confidence) = facts.anomaly_confidence {
        parts.push(format!("confidence {}", f::score(confidence)));
    }
    parts.join(", ")
}

pub(crate) fn energy_sentence(facts: &Facts) -> Option<String> {
    let e = facts.energy?;
    let source = match (e.source, e.register_first_kwh, e.register_last_kwh) {
        (EnergySource::Register, Some(first), Some(last)) => format!(
            "by the energy register, which went from {} to {}",
            f::register(first),
            f::register(last)
        ),
        (EnergySource::Register, _, _) => "by the energy register".to_string(),
        (EnergySource::Power, _, _) => "by the reported power integrated over time".to_string(),
    };
    Some(format!("{} was delivered ({source}).", f::kwh(e.delivered_kwh)))
}

pub(crate) fn peak_sentence(facts: &Facts) -> Option<String> {
    let p = facts.power?;
    let source = match p.source {
        PowerSource::Reported => "reported power",
        PowerSource::CurrentVoltage => "current × voltage",
        PowerSource::Register => "the fastest rise of the energy register",
    };
    Some(format!(
        "Peak power was {} at {} UTC ({source}).",
        f::kw(p.peak_kw),
        t(facts, p.peak_ts)
    ))
}

pub(crate) fn average_sentence(facts: &Facts) -> Option<String> {
    let p = facts.power?;
    let mut text = String::new();
    if let (Some(avg), Some(duration)) = (p.average_kw, facts.duration()) {
        text.push_str(&format!(
            "Average power was {} over the whole session ({} in {}).",
            f::kw(avg),
            f::kwh(facts.energy?.delivered_kwh),
            f::duration(duration)
        ));
    }
    if let Some(typical) = p.typical_kw {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!(
            "The typical charging power while charging was {}.",
            f::kw(typical)
        ));
    }
    (!text.is_empty()).then_some(text)
}

pub(crate) fn soc_sentence(facts: &Facts) -> Option<String> {
    let s = facts.soc?;
    Some(format!(
        "The state of charge went from {} at {} to {} at {} UTC.",
        f::soc(s.first),
        t(facts, s.first_ts),
        f::soc(s.last),
        t(facts, s.last_ts)
    ))
}

pub(crate) fn duration_sentence(facts: &Facts) -> Option<String> {
    let (start, end) = (facts.start?, facts.end?);
    Some(format!(
        "The session ran on {} from {} to {} UTC ({}, {} meter values).",
        f::date(start),
        t(facts, start),
        t(facts, end),
        f::duration(end - start),
        facts.reading_count
    ))
}

pub(crate) fn stop_sentence(facts: &Facts) -> Option<String> {
    let c = facts.charging?;
    let end = facts.end?;
    let how = if c.from_power {
        "power"
    } else {
        "the energy register"
    };
    Some(if c.last_flow >= end {
        format!(
            "Energy was still flowing at the last reading, {} UTC ({how}); charging had started at {}.",
            t(facts, end),
            t(facts, c.first_flow)
        )
    } else {
        let reading = if c.from_power {
            "power reading"
        } else {
            "energy register reading"
        };
        let (next, idle_from) = match c.stopped_by {
            Some(next) => (
                format!("; the next one, at {}, showed none", t(facts, next)),
                next,
            ),
            None => (String::new(), c.last_flow),
        };
        format!(
            "Charging started at {} and stopped at {} UTC (the last {reading} showing energy flowing{next}). \
             The session then stayed without delivery until {} ({} idle).",
            t(facts, c.first_flow),
            t(facts, c.last_flow),
            t(facts, end),
            f::duration(end - idle_from)
        )
    })
}

/// The key facts of the session in a few sentences.
pub(crate) fn summary(facts: &Facts) -> String {
    [
        duration_sentence(facts),
        energy_sentence(facts),
        peak_sentence(facts),
        soc_sentence(facts),
        stop_sentence(facts),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
}

/// One anomaly: what, where, how much, why and what next.
pub(crate) fn anomaly_paragraph(facts: &Facts, a: &AnomalyFacts) -> String {
    let category = a.anomaly.category;
    let mut text = format!(
        "{category} {}: {} (score {}, confidence {}, found by {}).",
        place(facts, a),
        causes::meaning(category),
        f::score(a.anomaly.score),
        f::score(a.anomaly.confidence),
        detector_name(a.anomaly.detector)
    );
    if let Some(figures) = figures(facts, a) {
        text.push(' ');
        text.push_str(&figures);
    }
    text.push_str(&format!(
        " Likely causes to check: {}.",
        join_or(causes::causes(category))
    ));
    text.push_str(&format!(" Next step: {}.", causes::next_step(category)));
    if let Some(counts) = station_counts(facts, category) {
        text.push(' ');
        text.push_str(&counts);
    }
    text
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{}, or {last}", rest.join("; ")),
    }
}

/// The explanation of a session: grounded, deterministic.
pub fn explanation(facts: &Facts) -> String {
    let not_analysed = match facts.status {
        SessionStatus::Pending => Some(format!(
            "This session has not been analysed yet: it holds {} meter value(s) and analysis starts at 3.",
            facts.reading_count
        )),
        SessionStatus::Failed => Some(format!(
            "This session could not be analysed: {}.",
            facts.status_reason.as_deref().unwrap_or("no usable measurand")
        )),
        SessionStatus::Active => None,
    };
    if let Some(head) = not_analysed {
        return format!("{head} {}", summary(facts)).trim_end().to_string();
    }
    let mut paragraphs = Vec::new();
    if facts.anomalies.is_empty() {
        paragraphs.push(format!(
            "No anomaly was detected in this session ({}). {} Nothing needs to be done.",
            scores(facts),
            summary(facts)
        ));
        return paragraphs.join("\n\n");
    }
    let list: Vec<String> = facts
        .by_severity()
        .iter()
        .map(|a| a.anomaly.category.to_string())
        .collect();
    let mut headline = if facts.is_anomaly == Some(true) {
        format!(
            "This session was flagged as anomalous ({}) with {}: {}.",
            scores(facts),
            f::count(facts.anomalies.len() as u64, "finding", "findings"),
            list.join(", ")
        )
    } else {
        format!(
            "This session is not flagged as anomalous ({}, below the alert threshold), but the analysis noted {}: {}.",
            scores(facts),
            f::count(facts.anomalies.len() as u64, "finding", "findings"),
            list.join(", ")
        )
    };
    if facts.is_incident == Some(true) {
        headline.push_str(
            " It is an incident: billing-critical with high confidence, or confirmed by an operator.",
        );
    }
    if facts.windowed {
        headline.push_str(" The session is longer than 6 h; only its last 6 h were analysed.");
    }
    paragraphs.push(headline);
    for a in facts.by_severity() {
        paragraphs.push(anomaly_paragraph(facts, a));
    }
    if let Some(recurrence) = recurrence(facts) {
        paragraphs.push(recurrence.to_string());
    }
    paragraphs.push(format!("Session facts: {}", summary(facts)));
    paragraphs.join("\n\n")
}

/// The grounded facts as short lines: what an LLM may use, and nothing
/// else. No identifiers of the tenant, station or session.
pub fn fact_lines(facts: &Facts) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(format!("Analysis status: {}.", facts.status.as_str()));
    if let Some(reason) = &facts.status_reason {
        lines.push(format!("Why the analysis failed: {reason}."));
    }
    lines.extend(
        [
            duration_sentence(facts),
            energy_sentence(facts),
            peak_sentence(facts),
            average_sentence(facts),
            soc_sentence(facts),
            stop_sentence(facts),
        ]
        .into_iter()
        .flatten(),
    );
    if facts.status == SessionStatus::Active {
        lines.push(format!(
            "Verdict: {} ({}).",
            if facts.is_anomaly == Some(true) {
                "anomalous"
            } else {
                "not anomalous"
            },
            scores(facts)
        ));
    }
    if facts.is_incident == Some(true) {
        lines.push("The session is an incident.".into());
    }
    for a in facts.by_severity() {
        lines.push(format!(
            "Anomaly {} {}: {} (score {}, confidence {}).",
            a.anomaly.category,
            place(facts, a),
            causes::meaning(a.anomaly.category),
            f::score(a.anomaly.score),
            f::score(a.anomaly.confidence)
        ));
        lines.extend(figures(facts, a));
        lines.push(format!(
            "Causes to check for {}: {}.",
            a.anomaly.category,
            join_or(causes::causes(a.anomaly.category))
        ));
        lines.push(format!(
            "Next step for {}: {}.",
            a.anomaly.category,
            causes::next_step(a.anomaly.category)
        ));
        lines.extend(station_counts(facts, a.anomaly.category));
    }
    lines.extend(recurrence(facts).map(str::to_owned));
    lines
}
