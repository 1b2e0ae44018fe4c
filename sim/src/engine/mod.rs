//! Simulation engines: each runs a [`Scenario`] at a seed and returns its [`Trace`].
//!
//! Engines share the scenario, the trace and the checkers; nothing engine-specific reaches node
//! logic. `turmoil` is the reference engine: it runs the real async driver loop over simulated
//! UDP.

pub mod events;
pub mod turmoil;

use crate::scenario::Scenario;
use crate::system::System;
use crate::trace::Trace;
use highstorm_nodes::systems::SpawnError;

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

/// Which engine runs a scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// The reference: real async driver loops on turmoil hosts, 1 ms tick.
    #[default]
    Turmoil,
    /// The sans-IO processes straight off a discrete-event queue: for big sweeps and clusters.
    Events,
}

impl Engine {
    /// Its name in scenario files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Turmoil => "turmoil",
            Engine::Events => "events",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "turmoil" => Ok(Engine::Turmoil),
            "events" => Ok(Engine::Events),
            other => Err(format!("unknown engine {other:?} (known: turmoil, events)")),
        }
    }
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

/// Whether `engine` can run `scenario`; if not, why, for people.
pub fn supports(engine: Engine, scenario: &Scenario) -> Result<(), String> {
    match (engine, scenario.workload.api) {
        (Engine::Events, crate::scenario::Api::Http) => Err(format!(
            "scenario `{}` drives its clients over HTTP (`workload.api = \"http\"`), which only \
             the turmoil engine serves (the events engine runs sans-IO nodes, no async code): \
             run it with `engine = \"turmoil\"` or `--engine turmoil`",
            scenario.name
        )),
        _ => Ok(()),
    }
}

/// Runs `scenario` of `system` at `seed` on its engine.
pub fn run(system: &System, scenario: &Scenario, seed: u64) -> Result<RunOutput, EngineError> {
    supports(scenario.engine, scenario).map_err(EngineError::Unsupported)?;
    match scenario.engine {
        Engine::Turmoil => turmoil::run(system, scenario, seed),
        Engine::Events => events::run(system, scenario, seed),
    }
}
