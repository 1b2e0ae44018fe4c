//! The `events` engine: the sans-IO processes run straight off a discrete-event queue.
//!
//! Time jumps from one event to the next (a binary heap of (time, sequence, event)), so a run
//! costs what its messages and timers cost, not what its hosts × links × ticks cost. There is
//! no tokio and no thread. The fault model is the same world (`crate::faults`) the turmoil engine uses;
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

use super::{setup, EngineError, RunOutput};
use crate::faults::{timeline_of_run, World};
use crate::scenario::{FaultAction, Scenario};
use crate::system::System;
use crate::trace::{Divergence, EventKind, Trace};
use highstorm_nodes::{MsgId, Output, Peers, Process, ProcessSetup, WorkId};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::sync::Arc;
use std::time::Duration;

/// A process (node or client), by its index into [`Simulation::names`].
type Pid = usize;

/// Something due at a point in simulated time. (Its order never matters: the queue orders by
/// time, then by a unique sequence number.)
#[derive(Debug)]
enum Event {
    /// A fault of the timeline (index into it).
    Fault(usize),
    /// A message from `src` reaches `to`. Sender and id travel beside the bytes, so the
    /// engine never parses a message it delivers (the process decodes it once).
    Deliver {
        to: Pid,
        src: Pid,
        msg_id: Option<MsgId>,
        bytes: Vec<u8>,
    },
    /// `node`'s earliest timer may be due (stale if the node rescheduled since).
    Wake { node: Pid, incarnation: u64 },
    /// Outside work finished; its result waits in `Simulation::work_results` under `key`.
    WorkDone {
        node: Pid,
        incarnation: u64,
        id: u64,
        key: u64,
    },
}

impl Event {
    /// The process the event is for (`None`: a fault).
    fn process(&self) -> Option<Pid> {
        match self {
            Event::Fault(_) => None,
            Event::Deliver { to, .. } => Some(*to),
            Event::Wake { node, .. } | Event::WorkDone { node, .. } => Some(*node),
        }
    }
}

/// What is due, in order of time, then of a sequence number unique to each event: a heap of
/// small keys over a slab of the events themselves. (A heap of whole events moved each one,
/// message bytes and all, at every level it sifted through: at 1000 nodes, tens of thousands
/// of messages in flight.)
#[derive(Default)]
struct Queue {
    /// (due, sequence number, slot in `slab`).
    heap: BinaryHeap<Reverse<(Duration, u64, usize)>>,
    /// The queued events; `None` in a free slot.
    slab: Vec<Option<Event>>,
    /// The free slots of `slab`.
    free: Vec<usize>,
}

impl Queue {
    fn push(&mut self, at: Duration, seq: u64, event: Event) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot] = Some(event);
                slot
            }
            None => {
                self.slab.push(Some(event));
                self.slab.len() - 1
            }
        };
        self.heap.push(Reverse((at, seq, slot)));
    }

    /// The earliest event and when it is due.
    fn pop(&mut self) -> Option<(Duration, Event)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        let event = self.slab[slot]
            .take()
            .expect("a queued slot holds its event");
        self.free.push(slot);
        Some((at, event))
    }
}

/// A message that arrived while its receiver was paused.
type Held = (Pid, Option<MsgId>, Vec<u8>);

/// One running process and what the engine tracks about it.
struct Slot {
    process: Box<dyn Process>,
    /// Bumped on every restart, so events for an earlier incarnation are ignored.
    incarnation: u64,
    /// When this process's earliest timer is scheduled to wake it (true time).
    wake: Option<Duration>,
    /// Inputs that arrived while paused, in order.
    held: VecDeque<Held>,
    /// Outside work that finished while paused: (incarnation, work id, result key).
    held_work: VecDeque<(u64, u64, u64)>,
}

