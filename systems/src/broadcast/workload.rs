//! Broadcast's workload: half broadcasts of values unique across clients, half reads, and a
//! final read of every node.

use super::BroadcastMsg;
use highstorm::workload::{Operations, OpsRng};
use serde_json::Value;

/// Broadcast operations.
#[derive(Debug)]
pub struct BroadcastOps {
    client: u64,
    clients: u64,
    sent: u64,
}

impl BroadcastOps {
    /// Operations of client number `client` of `clients`; its values are `client + k * clients`.
    pub fn new(client: u64, clients: u64) -> Self {
        BroadcastOps {
            client,
            clients,
            sent: 0,
        }
    }
}

impl Operations for BroadcastOps {
    type Msg = BroadcastMsg;

    fn next(&mut self, _: &str, op: u64, _: &mut OpsRng) -> (&'static str, Value, BroadcastMsg) {
        if op % 2 == 0 {
            let message = self.client + self.sent * self.clients;
            self.sent += 1;
            (
                "broadcast",
                Value::from(message),
                BroadcastMsg::Broadcast { message },
            )
        } else {
            ("read", Value::Null, BroadcastMsg::Read)
        }
    }

    fn result(&self, reply: &BroadcastMsg) -> Option<Value> {
        match reply {
            BroadcastMsg::BroadcastOk => Some(Value::Null),
            BroadcastMsg::ReadOk { messages } => {
                Some(Value::Array(messages.iter().map(|&m| m.into()).collect()))
            }
            _ => None,
        }
    }

    fn final_op(&mut self) -> Option<(&'static str, Value, BroadcastMsg)> {
        Some(("final-read", Value::Null, BroadcastMsg::Read))
    }
}
