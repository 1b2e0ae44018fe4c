//! Broadcast as a [`System`]: clients broadcast values and read; every acknowledged value must reach every node.

use highstorm::check;
use highstorm::prelude::*;

/// The system (the `highstorm` binary's registry holds it under `"broadcast"`).
/// Planted bugs: `amnesiac` (no anti-entropy, no recovery after a restart) and
/// `silent` (no pushes: values spread by anti-entropy alone).
pub fn system() -> System {
    System::new("broadcast", |variant, cfg| {
        let cfg: super::BroadcastConfig = checked_config("broadcast", cfg)?;
        Ok(match variant {
            "amnesiac" => super::Broadcast::amnesiac(cfg),
            "silent" => super::Broadcast::silent(cfg),
            _ => super::Broadcast::new(cfg),
        })
    })
    .variants(&["default", "amnesiac", "silent"])
    .sometimes(super::points::ALL)
    .config_type::<super::BroadcastConfig>()
    .client(|c| {
        let clients = c.scenario.workload.clients.max(1) as u64;
        let index = c.index;
        c.steady(super::workload::BroadcastOps::new(index, clients))
    })
    // Every node notes `learn` with the values it comes to hold: stable latency is measured.
    .spreads("broadcast")
    // A lone node has no peer to replicate to before it acknowledges.
    .min_nodes(|_| 2)
    // Every checker reads the history where the trace holds it: a run's reads hold every
    // value a node has (hundreds each), and copying them out cost as much as the checks.
    .check_refs(super::check::broadcast_converges)
    .check_refs(|s, t, ops| check::requests_answered_unless_faulted(s, t, ops))
    .check_refs(|s, t, ops| check::msgs_per_op_within_budget(s, t, ops))
    .liveness_refs(super::check::converged_after_heal)
}
