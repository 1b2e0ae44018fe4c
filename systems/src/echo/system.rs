//! Echo as a [`System`]: every node answers `echo`; clients check each reply carries what they sent.

use highstorm::check;
use highstorm::prelude::*;

/// The system (the `highstorm` binary's registry holds it under `"echo"`).
pub fn system() -> System {
    System::new("echo", |variant, _| {
        Ok(match variant {
            "wary" => super::Echo::wary(),
            _ => super::Echo::default(),
        })
    })
    .variants(&["default", "wary"])
    // It takes no `[config]`: a key there is a mistake.
    .config_type::<highstorm_nodes::NoConfig>()
    .client(|c| c.steady(super::workload::EchoOps))
    .check(super::check::echo_replies_match)
    .check(check::requests_answered_unless_faulted)
    .liveness(check::liveness::requests_answered)
}
