//! Systems for the core's own unit tests: the core knows no shipped system, so its tests bring
//! their own (the same shape a user's crate has).

use crate::check::generic;
use crate::system::{Registry, System};
use crate::workload::{Operations, OpsRng};
use highstorm_nodes::{Ctx, Message, NoTimer, Node};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Msg {
    Next,
    NextOk { id: String },
}

/// Hands out ids, unique only if it remembers its boot count (`forgetful` does not).
struct Ids {
    issued: u64,
    forgetful: bool,
}

impl Node for Ids {
    type Msg = Msg;
    type Timer = NoTimer;
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
        if let Msg::Next = msg.body {
            let boot = if self.forgetful { 0 } else { ctx.boot() };
            let id = format!("{}-{boot}-{}", ctx.id(), self.issued);
            self.issued += 1;
            ctx.reply(&msg, Msg::NextOk { id });
        }
    }
}

struct NextOps;

impl Operations for NextOps {
    type Msg = Msg;
    fn next(&mut self, _: &str, _: u64, _: &mut OpsRng) -> (&'static str, Value, Msg) {
        ("next", Value::Null, Msg::Next)
    }
    fn result(&self, reply: &Msg) -> Option<Value> {
        match reply {
            Msg::NextOk { id } => Some(id.clone().into()),
            _ => None,
        }
    }
}

/// `ids`: every node hands out ids; a planted `forgetful` variant repeats them after a restart.
pub(crate) fn ids() -> System {
    System::new("ids", |variant, _| {
        Ok(Ids {
            issued: 0,
            forgetful: variant == "forgetful",
        })
    })
    .variants(&["default", "forgetful"])
    .client(|c| c.steady(NextOps))
    .check(generic::unique("ids-unique", "next", ""))
    .check(crate::check::requests_answered_unless_faulted)
}

/// The `ids` system, plus `pair` (needs 2 nodes) and `quorum` (needs 3), which run the same
/// node.
pub(crate) fn registry() -> Registry {
    let sized = |name: &str, min: usize| {
        System::new(name, |_, _| {
            Ok(Ids {
                issued: 0,
                forgetful: false,
            })
        })
        .min_nodes(move |_| min)
    };
    Registry::new()
        .with(ids())
        .with(sized("pair", 2))
        .with(sized("quorum", 3))
}
