//! The grow-only counter's workload: half adds of small deltas, half reads, and a final read
//! of every node.

use super::GCounterMsg;
use highstorm::workload::{Operations, OpsRng};
use serde_json::Value;

/// Counter operations.
#[derive(Debug, Default)]
pub struct GCounterOps;

impl Operations for GCounterOps {
    type Msg = GCounterMsg;

    fn next(&mut self, _: &str, op: u64, _: &mut OpsRng) -> (&'static str, Value, GCounterMsg) {
        if op % 2 == 0 {
            let delta = op * 7 % 9 + 1;
            ("add", Value::from(delta), GCounterMsg::Add { delta })
        } else {
            ("read", Value::Null, GCounterMsg::Read)
        }
    }

    fn result(&self, reply: &GCounterMsg) -> Option<Value> {
        match reply {
            GCounterMsg::AddOk => Some(Value::Null),
            GCounterMsg::ReadOk { value } => Some(Value::from(*value)),
            _ => None,
        }
    }

    fn final_op(&mut self) -> Option<(&'static str, Value, GCounterMsg)> {
        Some(("final-read", Value::Null, GCounterMsg::Read))
    }
}
