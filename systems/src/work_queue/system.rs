//! The work queue as a [`System`]: clients put jobs and read them back; every accepted job must complete exactly once and never lose its result.

use highstorm::prelude::*;
use highstorm_nodes::{NodeProcess, Process};

/// The system (the `highstorm` binary's registry holds it under `"work-queue"`).
/// Planted bugs in the manager: `unfenced` accepts completions of expired
/// reservations, `forgetful` does not journal completions.
pub fn system() -> System {
    System::with_spawn("work-queue", |variant, cfg, setup| {
        let cfg: super::WorkQueueConfig = checked_config("work-queue", cfg)?;
        let bug = match variant {
            "unfenced" => Some(super::PlantedBug::Unfenced),
            "forgetful" => Some(super::PlantedBug::Forgetful),
            "sealed-after-restart" => Some(super::PlantedBug::SealedAfterRestart),
            _ => None,
        };
        let node = super::WorkQueue::planted(cfg, &setup.id, bug);
        Ok(Box::new(NodeProcess::new(node, setup)) as Box<dyn Process>)
    })
    .variants(&["default", "unfenced", "forgetful", "sealed-after-restart"])
    .sometimes(super::points::ALL)
    .config_type::<super::WorkQueueConfig>()
    .client(|c| {
        let cfg: super::WorkQueueConfig =
            config("work-queue", &c.scenario.config).unwrap_or_default();
        let s = c.schedule();
        // Puts stop a timeout earlier still, so even the last one is acknowledged
        // `converge_within` before the final reads.
        let puts_stop_at = s.stop_at - c.timeout();
        let timeout = c.timeout();
        c.node(super::workload::QueueClient::new(
            cfg.manager,
            s.rate,
            timeout,
            puts_stop_at,
            s.final_at,
        ))
    })
    .http(super::http::api, super::workload::http_client)
    // The manager and one worker.
    .min_nodes(|_| 2)
    .check(super::check::jobs_complete)
    .check(super::check::results_never_lost)
    .check(super::check::completed_once)
    .check(super::check::statuses_move_forward)
    .check(super::check::completions_fenced)
    .liveness(super::check::jobs_done_after_heal)
}
