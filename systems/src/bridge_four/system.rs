//! Bridge Four as a [`System`]: clients submit word-count jobs and poll them; every accepted job must finish with the reference result.

use highstorm::prelude::*;
use highstorm_nodes::{NodeProcess, Process};

/// The system (the `highstorm` binary's registry holds it under `"bridge-four"`).
/// `unfenced` has a planted bug: the leader counts outputs of stale attempts.
pub fn system() -> System {
    System::with_spawn("bridge-four", |variant, cfg, setup| {
        let cfg: super::BridgeFourConfig = checked_config("bridge-four", cfg)?;
        let node = super::BridgeFour::new(cfg, &setup.id, variant == "unfenced");
        Ok(Box::new(NodeProcess::new(node, setup)) as Box<dyn Process>)
    })
    .variants(&["default", "unfenced"])
    .sometimes(super::points::ALL)
    .config_type::<super::BridgeFourConfig>()
    .work(super::work)
    .blobs(super::blobs)
    .client(|c| {
        let cfg = config("bridge-four", &c.scenario.config).unwrap_or_default();
        let (index, timeout) = (c.index, c.timeout());
        c.node(super::workload::JobClient::new(cfg, index, timeout))
    })
    .http(super::http::api, super::workload::http_client)
    // The leader and one worker.
    .min_nodes(|_| 2)
    .check(super::check::jobs_complete)
    .check(super::check::results_match_reference)
    .check(super::check::statuses_move_forward)
    .check(super::check::outputs_counted_once)
    .check(super::check::data_after_done)
    .liveness(super::check::jobs_finished_after_heal)
}
