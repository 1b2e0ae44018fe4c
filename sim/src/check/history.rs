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

/// One client operation as the trace holds it, borrowed rather than copied: what an
/// [`Operation`] holds, read without cloning a value. A run's history is mostly read results
/// (a run of 25 nodes that replicate a set: 392,877 values in 900 reads), and copying them
/// out of the trace cost as much as every check over them did; checkers that take `&[OpRef]`
/// (registered with [`System::check_refs`](crate::system::System::check_refs)) read them
/// where they are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpRef<'t> {
    /// The client.
    pub client: &'t str,
    /// The operation's number at that client.
    pub op: u64,
    /// The node it went to.
    pub node: &'t str,
    /// Its name.
    pub f: &'t str,
    /// When it was invoked (simulated µs).
    pub invoke_us: u64,
    /// Its value at invocation.
    pub value: &'t Value,
    /// The `msg_id` of its request.
    pub request: Option<highstorm_nodes::MsgId>,
    /// How it ended, if it did.
    pub completion: Option<CompletionRef<'t>>,
}

/// How an operation ended, borrowed from the trace (see [`OpRef`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompletionRef<'t> {
    /// When (simulated µs).
    pub at_us: u64,
    /// `Ok`, `Fail` or `Info`.
    pub phase: OpPhase,
    /// The result, or the reason it failed.
    pub value: &'t Value,
}

impl<'t> OpRef<'t> {
    /// The operation, copied out of the trace.
    pub fn to_operation(&self) -> Operation {
        Operation {
            client: self.client.to_owned(),
            op: self.op,
            node: self.node.to_owned(),
            f: self.f.to_owned(),
            invoke_us: self.invoke_us,
            value: self.value.clone(),
            request: self.request,
            completion: self.completion.map(|c| Completion {
                at_us: c.at_us,
                phase: c.phase,
                value: c.value.clone(),
            }),
        }
    }

    /// Its result, if it completed `ok`.
    pub fn ok_value(&self) -> Option<&'t Value> {
        self.completion
            .filter(|c| c.phase == OpPhase::Ok)
            .map(|c| c.value)
    }

    /// Whether it definitely did not happen (completed `fail`).
    pub fn failed(&self) -> bool {
        self.completion.is_some_and(|c| c.phase == OpPhase::Fail)
    }

    /// Who did what, for messages: `c0 op3 write @n1`.
    pub fn label(&self) -> String {
        format!("{} op{} {} @{}", self.client, self.op, self.f, self.node)
    }
}

/// Either form of a history entry: an owned [`Operation`] or an [`OpRef`] into the trace.
/// Checkers written over `&[O]` for any `O: HistoryOp` serve both
/// [`System::check`](crate::system::System::check) (owned operations) and
/// [`System::check_refs`](crate::system::System::check_refs) (borrowed ones).
pub trait HistoryOp {
    /// The operation, borrowed.
    fn view(&self) -> OpRef<'_>;
}

impl HistoryOp for Operation {
    fn view(&self) -> OpRef<'_> {
        OpRef {
            client: &self.client,
            op: self.op,
            node: &self.node,
            f: &self.f,
            invoke_us: self.invoke_us,
            value: &self.value,
            request: self.request,
            completion: self.completion.as_ref().map(|c| CompletionRef {
                at_us: c.at_us,
                phase: c.phase,
                value: &c.value,
            }),
        }
    }
}

impl HistoryOp for OpRef<'_> {
    fn view(&self) -> OpRef<'_> {
        *self
    }
}

/// Every client operation in `trace`, in invocation order, copied out of it (see
/// [`history_refs`] for the same without copies).
pub fn history(trace: &Trace) -> Vec<Operation> {
    history_refs(trace)
        .iter()
        .map(OpRef::to_operation)
        .collect()
}

/// Every client operation in `trace`, in invocation order, borrowed from it: the same
/// entries as [`history`], with no value copied.
pub fn history_refs(trace: &Trace) -> Vec<OpRef<'_>> {
    let mut ops: Vec<OpRef<'_>> = vec![];
    let mut index: BTreeMap<(&str, u64), usize> = BTreeMap::new();
    for e in trace.events() {
        let EventKind::Client { client, op } = &e.kind else {
            continue;
        };
        if op.phase == OpPhase::Invoke {
            index.insert((client.as_str(), op.op), ops.len());
            ops.push(OpRef {
                client,
                op: op.op,
                node: &op.node,
                f: &op.f,
                invoke_us: e.at_us,
                value: &op.value,
                request: op.request,
                completion: None,
            });
        } else if let Some(&i) = index.get(&(client.as_str(), op.op)) {
            ops[i].completion = Some(CompletionRef {
                at_us: e.at_us,
                phase: op.phase,
                value: &op.value,
            });
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::ClientOp;
    use serde_json::json;
    use std::time::Duration;

    fn client(trace: &mut Trace, ms: u64, client: &str, op: u64, phase: OpPhase, value: Value) {
        let op = ClientOp {
            op,
            phase,
            node: "n1".into(),
            f: "read".into(),
            value,
            request: Some(op + 100),
        };
        let client = client.to_owned();
        trace.push(Duration::from_millis(ms), EventKind::Client { client, op });
    }

    #[test]
    fn borrowed_and_owned_histories_hold_the_same_operations() {
        let mut t = Trace::new();
        client(&mut t, 1, "c0", 0, OpPhase::Invoke, Value::Null);
        client(&mut t, 2, "c1", 0, OpPhase::Invoke, json!(7));
        client(&mut t, 3, "c0", 0, OpPhase::Ok, json!([1, 2, 3]));
        client(&mut t, 4, "c1", 0, OpPhase::Fail, json!("refused"));
        client(&mut t, 5, "c0", 1, OpPhase::Invoke, Value::Null);
        // A completion of nothing invoked is no operation.
        client(&mut t, 6, "c2", 9, OpPhase::Ok, json!(1));
        let refs = history_refs(&t);
        let owned = history(&t);
        assert_eq!(owned.len(), 3);
        assert_eq!(refs.len(), 3);
        for (r, o) in refs.iter().zip(&owned) {
            assert_eq!(*r, o.view());
            assert_eq!(&r.to_operation(), o);
            assert_eq!(r.ok_value(), o.ok_value());
            assert_eq!(r.failed(), o.failed());
            assert_eq!(r.label(), o.label());
        }
        assert_eq!(refs[0].ok_value(), Some(&json!([1, 2, 3])));
        assert_eq!(refs[0].completion.map(|c| c.at_us), Some(3000));
        assert!(refs[1].failed());
        assert_eq!(refs[2].completion, None);
        assert_eq!(refs[1].request, Some(100));
    }
}
