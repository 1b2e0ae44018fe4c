//! The Bridge Four worker: heartbeats its slots and what it runs, runs assigned attempts as
//! outside work, and reports each result until the leader acknowledges it.
//!
//! A worker keeps nothing durable: after a crash it comes back with a new boot count, which
//! tells the leader that its earlier attempts are gone.

use super::{Attempt, BridgeFourConfig, BridgeFourMsg, BridgeFourTimer, TaskOutput};
use highstorm_nodes::{Ctx, Duration, Message, WorkId, WorkResult};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

type Cx<'a> = Ctx<'a, super::BridgeFour>;

/// How many acknowledged attempts a worker remembers, to ignore duplicated assignments.
const REMEMBERED: usize = 4096;
/// At most this many unacknowledged reports are resent per heartbeat.
const RESEND_PER_BEAT: usize = 64;

/// The worker's state.
pub struct Worker {
    cfg: BridgeFourConfig,
    running: BTreeMap<WorkId, Attempt>,
    /// Finished attempts whose reports the leader has not acknowledged.
    finished: BTreeMap<Attempt, Result<TaskOutput, String>>,
    /// Recently acknowledged attempts (duplicated assignments of them are ignored).
    acked: BTreeSet<Attempt>,
    acked_order: VecDeque<Attempt>,
    seen: (u64, u64),
}

impl Worker {
    /// A worker for `cfg`.
    pub fn new(cfg: BridgeFourConfig) -> Self {
        Worker {
            cfg,
            running: BTreeMap::new(),
            finished: BTreeMap::new(),
            acked: BTreeSet::new(),
            acked_order: VecDeque::new(),
            seen: (0, 0),
        }
    }

    pub(super) fn on_init(&mut self, ctx: &mut Cx<'_>) {
        self.beat(ctx);
    }

    fn beat(&mut self, ctx: &mut Cx<'_>) {
        let leader = self.cfg.leader.clone();
        let body = BridgeFourMsg::Heartbeat {
            boot: ctx.boot(),
            slots: self.cfg.slots,
            seen: self.seen,
            running: self.running.values().copied().collect(),
            finished: self.finished.keys().copied().collect(),
        };
        ctx.send(&leader, body);
        let resend: Vec<_> = self
            .finished
            .iter()
            .take(RESEND_PER_BEAT)
            .map(|(a, r)| (*a, r.clone()))
            .collect();
        for (attempt, result) in resend {
            ctx.send(&leader, BridgeFourMsg::TaskDone { attempt, result });
        }
        ctx.set_timer(
            Duration::from_millis(self.cfg.heartbeat_ms),
            BridgeFourTimer::Heartbeat,
        );
    }

    pub(super) fn on_message(&mut self, ctx: &mut Cx<'_>, msg: Message<BridgeFourMsg>) {
        match msg.body {
            BridgeFourMsg::Assign {
                attempt,
                input,
                output,
                seq,
            } => {
                self.seen = self.seen.max(seq);
                let known = self.running.values().any(|a| *a == attempt)
                    || self.finished.contains_key(&attempt)
                    || self.acked.contains(&attempt);
                if known {
                    return;
                }
                let mut spec = serde_json::json!({"input": input, "output": output});
                if let Some(slow) = self.cfg.slow.get(ctx.id()) {
                    spec["slowdown"] = serde_json::json!(slow);
                }
                let work = ctx.spawn_work("wordcount", spec);
                self.running.insert(work, attempt);
            }
            BridgeFourMsg::TaskDoneOk { attempt }
                if self.finished.remove(&attempt).is_some() && self.acked.insert(attempt) =>
            {
                self.acked_order.push_back(attempt);
                if self.acked_order.len() > REMEMBERED {
                    if let Some(old) = self.acked_order.pop_front() {
                        self.acked.remove(&old);
                    }
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Cx<'_>, timer: BridgeFourTimer) {
        if let BridgeFourTimer::Heartbeat = timer {
            self.beat(ctx);
        }
    }

    pub(super) fn on_work_done(&mut self, ctx: &mut Cx<'_>, work: WorkId, result: WorkResult) {
        let Some(attempt) = self.running.remove(&work) else {
            return;
        };
        let result = result.and_then(|v| {
            serde_json::from_value::<TaskOutput>(v).map_err(|e| format!("bad work result: {e}"))
        });
        self.finished.insert(attempt, result.clone());
        let leader = self.cfg.leader.clone();
        ctx.send(&leader, BridgeFourMsg::TaskDone { attempt, result });
    }
}
