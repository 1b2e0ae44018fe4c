//! The `events` engine: the sans-IO processes run straight off a discrete-event queue.
//!
//! Time jumps from one event to the next (a binary heap of (time, sequence, event)), so a run
//! costs what its messages and timers cost, not what its hosts × links × ticks cost. There is
//! no tokio and no thread. The fault model is the same [`FaultState`] the turmoil engine uses;
//! where the engines differ, it is in what a real driver loop adds and this one leaves out:
//! - a message's fate (loss, partition, down receiver) *and* its latency and duplication are
//!   drawn when it is sent (turmoil: latency and duplication when it arrives);
//! - a message that arrives at a crashed node is recorded as a `drop (down)` (turmoil loses it
//!   without a trace, as a real network would);
//! - a restarted node listens at once (turmoil: after its host has bound its socket);
//! - time is exact to the microsecond (turmoil: rounded up to the 1 ms tick).
//!
//! Traces therefore differ between engines; checker verdicts must not (see
//! `sim/tests/engines.rs`).

use super::{EngineError, RunOutput};
use crate::faults::{faults_of_run, timeline, FaultState};
use crate::scenario::{FaultAction, Scenario};
use crate::trace::{EventKind, Trace};
use crate::workload;
use highstorm_nodes::wire::Header;
use highstorm_nodes::{Output, Process, ProcessSetup, WorkId};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::Duration;

/// Something due at a point in simulated time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A fault of the timeline (index into it).
    Fault(usize),
    /// A message reaches `to`.
    Deliver { to: String, bytes: Vec<u8> },
    /// `node`'s earliest timer may be due (stale if the node rescheduled since).
    Wake { node: String, incarnation: u64 },
    /// Outside work finished; its result waits in `Engine::work_results` under `key`.
    WorkDone {
        node: String,
        incarnation: u64,
        id: u64,
        key: u64,
    },
}

/// One running process and what the engine tracks about it.
struct Slot {
    process: Box<dyn Process>,
    /// Bumped on every restart, so events for an earlier incarnation are ignored.
    incarnation: u64,
    /// When this process's earliest timer is scheduled to wake it (true time).
    wake: Option<Duration>,
    /// Inputs that arrived while paused, in order.
    held: VecDeque<Vec<u8>>,
    /// Outside work that finished while paused: (incarnation, work id, result key).
    held_work: VecDeque<(u64, u64, u64)>,
}

struct Engine<'a> {
    scenario: &'a Scenario,
    seed: u64,
    now: Duration,
    seq: u64,
    queue: BinaryHeap<Reverse<(Duration, u64, Event)>>,
    slots: BTreeMap<String, Slot>,
    faults: FaultState,
    trace: Trace,
    timeline: Vec<(Duration, FaultAction)>,
    /// Results of outside work in progress, by the key its `WorkDone` event carries.
    work_results: BTreeMap<u64, highstorm_nodes::WorkResult>,
}

/// Runs `scenario` at `seed` on the event queue.
pub fn run(scenario: &Scenario, seed: u64) -> Result<RunOutput, EngineError> {
    let system = highstorm_nodes::systems::lookup(&scenario.system)?;
    let nodes = scenario.node_names();
    let mut e = Engine {
        scenario,
        seed,
        now: Duration::ZERO,
        seq: 0,
        queue: BinaryHeap::new(),
        slots: BTreeMap::new(),
        faults: FaultState::new(scenario, seed),
        trace: Trace::new(),
        timeline: timeline(&faults_of_run(scenario, seed)),
        work_results: BTreeMap::new(),
    };
    let fault_times: Vec<Duration> = e.timeline.iter().map(|(at, _)| *at).collect();
    for (i, at) in fault_times.into_iter().enumerate() {
        e.push(at, Event::Fault(i));
    }
    for name in &nodes {
        let process = system.spawn(
            scenario.variant.as_deref(),
            &scenario.config,
            setup(name, &nodes, seed, 0),
        )?;
        e.start(name.clone(), process, 0);
    }
    for name in scenario.client_names() {
        let process = workload::spawn_client(
            scenario,
            ProcessSetup {
                id: name.clone(),
                peers: nodes.clone(),
                seed,
                boot: 0,
                durable: Default::default(),
            },
        );
        e.start(name, process, 0);
    }
    while let Some(Reverse((at, _, event))) = e.queue.pop() {
        if at > scenario.duration {
            break;
        }
        e.now = at;
        match event {
            Event::Fault(i) => {
                let action = e.timeline[i].1.clone();
                e.apply(system, &action)?;
            }
            Event::Deliver { to, bytes } => e.deliver(&to, bytes),
            Event::Wake { node, incarnation } => e.wake(&node, incarnation),
            Event::WorkDone {
                node,
                incarnation,
                id,
                key,
            } => {
                let result = e.work_results.remove(&key);
                // Work of an earlier incarnation finishes into the void; work of a paused
                // node waits for it (turmoil's paused driver loop does not poll it either).
                if e.faults.is_paused(&node) {
                    if let Some(r) = result {
                        e.work_results.insert(key, r);
                        if let Some(slot) = e.slots.get_mut(&node) {
                            slot.held_work.push_back((incarnation, id, key));
                        }
                    }
                    continue;
                }
                e.work_done(&node, incarnation, id, result);
            }
        }
    }
    Ok(RunOutput {
        trace: e.trace,
        sim_time: scenario.duration,
    })
}

