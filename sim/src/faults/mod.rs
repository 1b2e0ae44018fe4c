//! The fault model shared by every engine: what the network does to each message, which
//! nodes are down or paused, what each node's clock reads, and the timeline of faults a run
//! goes through (scripted plus nemesis).
//!
//! Every random decision is drawn from one ChaCha rng seeded from the run seed, in the order
//! the engine asks, so a run's faults are a pure function of its seed.

mod clock;
mod nemesis;

pub use clock::ClockModel;
pub use nemesis::nemesis_faults;

use crate::scenario::{Conditions, Distribution, Fault, FaultAction, Heal, Latency, Scenario};
use crate::system::System;
use crate::trace::EventKind;
use highstorm_nodes::storage::{DurableStore, MemBlobs, SharedMemBlobs, Storage};
use highstorm_nodes::WorkFn;
use highstorm_nodes::{derive_seed, LocalTime, Output, WorkRequest, WorkResult};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;

/// Why the network lost a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The receiver is crashed.
    Down,
    /// The link is cut.
    Partition,
    /// Random loss.
    Loss,
}

impl DropReason {
    /// The word used in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Down => "down",
            DropReason::Partition => "partition",
            DropReason::Loss => "loss",
        }
    }
}

/// Resolved conditions of one link.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Link {
    latency: Latency,
    loss: f64,
    duplicate: f64,
}

impl Link {
    fn apply(&mut self, c: &Conditions) {
        if let Some(l) = c.latency {
            self.latency = l;
        }
        if let Some(p) = c.loss {
            self.loss = p;
        }
        if let Some(p) = c.duplicate {
            self.duplicate = p;
        }
    }
}

/// A process's number in a [`FaultState`] (see [`FaultState::ix`]).
pub type Ix = usize;

/// The state of the simulated world's faults at one moment of a run.
#[derive(Debug)]
pub struct FaultState {
    global: Link,
    /// Every process name the run knows, numbered ([`Ix`]): the scenario's nodes, then its
    /// clients (the order the engines number their processes in), then any name met later.
    names: Vec<String>,
    index: BTreeMap<String, Ix>,
    /// Per directed link overrides, applied on top of `global`.
    links: BTreeMap<(Ix, Ix), Conditions>,
    /// `cut[src]`: a bit per receiver whose link from `src` a partition cuts.
    cut: Vec<Vec<u64>>,
    /// How many links are cut (0: skip the lookup).
    cuts: usize,
    /// Crashed (or not yet listening), per process.
    down: Vec<bool>,
    /// Paused, per process.
    paused: Vec<bool>,
    /// Each process's clock model, once it has one (else it reads true time).
    clocks: Vec<Option<ClockModel>>,
    boots: BTreeMap<String, u64>,
    rng: ChaCha8Rng,
    /// Each node's durable storage; survives its crashes as far as it was synced.
    disks: BTreeMap<String, DurableStore>,
    /// The blob store every node shares (input and output files).
    blobs: SharedMemBlobs,
    /// The system's outside-work runner.
    work: Option<WorkFn>,
}

/// Simulated throughput of outside work: bytes read and written per simulated second.
const WORK_BYTES_PER_SEC: u64 = 300_000;
/// The fixed cost of any piece of outside work.
const WORK_BASE: Duration = Duration::from_millis(1);

impl FaultState {
    /// The world at the start of `scenario` of `system` run at `seed`: as [`new`](Self::new),
    /// with the system's outside work and the blobs its `[config]` starts with.
    pub fn of_system(system: &System, scenario: &Scenario, seed: u64) -> Self {
        let mut state = Self::new(scenario, seed);
        state.work = system.work_fn();
        if let Some(blobs) = system.blobs_fn() {
            // A bad config is reported when the nodes start; here it only means no blobs.
            let blobs = blobs(&scenario.config).unwrap_or_default();
            state.blobs = SharedMemBlobs::new(MemBlobs {
                blobs: blobs.into_iter().collect(),
            });
        }
        state
    }

