//! Simulation engines: each runs a [`Scenario`] at a seed and returns its [`Trace`].
//!
//! Engines share the scenario, the trace and the checkers; nothing engine-specific reaches node
//! logic. Which engine runs a scenario is its [`Engine`] (a kind, plain data, named in the
//! scenario); [`run`] hands the scenario to that engine. Each engine is a private module with
//! one `run`:
//! - `on_turmoil`, [`Engine::Turmoil`]: the reference engine. It runs the real async driver
//!   loop over the `turmoil` crate's simulated UDP (and HTTP over its TCP).
//! - `events`, [`Engine::Events`]: the sans-IO processes straight off a discrete-event queue,
//!   for big sweeps and big clusters.
//!
//! How their traces differ (and why their verdicts must not) is in `docs/engines.md`.

mod events;
mod on_turmoil;

pub use crate::scenario::engine_kind::{supports, Engine};
use crate::scenario::Scenario;
use crate::system::System;
use crate::trace::Trace;
use highstorm_nodes::SpawnError;

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// Every event, in order.
    pub trace: Trace,
    /// Simulated time covered.
    pub sim_time: std::time::Duration,
}

/// Why a run could not be carried out (as opposed to a check failing).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The scenario's system could not start a node.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The simulator itself failed (a host returned an error).
    #[error("simulation failed: {0}")]
    Sim(String),
    /// The engine cannot run this scenario.
    #[error("{0}")]
    Unsupported(String),
}

/// How node `id` of a cluster of `nodes` starts (its durable storage is the engine's to fill).
fn setup(id: &str, nodes: &[String], seed: u64, boot: u64) -> highstorm_nodes::ProcessSetup {
    highstorm_nodes::ProcessSetup {
        id: id.to_owned(),
        peers: nodes.iter().filter(|n| *n != id).cloned().collect(),
        seed,
        boot,
        durable: Default::default(),
    }
}

/// Runs `scenario` of `system` at `seed` on its engine.
pub fn run(system: &System, scenario: &Scenario, seed: u64) -> Result<RunOutput, EngineError> {
    supports(scenario.engine, scenario).map_err(EngineError::Unsupported)?;
    match scenario.engine {
        Engine::Turmoil => on_turmoil::run(system, scenario, seed),
        Engine::Events => events::run(system, scenario, seed),
    }
}