fn setup(id: &str, nodes: &[String], seed: u64, boot: u64) -> ProcessSetup {
    ProcessSetup {
        id: id.to_owned(),
        peers: nodes.iter().filter(|n| *n != id).cloned().collect(),
        seed,
        boot,
        durable: Default::default(),
    }
}

impl Engine<'_> {
    fn push(&mut self, at: Duration, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, event)));
    }

    fn start(&mut self, name: String, mut process: Box<dyn Process>, incarnation: u64) {
        self.faults.set_listening(&name, true);
        let now = self.faults.local_time(&name, self.now);
        process.handle_start(now);
        self.slots.insert(
            name.clone(),
            Slot {
                process,
                incarnation,
                wake: None,
                held: VecDeque::new(),
                held_work: VecDeque::new(),
            },
        );
        self.after(&name);
    }

    /// Carries out what `name` output, and schedules its next wake-up.
    fn after(&mut self, name: &str) {
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        let mut outputs = vec![];
        while let Some(o) = slot.process.poll_output() {
            outputs.push(o);
        }
        let next = slot.process.poll_timeout();
        let incarnation = slot.incarnation;
        for out in outputs {
            self.output(name, incarnation, out);
        }
        let Some(local) = next else {
            return;
        };
        let due = self.faults.true_time_of(name, self.now, local);
        let slot = self.slots.get_mut(name).expect("slot exists");
        if slot.wake.is_none_or(|w| due < w || w < self.now) {
            slot.wake = Some(due);
            self.push(
                due,
                Event::Wake {
                    node: name.to_owned(),
                    incarnation,
                },
            );
        }
    }

    fn output(&mut self, name: &str, incarnation: u64, out: Output) {
        let node = name.to_owned();
        let kind = match out {
            Output::Transmit(t) => {
                self.trace.push(
                    self.now,
                    EventKind::Send {
                        src: t.src.clone(),
                        dest: t.dest.clone(),
                        msg_id: t.msg_id,
                        in_reply_to: t.in_reply_to,
                        body: super::turmoil::body_text(&t.bytes),
                    },
                );
                match self.faults.send(&t.src, &t.dest) {
                    Err(reason) => EventKind::Drop {
                        src: t.src,
                        dest: t.dest,
                        msg_id: t.msg_id,
                        reason: reason.as_str().to_owned(),
                    },
                    Ok(()) => {
                        let delays = self.faults.delays(&t.src, &t.dest);
                        if delays.len() > 1 {
                            self.trace.push(
                                self.now,
                                EventKind::Duplicate {
                                    src: t.src.clone(),
                                    dest: t.dest.clone(),
                                    msg_id: t.msg_id,
                                },
                            );
                        }
                        for d in delays {
                            let at = self.now + d;
                            self.push(
                                at,
                                Event::Deliver {
                                    to: t.dest.clone(),
                                    bytes: t.bytes.clone(),
                                },
                            );
                        }
                        return;
                    }
                }
            }
            Output::TimerFired { timer } => EventKind::Timer { node, timer },
            Output::Note(n) => EventKind::Note {
                node,
                kind: n.kind,
                data: n.data,
            },
            Output::Client(op) => EventKind::Client { client: node, op },
            Output::Discarded { from, reason } => EventKind::Discard { node, from, reason },
            Output::Store(_) | Output::Sync => match self.faults.storage(name, &out) {
                Some(kind) => kind,
                None => return,
            },
            Output::Work(w) => {
                let (result, took) = self.faults.run_work(&w);
                self.seq += 1;
                let key = self.seq;
                self.work_results.insert(key, result);
                self.push(
                    self.now + took,
                    Event::WorkDone {
                        node: node.clone(),
                        incarnation,
                        id: w.id.0,
                        key,
                    },
                );
                EventKind::Work {
                    node,
                    id: w.id.0,
                    kind: w.kind,
                }
            }
        };
        self.trace.push(self.now, kind);
    }

    fn deliver(&mut self, to: &str, bytes: Vec<u8>) {
        let (src, msg_id) = match serde_json::from_slice::<Header>(&bytes) {
            Ok(h) => (h.src, h.body.msg_id),
            Err(_) => ("?".to_owned(), None),
        };
        let paused = self.faults.is_paused(to);
        let Some(slot) = self.slots.get_mut(to) else {
            self.trace.push(
                self.now,
                EventKind::Drop {
                    src,
                    dest: to.to_owned(),
                    msg_id,
                    reason: "down".into(),
                },
            );
            return;
        };
        if paused {
            slot.held.push_back(bytes);
            return;
        }
        self.trace.push(
            self.now,
            EventKind::Deliver {
                src,
                dest: to.to_owned(),
                msg_id,
            },
        );
        let now = self.faults.local_time(to, self.now);
        slot.process.handle_datagram(now, &bytes);
        self.after(to);
    }

    fn work_done(
        &mut self,
        node: &str,
        incarnation: u64,
        id: u64,
        result: Option<highstorm_nodes::WorkResult>,
    ) {
        let Some(result) = result else { return };
        let now = self.faults.local_time(node, self.now);
        if let Some(slot) = self
            .slots
            .get_mut(node)
            .filter(|s| s.incarnation == incarnation)
        {
            slot.process.handle_work_done(now, WorkId(id), result);
            self.after(node);
        }
    }

    fn wake(&mut self, node: &str, incarnation: u64) {
        let now = self.now;
        let paused = self.faults.is_paused(node);
        let Some(slot) = self
            .slots
            .get_mut(node)
            .filter(|s| s.incarnation == incarnation && s.wake == Some(now))
        else {
            return;
        };
        slot.wake = None;
        if paused {
            return;
        }
        let local = self.faults.local_time(node, now);
        slot.process.handle_timeout(local);
        self.after(node);
    }

    fn apply(
        &mut self,
        system: &highstorm_nodes::systems::System,
        action: &FaultAction,
    ) -> Result<(), EngineError> {
        let now = self.now;
        match action {
            FaultAction::Crash { node, .. } => {
                if self.slots.remove(node).is_some() {
                    for e in self.faults.apply(now, action) {
                        self.trace.push(now, e);
                    }
                }
            }
            FaultAction::Restart(node) => {
                let running = self.slots.remove(node).is_some();
                let (boot, events) = self.faults.restart(now, node, running);
                for e in events {
                    self.trace.push(now, e);
                }
                let nodes = self.scenario.node_names();
                let process = system.spawn(
                    self.scenario.variant.as_deref(),
                    &self.scenario.config,
                    ProcessSetup {
                        durable: self.faults.durable(node),
                        ..setup(node, &nodes, self.seed, boot)
                    },
                )?;
                self.start(node.clone(), process, boot);
            }
            FaultAction::Resume(node) => {
                for e in self.faults.apply(now, action) {
                    self.trace.push(now, e);
                }
                // What arrived meanwhile is handled now, then any timers that came due.
                let held = self
                    .slots
                    .get_mut(node)
                    .map(|s| std::mem::take(&mut s.held))
                    .unwrap_or_default();
                for bytes in held {
                    self.deliver(node, bytes);
                }
                let held_work = self
                    .slots
                    .get_mut(node)
                    .map(|s| std::mem::take(&mut s.held_work))
                    .unwrap_or_default();
                for (incarnation, id, key) in held_work {
                    let result = self.work_results.remove(&key);
                    self.work_done(node, incarnation, id, result);
                }
                if let Some(slot) = self.slots.get_mut(node) {
                    let local = self.faults.local_time(node, now);
                    slot.process.handle_timeout(local);
                    slot.wake = None;
                    self.after(node);
                }
            }
            other => {
                for e in self.faults.apply(now, other) {
                    self.trace.push(now, e);
                }
                // A clock step moves every pending timer of the node in true time.
                if let FaultAction::Skew { node, .. } = other {
                    if let Some(slot) = self.slots.get_mut(node) {
                        slot.wake = None;
                        self.after(node);
                    }
                }
            }
        }
        Ok(())
    }
}