    /// The world at the start of `scenario` run at `seed`, for a system without outside work
    /// or blobs.
    pub fn new(scenario: &Scenario, seed: u64) -> Self {
        let n = &scenario.network;
        let mut state = FaultState {
            global: Link {
                latency: n.latency,
                loss: n.loss,
                duplicate: n.duplicate,
            },
            names: vec![],
            index: BTreeMap::new(),
            links: BTreeMap::new(),
            cut: vec![],
            cuts: 0,
            down: vec![],
            paused: vec![],
            clocks: vec![],
            boots: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(derive_seed(seed, "network", 0)),
            disks: BTreeMap::new(),
            blobs: SharedMemBlobs::default(),
            work: None,
        };
        for name in scenario
            .node_names()
            .into_iter()
            .chain(scenario.client_names())
        {
            state.intern(&name);
        }
        for (node, c) in &scenario.clocks {
            let ix = state.intern(node);
            state.clocks[ix] = Some(ClockModel::new(c.skew_us, c.drift));
        }
        for rule in &n.links {
            state.set_links(&rule.from, &rule.to, &rule.conditions);
        }
        state
    }

    /// The number of process `name` (the scenario's nodes count from 0, then its clients):
    /// engines that number their processes the same way use the `*_ix` methods with it.
    pub fn ix(&self, name: &str) -> Option<Ix> {
        self.index.get(name).copied()
    }

