//! Writes simulated sessions as JSON lines to stdout:
//! `cargo run -p evni-sim --example simulate -- [sessions] [seed]`.

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let sessions = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(42);
    let config = evni_sim::SimConfig::new(sessions, seed);
    evni_sim::write_jsonl(&config, std::io::BufWriter::new(std::io::stdout().lock()))?;
    Ok(())
}
