//! Which engine runs a scenario: a kind the scenario names (`engine = "events"`), and whether
//! that engine can run it. Plain data: the engines themselves are in [`crate::engine`], which
//! re-exports both.

use super::{Api, Scenario};

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

/// Whether `engine` can run `scenario`; if not, why, for people.
pub fn supports(engine: Engine, scenario: &Scenario) -> Result<(), String> {
    match (engine, scenario.workload.api) {
        (Engine::Events, Api::Http) => Err(format!(
            "scenario `{}` drives its clients over HTTP (`workload.api = \"http\"`), which only \
             the turmoil engine serves (the events engine runs sans-IO nodes, no async code): \
             run it with `engine = \"turmoil\"` or `--engine turmoil`",
            scenario.name
        )),
        _ => Ok(()),
    }
}
