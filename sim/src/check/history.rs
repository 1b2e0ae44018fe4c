//! Client histories, read back from the trace.

use crate::trace::{EventKind, Trace};
use highstorm_nodes::OpPhase;
use serde_json::Value;
use std::collections::BTreeMap;

/// One client operation: its invocation and, if it finished, its completion.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// The client.
    pub client: String,
    /// The operation's number at that client.
    pub op: u64,
    /// The node it went to.
    pub node: String,
    /// Its name.
    pub f: String,
    /// When it was invoked (simulated µs).
    pub invoke_us: u64,
    /// Its value at invocation.
    pub value: Value,
    /// The `msg_id` of its request.
    pub request: Option<highstorm_nodes::MsgId>,
    /// How it ended, if it did.
    pub completion: Option<Completion>,
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// When (simulated µs).
    pub at_us: u64,
    /// `Ok`, `Fail` or `Info`.
    pub phase: OpPhase,
    /// The result, or the reason it failed.
    pub value: Value,
}

/// Every client operation in `trace`, in invocation order.
pub fn history(trace: &Trace) -> Vec<Operation> {
    let mut ops: Vec<Operation> = vec![];
    let mut index: BTreeMap<(&str, u64), usize> = BTreeMap::new();
    for e in trace.events() {
        let EventKind::Client { client, op } = &e.kind else {
            continue;
        };
        if op.phase == OpPhase::Invoke {
            index.insert((client.as_str(), op.op), ops.len());
            ops.push(Operation {
                client: client.clone(),
                op: op.op,
                node: op.node.clone(),
                f: op.f.clone(),
                invoke_us: e.at_us,
                value: op.value.clone(),
                request: op.request,
                completion: None,
            });
        } else if let Some(&i) = index.get(&(client.as_str(), op.op)) {
            ops[i].completion = Some(Completion {
                at_us: e.at_us,
                phase: op.phase,
                value: op.value.clone(),
            });
        }
    }
    ops
}