    /// The number of `name`, numbering it if it is new.
    fn intern(&mut self, name: &str) -> Ix {
        if let Some(ix) = self.ix(name) {
            return ix;
        }
        let ix = self.names.len();
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), ix);
        self.cut.push(vec![]);
        self.down.push(false);
        self.paused.push(false);
        self.clocks.push(None);
        ix
    }

    fn is_cut_ix(&self, src: Ix, dest: Ix) -> bool {
        self.cuts > 0
            && self.cut[src]
                .get(dest / 64)
                .is_some_and(|w| w & (1 << (dest % 64)) != 0)
    }

    fn set_cut(&mut self, src: Ix, dest: Ix, cut: bool) {
        let row = &mut self.cut[src];
        if row.len() <= dest / 64 {
            if !cut {
                return;
            }
            row.resize(dest / 64 + 1, 0);
        }
        let bit = 1 << (dest % 64);
        let was = row[dest / 64] & bit != 0;
        if cut && !was {
            row[dest / 64] |= bit;
            self.cuts += 1;
        } else if !cut && was {
            row[dest / 64] &= !bit;
            self.cuts -= 1;
        }
    }

    fn set_links(&mut self, from: &[String], to: &[String], c: &Conditions) {
        let from: Vec<Ix> = from.iter().map(|a| self.intern(a)).collect();
        let to: Vec<Ix> = to.iter().map(|b| self.intern(b)).collect();
        for &a in &from {
            for &b in &to {
                let entry = self.links.entry((a, b)).or_default();
                if c.latency.is_some() {
                    entry.latency = c.latency;
                }
                if c.loss.is_some() {
                    entry.loss = c.loss;
                }
                if c.duplicate.is_some() {
                    entry.duplicate = c.duplicate;
                }
            }
        }
    }

    fn link(&self, src: Option<Ix>, dest: Option<Ix>) -> Link {
        let mut link = self.global;
        if self.links.is_empty() {
            return link;
        }
        if let (Some(src), Some(dest)) = (src, dest) {
            if let Some(c) = self.links.get(&(src, dest)) {
                link.apply(c);
            }
        }
        link
    }

    /// Decides, when `src` sends to `dest`, whether the network loses the message.
    pub fn send(&mut self, src: &str, dest: &str) -> Result<(), DropReason> {
        self.send_on(self.ix(src), self.ix(dest))
    }

    /// [`send`](FaultState::send) by process numbers ([`ix`](FaultState::ix)).
    pub fn send_ix(&mut self, src: Ix, dest: Ix) -> Result<(), DropReason> {
        self.send_on(Some(src), Some(dest))
    }

    fn send_on(&mut self, src: Option<Ix>, dest: Option<Ix>) -> Result<(), DropReason> {
        if dest.is_some_and(|d| self.down[d]) {
            return Err(DropReason::Down);
        }
        if let (Some(s), Some(d)) = (src, dest) {
            if self.is_cut_ix(s, d) {
                return Err(DropReason::Partition);
            }
        }
        let loss = self.link(src, dest).loss;
        if loss > 0.0 && self.rng.random_bool(loss) {
            return Err(DropReason::Loss);
        }
        Ok(())
    }

    /// How long each copy of a message from `src` to `dest` travels: one delay, and a second
    /// when the network duplicates it.
    pub fn delays(&mut self, src: &str, dest: &str) -> (Duration, Option<Duration>) {
        self.delays_on(self.ix(src), self.ix(dest))
    }

    /// [`delays`](FaultState::delays) by process numbers.
    pub fn delays_ix(&mut self, src: Ix, dest: Ix) -> (Duration, Option<Duration>) {
        self.delays_on(Some(src), Some(dest))
    }

    fn delays_on(&mut self, src: Option<Ix>, dest: Option<Ix>) -> (Duration, Option<Duration>) {
        let link = self.link(src, dest);
        let first = self.draw_latency(&link.latency);
        let second = (link.duplicate > 0.0 && self.rng.random_bool(link.duplicate))
            .then(|| self.draw_latency(&link.latency));
        (first, second)
    }

    fn draw_latency(&mut self, l: &Latency) -> Duration {
        if l.max <= l.min {
            return l.min;
        }
        let span = (l.max - l.min).as_secs_f64();
        let extra = match l.distribution {
            Distribution::Uniform => self.rng.random_range(0.0..=span),
            Distribution::Exponential => {
                let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
                (-u.ln() * span / 4.0).min(span)
            }
        };
        l.min + Duration::from_secs_f64(extra)
    }

    /// Whether `node` is crashed.
    pub fn is_down(&self, node: &str) -> bool {
        self.ix(node).is_some_and(|i| self.down[i])
    }

    /// Marks `node` as listening (its process is ready to receive) or not. Engines mark every
    /// node not listening at the start and after a crash, and listening once its process has
    /// started: messages sent to it in between are dropped as `down`, in the trace.
    pub fn set_listening(&mut self, node: &str, listening: bool) {
        let ix = self.intern(node);
        self.down[ix] = !listening;
    }

    /// Restarts `node` (crashing it first if `running`): returns its new boot count and the
    /// trace events. The engine then starts the new incarnation; it counts as down until
    /// [`set_listening`](FaultState::set_listening).
    pub fn restart(&mut self, now: Duration, node: &str, running: bool) -> (u64, Vec<EventKind>) {
        let mut events = vec![];
        if running {
            let crash = FaultAction::Crash {
                node: node.to_owned(),
                restart_after: None,
            };
            events = self.apply(now, &crash);
        }
        let boot = self.boots.entry(node.to_owned()).or_insert(0);
        *boot += 1;
        events.push(EventKind::Restart {
            node: node.to_owned(),
            boot: *boot,
        });
        (*boot, events)
    }

    /// What `node`'s next incarnation finds in its durable storage.
    pub fn durable(&self, node: &str) -> Storage {
        self.disks
            .get(node)
            .map(|d| d.synced().clone())
            .unwrap_or_default()
    }

    /// Carries out a storage output of `node`: a write (pending until synced) or a sync, which
    /// is recorded in the trace.
    pub fn storage(&mut self, node: &str, out: &Output) -> Option<EventKind> {
        let disk = self.disks.entry(node.to_owned()).or_default();
        match out {
            Output::Store(w) => {
                disk.write(w.clone());
                None
            }
            Output::Sync => Some(EventKind::Sync {
                node: node.to_owned(),
                writes: disk.sync().len() as u64,
            }),
            _ => None,
        }
    }

    /// Runs `node`'s outside work against the shared blob store: its result, and how long it
    /// takes in simulated time (in proportion to the bytes it touched, times the request's
    /// `slowdown` when it has one).
    pub fn run_work(&mut self, req: &WorkRequest) -> (WorkResult, Duration) {
        let Some(work) = self.work else {
            let err = format!(
                "this system runs no outside work (asked for `{}`)",
                req.kind
            );
            return (Err(err), WORK_BASE);
        };
        let outcome = work(req, &mut self.blobs);
        let slowdown = req
            .input
            .get("slowdown")
            .and_then(|v| v.as_f64())
            .filter(|s| s.is_finite() && *s >= 1.0)
            .unwrap_or(1.0);
        let secs = outcome.bytes as f64 / WORK_BYTES_PER_SEC as f64;
        // A node may ask for any slowdown: past a day of simulated time it makes no difference.
        let base = WORK_BASE + Duration::from_secs_f64(secs);
        let took = Duration::try_from_secs_f64(slowdown * base.as_secs_f64())
            .map_or(crate::scenario::MAX_DURATION, |d| {
                d.min(crate::scenario::MAX_DURATION)
            });
        (outcome.result, took)
    }

    /// The blob store every node shares (for an HTTP API that serves results from it).
    pub fn blobs(&self) -> SharedMemBlobs {
        self.blobs.clone()
    }

    /// Whether a partition cuts the link from `src` to `dest`.
    pub fn is_cut(&self, src: &str, dest: &str) -> bool {
        match (self.ix(src), self.ix(dest)) {
            (Some(s), Some(d)) => self.is_cut_ix(s, d),
            _ => false,
        }
    }

    /// How many times `node` has restarted (its current boot count).
    pub fn boot(&self, node: &str) -> u64 {
        self.boots.get(node).copied().unwrap_or(0)
    }

    /// Whether `node` is paused.
    pub fn is_paused(&self, node: &str) -> bool {
        self.ix(node).is_some_and(|i| self.paused[i])
    }

    /// [`is_paused`](FaultState::is_paused) by process number.
    pub fn is_paused_ix(&self, ix: Ix) -> bool {
        self.paused[ix]
    }

    /// `node`'s clock reading at true time `now` (recorded: later readings never go back).
    pub fn local_time(&mut self, node: &str, now: Duration) -> LocalTime {
        match self.ix(node) {
            Some(ix) => self.local_time_ix(ix, now),
            None => LocalTime::from_duration(now),
        }
    }

    /// [`local_time`](FaultState::local_time) by process number.
    pub fn local_time_ix(&mut self, ix: Ix, now: Duration) -> LocalTime {
        match &mut self.clocks[ix] {
            Some(c) => c.read(now),
            None => LocalTime::from_duration(now),
        }
    }

    /// `node`'s clock reading at true time `at`, without recording it.
    pub fn local_time_at(&self, node: &str, at: Duration) -> LocalTime {
        match self.ix(node).and_then(|i| self.clocks[i].as_ref()) {
            Some(c) => c.peek(at),
            None => LocalTime::from_duration(at),
        }
    }

    /// The earliest true time, from `now` on, at which `node`'s clock reads `local`.
    pub fn true_time_of(&self, node: &str, now: Duration, local: LocalTime) -> Duration {
        match self.ix(node) {
            Some(ix) => self.true_time_of_ix(ix, now, local),
            None => local.as_duration().max(now),
        }
    }

    /// [`true_time_of`](FaultState::true_time_of) by process number.
    pub fn true_time_of_ix(&self, ix: Ix, now: Duration, local: LocalTime) -> Duration {
        match &self.clocks[ix] {
            Some(c) => c.true_time_of(now, local),
            None => local.as_duration().max(now),
        }
    }

    /// Applies a fault's effect on the world at true time `now`; returns the trace events that
    /// record it. Crash and restart only change what the network sees (`down`); stopping and
    /// starting the node is the engine's part.
    pub fn apply(&mut self, now: Duration, action: &FaultAction) -> Vec<EventKind> {
        match action {
            FaultAction::Partition(groups) => groups
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    let others: Vec<String> = groups
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .flat_map(|(_, h)| h.iter().cloned())
                        .collect();
                    self.cut_links(g, &others);
                    EventKind::Cut {
                        from: g.clone(),
                        to: others,
                        cause: "partition".into(),
                    }
                })
                .collect(),
            FaultAction::PartitionOneway { from, to } => {
                self.cut_links(from, to);
                vec![EventKind::Cut {
                    from: from.clone(),
                    to: to.clone(),
                    cause: "partition-oneway".into(),
                }]
            }
            FaultAction::Heal(Heal::All) => {
                for row in &mut self.cut {
                    row.fill(0);
                }
                self.cuts = 0;
                vec![EventKind::Heal {
                    scope: "all".into(),
                }]
            }
            FaultAction::Heal(Heal::Link(a, b)) => {
                let (a_ix, b_ix) = (self.intern(a), self.intern(b));
                self.set_cut(a_ix, b_ix, false);
                self.set_cut(b_ix, a_ix, false);
                vec![EventKind::Heal {
                    scope: format!("{a}<->{b}"),
                }]
            }
            FaultAction::Crash { node, .. } => {
                let ix = self.intern(node);
                self.down[ix] = true;
                self.paused[ix] = false;
                let mut events = vec![EventKind::Crash { node: node.clone() }];
                let lost = self.disks.get_mut(node).map_or(0, DurableStore::crash);
                if lost > 0 {
                    events.push(EventKind::LostWrites {
                        node: node.clone(),
                        writes: lost as u64,
                    });
                }
                events
            }
            // The node is up again once its new process listens: see `set_listening`.
            FaultAction::Restart(_) => vec![],
            FaultAction::Pause { node, .. } => {
                let ix = self.intern(node);
                if self.down[ix] || self.paused[ix] {
                    return vec![];
                }
                self.paused[ix] = true;
                vec![EventKind::Pause { node: node.clone() }]
            }
            FaultAction::Resume(node) => {
                let ix = self.intern(node);
                if !std::mem::replace(&mut self.paused[ix], false) {
                    return vec![];
                }
                vec![EventKind::Resume { node: node.clone() }]
            }
            FaultAction::Network { link, conditions } => {
                let scope = match link {
                    Some((from, to)) => {
                        self.set_links(from, to, conditions);
                        format!("[{}]->[{}]", from.join(","), to.join(","))
                    }
                    None => {
                        self.global.apply(conditions);
                        "all".into()
                    }
                };
                vec![EventKind::Network {
                    scope,
                    change: describe(conditions),
                }]
            }
            FaultAction::Skew { node, clock } => {
                let ix = self.intern(node);
                self.clocks[ix]
                    .get_or_insert_with(ClockModel::default)
                    .step(now, clock.skew_us, clock.drift);
                vec![EventKind::Skew {
                    node: node.clone(),
                    offset_us: clock.skew_us,
                    drift: clock.drift,
                }]
            }
        }
    }

    fn cut_links(&mut self, from: &[String], to: &[String]) {
        let from: Vec<Ix> = from.iter().map(|a| self.intern(a)).collect();
        let to: Vec<Ix> = to.iter().map(|b| self.intern(b)).collect();
        for &a in &from {
            for &b in &to {
                if a != b {
                    self.set_cut(a, b, true);
                }
            }
        }
    }
}

