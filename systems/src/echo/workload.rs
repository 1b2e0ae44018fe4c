//! Echo's workload: each operation echoes a value unique to its client and number.

use super::EchoMsg;
use highstorm::workload::{Operations, OpsRng};
use serde_json::Value;

/// Echo operations.
#[derive(Debug, Default)]
pub struct EchoOps;

impl Operations for EchoOps {
    type Msg = EchoMsg;

    fn next(&mut self, client: &str, op: u64, _: &mut OpsRng) -> (&'static str, Value, EchoMsg) {
        let value = Value::String(format!("{client}-{op}"));
        ("echo", value.clone(), EchoMsg::Echo { echo: value })
    }

    fn result(&self, reply: &EchoMsg) -> Option<Value> {
        match reply {
            EchoMsg::EchoOk { echo } => Some(echo.clone()),
            EchoMsg::Echo { .. } => None,
        }
    }
}