/// One run of a scenario on the event queue: simulated time, the queue of what is due, every
/// process, the world the faults act on, and the trace being written.
struct Simulation<'a> {
    scenario: &'a Scenario,
    seed: u64,
    now: Duration,
    seq: u64,
    queue: Queue,
    /// Every process's name (nodes, then clients): a [`Pid`] indexes it.
    names: Vec<String>,
    /// The nodes' names (the first of `names`): the member list every node's peers share.
    nodes: Arc<[String]>,
    /// Name -> pid, for the destinations of sends: looked up once per message, never iterated
    /// (a `BTreeMap` of 1000 names cost about ten string comparisons per send).
    pids: HashMap<String, Pid, BuildHasherDefault<DefaultHasher>>,
    /// The running incarnation of each process (`None` while crashed).
    slots: Vec<Option<Slot>>,
    world: World,
    trace: Trace,
    sometimes: crate::sometimes::Sometimes,
    timeline: Vec<(Duration, FaultAction)>,
    /// Scratch space for a process's outputs (reused, not reallocated per event).
    outputs: Vec<Output>,
    /// Results of outside work in progress, by the key its `WorkDone` event carries.
    work_results: BTreeMap<u64, highstorm_nodes::WorkResult>,
}

std::thread_local! {
    /// The last run's trace length on this thread, by scenario name: a sweep runs the same
    /// scenario seed after seed, and a trace sized right from the start is not copied as it
    /// doubles (at 25 nodes that copying, and the fresh pages it touches, was about 6% of a
    /// run's wall time). Only capacity depends on it, never what a run does.
    static TRACE_LENGTHS: std::cell::RefCell<BTreeMap<String, usize>> =
        const { std::cell::RefCell::new(BTreeMap::new()) };
}

/// Room for the trace of a run of `scenario`: its last length on this thread and an eighth.
fn capacity_hint(scenario: &Scenario) -> usize {
    TRACE_LENGTHS.with(|t| t.borrow().get(&scenario.name).map_or(0, |n| n + n / 8))
}

/// Remembers how long a run of `scenario` made its trace.
fn remember_length(scenario: &Scenario, events: usize) {
    TRACE_LENGTHS.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(n) = t.get_mut(&scenario.name) {
            *n = events;
        } else if t.len() < 64 {
            t.insert(scenario.name.clone(), events);
        }
    });
}

/// Runs `scenario` at `seed` on the event queue.
pub(crate) fn run(
    system: &System,
    scenario: &Scenario,
    seed: u64,
) -> Result<RunOutput, EngineError> {
    let trace = Trace::with_capacity(capacity_hint(scenario));
    let (trace, _, sometimes) = simulate(system, scenario, seed, trace, None)?;
    remember_length(scenario, trace.events().len());
    Ok(RunOutput {
        trace,
        sim_time: scenario.duration,
        sometimes,
    })
}

/// Runs `scenario` at `seed` again, comparing each event with `first` (the trace of an earlier
/// run of the same scenario and seed) as soon as it happens, and stops at the first that
/// differs: where the two part ways, or `None` if they are the same event for event. The rerun
/// keeps no trace of its own and renders nothing (events are compared as values).
pub(crate) fn rerun(
    system: &System,
    scenario: &Scenario,
    seed: u64,
    first: &Trace,
) -> Result<Option<Divergence>, EngineError> {
    let (_, diverged, _) = simulate(
        system,
        scenario,
        seed,
        Trace::with_capacity(64),
        Some(first),
    )?;
    Ok(diverged)
}

/// The rerun's events since the last comparison (`again`, which it then empties) against
/// `first` from index `*compared` on: where they part ways, if they do.
fn compare(first: &Trace, compared: &mut usize, again: &mut Trace) -> Option<Divergence> {
    let before = *compared;
    let expected = first.events().get(before..).unwrap_or_default();
    let new = again.events();
    let same = new.len() <= expected.len()
        && new
            .iter()
            .zip(expected)
            .all(|(a, b)| a == b || a.to_string() == b.to_string());
    if same {
        *compared += new.len();
        again.clear();
        return None;
    }
    let at = new
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b && a.to_string() != b.to_string())
        .unwrap_or(expected.len());
    Some(divergence(first, before + at, new.get(at).cloned()))
}

