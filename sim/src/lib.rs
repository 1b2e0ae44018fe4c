//! highstorm: deterministic simulation testing for distributed systems.
//!
//! Node logic is written once against [`Node`] and runs for real or
//! inside a seeded simulation that injects partitions, crashes, pauses, clock skew, latency,
//! loss and duplication, while checkers prove properties of the run. A [`Scenario`] says what
//! runs and which faults hit it; [`run_seed`] runs it at one seed and returns a [`SeedReport`]
//! with verdicts, metrics, the trace and its hash, and the line that reproduces it;
//! [`testing::Sweep`] runs many seeds from `cargo test` and, when one fails, panics with the
//! commands that replay it and a scenario shrunk to the fewest faults that still fail.
//!
//! # Make it fast first
//!
//! A sweep runs thousands of simulations inside `cargo test`. Built unoptimised, as `cargo
//! test` builds by default, it runs about 7x slower; put this in your workspace's root
//! `Cargo.toml` (debug assertions stay on, your own crate still builds fast):
//!
//! ```toml
//! [profile.dev.package."*"]
//! opt-level = 2
//! debug = false
//!
//! [profile.dev.package.highstorm]
//! opt-level = 1
//!
//! [profile.dev.package.highstorm-nodes]
//! opt-level = 1
//! ```
//!
//! A [`Sweep`] built without it prints a one-line hint once on stderr.
//!
//! # Testing your own system
//!
//! Testing your own system takes a node, a [`System`] that says how to start
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
//!     fn next(&mut self, _: &str, _: u64, _: &mut OpsRng) -> (&'static str, serde_json::Value, Msg) {
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
//! let system = System::new("ids", |variant, _config| {
//!     Ok(Ids { issued: 0, forgetful: variant == "forgetful" })
//! })
//! .variants(&["default", "forgetful"])
//! .client(|c| c.steady(NextOps))
//! .check(generic::unique("ids-unique", "next", ""));
//!
//! let ms = std::time::Duration::from_millis;
//! let scenario = Scenario::new("ids-crash", "ids")
//!     .nodes(3)
//!     .duration(ms(3000))
//!     .workload(2, 40.0)
//!     .crash_at(ms(1000), "n1", Some(ms(200)));
//! // Every seed passes (set HIGHSTORM_SEEDS=0..1000 for more)...
//! Sweep::new(&system, &scenario).seeds(0..10).run();
//! // ... and the planted bug is found, with a shrunk scenario to replay.
//! let buggy = scenario.variant("forgetful");
//! let failure = Sweep::new(&system, &buggy).seeds(0..10).find_failure();
//! assert!(failure.is_some());
//! ```
//!
//! # When a seed fails
//!
//! The panic names every failing seed, its failed checks with their reasons, and a `repro:`
//! line per seed: the exact `cargo test` command (package, test binary, test name, `--exact`)
//! that reruns that seed alone with the same trace hash. Replaying a seed does not shrink it
//! again; the first failure of a fresh sweep is shrunk into
//! `target/highstorm/shrunk/SCENARIO.VARIANT.ENGINE.seedN.toml`. See [`testing`].
//!
//! # Where things are
//!
//! The crate root re-exports what a user needs, grouped below by what it is for; the
//! [`prelude`] has everything a test of one's own system needs. The modules hold the details,
//! in layers that only use those before them:
//!
//! - the node contract, re-exported from [`nodes`]; [`scenario`] (what runs under which
//!   faults, TOML in and out) and [`trace`] (what a run did, its text, hash and diff);
//! - [`faults`] (the fault timeline and the nemesis; the world the faults act on is the
//!   engines' own), [`check`] (verdicts, client histories, generic checkers) and [`metrics`];
//! - [`system`] ([`System`]: how a system's nodes start, what its clients do — [`workload`] —
//!   which checkers judge it, its HTTP API — [`http_api`]);
//! - [`engine`] (the turmoil and events engines behind one [`engine::run`]; [`sim_http`] is
//!   HTTP over turmoil's TCP);
//! - [`runner`] (one seed), [`sweep`] (many, in parallel, sharded), [`shrink`], [`testing`]
//!   ([`Sweep`] for `cargo test`);
//! - [`cli`] (the `highstorm` command line, for any crate's own systems) and [`driver`] (one
//!   node for real: UDP, Maelstrom's stdio, an HTTP API beside it).

