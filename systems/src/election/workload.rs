//! The election's workload: every operation submits a new work item (unique across clients)
//! to a random node; the checker follows each acknowledged item to its recorded result.

use super::ElectionMsg;
use highstorm::workload::{Operations, OpsRng};
use serde_json::Value;

/// Election operations.
#[derive(Debug, Default)]
pub struct ElectionOps;

impl Operations for ElectionOps {
    type Msg = ElectionMsg;

    fn next(
        &mut self,
        client: &str,
        op: u64,
        _: &mut OpsRng,
    ) -> (&'static str, Value, ElectionMsg) {
        let item = format!("{client}-{op}");
        let msg = ElectionMsg::Submit {
            item: item.clone(),
            forwarded: false,
        };
        ("submit", Value::from(item), msg)
    }

    fn result(&self, reply: &ElectionMsg) -> Option<Value> {
        match reply {
            ElectionMsg::SubmitOk => Some(Value::Null),
            _ => None,
        }
    }
}
