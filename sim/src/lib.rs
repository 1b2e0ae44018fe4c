//! highstorm: deterministic simulation testing for distributed systems.
//!
//! Node logic is written once against [`highstorm_nodes::Node`] and runs for real or inside a
//! seeded simulation that injects partitions, crashes, latency and loss, while checkers prove
//! properties of the run. A [`Scenario`] says what runs and which faults hit it; [`run_seed`]
//! runs it at one seed and returns a [`SeedReport`] with verdicts, the trace and its hash, and
//! the line that reproduces it.
//!
//! ```
//! use highstorm::{run_seed, Recheck, Scenario};
//! use std::time::Duration;
//!
//! let ms = Duration::from_millis;
//! let scenario = Scenario::new("doc-unique-ids", "unique-ids")
//!     .nodes(3)
//!     .duration(ms(2000))
//!     .partition_at(ms(500), &[&["n0"][..], &["n1", "n2"][..]])
//!     .heal_at(ms(900))
//!     .crash_at(ms(1000), "n1", Some(ms(300)));
//! let report = run_seed(&scenario, 42, Recheck::Twice).unwrap();
//! assert!(report.ok, "{:?}", report.checks);
//! ```

pub mod check;
pub mod engine;
pub mod faults;
pub mod http;
pub mod metrics;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod sweep;
pub mod system;
pub mod testing;
pub mod trace;
pub mod workload;

pub use highstorm_nodes as nodes;
pub use runner::{run_seed, seeds_from_env, Recheck, SeedReport};
pub use scenario::{Fault, FaultAction, Scenario, ScenarioError};
pub use trace::{Event, EventKind, Trace};

/// What a test of your own system needs, in one `use highstorm::prelude::*;`.
pub mod prelude {
    pub use crate::check::{generic, Operation, Verdict};
    pub use crate::scenario::Scenario;
    pub use crate::system::{config, register, ClientSetup, System};
    pub use crate::testing::Sweep;
    pub use crate::trace::Trace;
    pub use crate::workload::Operations;
    pub use highstorm_nodes::systems::SpawnError;
    pub use highstorm_nodes::{
        Ctx, Duration, ErrorBody, ErrorCode, LocalTime, Message, MsgId, NoTimer, Node, RpcReply,
    };
}
