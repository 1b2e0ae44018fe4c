//! The election as a [`System`]: clients submit work items; one leader per term, never two at once, and every item done once.

use highstorm::prelude::*;
use highstorm_nodes::{NodeProcess, Process};

/// The system (the `highstorm` binary's registry holds it under `"election"`).
/// `naive` is the source's protocol (Scrap Worker): no terms, no quorum, split brain.
pub fn system() -> System {
    System::with_spawn("election", |variant, cfg, setup| {
        let cfg: super::ElectionConfig = checked_config("election", cfg)?;
        Ok(match variant {
            "naive" => Box::new(NodeProcess::new(super::NaiveElection::new(cfg), setup))
                as Box<dyn Process>,
            "wedged-leader" => {
                Box::new(NodeProcess::new(super::Election::wedged_leader(cfg), setup))
            }
            _ => Box::new(NodeProcess::new(super::Election::new(cfg), setup)),
        })
    })
    .variants(&["default", "naive", "wedged-leader"])
    .sometimes(super::points::ALL)
    .config_type::<super::ElectionConfig>()
    .client(|c| c.steady(super::workload::ElectionOps))
    // The smallest cluster whose majority survives a fault.
    .min_nodes(|_| 3)
    .check(super::check::one_leader_per_term)
    .check(super::check::leaders_never_overlap)
    .check(super::check::leader_acts_within_lease)
    .check(super::check::leader_after_heal)
    .check(super::check::items_complete_once)
    .liveness(super::check::leader_after_recovery)
}