fn describe(c: &Conditions) -> String {
    let mut parts = vec![];
    if let Some(l) = &c.latency {
        let d = match l.distribution {
            Distribution::Uniform => "uniform",
            Distribution::Exponential => "exponential",
        };
        parts.push(format!("latency={:?}..{:?} {d}", l.min, l.max));
    }
    if let Some(p) = c.loss {
        parts.push(format!("loss={p}"));
    }
    if let Some(p) = c.duplicate {
        parts.push(format!("duplicate={p}"));
    }
    parts.join(" ")
}

/// Every fault of a run: the scenario's scripted faults plus, if it has a nemesis, the faults
/// the nemesis draws from `seed`, in time order.
pub fn faults_of_run(scenario: &Scenario, seed: u64) -> Vec<Fault> {
    let mut all = scenario.faults.clone();
    all.extend(nemesis_faults(scenario, seed));
    all.sort_by_key(|f| f.at);
    all
}

/// The faults as single actions in time order: `restart_after` and `resume_after` become a
/// `Restart` / `Resume` of their own.
pub fn timeline(faults: &[Fault]) -> Vec<(Duration, FaultAction)> {
    let mut steps = vec![];
    for f in faults {
        match &f.action {
            FaultAction::Crash {
                node,
                restart_after: Some(after),
            } => {
                steps.push((
                    f.at,
                    FaultAction::Crash {
                        node: node.clone(),
                        restart_after: None,
                    },
                ));
                steps.push((f.at + *after, FaultAction::Restart(node.clone())));
            }
            FaultAction::Pause {
                node,
                resume_after: Some(after),
            } => {
                steps.push((
                    f.at,
                    FaultAction::Pause {
                        node: node.clone(),
                        resume_after: None,
                    },
                ));
                steps.push((f.at + *after, FaultAction::Resume(node.clone())));
            }
            other => steps.push((f.at, other.clone())),
        }
    }
    steps.sort_by_key(|(at, _)| *at);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn state() -> FaultState {
        FaultState::new(&Scenario::new("t", "ids"), 1)
    }

    #[test]
    fn partitions_cut_between_groups_only_and_oneway_cuts_one_direction() {
        let mut net = state();
        let z = Duration::ZERO;
        net.apply(
            z,
            &FaultAction::Partition(vec![v(&["n0"]), v(&["n1", "n2"])]),
        );
        assert_eq!(net.send("n0", "n1"), Err(DropReason::Partition));
        assert_eq!(net.send("n2", "n0"), Err(DropReason::Partition));
        assert_eq!(net.send("n1", "n2"), Ok(()));
        assert_eq!(net.send("c0", "n0"), Ok(()));
        net.apply(z, &FaultAction::Heal(Heal::Link("n1".into(), "n0".into())));
        assert_eq!(net.send("n0", "n1"), Ok(()));
        assert_eq!(net.send("n0", "n2"), Err(DropReason::Partition));
        net.apply(z, &FaultAction::Heal(Heal::All));
        net.apply(
            z,
            &FaultAction::PartitionOneway {
                from: v(&["n0"]),
                to: v(&["n1"]),
            },
        );
        assert_eq!(net.send("n0", "n1"), Err(DropReason::Partition));
        assert_eq!(net.send("n1", "n0"), Ok(()));
        net.apply(
            z,
            &FaultAction::Crash {
                node: "n1".into(),
                restart_after: None,
            },
        );
        assert_eq!(net.send("n2", "n1"), Err(DropReason::Down));
    }

    #[test]
    fn loss_duplication_and_latency_follow_their_settings() {
        let ms = Duration::from_millis;
        let s = Scenario::new("t", "ids")
            .loss(0.1)
            .duplicate(0.2)
            .latency(ms(10)..ms(20));
        let run = |seed| {
            let mut net = FaultState::new(&s, seed);
            let (mut lost, mut copies, mut delays) = (0, 0, vec![]);
            for _ in 0..10_000 {
                if net.send("a", "b").is_err() {
                    lost += 1;
                    continue;
                }
                let (first, second) = net.delays("a", "b");
                copies += 1 + usize::from(second.is_some());
                delays.extend(std::iter::once(first).chain(second));
            }
            (lost, copies, delays)
        };
        let (lost, copies, delays) = run(3);
        assert_eq!(run(3).0, lost, "seeded");
        assert!((800..1200).contains(&lost), "{lost}");
        let sent = 10_000 - lost;
        let dup_rate = (copies - sent) as f64 / sent as f64;
        assert!((0.17..0.23).contains(&dup_rate), "{dup_rate}");
        assert!(delays.iter().all(|d| (ms(10)..=ms(20)).contains(d)));
        let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
        assert!((ms(14)..ms(16)).contains(&mean), "{mean:?}");
    }

    #[test]
    fn exponential_latency_is_mostly_fast_with_a_tail_capped_at_max() {
        let ms = Duration::from_millis;
        let s = Scenario::new("t", "ids")
            .latency_distribution(ms(0)..ms(100), Distribution::Exponential);
        let mut net = FaultState::new(&s, 9);
        let d: Vec<Duration> = (0..10_000).map(|_| net.delays("a", "b").0).collect();
        assert!(d.iter().all(|d| *d <= ms(100)));
        let below_25 = d.iter().filter(|d| **d < ms(25)).count();
        assert!((5800..6900).contains(&below_25), "{below_25}");
    }

    #[test]
    fn link_rules_and_network_faults_override_per_link() {
        let s = Scenario::new("t", "ids");
        let mut net = FaultState::new(&s, 1);
        net.apply(
            Duration::ZERO,
            &FaultAction::Network {
                link: Some((v(&["n0"]), v(&["n1"]))),
                conditions: Conditions {
                    loss: Some(1.0),
                    ..Conditions::default()
                },
            },
        );
        assert_eq!(net.send("n0", "n1"), Err(DropReason::Loss));
        assert_eq!(net.send("n1", "n0"), Ok(()));
    }

    #[test]
    fn pause_and_resume_are_recorded_once() {
        let mut net = state();
        let pause = FaultAction::Pause {
            node: "n1".into(),
            resume_after: None,
        };
        assert_eq!(net.apply(Duration::ZERO, &pause).len(), 1);
        assert!(net.is_paused("n1"));
        assert!(net.apply(Duration::ZERO, &pause).is_empty());
        assert_eq!(
            net.apply(Duration::ZERO, &FaultAction::Resume("n1".into()))
                .len(),
            1
        );
        assert!(!net.is_paused("n1"));
    }

    #[test]
    fn timeline_expands_restarts_and_resumes() {
        let ms = Duration::from_millis;
        let s = Scenario::new("t", "ids")
            .crash_at(ms(100), "n1", Some(ms(50)))
            .pause_at(ms(120), "n2", Some(ms(10)));
        let t = timeline(&s.faults);
        let kinds: Vec<(u128, &str)> = t.iter().map(|(at, a)| (at.as_millis(), a.kind())).collect();
        assert_eq!(
            kinds,
            [
                (100, "crash"),
                (120, "pause"),
                (130, "resume"),
                (150, "restart")
            ]
        );
    }
}
