//! highstorm's own systems, defined with the same API users have: their nodes from
//! [`highstorm_nodes::systems`], their clients from [`crate::workload`], their checkers from
//! [`crate::check`].

use crate::check::{self, bridge_four as b4, election as el, work_queue as wq};
use crate::system::{config, Registry, System};
use crate::workload::work_queue::{http_client as work_queue_http, QueueClient};
use crate::workload::{bridge_four, BroadcastOps, EchoOps, ElectionOps, GCounterOps, UniqueIdOps};
use highstorm_nodes::systems::{
    bridge_four as b4_nodes, broadcast, echo, election, g_counter, unique_ids, work_queue,
};
use highstorm_nodes::{NodeProcess, Process};

/// The names of the shipped systems (those the `highstorm` binary knows).
pub const NAMES: &[&str] = &[
    "bridge-four",
    "broadcast",
    "echo",
    "election",
    "g-counter",
    "unique-ids",
    "work-queue",
];

/// The shipped system `scenario` names, from one registry built once per process (for tests
/// and benches); panics with the known names if there is none.
pub fn system(scenario: &crate::Scenario) -> &'static crate::system::System {
    static SHIPPED: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    SHIPPED
        .get_or_init(registry)
        .get(&scenario.system)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Every shipped system, in one [`Registry`].
pub fn registry() -> Registry {
    let answered = check::requests_answered_unless_faulted;
    Registry::new()
        .with(
            System::new("echo", |_, _| Ok(echo::Echo))
                .client(|c| c.steady(EchoOps))
                .check(check::echo_replies_match)
                .check(answered),
        )
        .with(
            // `forgetful` has a planted bug, for testing the harness itself.
            System::new("unique-ids", |variant, _| {
                Ok(match variant {
                    "forgetful" => unique_ids::UniqueIds::forgetful(),
                    _ => unique_ids::UniqueIds::default(),
                })
            })
            .variants(&["default", "forgetful"])
            .client(|c| c.steady(UniqueIdOps))
            .check(check::ids_unique)
            .check(answered),
        )
        .with(
            System::new("g-counter", |_, cfg| {
                let cfg: g_counter::GCounterConfig = config("g-counter", cfg)?;
                Ok(g_counter::GCounter::new(cfg))
            })
            .client(|c| c.steady(GCounterOps))
            // Adds are acknowledged once a peer holds them: a lone node acknowledges nothing.
            .min_nodes(|_| 2)
            .check(check::counter_converges)
            .check(answered),
        )
        .with(
            // Planted bugs: `amnesiac` (no anti-entropy, no recovery after a restart) and
            // `silent` (no pushes: values spread by anti-entropy alone).
            System::new("broadcast", |variant, cfg| {
                let cfg: broadcast::BroadcastConfig = config("broadcast", cfg)?;
                Ok(match variant {
                    "amnesiac" => broadcast::Broadcast::amnesiac(cfg),
                    "silent" => broadcast::Broadcast::silent(cfg),
                    _ => broadcast::Broadcast::new(cfg),
                })
            })
            .variants(&["default", "amnesiac", "silent"])
            .client(|c| {
                let clients = c.scenario.workload.clients.max(1) as u64;
                let index = c.index;
                c.steady(BroadcastOps::new(index, clients))
            })
            // A lone node has no peer to replicate to before it acknowledges.
            .min_nodes(|_| 2)
            .check(check::broadcast_converges)
            .check(answered)
            .check(check::msgs_per_op_within_budget),
        )
        .with(
            // `unfenced` has a planted bug: the leader counts outputs of stale attempts.
            System::with_spawn("bridge-four", |variant, cfg, setup| {
                let cfg: b4_nodes::BridgeFourConfig = config("bridge-four", cfg)?;
                let node = b4_nodes::BridgeFour::new(cfg, &setup.id, variant == "unfenced");
                Ok(Box::new(NodeProcess::new(node, setup)) as Box<dyn Process>)
            })
            .variants(&["default", "unfenced"])
            .work(b4_nodes::work)
            .blobs(b4_nodes::blobs)
            .client(|c| {
                let cfg = config("bridge-four", &c.scenario.config).unwrap_or_default();
                let (index, timeout) = (c.index, c.timeout());
                c.node(bridge_four::JobClient::new(cfg, index, timeout))
            })
            .http(
                highstorm_nodes::http::bridge_four::api,
                bridge_four::http_client,
            )
            // The leader and one worker.
            .min_nodes(|_| 2)
            .check(b4::jobs_complete)
            .check(b4::results_match_reference)
            .check(b4::statuses_move_forward)
            .check(b4::outputs_counted_once)
            .check(b4::data_after_done),
        )
        .with(
            // Planted bugs in the manager: `unfenced` accepts completions of expired
            // reservations, `forgetful` does not journal completions.
            System::with_spawn("work-queue", |variant, cfg, setup| {
                let cfg: work_queue::WorkQueueConfig = config("work-queue", cfg)?;
                let bug = match variant {
                    "unfenced" => Some(work_queue::PlantedBug::Unfenced),
                    "forgetful" => Some(work_queue::PlantedBug::Forgetful),
                    _ => None,
                };
                let node = work_queue::WorkQueue::planted(cfg, &setup.id, bug);
                Ok(Box::new(NodeProcess::new(node, setup)) as Box<dyn Process>)
            })
            .variants(&["default", "unfenced", "forgetful"])
            .client(|c| {
                let cfg: work_queue::WorkQueueConfig =
                    config("work-queue", &c.scenario.config).unwrap_or_default();
                let s = c.schedule();
                // Puts stop a timeout earlier still, so even the last one is acknowledged
                // `converge_within` before the final reads.
                let puts_stop_at = s.stop_at - c.timeout();
                let timeout = c.timeout();
                c.node(QueueClient::new(
                    cfg.manager,
                    s.rate,
                    timeout,
                    puts_stop_at,
                    s.final_at,
                ))
            })
            .http(highstorm_nodes::http::work_queue::api, work_queue_http)
            // The manager and one worker.
            .min_nodes(|_| 2)
            .check(wq::jobs_complete)
            .check(wq::results_never_lost)
            .check(wq::completed_once)
            .check(wq::statuses_move_forward)
            .check(wq::completions_fenced),
        )
        .with(
            // `naive` is the source's protocol (Scrap Worker): no terms, no quorum, split brain.
            System::with_spawn("election", |variant, cfg, setup| {
                let cfg: election::ElectionConfig = config("election", cfg)?;
                Ok(match variant {
                    "naive" => Box::new(NodeProcess::new(election::NaiveElection::new(cfg), setup))
                        as Box<dyn Process>,
                    _ => Box::new(NodeProcess::new(election::Election::new(cfg), setup)),
                })
            })
            .variants(&["default", "naive"])
            .client(|c| c.steady(ElectionOps))
            // The smallest cluster whose majority survives a fault.
            .min_nodes(|_| 3)
            .check(el::one_leader_per_term)
            .check(el::leaders_never_overlap)
            .check(el::leader_acts_within_lease)
            .check(el::leader_after_heal)
            .check(el::items_complete_once),
        )
}
