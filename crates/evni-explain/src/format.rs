//! How numbers and times are written: rounded for reading, never made up.

use chrono::{DateTime, Utc};
use evni_domain::{micros_to_datetime, Micros, MICROS_PER_MINUTE, MICROS_PER_SECOND};

/// `value` with at most `decimals` decimals, trailing zeros dropped.
pub fn num(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

/// Energy in kWh: two decimals, three below 1 kWh.
pub fn kwh(value: f64) -> String {
    let decimals = if value.abs() < 1.0 { 3 } else { 2 };
    format!("{} kWh", num(value, decimals))
}

/// A register reading in kWh: Wh resolution.
pub fn register(value: f64) -> String {
    format!("{} kWh", num(value, 3))
}

/// Power in kW: one decimal from 10 kW, two below.
pub fn kw(value: f64) -> String {
    let decimals = if value.abs() < 10.0 { 2 } else { 1 };
    format!("{} kW", num(value, decimals))
}

/// State of charge in percent.
pub fn soc(value: f64) -> String {
    format!("{}%", num(value, 1))
}

/// 0..1 scores with two decimals.
pub fn score(value: f64) -> String {
    num(value, 2)
}

pub fn datetime(ts: Micros) -> DateTime<Utc> {
    micros_to_datetime(ts)
}

/// `HH:MM` (or `HH:MM:SS` when the seconds matter) in UTC, with the date in
/// front when it is not the day of `day_of`.
pub fn time(ts: Micros, day_of: Micros) -> String {
    let t = datetime(ts);
    let clock = if ts % MICROS_PER_MINUTE == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    };
    if t.date_naive() == datetime(day_of).date_naive() {
        clock
    } else {
        format!("{} {clock}", t.format("%Y-%m-%d"))
    }
}

/// `2026-02-27`.
pub fn date(ts: Micros) -> String {
    datetime(ts).format("%Y-%m-%d").to_string()
}

/// `1 h 5 min`, `45 min`, `30 s`.
pub fn duration(micros: Micros) -> String {
    let seconds = (micros.max(0) + MICROS_PER_SECOND / 2) / MICROS_PER_SECOND;
    if seconds < 60 {
        return format!("{seconds} s");
    }
    let minutes = (seconds + 30) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// "1 session", "3 sessions".
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_rounded_not_padded() {
        assert_eq!(num(11.000000001, 2), "11");
        assert_eq!(num(5.5, 2), "5.5");
        assert_eq!(num(-0.0001, 2), "0");
        assert_eq!(kwh(0.0504), "0.05 kWh");
        assert_eq!(kwh(11.183333), "11.18 kWh");
        assert_eq!(kw(7.0), "7 kW");
        assert_eq!(kw(150.04), "150 kW");
        assert_eq!(register(48213.7), "48213.7 kWh");
    }

    #[test]
    fn durations_and_times() {
        assert_eq!(duration(61 * MICROS_PER_MINUTE), "1 h 1 min");
        assert_eq!(duration(45 * MICROS_PER_MINUTE), "45 min");
        assert_eq!(duration(120 * MICROS_PER_MINUTE), "2 h");
        assert_eq!(duration(30 * MICROS_PER_SECOND), "30 s");
        let t0 = 1_772_186_400 * MICROS_PER_SECOND; // 2026-02-27T10:00:00Z
        assert_eq!(time(t0 + 15 * MICROS_PER_MINUTE, t0), "10:15");
        assert_eq!(time(t0 + 30 * MICROS_PER_SECOND, t0), "10:00:30");
        assert_eq!(time(t0 + 14 * 60 * MICROS_PER_MINUTE, t0), "2026-02-28 00:00");
    }
}
