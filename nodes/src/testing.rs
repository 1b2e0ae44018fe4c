//! Drive one node directly, without any simulator: for unit tests of node logic.

use crate::node::{Message, Node, Output};
use crate::process::{NodeProcess, Process, ProcessSetup};
use crate::storage::DurableStore;
use crate::time::{Duration, LocalTime};
use crate::wire::{self, Body, Envelope, MsgId};
use serde::Serialize;

/// One node, a hand-moved clock, and everything it sent.
pub struct Harness<N: Node> {
    process: NodeProcess<N>,
    now: LocalTime,
    /// Every output not yet inspected by a helper.
    pub outputs: Vec<Output>,
    /// The node's durable storage as a host keeps it (writes pending until synced).
    disk: DurableStore,
    id: String,
    peers: Vec<String>,
    boot: u64,
}

impl<N: Node> Harness<N> {
    /// Starts `node` as `id` with `peers`, boot 0, seed 0, at time zero.
    pub fn new(node: N, id: &str, peers: &[&str]) -> Self {
        Self::with_boot(node, id, peers, 0)
    }

    /// Starts `node` as incarnation `boot`.
    pub fn with_boot(node: N, id: &str, peers: &[&str], boot: u64) -> Self {
        let peers: Vec<String> = peers.iter().map(|p| (*p).to_owned()).collect();
        Self::start(
            node,
            id,
            peers,
            boot,
            DurableStore::default(),
            LocalTime::ZERO,
        )
    }

    fn start(
        node: N,
        id: &str,
        peers: Vec<String>,
        boot: u64,
        disk: DurableStore,
        now: LocalTime,
    ) -> Self {
        let setup = ProcessSetup {
            id: id.to_owned(),
            peers: peers.clone().into(),
            seed: 0,
            boot,
            durable: disk.synced(),
            buggify: crate::Buggify::Off,
        };
        let mut process = NodeProcess::new(node, setup);
        process.handle_start(now);
        let mut h = Harness {
            process,
            now,
            outputs: vec![],
            disk,
            id: id.to_owned(),
            peers,
            boot,
        };
        h.drain();
        h
    }

    /// Crashes the node (losing its unsynced writes) and starts `node` as its next incarnation,
    /// with what its durable storage kept, at the same time.
    pub fn crash_and_restart(self, node: N) -> Self {
        let mut disk = self.disk;
        disk.crash();
        Self::start(node, &self.id, self.peers, self.boot + 1, disk, self.now)
    }

    /// Damages the synced record `key` on the node's disk, as a storage fault would: the next
    /// incarnation reads it as damaged. `false` if there is no such record.
    pub fn damage_record(&mut self, key: &str, damage: crate::storage::Damage) -> bool {
        self.disk.damage(key, damage)
    }

    /// What the node's durable storage holds now (synced writes only).
    pub fn synced(&self) -> crate::storage::Storage {
        self.disk.synced()
    }

    /// Fills the node's disk (`true`: its syncs fail with
    /// [`SyncError::DiskFull`](crate::SyncError::DiskFull)) or frees it.
    pub fn set_disk_full(&mut self, full: bool) {
        self.process.handle_disk_full(full);
    }

    /// Makes every later sync of the node fail with an I/O error (`failure = 1.0`), or with
    /// that probability.
    pub fn fail_syncs(&mut self, failure: f64) {
        self.process
            .handle_sync_faults(crate::SyncFaults { failure, seed: 7 });
    }

    /// The node under test.
    pub fn node(&self) -> &N {
        self.process.node()
    }

    /// The process (for stats).
    pub fn process(&self) -> &NodeProcess<N> {
        &self.process
    }

    /// The notes of type `N` among [`outputs`](Harness::outputs), in order. Panics (a failed
    /// test) on a note of one of `N`'s kinds whose data does not decode.
    pub fn notes<T: crate::TypedNote>(&self) -> Vec<T> {
        let kinds = T::kinds();
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Note(n) => crate::note::decode::<T>(&n.kind, &n.data, kinds),
                _ => None,
            })
            .map(|decoded| decoded.unwrap_or_else(|why| panic!("a note does not decode: {why}")))
            .collect()
    }

    /// The current time.
    pub fn now(&self) -> LocalTime {
        self.now
    }

    fn drain(&mut self) {
        while let Some(o) = self.process.poll_output() {
            match &o {
                Output::Store(w) => self.disk.write(w.clone()),
                Output::Sync => {
                    self.disk.sync();
                }
                // The harness settles what a failed sync covered as lost (the worst case a
                // node must survive).
                Output::SyncFailed(_) => {
                    self.disk.crash();
                }
                _ => {}
            }
            self.outputs.push(o);
        }
    }

    /// Delivers raw bytes; returns the messages the node sent in response.
    pub fn deliver_bytes(&mut self, bytes: &[u8]) -> Vec<Message<N::Msg>> {
        self.process.handle_datagram(self.now, bytes);
        self.drain();
        self.take_sent()
    }

    /// Delivers `body` from `src` with `msg_id`; returns the messages the node sent in response.
    pub fn request(&mut self, src: &str, msg_id: MsgId, body: &N::Msg) -> Vec<Message<N::Msg>>
    where
        N::Msg: Serialize,
    {
        let bytes = wire::encode(&Envelope {
            src: src.to_owned(),
            dest: self.process.id().to_owned(),
            body: Body {
                msg_id: Some(msg_id),
                in_reply_to: None,
                payload: body,
            },
        });
        self.deliver_bytes(&bytes)
    }

    /// Moves the clock forward by `by`, firing due timers; returns what the node sent.
    pub fn advance(&mut self, by: Duration) -> Vec<Message<N::Msg>> {
        let until = self.now + by;
        while let Some(at) = self.process.poll_timeout().filter(|at| *at <= until) {
            self.now = self.now.max(at);
            self.process.handle_timeout(self.now);
            self.drain();
        }
        self.now = until;
        self.take_sent()
    }

    /// Removes and decodes every transmitted message from [`outputs`](Harness::outputs).
    /// Transmissions that do not decode as `N::Msg` (error bodies) stay in `outputs`.
    pub fn take_sent(&mut self) -> Vec<Message<N::Msg>> {
        let mut sent = vec![];
        self.outputs.retain(|o| match o {
            Output::Transmit(t) => match wire::decode::<N::Msg>(&t.bytes) {
                Ok(env) => {
                    sent.push(Message::from(env));
                    false
                }
                Err(_) => true,
            },
            _ => true,
        });
        sent
    }
}