mod build_hint;
pub mod check;
pub mod cli;
pub mod driver;
pub mod engine;
pub mod explore;
pub mod faults;
pub mod http_api;
pub mod metrics;
mod repro;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod sim_http;
pub mod sometimes;
pub mod swarm;
pub mod sweep;
pub mod system;
pub mod testing;
pub mod trace;
pub mod workload;

// The public API. The modules above hold the details; what most users need is here, and
// everything a test of one's own system needs is also in the `prelude`.

pub use highstorm_nodes as nodes;
#[doc(no_inline)]
pub use highstorm_nodes::rand;
/// The node contract, from the `highstorm-nodes` crate (also reachable whole as [`nodes`]):
/// a [`Node`] is a sans-IO state machine; its handlers get a [`Context`] (`Ctx<'_, Self>`) to
/// send, reply, make RPCs, set timers, draw random numbers, keep [`storage`] and note events.
#[doc(inline)]
pub use highstorm_nodes::{
    storage, Buggify, ClientOp, ConfigProblem, Context, Ctx, Duration, ErrorBody, ErrorCode,
    LocalTime, Message, MsgId, NoTimer, Node, Note, OpPhase, RpcReply, SyncError, SystemConfig,
    TimerId, WorkId, WorkRequest, WorkResult,
};

// A system: how its nodes start, what its clients do, which checkers judge a run.
pub use check::{OpRef, Operation, Verdict, Violation};
pub use system::{ClientSetup, Registry, System};
pub use workload::{Operations, OpsRng};

// A scenario: what runs, on which engine, under which faults.
pub use engine::{Engine, EngineError};
pub use scenario::{
    Fault, FaultAction, Nemesis, NemesisKind, Scenario, ScenarioError, StorageFaults, StorageRates,
};

// Running it: one seed, a sweep from `cargo test`, a shrunk failure, the command line.
pub use cli::Cli;
pub use metrics::Metrics;
pub use runner::{run_seed, seeds_from_env, Recheck, SeedReport};
pub use shrink::Shrunk;
pub use sometimes::{Sometimes, SometimesReport};
pub use testing::Sweep;

// What a run leaves: its trace.
pub use trace::{Event, EventKind, Trace};

/// What a test of your own system needs, in one `use highstorm::prelude::*;`: the node
/// contract, the client workload, checkers, the system and scenario, and the sweep.
pub mod prelude {
    #[doc(no_inline)]
    pub use crate::check::{generic, HistoryOp, OpRef, Operation, Verdict};
    #[doc(no_inline)]
    pub use crate::rand::Rng;
    #[doc(no_inline)]
    pub use crate::scenario::{Nemesis, NemesisKind, Scenario};
    #[doc(no_inline)]
    pub use crate::scenario::{StorageFaults, StorageRates};
    #[doc(no_inline)]
    pub use crate::storage::{Storage, StorageError};
    #[doc(no_inline)]
    pub use crate::system::{config, ClientSetup, Registry, System};
    #[doc(no_inline)]
    pub use crate::testing::Sweep;
    #[doc(no_inline)]
    pub use crate::trace::Trace;
    #[doc(no_inline)]
    pub use crate::workload::{Operations, OpsRng};
    #[doc(no_inline)]
    pub use crate::Engine;
    #[doc(no_inline)]
    pub use crate::{
        ClientOp, Context, Ctx, Duration, ErrorBody, ErrorCode, LocalTime, Message, MsgId, NoTimer,
        Node, OpPhase, RpcReply, SyncError, TimerId,
    };
    #[doc(no_inline)]
    pub use highstorm_nodes::{checked_config, ConfigProblem, SpawnError, SystemConfig};
}
