//! Client workloads: sans-IO client nodes that invoke operations on the cluster at a steady
//! rate and record each one's invocation and completion as a history.
//!
//! A client is an ordinary [`Node`] run by the same driver loop as the cluster's nodes; it
//! records its history with [`Context::record_op`](highstorm_nodes::Context::record_op), which
//! the engine writes into the trace, where the checkers read it.

mod echo;
mod unique_ids;

use crate::scenario::Scenario;
use highstorm_nodes::rand::Rng;
use highstorm_nodes::{
    ClientOp, Ctx, Duration, LocalTime, Message, MsgId, Node, NodeProcess, OpPhase, Process,
    ProcessSetup, RpcReply,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Debug;

pub use echo::EchoOps;
pub use unique_ids::UniqueIdOps;

/// The operations one system's clients perform.
pub trait Operations: 'static {
    /// The system's messages.
    type Msg: Serialize + DeserializeOwned + Debug;
    /// The next operation: its name and value for the history, and the request to send.
    fn next(&mut self, client: &str, op: u64) -> (&'static str, Value, Self::Msg);
    /// The operation's result for the history, if `reply` is the expected answer.
    fn result(&self, reply: &Self::Msg) -> Option<Value>;
}

/// The client's one timer.
#[derive(Debug)]
pub enum ClientTimer {
    /// Time to invoke the next operation.
    Invoke,
}

/// A client that invokes operations at a steady rate on random nodes, one RPC each, and
/// records every invocation and completion.
pub struct Client<O> {
    ops: O,
    interval: Duration,
    timeout: Duration,
    stop_at: LocalTime,
    next_op: u64,
    inflight: BTreeMap<MsgId, (u64, String, &'static str)>,
}

impl<O: Operations> Client<O> {
    /// A client issuing `rate` operations per second until `stop_at`, waiting `timeout` for
    /// each reply.
    pub fn new(ops: O, rate: f64, timeout: Duration, stop_at: LocalTime) -> Self {
        Client {
            ops,
            interval: Duration::from_secs_f64(1.0 / rate.max(1e-3)),
            timeout,
            stop_at,
            next_op: 0,
            inflight: BTreeMap::new(),
        }
    }
}

impl<O: Operations> Node for Client<O> {
    type Msg = O::Msg;
    type Timer = ClientTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Spread clients out: the first operation comes at a random point of the first interval.
        let first = self.interval.mul_f64(ctx.rng().random_range(0.0..1.0));
        ctx.set_timer(first, ClientTimer::Invoke);
    }

    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<O::Msg>) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ClientTimer) {
        if ctx.now() >= self.stop_at || ctx.peers().is_empty() {
            return;
        }
        let n = ctx.peers().len();
        let i = ctx.rng().random_range(0..n);
        let node = ctx.peers()[i].clone();
        let op = self.next_op;
        self.next_op += 1;
        let (f, value, request) = self.ops.next(ctx.id(), op);
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
        ctx.set_timer(self.interval, ClientTimer::Invoke);
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
        ctx.record_op(ClientOp {
            op,
            phase,
            node,
            f: f.to_owned(),
            value,
            request: Some(request),
        });
    }
}

/// Starts one client of `scenario`'s system. Clients stop invoking one timeout before the end,
/// so every operation completes within the run.
pub fn spawn_client(scenario: &Scenario, setup: ProcessSetup) -> Box<dyn Process> {
    let w = &scenario.workload;
    let rate = w.rate / w.clients.max(1) as f64;
    let stop_at = LocalTime::from_duration(scenario.duration.saturating_sub(w.timeout * 2));
    match scenario.system.as_str() {
        "unique-ids" => Box::new(NodeProcess::new(
            Client::new(UniqueIdOps, rate, w.timeout, stop_at),
            setup,
        )),
        _ => Box::new(NodeProcess::new(
            Client::new(EchoOps, rate, w.timeout, stop_at),
            setup,
        )),
    }
}
