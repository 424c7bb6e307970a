//! Why fine-tuning matters, in figures: a fleet whose chargers pause every
//! half hour for load balancing (normal, and the rules agree) against the
//! base CSAR-2 and against CSAR-2 fine-tuned on the fleet's sessions
//! ([`evni_models::fleet`]).
//!
//! `cargo run --release -p evni-models --example fine_tune_fleet -- [SESSIONS] [EPOCHS] [SEED] [PERIOD,OFFSET,MINUTES]`
//! (the last: load balancing, in minutes; default 30,15,10)

use evni_models::fleet::{self, FleetConfig};
use evni_models::{Model, Models};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sessions: usize = args.first().map_or(Ok(2000), |a| a.parse())?;
    let epochs: usize = args.get(1).map_or(Ok(40), |a| a.parse())?;
    let base = Models::base()?;
    let mut config = FleetConfig::new(sessions, epochs);
    if let Some(seed) = args.get(2) {
        config.seed = seed.parse()?;
    }
    if let Some(lb) = args.get(3) {
        let minutes: Vec<i64> = lb.split(',').map(str::parse).collect::<Result<_, _>>()?;
        let [period, offset, length] = minutes[..] else {
            return Err("load balancing is PERIOD,OFFSET,MINUTES".into());
        };
        config.load_balancing.period_minutes = period;
        config.load_balancing.offset_minutes = offset;
        config.load_balancing.minutes = length;
    }
    let lb = config.load_balancing;
    let r = fleet::run(&base, &config)?;
    println!(
        "fleet: {} clean sessions pausing {} min every {} min (power at {:.0} %); the rules flag {} of them",
        r.clean_sessions,
        lb.minutes,
        lb.period_minutes,
        lb.factor * 100.0,
        r.rule_flagged
    );
    println!(
        "fine-tuned {} from {} in {:.1} s, {epochs} epochs (loss {:.5} -> {:.5}) on {} fleet sessions and {} replayed ordinary ones",
        r.tuned.id(),
        base.csar2.id(),
        r.seconds,
        r.losses.first().copied().unwrap_or(f32::NAN),
        r.losses.last().copied().unwrap_or(f32::NAN),
        r.train_sessions,
        r.replayed_sessions
    );
    println!(
        "threshold (bucket error) {:.4} -> {:.4}",
        base.csar2.card().thresholds["bucket_error"],
        r.tuned.card().thresholds["bucket_error"]
    );
    let t = r.tuned.card().training["threshold"].clone();
    println!(
        "  the lower of: {:.4} for {:.1} % false alarms on held-out sessions, {:.4} finding as many of {} faults written into held-out fleet sessions as the base model ({}); not below {:.4}, where as many held-out fleet sessions alarm as with the base model",
        t["for_false_alarm_target"].as_f64().unwrap_or(f64::NAN),
        100.0 * config.target_false_alarm_rate,
        t["keeping_base_recall"].as_f64().unwrap_or(f64::NAN),
        t["calibration_faults"],
        t["base_found"],
        t["at_base_false_alarms"].as_f64().unwrap_or(f64::NAN),
    );
    let pct = |a: usize, b: usize| format!("{a:>4} / {b:<4} ({:>5.1} %)", 100.0 * a as f64 / b.max(1) as f64);
    println!(
        "threshold of the base recalibrated on the same sessions instead: {:.4}",
        r.recalibrated.threshold
    );
    println!("CSAR-2 alone       false alarms, held-out fleet   novel faults in the fleet");
    let csar2 = [r.csar2[0], r.recalibrated.csar2, r.csar2[1]];
    for (name, f) in ["base", "recalibrated", "fine-tuned"].iter().zip(&csar2) {
        println!(
            "  {name:<16} {}          {}",
            pct(f.false_alarms, f.normal_sessions),
            pct(f.faults_found, f.fault_sessions)
        );
    }
    println!("CSAR-2 alone       novel faults in ordinary sessions");
    let ordinary = [r.ordinary[0], r.recalibrated.ordinary, r.ordinary[1]];
    for (name, f) in ["base", "recalibrated", "fine-tuned"].iter().zip(&ordinary) {
        println!("  {name:<16} {}", pct(f.faults_found, f.fault_sessions));
    }
    println!("CSAR-2 alone at equal false alarms on the held-out fleet: novel faults found in the fleet");
    for e in &r.equal_alarms {
        println!(
            "  {} false alarms  base {}  fine-tuned {}",
            pct(e.false_alarms, e.normal_sessions),
            pct(e.base_found, e.fault_sessions),
            pct(e.tuned_found, e.fault_sessions)
        );
    }
    println!("CSAR-2 alone: a novel fault's labels laid over held-out normal fleet sessions, found there by chance");
    for (name, (c, f)) in ["base", "fine-tuned"].iter().zip(r.chance.iter().zip(&r.csar2)) {
        println!(
            "  {name:<16} {}   recall corrected for chance (r - c) / (1 - c): {:.1} %",
            pct(c.overlaps, c.pairs),
            100.0 * c.corrected(f.recall())
        );
    }
    println!("whole analysis     false alarms, held-out fleet   novel faults in the fleet   physical faults in the fleet");
    let analysis = [r.analysis[0], r.recalibrated.analysis, r.analysis[1]];
    for (name, v) in ["base", "recalibrated", "fine-tuned"].iter().zip(&analysis) {
        println!(
            "  {name:<16} {}          {}        {}",
            pct(v.false_alarms, v.normal_sessions),
            pct(v.novel_found, v.novel_sessions),
            pct(v.physical_found, v.physical_sessions)
        );
    }
    Ok(())
}