/// Where the rerun parted from `first`: at event `index`, with `right` the rerun's event
/// there (`None`: the rerun ended first).
fn divergence(first: &Trace, index: usize, right: Option<crate::trace::Event>) -> Divergence {
    let events = first.events();
    let end = index.min(events.len());
    Divergence {
        index,
        left: events.get(index).cloned(),
        right,
        before: events[end.saturating_sub(3)..end].to_vec(),
    }
}

/// The run itself, writing into `trace`; with `against`, every event is compared with that
/// trace's as it happens, the trace is emptied as it goes, and the run stops at the first
/// difference (returned).
fn simulate(
    system: &System,
    scenario: &Scenario,
    seed: u64,
    trace: Trace,
    against: Option<&Trace>,
) -> Result<(Trace, Option<Divergence>, crate::sometimes::Sometimes), EngineError> {
    // The cluster's member list, built once and shared by every node's `Peers`.
    let nodes: Arc<[String]> = scenario.node_names().into();
    let names: Vec<String> = nodes
        .iter()
        .cloned()
        .chain(scenario.client_names())
        .collect();
    let mut e = Simulation {
        scenario,
        seed,
        now: Duration::ZERO,
        seq: 0,
        queue: Queue::default(),
        pids: names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect(),
        slots: names.iter().map(|_| None).collect(),
        names,
        nodes: nodes.clone(),
        world: World::of_system(system, scenario, seed),
        trace,
        sometimes: Default::default(),
        timeline: timeline_of_run(scenario, seed),
        outputs: vec![],
        work_results: BTreeMap::new(),
    };
    // The world numbers the scenario's processes as the engine does.
    for (pid, name) in e.names.iter().enumerate() {
        assert_eq!(e.world.ix(name), Some(pid), "process numbering of {name}");
    }
    let fault_times: Vec<Duration> = e.timeline.iter().map(|(at, _)| *at).collect();
    for (i, at) in fault_times.into_iter().enumerate() {
        e.push(at, Event::Fault(i));
    }
    for pid in 0..nodes.len() {
        let process = system.spawn(
            scenario.variant.as_deref(),
            &scenario.config,
            setup(scenario, &nodes, pid, seed, 0),
        )?;
        e.start(pid, process, 0);
    }
    for (i, name) in scenario.client_names().into_iter().enumerate() {
        let process = system.spawn_client(
            scenario,
            ProcessSetup {
                id: name,
                peers: Peers::all(nodes.clone()),
                seed,
                boot: 0,
                durable: Default::default(),
                buggify: highstorm_nodes::Buggify::Off,
            },
        );
        e.start(nodes.len() + i, process, 0);
    }
    // Events handled at the current instant: a run that never lets time move on is stuck.
    let budget = super::step_budget(scenario);
    let mut steps_here = 0u64;
    // With `against`: how many of its events the rerun has matched so far.
    let mut compared = 0usize;
    while let Some((at, event)) = e.queue.pop() {
        if let Some(first) = against {
            if let Some(d) = compare(first, &mut compared, &mut e.trace) {
                return Ok((e.trace, Some(d), e.sometimes));
            }
        }
        if at > scenario.duration {
            break;
        }
        if at > e.now {
            steps_here = 0;
        } else {
            steps_here += 1;
            if steps_here > budget {
                let name = event
                    .process()
                    .map_or("<faults>", |pid| e.names[pid].as_str());
                return Err(super::stuck(scenario, &e.trace, name, at, seed, steps_here));
            }
        }
        e.now = at;
        match event {
            Event::Fault(i) => {
                let action = e.timeline[i].1.clone();
                e.apply(system, &action)?;
            }
            Event::Deliver {
                to,
                src,
                msg_id,
                bytes,
            } => e.deliver(to, src, msg_id, bytes),
            Event::Wake { node, incarnation } => e.wake(node, incarnation),
            Event::WorkDone {
                node,
                incarnation,
                id,
                key,
            } => {
                let result = e.work_results.remove(&key);
                // Work of an earlier incarnation finishes into the void; work of a paused
                // node waits for it (turmoil's paused driver loop does not poll it either).
                if e.world.is_paused_ix(node) {
                    if let Some(r) = result {
                        e.work_results.insert(key, r);
                        if let Some(slot) = e.slots[node].as_mut() {
                            slot.held_work.push_back((incarnation, id, key));
                        }
                    }
                    continue;
                }
                e.work_done(node, incarnation, id, result);
            }
        }
    }
    if let Some(first) = against {
        if let Some(d) = compare(first, &mut compared, &mut e.trace) {
            return Ok((e.trace, Some(d), e.sometimes));
        }
        if compared < first.events().len() {
            return Ok((
                e.trace,
                Some(divergence(first, compared, None)),
                e.sometimes,
            ));
        }
    }
    Ok((e.trace, None, e.sometimes))
}

