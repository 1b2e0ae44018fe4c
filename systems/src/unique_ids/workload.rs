//! Unique ids' workload: each operation asks for a new id.

use super::UniqueIdsMsg;
use highstorm::workload::{Operations, OpsRng};
use serde_json::Value;

/// Unique-id operations.
#[derive(Debug, Default)]
pub struct UniqueIdOps;

impl Operations for UniqueIdOps {
    type Msg = UniqueIdsMsg;

    fn next(&mut self, _: &str, _: u64, _: &mut OpsRng) -> (&'static str, Value, UniqueIdsMsg) {
        ("generate", Value::Null, UniqueIdsMsg::Generate)
    }

    fn result(&self, reply: &UniqueIdsMsg) -> Option<Value> {
        match reply {
            UniqueIdsMsg::GenerateOk { id } => Some(Value::String(id.clone())),
            UniqueIdsMsg::Generate => None,
        }
    }
}
