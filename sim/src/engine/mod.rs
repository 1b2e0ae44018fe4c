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
    /// The sometimes-points the nodes evaluated (not part of the trace).
    pub sometimes: crate::sometimes::Sometimes,
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
    /// A process kept running without simulated time advancing (a timer re-armed for the
    /// instant it fired, or messages bouncing with no delay): the run is stopped after
    /// [`step_budget`] steps at one instant instead of looping there forever.
    #[error(
        "`{scenario}` seed {seed}: `{node}` is stuck at {}: {steps} steps without simulated \
         time advancing{}; a timer re-armed for the instant it fires never lets time move on",
        humantime::format_duration(*at),
        timer.as_ref().map_or_else(String::new, |t| format!(", its timer `{t}` firing again and again"))
    )]
    Stuck {
        /// The scenario.
        scenario: String,
        /// The process that was running when the budget ran out.
        node: String,
        /// The timer it fired last at that instant, if it fired one.
        timer: Option<String>,
        /// The instant.
        at: std::time::Duration,
        /// The run's seed.
        seed: u64,
        /// Steps taken at that instant.
        steps: u64,
    },
}

/// Steps any one instant of simulated time may take, per process of the run.
pub const STEPS_PER_INSTANT_PER_PROCESS: u64 = 1_000;

/// How many steps (events handled, driver-loop turns) one instant of simulated time may take
/// in a run of `scenario` before the engine declares it stuck: [`STEPS_PER_INSTANT_PER_PROCESS`]
/// per node and client, and at least 10 000. A run that needs more at one instant is looping.
pub fn step_budget(scenario: &Scenario) -> u64 {
    let processes = (scenario.nodes + scenario.workload.clients) as u64;
    (STEPS_PER_INSTANT_PER_PROCESS * processes).max(10_000)
}

/// The run of `scenario` is stuck at `at`: the error naming `node` and the timer it fired
/// last then.
fn stuck(
    scenario: &Scenario,
    trace: &Trace,
    node: &str,
    at: std::time::Duration,
    seed: u64,
    steps: u64,
) -> EngineError {
    let timer = trace
        .events()
        .iter()
        .rev()
        .take_while(|e| e.at() >= at)
        .find_map(|e| match &e.kind {
            crate::trace::EventKind::Timer { node: n, timer } if n == node => Some(timer.clone()),
            _ => None,
        });
    EngineError::Stuck {
        scenario: scenario.name.clone(),
        node: node.to_owned(),
        timer,
        at,
        seed,
        steps,
    }
}

