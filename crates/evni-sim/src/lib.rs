//! Session simulator: realistic OCPP meter values of EV charging sessions,
//! some with one injected physical fault (analysis.md §3) and its label.
//!
//! Each line of the output is `{"request": <POST /v1/sessions body>,
//! "labels": [...], "kind": "clean" | "<CATEGORY>"}`. Generation is
//! deterministic: session `i` depends only on the seed, `i` and the station
//! pool, never on how many sessions are requested.

mod config;
mod faults;
pub mod fixtures;
pub mod novel;
mod output;
mod profile;
pub mod rules;
mod sampling;
mod session;
mod station;
mod window;

use std::io::{self, Write};

pub use config::{SessionKind, SimConfig};
pub use novel::NovelFault;
pub use output::{Label, MeterValue, SessionRequest, SimulatedSession};
pub use station::{CurrentType, StationSpec};

/// The simulated sessions `0..config.sessions`, generated lazily.
pub fn simulate(config: SimConfig) -> impl Iterator<Item = SimulatedSession> {
    let stations = station::pool(&config);
    (0..config.sessions).map(move |index| session::generate(&config, &stations, index))
}

/// Session `index` alone; identical to the `index`-th item of [`simulate`].
pub fn simulate_session(config: &SimConfig, index: usize) -> SimulatedSession {
    session::generate(config, &station::pool(config), index)
}

/// Session `index` drawn from a station pool obtained from [`stations`]
/// (with the same configuration): saves rebuilding the pool per session.
pub fn simulate_session_with(config: &SimConfig, stations: &[StationSpec], index: usize) -> SimulatedSession {
    session::generate(config, stations, index)
}

/// The charging stations sessions are drawn from, e.g. to register their
/// rated power as station metadata before replaying the sessions.
pub fn stations(config: &SimConfig) -> Vec<StationSpec> {
    station::pool(config)
}

/// Writes the simulated sessions as JSON lines; returns how many were written.
pub fn write_jsonl(config: &SimConfig, mut out: impl Write) -> io::Result<usize> {
    let mut written = 0;
    for session in simulate(config.clone()) {
        serde_json::to_writer(&mut out, &session)?;
        out.write_all(b"\n")?;
        written += 1;
    }
    out.flush()?;
    Ok(written)
}
