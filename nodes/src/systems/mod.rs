//! The node logic of highstorm's systems. Code here sees the world only through
//! [`Context`](crate::Context): no runtime, clock, socket, thread or unseeded randomness
//! (`nodes/tests/purity.rs` enforces it).

pub mod bridge_four;
pub mod broadcast;
pub mod echo;
pub mod election;
pub mod g_counter;
pub mod unique_ids;
pub mod work_queue;

use crate::process::{NodeProcess, Process, ProcessSetup};

/// Why a system could not be started.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpawnError {
    /// No system by that name.
    #[error("unknown system `{0}` (known: {known})", known = names().join(", "))]
    UnknownSystem(String),
    /// The system has no such variant.
    #[error("system `{system}` has no variant `{variant}` (known: {known})")]
    UnknownVariant {
        /// The system.
        system: String,
        /// The requested variant.
        variant: String,
        /// The variants it has.
        known: String,
    },
    /// The system's `[config]` table did not fit.
    #[error("bad config for `{system}`: {reason}")]
    BadConfig {
        /// The system.
        system: String,
        /// What was wrong.
        reason: String,
    },
}

/// How to start the nodes of one system.
pub struct System {
    /// Its name in scenarios and on the command line (`unique-ids`).
    pub name: &'static str,
    /// Its variants; the first is the default.
    pub variants: &'static [&'static str],
    /// Starts one node incarnation of `variant` with the scenario's `[config]`.
    pub spawn: SpawnFn,
    /// Runs the outside work its nodes ask for (`None`: they ask for none).
    pub work: Option<WorkFn>,
    /// The blobs (input files) the simulator's blob store starts with, from `[config]`.
    pub blobs: Option<BlobsFn>,
}

/// What a piece of outside work produced, and how many bytes it read and wrote (the simulator
/// makes it take time in proportion).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkOutcome {
    /// The result handed to [`Node::on_work_done`](crate::Node::on_work_done).
    pub result: crate::WorkResult,
    /// Bytes read and written.
    pub bytes: u64,
}

/// Runs one piece of outside work against a blob store. It must be a pure function of the
/// request and the blobs (the simulator relies on it for determinism).
pub type WorkFn = fn(&crate::WorkRequest, &mut dyn crate::storage::Blobs) -> WorkOutcome;

/// The initial blobs, `(path, contents)`, for a system's `[config]`.
pub type BlobsFn = fn(&serde_json::Value) -> Result<Vec<(String, String)>, SpawnError>;

/// Starts one node incarnation: `(variant, config, setup)`.
pub type SpawnFn =
    fn(&str, &serde_json::Value, ProcessSetup) -> Result<Box<dyn Process>, SpawnError>;

impl System {
    /// Starts one node incarnation, checking the variant name first.
    pub fn spawn(
        &self,
        variant: Option<&str>,
        config: &serde_json::Value,
        setup: ProcessSetup,
    ) -> Result<Box<dyn Process>, SpawnError> {
        let variant = variant.unwrap_or(self.variants[0]);
        if !self.variants.contains(&variant) {
            return Err(SpawnError::UnknownVariant {
                system: self.name.into(),
                variant: variant.into(),
                known: self.variants.join(", "),
            });
        }
        (self.spawn)(variant, config, setup)
    }
}

/// Every system shipped with highstorm.
pub static SYSTEMS: &[System] = &[
    System {
        name: "echo",
        variants: &["default"],
        spawn: |_, _, setup| Ok(Box::new(NodeProcess::new(echo::Echo, setup))),
        work: None,
        blobs: None,
    },
    System {
        name: "unique-ids",
        // `forgetful` has a planted bug, for testing the harness itself.
        variants: &["default", "forgetful"],
        spawn: |variant, _, setup| {
            let node = match variant {
                "forgetful" => unique_ids::UniqueIds::forgetful(),
                _ => unique_ids::UniqueIds::default(),
            };
            Ok(Box::new(NodeProcess::new(node, setup)))
        },
        work: None,
        blobs: None,
    },
    System {
        name: "broadcast",
        // Planted bugs: `amnesiac` (no anti-entropy, no recovery after a restart) and `silent`
        // (no pushes: values spread by anti-entropy alone).
        variants: &["default", "amnesiac", "silent"],
        spawn: |variant, cfg, setup| {
            let cfg: broadcast::BroadcastConfig = config("broadcast", cfg)?;
            let node = match variant {
                "amnesiac" => broadcast::Broadcast::amnesiac(cfg),
                "silent" => broadcast::Broadcast::silent(cfg),
                _ => broadcast::Broadcast::new(cfg),
            };
            Ok(Box::new(NodeProcess::new(node, setup)))
        },
        work: None,
        blobs: None,
    },
    System {
        name: "g-counter",
        variants: &["default"],
        spawn: |_, cfg, setup| {
            let cfg: g_counter::GCounterConfig = config("g-counter", cfg)?;
            Ok(Box::new(NodeProcess::new(
                g_counter::GCounter::new(cfg),
                setup,
            )))
        },
        work: None,
        blobs: None,
    },
    System {
        name: "bridge-four",
        // `unfenced` has a planted bug: the leader counts outputs of stale attempts.
        variants: &["default", "unfenced"],
        spawn: |variant, cfg, setup| {
            let cfg: bridge_four::BridgeFourConfig = config("bridge-four", cfg)?;
            let node = bridge_four::BridgeFour::new(cfg, &setup.id, variant == "unfenced");
            Ok(Box::new(NodeProcess::new(node, setup)))
        },
        work: Some(bridge_four::work),
        blobs: Some(bridge_four::blobs),
    },
    System {
        name: "work-queue",
        // Planted bugs in the manager: `unfenced` accepts completions of expired reservations,
        // `forgetful` does not journal completions.
        variants: &["default", "unfenced", "forgetful"],
        spawn: |variant, cfg, setup| {
            let cfg: work_queue::WorkQueueConfig = config("work-queue", cfg)?;
            let bug = match variant {
                "unfenced" => Some(work_queue::PlantedBug::Unfenced),
                "forgetful" => Some(work_queue::PlantedBug::Forgetful),
                _ => None,
            };
            let node = work_queue::WorkQueue::planted(cfg, &setup.id, bug);
            Ok(Box::new(NodeProcess::new(node, setup)))
        },
        work: None,
        blobs: None,
    },
    System {
        name: "election",
        // `naive` is the source's protocol (Scrap Worker): no terms, no quorum, split brain.
        variants: &["default", "naive"],
        spawn: |variant, cfg, setup| {
            let cfg: election::ElectionConfig = config("election", cfg)?;
            Ok(match variant {
                "naive" => Box::new(NodeProcess::new(election::NaiveElection::new(cfg), setup)),
                _ => Box::new(NodeProcess::new(election::Election::new(cfg), setup)),
            })
        },
        work: None,
        blobs: None,
    },
];

/// Reads a system's `[config]` table into its config type.
pub fn config<T: serde::de::DeserializeOwned + Default>(
    system: &str,
    config: &serde_json::Value,
) -> Result<T, SpawnError> {
    if config.as_object().is_some_and(|o| o.is_empty()) || config.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(config.clone()).map_err(|e| SpawnError::BadConfig {
        system: system.to_owned(),
        reason: e.to_string(),
    })
}

/// The names of every shipped system.
pub fn names() -> Vec<&'static str> {
    SYSTEMS.iter().map(|s| s.name).collect()
}

/// The shipped system called `name`.
pub fn lookup(name: &str) -> Result<&'static System, SpawnError> {
    SYSTEMS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| SpawnError::UnknownSystem(name.to_owned()))
}
