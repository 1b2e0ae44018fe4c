//! Unique ids as a [`System`]: clients ask any node for an id; no id may be handed out twice.

use highstorm::check;
use highstorm::prelude::*;

/// The system (the `highstorm` binary's registry holds it under `"unique-ids"`).
/// `forgetful` has a planted bug, for testing the harness itself.
pub fn system() -> System {
    System::new("unique-ids", |variant, _| {
        Ok(match variant {
            "forgetful" => super::UniqueIds::forgetful(),
            "stuck-recovery" => super::UniqueIds::stuck_recovery(),
            "cold-after-idle" => super::UniqueIds::cold_after_idle(),
            _ => super::UniqueIds::default(),
        })
    })
    .variants(&["default", "forgetful", "stuck-recovery", "cold-after-idle"])
    .sometimes(&[super::ID_AFTER_RESTART])
    // It takes no `[config]`: a key there is a mistake.
    .config_type::<highstorm_nodes::NoConfig>()
    .client(|c| c.steady(super::workload::UniqueIdOps))
    .check(super::check::ids_unique)
    .check(check::requests_answered_unless_faulted)
    .liveness(check::liveness::requests_answered)
}
