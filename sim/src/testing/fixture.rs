//! Systems for the core's own unit tests: the core knows no shipped system, so its tests bring
//! their own (the same shape a user's crate has).

use crate::check::generic;
use crate::system::{Registry, System};
use crate::workload::{Operations, OpsRng};
use highstorm_nodes::{ConfigProblem, Ctx, Duration, Message, NoTimer, Node, SystemConfig};
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
/// node, and the `spinner`.
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
        .with(spinner())
}

/// The timer of a [`spinner`] node.
#[derive(Debug)]
pub(crate) enum SpinTimer {
    /// Fires first after 100 ms, then every period.
    Tick,
}

/// Ticks every 10 ms, or, on the node `[config] spins` names, re-arms its tick for the
/// instant it fires: a node that never lets simulated time move on.
struct Spinner {
    period: Duration,
}

impl Node for Spinner {
    type Msg = Msg;
    type Timer = SpinTimer;
    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.set_timer(Duration::from_millis(100), SpinTimer::Tick);
    }
    fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<Msg>) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: SpinTimer) {
        ctx.set_timer(self.period, timer);
    }
}

/// The `[config]` of [`spinner`].
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct SpinConfig {
    /// The node that re-arms its tick for the instant it fires.
    spins: Option<String>,
    /// Every other node's period.
    tick_ms: u64,
}

impl Default for SpinConfig {
    fn default() -> Self {
        SpinConfig {
            spins: None,
            tick_ms: 10,
        }
    }
}

impl SystemConfig for SpinConfig {
    fn check(&self) -> Result<(), ConfigProblem> {
        ConfigProblem::period_ms("tick_ms", self.tick_ms)
    }
    fn nodes(&self) -> Vec<(String, String)> {
        self.spins
            .iter()
            .map(|n| ("spins".to_owned(), n.clone()))
            .collect()
    }
}

/// `spinner`: nodes that tick, one of which (`[config] spins = "n1"`) loops at one instant
/// (its config is not checked when a node starts, only with the scenario).
pub(crate) fn spinner() -> System {
    System::with_spawn("spinner", |_, config, setup| {
        let cfg: SpinConfig = highstorm_nodes::config("spinner", config)?;
        let spins = cfg.spins.as_deref() == Some(setup.id.as_str());
        let period = Duration::from_millis(if spins { 0 } else { cfg.tick_ms });
        let node = Spinner { period };
        Ok(Box::new(highstorm_nodes::NodeProcess::new(node, setup))
            as Box<dyn highstorm_nodes::Process>)
    })
    .config_type::<SpinConfig>()
}
