//! Client workloads: sans-IO client nodes that invoke operations on the cluster at a steady
//! rate and record each one's invocation and completion as a history.
//!
//! A client is an ordinary [`Node`] run by the same driver loop as the cluster's nodes; it
//! records its history with [`Context::record_op`](highstorm_nodes::Context::record_op), which
//! the engine writes into the trace, where the checkers read it.

pub mod http;

use highstorm_nodes::rand::Rng;
use highstorm_nodes::{
    ClientOp, Ctx, Duration, LocalTime, Message, MsgId, Node, OpPhase, RpcReply,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// The operations one system's clients perform.
pub trait Operations: 'static {
    /// The system's messages.
    type Msg: Serialize + DeserializeOwned + Debug;
    /// The next operation (number `op` of `client`): its name and value for the history, and
    /// the request to send. Draw any randomness from `rng`: it is seeded from the run seed and
    /// the client's name, and only the operations draw from it, so a run stays reproducible.
    fn next(&mut self, client: &str, op: u64, rng: &mut OpsRng)
        -> (&'static str, Value, Self::Msg);
    /// The operation's result for the history, if `reply` is the expected answer.
    fn result(&self, reply: &Self::Msg) -> Option<Value>;
    /// An operation each client sends to every node once regular operations have stopped
    /// (a final read), if the system's checkers need one.
    fn final_op(&mut self) -> Option<(&'static str, Value, Self::Msg)> {
        None
    }
}

/// The random number generator [`Operations::next`] draws from (`use highstorm::prelude::*`
/// brings [`Rng`] for its methods).
pub type OpsRng = rand_chacha::ChaCha8Rng;

/// The seed of a client's [`OpsRng`]: from the run seed, the client's name and boot count,
/// and kept apart from the client node's own rng (so a workload that draws nothing leaves a
/// run exactly as it was).
pub(crate) fn ops_seed(run_seed: u64, client: &str, boot: u64) -> u64 {
    highstorm_nodes::derive_seed(run_seed, &format!("{client}/ops"), boot)
}

/// The client's timers.
#[derive(Debug)]
pub(crate) enum ClientTimer {
    /// Time to invoke the next operation.
    Invoke,
    /// Time for the final operation on every node.
    Final,
}

/// A client that invokes operations at a steady rate on random nodes, one RPC each, and
/// records every invocation and completion.
pub(crate) struct Client<O> {
    ops: O,
    ops_rng: OpsRng,
    interval: Duration,
    timeout: Duration,
    stop_at: LocalTime,
    final_at: LocalTime,
    next_op: u64,
    inflight: BTreeMap<MsgId, (u64, String, &'static str)>,
    /// Nodes whose final operation has not succeeded yet.
    finals_pending: std::collections::BTreeSet<String>,
}

impl<O: Operations> Client<O> {
    /// A client issuing `rate` operations per second until `stop_at`, waiting `timeout` for
    /// each reply, and sending its final operation (if any) to every node at `final_at`;
    /// `ops_rng` is what its operations draw from (see [`ops_seed`]).
    pub(crate) fn new(
        ops: O,
        ops_rng: OpsRng,
        rate: f64,
        timeout: Duration,
        stop_at: LocalTime,
        final_at: LocalTime,
    ) -> Self {
        Client {
            ops,
            ops_rng,
            interval: Duration::from_secs_f64(1.0 / rate.max(1e-3)),
            timeout,
            stop_at,
            final_at,
            next_op: 0,
            inflight: BTreeMap::new(),
            finals_pending: Default::default(),
        }
    }

    fn invoke(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        node: String,
        f: &'static str,
        value: Value,
        request: O::Msg,
    ) {
        let op = self.next_op;
        self.next_op += 1;
        ctx.record_op(ClientOp {
            op,
            phase: OpPhase::Invoke,
            node: node.clone(),
            f: f.to_owned(),
            value,
            request: Some(ctx.next_msg_id()),
        });
        let id = ctx.rpc(&node, request, self.timeout);
        self.inflight.insert(id, (op, node, f));
    }
}

impl<O: Operations> Node for Client<O> {
    type Msg = O::Msg;
    type Timer = ClientTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Spread clients out: the first operation comes at a random point of the first interval.
        let first = self.interval.mul_f64(ctx.rng().random_range(0.0..1.0));
        ctx.set_timer(first, ClientTimer::Invoke);
        let until_final = self.final_at.saturating_since(ctx.now());
        ctx.set_timer(until_final, ClientTimer::Final);
    }

    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<O::Msg>) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: ClientTimer) {
        match timer {
            ClientTimer::Final => {
                for node in ctx.peers().to_vec() {
                    if let Some((f, value, request)) = self.ops.final_op() {
                        self.finals_pending.insert(node.clone());
                        self.invoke(ctx, node, f, value, request);
                    }
                }
            }
            ClientTimer::Invoke => {
                if ctx.now() >= self.stop_at || ctx.peers().is_empty() {
                    return;
                }
                let n = ctx.peers().len();
                let i = ctx.rng().random_range(0..n);
                let node = ctx.peers()[i].clone();
                let (f, value, request) = self.ops.next(ctx.id(), self.next_op, &mut self.ops_rng);
                self.invoke(ctx, node, f, value, request);
                ctx.set_timer(self.interval, ClientTimer::Invoke);
            }
        }
    }

    fn on_rpc_reply(&mut self, ctx: &mut Ctx<'_, Self>, request: MsgId, reply: RpcReply<O::Msg>) {
        let Some((op, node, f)) = self.inflight.remove(&request) else {
            return;
        };
        let (phase, value) = match reply {
            RpcReply::Reply(m) => match self.ops.result(&m.body) {
                Some(v) => (OpPhase::Ok, v),
                None => (
                    OpPhase::Fail,
                    Value::String(format!("unexpected reply {:?}", m.body)),
                ),
            },
            RpcReply::Error(e) if e.code.is_definite() => {
                (OpPhase::Fail, Value::String(e.to_string()))
            }
            RpcReply::Error(e) => (OpPhase::Info, Value::String(e.to_string())),
            RpcReply::Timeout => (OpPhase::Info, Value::String("timeout".into())),
        };
        // Retried only if the retry still completes within the run, which ends two timeouts
        // after `final_at`.
        let retry_final = phase != OpPhase::Ok
            && self.finals_pending.contains(&node)
            && ctx.now() <= self.final_at + self.timeout;
        if phase == OpPhase::Ok {
            self.finals_pending.remove(&node);
        }
        ctx.record_op(ClientOp {
            op,
            phase,
            node: node.clone(),
            f: f.to_owned(),
            value,
            request: Some(request),
        });
        // A final operation is retried until it succeeds (while the run lasts).
        if retry_final {
            if let Some((f, value, request)) = self.ops.final_op() {
                self.invoke(ctx, node, f, value, request);
            }
        }
    }
}

/// A client that does nothing (for a system without one).
#[derive(Debug, Default)]
pub(crate) struct Idle;

impl Node for Idle {
    type Msg = Value;
    type Timer = highstorm_nodes::NoTimer;
    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<Value>) {}
}