/// How node `nodes[at]` of a cluster starts: its peers a view of the cluster's one shared
/// member list (its durable storage is the engine's to fill), with buggify on when the
/// scenario asks for it.
fn setup(
    scenario: &Scenario,
    nodes: &std::sync::Arc<[String]>,
    at: usize,
    seed: u64,
    boot: u64,
) -> highstorm_nodes::ProcessSetup {
    highstorm_nodes::ProcessSetup {
        id: nodes[at].clone(),
        peers: highstorm_nodes::Peers::excluding(nodes.clone(), at),
        seed,
        boot,
        durable: Default::default(),
        buggify: if scenario.checks.buggify {
            highstorm_nodes::Buggify::On
        } else {
            highstorm_nodes::Buggify::Off
        },
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

/// Runs `scenario` of `system` at `seed` once more and compares it with `first`, the trace an
/// earlier run of the same scenario and seed gave (whose hash is `first_hash`): where the two
/// part ways, or `None` if the rerun gave the same trace.
///
/// On `events` the comparison is incremental: each event is compared with `first`'s as it
/// happens, the rerun keeps and renders no trace of its own, and it stops at the first
/// difference. On `turmoil` the rerun runs to its end and its trace hash is compared (its
/// events are written from inside the simulated hosts, and a turmoil run costs some fifty
/// times the hashing of its trace, so there is little to save).
pub fn rerun(
    system: &System,
    scenario: &Scenario,
    seed: u64,
    first: &Trace,
    first_hash: u64,
) -> Result<Option<crate::trace::Divergence>, EngineError> {
    supports(scenario.engine, scenario).map_err(EngineError::Unsupported)?;
    match scenario.engine {
        Engine::Events => events::rerun(system, scenario, seed, first),
        Engine::Turmoil => {
            let again = on_turmoil::run(system, scenario, seed)?.trace;
            if again.hash() == first_hash {
                return Ok(None);
            }
            Ok(Some(
                crate::trace::first_difference(first, &again, 3).unwrap_or_else(|| {
                    // The renderings agree but the hashes do not: `first_hash` is not
                    // `first`'s; the first event is as good a place to point as any.
                    crate::trace::Divergence {
                        index: 0,
                        left: first.events().first().cloned(),
                        right: again.events().first().cloned(),
                        before: vec![],
                    }
                }),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::EventKind;
    use std::time::Duration;

    /// A copy of `t`'s first `n` events.
    fn first_events(t: &Trace, n: usize) -> Trace {
        let mut out = Trace::new();
        for e in &t.events()[..n] {
            out.push(e.at(), e.kind.clone());
        }
        out
    }

    #[test]
    fn a_rerun_stops_where_it_parts_from_the_first_trace() {
        let system = crate::testing::fixture::ids();
        for engine in [Engine::Events, Engine::Turmoil] {
            let s = Scenario::new("rerun", "ids")
                .duration(Duration::from_millis(3000))
                .loss(0.05)
                .crash_at(
                    Duration::from_millis(400),
                    "n1",
                    Some(Duration::from_millis(300)),
                )
                .engine(engine);
            let five = run(&system, &s, 5).unwrap().trace;
            let six = run(&system, &s, 6).unwrap().trace;
            let hash = five.hash();
            assert_eq!(
                rerun(&system, &s, 5, &five, hash).unwrap(),
                None,
                "{engine:?}"
            );
            // Another seed's run parts where the traces first differ.
            let d = rerun(&system, &s, 6, &five, hash)
                .unwrap()
                .expect("differs");
            let expected = crate::trace::first_difference(&five, &six, 3).unwrap();
            assert_eq!(d, expected, "{engine:?}");
            // A first trace that ends early, or runs on: the rerun says where.
            let n = five.events().len();
            assert!(n > 50, "{engine:?}: {n} events");
            let short = first_events(&five, n - 7);
            let d = rerun(&system, &s, 5, &short, short.hash())
                .unwrap()
                .expect("longer");
            assert_eq!((d.index, d.left.as_ref()), (n - 7, None), "{engine:?}");
            assert_eq!(d.right.as_ref(), five.events().get(n - 7), "{engine:?}");
            let mut long = five.clone();
            long.push(
                Duration::from_secs(2),
                EventKind::Heal {
                    scope: "all".into(),
                },
            );
            let d = rerun(&system, &s, 5, &long, long.hash())
                .unwrap()
                .expect("shorter");
            assert_eq!((d.index, d.right.as_ref()), (n, None), "{engine:?}");
            assert_eq!(d.before, five.events()[n - 3..].to_vec(), "{engine:?}");
        }
    }

    #[test]
    fn a_timer_rearmed_for_the_instant_it_fires_stops_the_run_naming_node_and_timer() {
        let system = crate::testing::fixture::spinner();
        for engine in [Engine::Events, Engine::Turmoil] {
            let calm = Scenario::new("spin", "spinner")
                .nodes(3)
                .workload(0, 1.0)
                .duration(Duration::from_secs(1))
                .engine(engine);
            assert!(run(&system, &calm, 7).is_ok(), "{engine:?}");
            let spinning = calm.config(serde_json::json!({"spins": "n1"}));
            let err = run(&system, &spinning, 7).expect_err("stuck");
            let EngineError::Stuck {
                scenario,
                node,
                timer,
                at,
                seed,
                steps,
            } = &err
            else {
                panic!("{engine:?}: {err}");
            };
            assert_eq!(
                (scenario.as_str(), node.as_str(), timer.as_deref(), *seed),
                ("spin", "n1", Some("Tick"), 7),
                "{engine:?}: {err}"
            );
            assert_eq!(*at, Duration::from_millis(100), "{engine:?}: {err}");
            assert!(*steps > step_budget(&spinning), "{engine:?}: {err}");
            let text = err.to_string();
            assert!(
                text.contains("`spin` seed 7: `n1` is stuck at 100ms") && text.contains("`Tick`"),
                "{text}"
            );
        }
    }
}
