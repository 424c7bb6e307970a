//! Each fault shows its physical property at the labelled buckets, checked
//! on the JSON output alone.

mod support;

use support::{median, of_kind, Line};

fn id(line: &Line) -> String {
    line.json["request"]["session_id"].to_string()
}

fn in_label(line: &Line, t: i64) -> bool {
    let (start, end) = line.label();
    t >= line.t0 && (start..=end).contains(&line.bucket(t))
}

/// Consecutive register readings inside the window: (t_a, e_a, t_b, e_b).
fn steps(line: &Line) -> Vec<(i64, f64, i64, f64)> {
    line.in_window(&line.energy)
        .windows(2)
        .map(|p| (p[0].0, p[0].1, p[1].0, p[1].1))
        .collect()
}

/// The session's charging level: the 90th percentile of positive power
/// readings, or of the register's rate where power is not reported.
fn level_kw(line: &Line) -> f64 {
    let mut kw: Vec<f64> = if line.power.is_empty() {
        steps(line)
            .iter()
            .map(|(ta, ea, tb, eb)| (eb - ea) / ((tb - ta) as f64 / 3600.0))
            .collect()
    } else {
        line.in_window(&line.power).iter().map(|p| p.1).collect()
    };
    kw.retain(|k| *k > 0.05 && *k < 2.0 * line.rated_kw);
    kw.sort_by(f64::total_cmp);
    kw[(kw.len() * 9 / 10).min(kw.len() - 1)]
}

/// Bucket power as analysis.md defines it: mean of the power readings in the
/// bucket, else the register's rate over the steps ending in the bucket.
fn bucket_kw(line: &Line, bucket: u32) -> Option<f64> {
    if !line.power.is_empty() {
        let kw: Vec<f64> = line
            .in_window(&line.power)
            .iter()
            .filter(|p| line.bucket(p.0) == bucket)
            .map(|p| p.1)
            .collect();
        return (!kw.is_empty()).then(|| kw.iter().sum::<f64>() / kw.len() as f64);
    }
    let (kwh, hours) = steps(line)
        .iter()
        .filter(|s| line.bucket(s.2) == bucket)
        .fold((0.0, 0.0), |(e, h), (ta, ea, tb, eb)| {
            (e + eb - ea, h + (tb - ta) as f64 / 3600.0)
        });
    (hours > 0.0).then(|| kwh / hours)
}

#[test]
fn kwh_decrease_register_drops_in_the_labelled_bucket() {
    for line in of_kind("KWH_DECREASE") {
        let drops = steps(line)
            .into_iter()
            .filter(|(_, ea, tb, eb)| *eb < ea - 0.001 && in_label(line, *tb));
        assert!(drops.count() >= 1, "{}", id(line));
    }
}

#[test]
fn energy_jump_implies_impossible_power_in_the_labelled_bucket() {
    for line in of_kind("ENERGY_JUMP") {
        let limit = f64::max(400.0, 1.5 * line.rated_kw);
        let jumps = steps(line).into_iter().filter(|(ta, ea, tb, eb)| {
            (eb - ea) / ((tb - ta) as f64 / 3600.0) > limit && in_label(line, *tb)
        });
        assert_eq!(jumps.count(), 1, "{}", id(line));
    }
}

#[test]
fn zero_sessions_deliver_nothing_over_the_whole_window() {
    for line in of_kind("ZERO_SESSION") {
        let energy = line.in_window(&line.energy);
        assert!(energy.last().unwrap().1 - energy[0].1 < 0.1, "{}", id(line));
        assert!(line.last - line.t0 >= 600);
        assert_eq!(line.label(), (0, line.bucket(line.last)));
    }
}

#[test]
fn energy_pit_drops_below_a_tenth_of_plateau_and_recovers() {
    for line in of_kind("ENERGY_PIT") {
        let level = level_kw(line);
        let (start, end) = line.label();
        let kw = |b| bucket_kw(line, b);
        assert!(
            (start..=end).any(|b| kw(b).is_some_and(|p| p < 0.1 * level)),
            "{}: no pit",
            id(line)
        );
        assert!(
            (0..start).any(|b| kw(b).is_some_and(|p| p >= 0.5 * level)),
            "{}: nothing before",
            id(line)
        );
        let after = end + 1..=line.bucket(line.last);
        assert!(
            after.into_iter().any(|b| kw(b).is_some_and(|p| p >= 0.5 * level)),
            "{}: no recovery",
            id(line)
        );
    }
}

