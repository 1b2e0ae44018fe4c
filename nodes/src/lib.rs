//! The sans-IO node contract of highstorm: what node logic is written against.
//!
//! A [`Node`] is a state machine: the host calls its handlers with the current local time and
//! a [`Context`], and carries out what the handlers recorded there. The same node runs inside
//! highstorm's simulator, over real UDP, and under Maelstrom's stdio protocol.
//!
//! ```
//! use highstorm_nodes::{testing::Harness, Ctx, Message, NoTimer, Node};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Msg { Ping, Pong { from: String } }
//!
//! struct Ponger;
//! impl Node for Ponger {
//!     type Msg = Msg;
//!     type Timer = NoTimer;
//!     fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
//!         if let Msg::Ping = msg.body {
//!             let from = ctx.id().to_owned();
//!             ctx.reply(&msg, Msg::Pong { from });
//!         }
//!     }
//! }
//!
//! let mut h = Harness::new(Ponger, "n1", &[]);
//! let replies = h.request("c1", 7, &Msg::Ping);
//! assert_eq!(replies[0].in_reply_to, Some(7));
//! ```

pub mod buggify;
mod membership;
mod msg_ids;
mod node;
mod note;
mod process;
mod spawn;
pub mod storage;
pub mod testing;
mod time;
mod timers;
pub mod wire;

// The public API. `storage`, `testing` and `wire` are modules of their own; the rest is here.

// Writing a node: the state machine, what its handlers get and may do, and the values they
// pass around.
pub use buggify::Buggify;
pub use node::{
    ClientOp, Context, Ctx, Message, Node, Note, OpPhase, RpcReply, SyncError, WorkId, WorkRequest,
    WorkResult,
};
pub use note::{decode as decode_note, TypedNote};
pub use rand;
pub use spawn::{
    checked_config, config, read_checked_config, read_config, BlobsFn, ConfigProblem, NoConfig,
    SpawnError, SystemConfig, WorkFn, WorkOutcome, MAX_PERIOD_MS,
};
pub use time::{Duration, LocalTime};
pub use timers::TimerId;
pub use wire::{ErrorBody, ErrorCode, MsgId};

// Describing a system around its nodes: its `[config]`, its outside work and initial blobs.

// Hosting a node (what a driver or an engine does): a node as a type-erased process fed
// bytes, timeouts and work results, and what it asks its host to do.
pub use membership::Peers;
pub use node::{derive_seed, Output, SyncFaults, Transmit};
pub use process::{NodeProcess, Process, ProcessSetup, ProcessStats};

/// The timer type of a node that sets no timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoTimer {}
