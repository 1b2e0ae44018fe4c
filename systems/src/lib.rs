//! highstorm's shipped systems, each in its own folder and each built only with the public API
//! a user's crate has (`highstorm` and `highstorm-nodes`):
//!
//! | folder | system | what it is |
//! |---|---|---|
//! | [`echo`] | `echo` | Maelstrom's first challenge |
//! | [`unique_ids`] | `unique-ids` | ids unique without coordination |
//! | [`g_counter`] | `g-counter` | a grow-only counter (state-based CRDT) |
//! | [`broadcast`] | `broadcast` | every value reaches every node |
//! | [`bridge_four`] | `bridge-four` | a leader/worker batch job system |
//! | [`work_queue`] | `work-queue` | a durable job queue with reservations |
//! | [`election`] | `election` | a leased leader distributing work items |
//!
//! A folder holds the whole system: the node (`mod.rs` and its role files: messages, config,
//! node logic, typed notes), its client workload (`workload.rs`), its checkers (`check.rs`), its
//! HTTP API if it has one (`http.rs`), `system()` (`system.rs`) and a `README.md`. Node logic
//! compiles without the `harness` feature, and so without tokio, turmoil or axum.

pub mod bridge_four;
pub mod broadcast;
pub mod echo;
pub mod election;
pub mod g_counter;
pub mod planted;
pub mod unique_ids;
pub mod work_queue;

#[cfg(feature = "harness")]
pub use registry::{registry, system, NAMES};

#[cfg(feature = "harness")]
mod registry {
    use highstorm::system::Registry;

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

    /// Every shipped system, in one [`Registry`] (replayed by the `highstorm` binary).
    pub fn registry() -> Registry {
        Registry::new()
            .replayed_by("highstorm")
            .with(super::echo::system())
            .with(super::unique_ids::system())
            .with(super::g_counter::system())
            .with(super::broadcast::system())
            .with(super::bridge_four::system())
            .with(super::work_queue::system())
            .with(super::election::system())
    }

    /// The shipped system `scenario` names, from one registry built once per process (for
    /// tests and benches); panics with the known names if there is none.
    pub fn system(scenario: &highstorm::Scenario) -> &'static highstorm::system::System {
        static SHIPPED: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
        SHIPPED
            .get_or_init(registry)
            .get(&scenario.system)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}