/// The body of an envelope `highstorm_nodes::wire::encode_parts` wrote for `src` -> `dest`, as
/// text for the trace: cut at its known offset when the names need no JSON escaping, else found
/// by [`super::on_turmoil::body_text`] (the same text either way).
fn body_text(src: &str, dest: &str, bytes: &[u8]) -> String {
    let plain = |s: &str| s.bytes().all(|b| b != b'"' && b != b'\\' && b >= 0x20);
    let start = 8 + src.len() + 10 + dest.len() + 9;
    if plain(src) && plain(dest) && bytes.len() > start && bytes.ends_with(b"}") {
        let head = &bytes[..start];
        if head.starts_with(b"{\"src\":\"") && head.ends_with(b"\",\"body\":") {
            if let Ok(body) = std::str::from_utf8(&bytes[start..bytes.len() - 1]) {
                return body.to_owned();
            }
        }
    }
    super::on_turmoil::body_text(bytes)
}

impl Simulation<'_> {
    fn push(&mut self, at: Duration, event: Event) {
        self.seq += 1;
        self.queue.push(at, self.seq, event);
    }

    fn start(&mut self, pid: Pid, mut process: Box<dyn Process>, incarnation: u64) {
        if let Some(f) = self.world.sync_faults(&self.names[pid], incarnation) {
            process.handle_sync_faults(f);
        }
        if self.world.disk_full(&self.names[pid]) {
            process.handle_disk_full(true);
        }
        self.world.set_listening(&self.names[pid], true);
        let now = self.world.local_time_ix(pid, self.now);
        process.handle_start(now);
        self.slots[pid] = Some(Slot {
            process,
            incarnation,
            wake: None,
            held: VecDeque::new(),
            held_work: VecDeque::new(),
        });
        self.after(pid);
    }

    /// Carries out what process `pid` output, and schedules its next wake-up.
    fn after(&mut self, pid: Pid) {
        let Some(slot) = self.slots[pid].as_mut() else {
            return;
        };
        let mut outputs = std::mem::take(&mut self.outputs);
        while let Some(o) = slot.process.poll_output() {
            outputs.push(o);
        }
        let next = slot.process.poll_timeout();
        let incarnation = slot.incarnation;
        for out in outputs.drain(..) {
            self.output(pid, incarnation, out);
        }
        self.outputs = outputs;
        let Some(local) = next else {
            return;
        };
        let due = self.world.true_time_of_ix(pid, self.now, local);
        let slot = self.slots[pid].as_mut().expect("slot exists");
        if slot.wake.is_none_or(|w| due < w || w < self.now) {
            slot.wake = Some(due);
            self.push(
                due,
                Event::Wake {
                    node: pid,
                    incarnation,
                },
            );
        }
    }

    fn output(&mut self, pid: Pid, incarnation: u64, out: Output) {
        let node = || self.names[pid].clone();
        let kind = match out {
            Output::Transmit(t) => {
                // Every receiver is a process of the run (the network drops the rest).
                let to = self.pids.get(&t.dest).copied();
                let fate = match to {
                    Some(to) => self.world.send_ix(pid, to),
                    None => self.world.send(&t.src, &t.dest),
                };
                let body = body_text(&t.src, &t.dest, &t.bytes);
                let send = |src, dest| EventKind::Send {
                    body,
                    src,
                    dest,
                    msg_id: t.msg_id,
                    in_reply_to: t.in_reply_to,
                };
                let to = match (fate, to) {
                    (Ok(()), Some(to)) => to,
                    (Ok(()), None) => {
                        self.trace.push(self.now, send(t.src, t.dest));
                        return;
                    }
                    // Dropped: the names go to the send and to the drop.
                    (Err(reason), _) => {
                        self.trace
                            .push(self.now, send(t.src.clone(), t.dest.clone()));
                        let drop = EventKind::Drop {
                            src: t.src,
                            dest: t.dest,
                            msg_id: t.msg_id,
                            reason: reason.as_str().to_owned(),
                        };
                        self.trace.push(self.now, drop);
                        return;
                    }
                };
                let (first, second) = self.world.delays_ix(pid, to);
                let (msg_id, bytes) = (t.msg_id, t.bytes);
                match second {
                    // The usual case: the send's names move into the trace.
                    None => self.trace.push(self.now, send(t.src, t.dest)),
                    Some(_) => {
                        self.trace
                            .push(self.now, send(t.src.clone(), t.dest.clone()));
                        self.trace.push(
                            self.now,
                            EventKind::Duplicate {
                                src: t.src,
                                dest: t.dest,
                                msg_id,
                            },
                        );
                    }
                }
                let deliver = |bytes| Event::Deliver {
                    to,
                    src: pid,
                    msg_id,
                    bytes,
                };
                // (A copy is queued second: at the same time, the original goes first.)
                let copy = second.map(|d| (d, bytes.clone()));
                self.push(self.now + first, deliver(bytes));
                if let Some((d, bytes)) = copy {
                    self.push(self.now + d, deliver(bytes));
                }
                return;
            }
            Output::TimerFired { timer } => EventKind::Timer {
                node: node(),
                timer,
            },
            Output::Note(n) => EventKind::Note {
                node: node(),
                kind: n.kind,
                data: n.data,
            },
            Output::Client(op) => EventKind::Client { client: node(), op },
            Output::Sometimes { point, hit } => {
                self.sometimes.record(point, hit);
                return;
            }
            Output::Discarded { from, reason } => EventKind::Discard {
                node: node(),
                from,
                reason,
            },
            Output::Store(_) | Output::Sync | Output::SyncFailed(_) => {
                for kind in self.world.storage(&self.names[pid], &out) {
                    self.trace.push(self.now, kind);
                }
                return;
            }
            Output::Work(w) => {
                let (result, took) = self.world.run_work(&w);
                self.seq += 1;
                let key = self.seq;
                self.work_results.insert(key, result);
                self.push(
                    self.now.saturating_add(took),
                    Event::WorkDone {
                        node: pid,
                        incarnation,
                        id: w.id.0,
                        key,
                    },
                );
                EventKind::Work {
                    node: self.names[pid].clone(),
                    id: w.id.0,
                    kind: w.kind,
                }
            }
        };
        self.trace.push(self.now, kind);
    }

    fn deliver(&mut self, to: Pid, src: Pid, msg_id: Option<MsgId>, bytes: Vec<u8>) {
        let name = &self.names[to];
        let paused = self.world.is_paused_ix(to);
        let Some(slot) = self.slots[to].as_mut() else {
            self.trace.push(
                self.now,
                EventKind::Drop {
                    src: self.names[src].clone(),
                    dest: name.clone(),
                    msg_id,
                    reason: "down".into(),
                },
            );
            return;
        };
        if paused {
            slot.held.push_back((src, msg_id, bytes));
            return;
        }
        self.trace.push(
            self.now,
            EventKind::Deliver {
                src: self.names[src].clone(),
                dest: name.clone(),
                msg_id,
            },
        );
        let now = self.world.local_time_ix(to, self.now);
        slot.process.handle_datagram(now, &bytes);
        self.after(to);
    }

    fn work_done(
        &mut self,
        pid: Pid,
        incarnation: u64,
        id: u64,
        result: Option<highstorm_nodes::WorkResult>,
    ) {
        let Some(result) = result else { return };
        let now = self.world.local_time_ix(pid, self.now);
        if let Some(slot) = self.slots[pid]
            .as_mut()
            .filter(|s| s.incarnation == incarnation)
        {
            slot.process.handle_work_done(now, WorkId(id), result);
            self.after(pid);
        }
    }

    fn wake(&mut self, pid: Pid, incarnation: u64) {
        let now = self.now;
        let paused = self.world.is_paused_ix(pid);
        let Some(slot) = self.slots[pid]
            .as_mut()
            .filter(|s| s.incarnation == incarnation && s.wake == Some(now))
        else {
            return;
        };
        slot.wake = None;
        if paused {
            return;
        }
        let local = self.world.local_time_ix(pid, now);
        slot.process.handle_timeout(local);
        self.after(pid);
    }

    /// The process `name` names (every name a fault or send uses is one of the run's).
    fn pid(&self, name: &str) -> Option<Pid> {
        self.pids.get(name).copied()
    }

    fn apply(
        &mut self,
        system: &crate::system::System,
        action: &FaultAction,
    ) -> Result<(), EngineError> {
        let now = self.now;
        match action {
            FaultAction::Crash { node, .. } => {
                let Some(pid) = self.pid(node) else {
                    return Ok(());
                };
                if self.slots[pid].take().is_some() {
                    for e in self.world.apply(now, action) {
                        self.trace.push(now, e);
                    }
                }
            }
            FaultAction::Restart(node) => {
                let Some(pid) = self.pid(node) else {
                    return Ok(());
                };
                let running = self.slots[pid].take().is_some();
                let (boot, events) = self.world.restart(node, running);
                for e in events {
                    self.trace.push(now, e);
                }
                let (durable, events) = self.world.boot_storage(node);
                for e in events {
                    self.trace.push(now, e);
                }
                let process = system.spawn(
                    self.scenario.variant.as_deref(),
                    &self.scenario.config,
                    ProcessSetup {
                        durable,
                        ..setup(self.scenario, &self.nodes, pid, self.seed, boot)
                    },
                )?;
                self.start(pid, process, boot);
            }
            FaultAction::Resume(node) => {
                for e in self.world.apply(now, action) {
                    self.trace.push(now, e);
                }
                let Some(pid) = self.pid(node) else {
                    return Ok(());
                };
                // What arrived meanwhile is handled now, then any timers that came due.
                let held = self.slots[pid]
                    .as_mut()
                    .map(|s| std::mem::take(&mut s.held))
                    .unwrap_or_default();
                for (src, msg_id, bytes) in held {
                    self.deliver(pid, src, msg_id, bytes);
                }
                let held_work = self.slots[pid]
                    .as_mut()
                    .map(|s| std::mem::take(&mut s.held_work))
                    .unwrap_or_default();
                for (incarnation, id, key) in held_work {
                    let result = self.work_results.remove(&key);
                    self.work_done(pid, incarnation, id, result);
                }
                if let Some(slot) = self.slots[pid].as_mut() {
                    let local = self.world.local_time(node, now);
                    slot.process.handle_timeout(local);
                    slot.wake = None;
                    self.after(pid);
                }
            }
            other => {
                for e in self.world.apply(now, other) {
                    self.trace.push(now, e);
                }
                if let FaultAction::DiskFull { node, .. } | FaultAction::DiskFree(node) = other {
                    let full = self.world.disk_full(node);
                    if let Some(slot) = self.pid(node).and_then(|pid| self.slots[pid].as_mut()) {
                        slot.process.handle_disk_full(full);
                    }
                }
                // A clock step moves every pending timer of the node in true time.
                if let FaultAction::Skew { node, .. } = other {
                    if let Some(pid) = self.pid(node) {
                        if let Some(slot) = self.slots[pid].as_mut() {
                            slot.wake = None;
                            self.after(pid);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
