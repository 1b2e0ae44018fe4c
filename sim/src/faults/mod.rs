//! The fault model shared by every engine: the world a run's faults act on (the engines'
//! `World`: network, liveness, clocks, storage), and the [`timeline`] of faults a run goes
//! through (scripted plus [`nemesis_faults`]).
//!
//! One file per job, all of them about the one world:
//! - `network`: what the network does to each message (partitions, link conditions, loss,
//!   duplication, latency), and why a message was dropped;
//! - `liveness`: which processes are down or paused, and each node's boot count;
//! - `clock`: what each node's clock reads ([`ClockModel`]: skew and drift);
//! - `storage`: each node's disk, the blob store every node shares, and outside work;
//! - `timeline` and `nemesis`: which faults a run goes through, and when.
//!
//! Every random decision is drawn from one ChaCha rng seeded from the run seed, in the order
//! the engine asks, so a run's faults are a pure function of its seed.

mod clock;
mod liveness;
mod nemesis;
mod network;
mod recovery;
mod storage;
mod timeline;

pub use clock::ClockModel;
pub use nemesis::{nemesis_faults, swarm_draw, swarm_kinds};
pub use recovery::{recovery, timeline_of_run};
pub use timeline::{faults_of_run, timeline};

use crate::scenario::{FaultAction, Scenario};
use crate::system::System;
use crate::trace::EventKind;
use highstorm_nodes::derive_seed;
use highstorm_nodes::storage::{DurableStore, MemBlobs, SharedMemBlobs};
use highstorm_nodes::WorkFn;
use network::Link;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;

/// A process's number in a [`World`] (see [`World::ix`]).
pub(crate) type Ix = usize;

/// Everything outside the nodes that one run simulates, as its faults leave it at one moment:
/// the network (cut links and link conditions), each process's liveness (down, paused, boot
/// count) and clock, each node's disk, the blob store every node shares, and the system's
/// outside work.
///
/// It is called the world, not the fault state, because most of what it holds is not a fault:
/// disks, blobs and outside work are there whether anything fails or not; faults are what
/// change it. An engine owns one per run and asks it, in the order the run needs them, for
/// every decision the world makes (a message's fate and delays, a clock reading, how long
/// outside work takes), so a run is a pure function of its seed.
#[derive(Debug)]
pub(crate) struct World {
    global: Link,
    /// Every process name the run knows, numbered ([`Ix`]): the scenario's nodes, then its
    /// clients (the order the engines number their processes in), then any name met later.
    names: Vec<String>,
    index: BTreeMap<String, Ix>,
    /// Per directed link overrides, applied on top of `global`.
    links: BTreeMap<(Ix, Ix), crate::scenario::Conditions>,
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
    /// The run seed (disks derive their sync-failure streams from it).
    seed: u64,
    /// How many nodes the scenario has (the fault atlas's `f` derives from it).
    node_count: usize,
    /// The storage faults the disks suffer (`[storage]`).
    storage_faults: crate::scenario::StorageFaults,
    /// Every storage-fault draw, on a stream of its own: a run without storage faults draws
    /// nothing from it, so it is the same run it was before storage faults existed.
    disk_rng: ChaCha8Rng,
    /// The nodes whose disks are full.
    full_disks: std::collections::BTreeSet<String>,
    /// Damaged records (torn, corrupted, misdirected over, or lost): key -> the nodes whose
    /// copy is damaged. The fault atlas reads it.
    damaged: BTreeMap<String, std::collections::BTreeSet<String>>,
}

impl World {
    /// The world at the start of `scenario` of `system` run at `seed`: as [`new`](Self::new),
    /// with the system's outside work and the blobs its `[config]` starts with.
    pub(crate) fn of_system(system: &System, scenario: &Scenario, seed: u64) -> Self {
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
    pub(crate) fn new(scenario: &Scenario, seed: u64) -> Self {
        let n = &scenario.network;
        let mut state = World {
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
            seed,
            node_count: scenario.nodes,
            storage_faults: scenario.storage.clone(),
            disk_rng: ChaCha8Rng::seed_from_u64(derive_seed(seed, "storage", 0)),
            full_disks: Default::default(),
            damaged: BTreeMap::new(),
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
    pub(crate) fn ix(&self, name: &str) -> Option<Ix> {
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

    /// Applies a fault's effect on the world at true time `now`; returns the trace events that
    /// record it. Crash and restart only change what the network sees (`down`); stopping and
    /// starting the node is the engine's part.
    pub(crate) fn apply(&mut self, now: Duration, action: &FaultAction) -> Vec<EventKind> {
        match action {
            FaultAction::Partition(groups) => self.partition(groups),
            FaultAction::PartitionOneway { from, to } => vec![self.partition_oneway(from, to)],
            FaultAction::Heal(heal) => vec![self.heal(heal)],
            FaultAction::Crash { node, .. } => self.crash(node),
            // The node is up again once its new process listens: see `set_listening`.
            FaultAction::Restart(_) => vec![],
            FaultAction::Pause { node, .. } => self.pause(node).into_iter().collect(),
            FaultAction::Resume(node) => self.resume(node).into_iter().collect(),
            FaultAction::Network { link, conditions } => {
                vec![self.change_conditions(link.as_ref(), conditions)]
            }
            FaultAction::Skew { node, clock } => vec![self.step_clock(now, node, clock)],
            FaultAction::Corrupt { node, key } => self.corrupt(node, key.as_deref()),
            FaultAction::DiskFull { node, .. } => self.fill_disk(node, true),
            FaultAction::DiskFree(node) => self.fill_disk(node, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A world of the default scenario (3 nodes, 1 client) at seed 1.
    pub(super) fn world() -> World {
        World::new(&Scenario::new("t", "ids"), 1)
    }

    #[test]
    fn processes_are_numbered_nodes_first_then_clients() {
        let w = world();
        assert_eq!(w.ix("n0"), Some(0));
        assert_eq!(w.ix("n2"), Some(2));
        assert_eq!(w.ix("c0"), Some(3));
        assert_eq!(w.ix("n9"), None);
    }
}
