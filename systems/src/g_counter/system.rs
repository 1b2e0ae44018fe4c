//! The grow-only counter as a [`System`]: clients add and read; every node must converge on the sum of acknowledged adds.

use highstorm::check;
use highstorm::prelude::*;

/// The system (the `highstorm` binary's registry holds it under `"g-counter"`).
pub fn system() -> System {
    System::new("g-counter", |variant, cfg| {
        let cfg: super::GCounterConfig = checked_config("g-counter", cfg)?;
        Ok(match variant {
            "clock-fenced" => super::GCounter::clock_fenced(cfg),
            _ => super::GCounter::new(cfg),
        })
    })
    .variants(&["default", "clock-fenced"])
    .config_type::<super::GCounterConfig>()
    .sometimes(&[super::DUPLICATE_ADD_IGNORED])
    .client(|c| c.steady(super::workload::GCounterOps))
    // Adds are acknowledged once a peer holds them: a lone node acknowledges nothing.
    .min_nodes(|_| 2)
    .check(super::check::counter_converges)
    .check(check::requests_answered_unless_faulted)
    .liveness(super::check::counters_agree_after_heal)
}
