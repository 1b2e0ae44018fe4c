//! highstorm: deterministic simulation testing for distributed systems.
//!
//! Node logic is written once against [`Node`](highstorm_nodes::Node) and runs for real or
//! inside a seeded simulation that injects partitions, crashes, pauses, clock skew, latency,
//! loss and duplication, while checkers prove properties of the run. A [`Scenario`] says what
//! runs and which faults hit it; [`run_seed`] runs it at one seed and returns a [`SeedReport`]
//! with verdicts, metrics, the trace and its hash, and the line that reproduces it;
//! [`testing::Sweep`] runs many seeds from `cargo test` and, when one fails, panics with the
//! commands that replay it and a scenario shrunk to the fewest faults that still fail.
//!
//! Testing your own system takes a node, a [`System`](system::System) that says how to start
//! it, what its clients do and which checkers judge a run, and a scenario:
//!
//! ```
//! use highstorm::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! // A node that hands out ids: unique only if it remembers its boot count.
//! #[derive(Debug, Serialize, Deserialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Msg { Next, NextOk { id: String } }
//!
//! struct Ids { issued: u64, forgetful: bool }
//!
//! impl Node for Ids {
//!     type Msg = Msg;
//!     type Timer = NoTimer;
//!     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
//!         if let Msg::Next = msg.body {
//!             let boot = if self.forgetful { 0 } else { ctx.boot() };
//!             let id = format!("{}-{boot}-{}", ctx.id(), self.issued);
//!             self.issued += 1;
//!             ctx.reply(&msg, Msg::NextOk { id });
//!         }
//!     }
//! }
//!
//! // Its clients ask any node for an id, 40 times a second.
//! struct NextOps;
//! impl Operations for NextOps {
//!     type Msg = Msg;
//!     fn next(&mut self, _client: &str, _op: u64) -> (&'static str, serde_json::Value, Msg) {
//!         ("next", serde_json::Value::Null, Msg::Next)
//!     }
//!     fn result(&self, reply: &Msg) -> Option<serde_json::Value> {
//!         match reply {
//!             Msg::NextOk { id } => Some(id.clone().into()),
//!             _ => None,
//!         }
//!     }
//! }
//!
//! register(
//!     System::new("ids", |variant, _config| {
//!         Ok(Ids { issued: 0, forgetful: variant == "forgetful" })
//!     })
//!     .variants(&["default", "forgetful"])
//!     .client(|c| c.steady(NextOps))
//!     .check(generic::unique("ids-unique", "next", "")),
//! );
//!
//! let ms = std::time::Duration::from_millis;
//! let scenario = Scenario::new("ids-crash", "ids")
//!     .nodes(3)
//!     .duration(ms(3000))
//!     .workload(2, 40.0)
//!     .crash_at(ms(1000), "n1", Some(ms(200)));
//! // Every seed passes (set HIGHSTORM_SEEDS=0..1000 for more)...
//! Sweep::new(&scenario).seeds(0..10).run();
//! // ... and the planted bug is found, with a shrunk scenario to replay.
//! let failure = Sweep::new(&scenario.variant("forgetful")).seeds(0..10).find_failure();
//! assert!(failure.is_some());
//! ```

pub mod build_hint;
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