#[test]
fn charging_expected_stops_for_good_with_low_soc() {
    for line in of_kind("CHARGING_EXPECTED") {
        let level = level_kw(line);
        let (start, end) = line.label();
        assert_eq!(end, line.bucket(line.last), "{}", id(line));
        assert!(end > start, "{}: at least two buckets", id(line));
        assert!(line.soc.last().unwrap().1 < 80.0);
        for b in [end - 1, end] {
            assert!(
                bucket_kw(line, b).is_some_and(|p| p < 0.1 * level),
                "{}: delivering in {b}",
                id(line)
            );
        }
        let before: Vec<_> = line
            .in_window(&line.energy)
            .into_iter()
            .filter(|(t, _)| line.bucket(*t) < start)
            .collect();
        assert!(
            before.last().unwrap().1 - before[0].1 > 0.1,
            "{}: nothing delivered before",
            id(line)
        );
    }
}

#[test]
fn power_spike_is_isolated_and_does_not_move_the_register() {
    for line in of_kind("POWER_SPIKE") {
        let power = line.in_window(&line.power);
        let mut levels: Vec<f64> = power.iter().map(|p| p.1).filter(|p| *p > 0.05).collect();
        let typical = {
            levels.sort_by(f64::total_cmp);
            levels[levels.len() / 2]
        };
        let spikes: Vec<_> = power
            .iter()
            .filter(|p| p.1 > 2.0 * typical && p.1 > typical + 5.0)
            .collect();
        assert!(!spikes.is_empty() && spikes.len() <= 2, "{}", id(line));
        assert!(spikes.iter().all(|p| in_label(line, p.0)), "{}", id(line));
        let register_max = steps(line)
            .iter()
            .map(|(ta, ea, tb, eb)| (eb - ea) / ((tb - ta) as f64 / 3600.0))
            .fold(0.0, f64::max);
        assert!(
            register_max <= line.rated_kw * 1.01 + 0.011 * 120.0,
            "{}: register moved",
            id(line)
        );
    }
}

#[test]
fn meter_stuck_register_freezes_while_power_flows() {
    for line in of_kind("METER_STUCK") {
        let (start, end) = line.label();
        let energy = line.in_window(&line.energy);
        // Runs of equal register readings: (first, last) indices.
        let mut runs = Vec::new();
        let mut first = 0;
        for i in 1..=energy.len() {
            if i == energy.len() || energy[i].1 != energy[first].1 {
                runs.push((first, i - 1));
                first = i;
            }
        }
        let frozen = runs.iter().find(|(a, b)| {
            b > a && line.bucket(energy[a + 1].0) == start && line.bucket(energy[*b].0) == end
        });
        let &(a, b) = frozen.unwrap_or_else(|| panic!("{}: no frozen run at the label", id(line)));
        let (from, to) = (energy[a], energy[b]);
        assert!(
            to.0 - from.0 >= 30 * 60,
            "{}: frozen for {} s",
            id(line),
            to.0 - from.0
        );
        let flowing = line
            .power
            .iter()
            .filter(|(t, _)| *t > from.0 && *t <= to.0)
            .all(|p| p.1 >= 1.0);
        assert!(flowing, "{}: power below 1 kW", id(line));
    }
}

#[test]
fn soc_decrease_drops_three_points_or_more() {
    for line in of_kind("SOC_DECREASE") {
        let drops = line
            .soc
            .windows(2)
            .filter(|p| p[1].1 <= p[0].1 - 3.0 && in_label(line, p[1].0));
        assert!(drops.count() >= 1, "{}", id(line));
    }
}

#[test]
fn data_gap_spans_the_labelled_buckets() {
    for line in of_kind("DATA_GAP") {
        let median = median(line.times.windows(2).map(|p| p[1] - p[0]).collect());
        let gaps: Vec<_> = line
            .times
            .windows(2)
            .filter(|p| p[1] - p[0] >= 1800 && p[1] - p[0] >= 3 * median)
            .collect();
        assert_eq!(gaps.len(), 1, "{}", id(line));
        assert_eq!(
            (line.bucket(gaps[0][0]), line.bucket(gaps[0][1])),
            line.label(),
            "{}",
            id(line)
        );
        // Energy over the gap is what normal power delivers: no jump.
        let across = steps(line).into_iter().find(|s| s.0 == gaps[0][0]).unwrap();
        let kw = (across.3 - across.1) / ((across.2 - across.0) as f64 / 3600.0);
        assert!(kw <= line.rated_kw, "{}: {kw} kW across the gap", id(line));
    }
}
