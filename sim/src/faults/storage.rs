//! What the world keeps for the nodes: each node's disk (writes pending until synced, lost
//! beyond the last sync when it crashes), the blob store every node shares, and the system's
//! outside work, which runs against that store and takes simulated time.

use super::World;
use crate::scenario::StorageRates;
use crate::trace::EventKind;
use highstorm_nodes::derive_seed;
use highstorm_nodes::storage::{Damage, DurableStore, SharedMemBlobs, Storage, Write, WriteFate};
use highstorm_nodes::{Output, SyncError, SyncFaults, WorkRequest, WorkResult};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::time::Duration;

/// Simulated throughput of outside work: bytes read and written per simulated second.
const WORK_BYTES_PER_SEC: u64 = 300_000;
/// The fixed cost of any piece of outside work.
const WORK_BASE: Duration = Duration::from_millis(1);

impl World {
    /// The sync faults `node`'s incarnation `boot` suffers, for its host to hand it with
    /// [`Process::handle_sync_faults`](highstorm_nodes::Process::handle_sync_faults) (`None`:
    /// none, the process is not told).
    pub(crate) fn sync_faults(&self, node: &str, boot: u64) -> Option<SyncFaults> {
        let failure = self.storage_faults.rates_of(node).sync_failure;
        (failure > 0.0).then(|| SyncFaults {
            failure,
            seed: derive_seed(self.seed, &format!("{node}/disk"), boot),
        })
    }

    /// Whether `node`'s disk is full now.
    pub(crate) fn disk_full(&self, node: &str) -> bool {
        self.full_disks.contains(node)
    }

    /// What `node`'s next incarnation finds in its durable storage: every record checked
    /// against its checksum, after the reads the storage faults damage (that damage stays on
    /// the disk); returns the trace events of that damage too.
    pub(crate) fn boot_storage(&mut self, node: &str) -> (Storage, Vec<EventKind>) {
        let mut events = vec![];
        let p = self.storage_faults.rates_of(node).read_corruption;
        if p > 0.0 {
            let keys: Vec<String> = self
                .disks
                .get(node)
                .map(|d| d.keys().map(str::to_owned).collect())
                .unwrap_or_default();
            for key in keys {
                if self.disk_rng.random_bool(p) {
                    events.extend(self.damage(node, &key, "read-corruption"));
                }
            }
        }
        let storage = self
            .disks
            .get(node)
            .map(DurableStore::synced)
            .unwrap_or_default();
        (storage, events)
    }

    /// Carries out a storage output of `node`: a write (pending until synced), a sync (which
    /// may lose or misdirect writes when those faults are on), or a failed sync (its writes
    /// settled as a crash would settle them); returns what the trace records.
    pub(crate) fn storage(&mut self, node: &str, out: &Output) -> Vec<EventKind> {
        let rates = self.storage_faults.rates_of(node);
        match out {
            Output::Store(w) => {
                self.disks
                    .entry(node.to_owned())
                    .or_default()
                    .write(w.clone());
                vec![]
            }
            Output::Sync if rates.lost_write == 0.0 && rates.misdirected_write == 0.0 => {
                let disk = self.disks.entry(node.to_owned()).or_default();
                let written: Vec<String> = disk.sync().into_iter().map(|w| w.key).collect();
                self.repaired(node, &written);
                vec![EventKind::Sync {
                    node: node.to_owned(),
                    writes: written.len() as u64,
                }]
            }
            Output::Sync => {
                let fates = self.settle(node, WriteFate::Applied, |w, rng, keys| {
                    if rng.random_bool(rates.lost_write) {
                        WriteFate::Lost
                    } else if rng.random_bool(rates.misdirected_write) {
                        let others: Vec<&String> = keys.iter().filter(|k| **k != w.key).collect();
                        match others.len() {
                            0 => WriteFate::Applied,
                            n => WriteFate::Misdirected {
                                to: others[rng.random_range(0..n)].clone(),
                            },
                        }
                    } else {
                        WriteFate::Applied
                    }
                });
                let mut events = vec![EventKind::Sync {
                    node: node.to_owned(),
                    writes: fates.len() as u64,
                }];
                events.extend(self.fate_events(node, &fates, "lost-write"));
                events
            }
            Output::SyncFailed(e) => {
                let pending = self.disks.get(node).map_or(0, DurableStore::pending);
                let mut events = vec![EventKind::Storage {
                    node: node.to_owned(),
                    fault: "sync-failed".into(),
                    key: None,
                    detail: format!("{e}; {pending} pending writes in doubt"),
                }];
                if *e == SyncError::DiskFull {
                    // No space: nothing of what was pending reached the disk.
                    let lost = self.disks.get_mut(node).map_or(0, DurableStore::crash);
                    if lost > 0 {
                        events.push(EventKind::LostWrites {
                            node: node.to_owned(),
                            writes: lost as u64,
                        });
                    }
                } else {
                    events.extend(self.settle_in_doubt(node, rates));
                }
                events
            }
            _ => vec![],
        }
    }

    /// Settles `node`'s pending writes after a crash or a failed sync: without storage faults
    /// each is lost; with them each is torn, kept whole, or lost.
    fn settle_in_doubt(&mut self, node: &str, rates: StorageRates) -> Vec<EventKind> {
        if rates.torn == 0.0 && rates.unsynced_kept == 0.0 {
            let lost = self.disks.get_mut(node).map_or(0, DurableStore::crash);
            return (lost > 0)
                .then(|| EventKind::LostWrites {
                    node: node.to_owned(),
                    writes: lost as u64,
                })
                .into_iter()
                .collect();
        }
        let fates = self.settle(node, WriteFate::Lost, |w, rng, _| {
            if rng.random_bool(rates.torn) {
                let len = w.value.as_ref().map_or(1, |v| v.len() + 40);
                WriteFate::Torn {
                    keep: rng.random_range(0..len),
                }
            } else if rng.random_bool(rates.unsynced_kept) {
                WriteFate::Applied
            } else {
                WriteFate::Lost
            }
        });
        let lost = fates.iter().filter(|(_, f)| *f == WriteFate::Lost).count();
        let mut events: Vec<EventKind> = (lost > 0)
            .then(|| EventKind::LostWrites {
                node: node.to_owned(),
                writes: lost as u64,
            })
            .into_iter()
            .collect();
        let kept = fates
            .iter()
            .filter(|(_, f)| *f == WriteFate::Applied)
            .count();
        if kept > 0 {
            events.push(EventKind::Storage {
                node: node.to_owned(),
                fault: "unsynced-kept".into(),
                key: None,
                detail: format!("{kept} unsynced writes landed whole"),
            });
        }
        events.extend(self.fate_events(node, &fates, "crash"));
        events
    }

    /// Settles `node`'s pending writes with `fate` (given the write, the disk rng and the keys
    /// on the disk), holding the fault atlas: a damaging fate the atlas refuses becomes
    /// `harmless` (applied at a sync; lost at a crash, which is what a crash does anyway).
    fn settle(
        &mut self,
        node: &str,
        harmless: WriteFate,
        mut fate: impl FnMut(&Write, &mut ChaCha8Rng, &[String]) -> WriteFate,
    ) -> Vec<(String, WriteFate)> {
        let Some(mut disk) = self.disks.remove(node) else {
            return vec![];
        };
        let keys: Vec<String> = disk.keys().map(str::to_owned).collect();
        let fates = disk.settle(|w| {
            let f = fate(w, &mut self.disk_rng, &keys);
            let damaged_key = match &f {
                WriteFate::Torn { .. } if w.value.is_some() => Some(w.key.clone()),
                WriteFate::Misdirected { to } if w.value.is_some() => Some(to.clone()),
                WriteFate::Lost if harmless == WriteFate::Applied => Some(w.key.clone()),
                _ => None,
            };
            match damaged_key {
                Some(k) if !self.atlas_allows(node, &k) => harmless.clone(),
                Some(k) => {
                    self.note_damage(node, &k);
                    f
                }
                None => f,
            }
        });
        self.disks.insert(node.to_owned(), disk);
        let whole: Vec<String> = fates
            .iter()
            .filter(|(_, f)| *f == WriteFate::Applied)
            .map(|(k, _)| k.clone())
            .collect();
        self.repaired(node, &whole);
        fates
    }

    /// The trace events of the damaging fates among `fates` (`lost` names a silently lost
    /// synced write; at a crash losing is no fault and is counted elsewhere).
    fn fate_events(&self, node: &str, fates: &[(String, WriteFate)], lost: &str) -> Vec<EventKind> {
        fates
            .iter()
            .filter_map(|(key, f)| {
                let (fault, detail) = match f {
                    WriteFate::Applied => return None,
                    WriteFate::Lost if lost == "lost-write" => (
                        "lost-write",
                        "acknowledged by sync, never landed".to_owned(),
                    ),
                    WriteFate::Lost => return None,
                    WriteFate::Torn { keep } => {
                        ("torn", format!("{keep} bytes of the record landed"))
                    }
                    WriteFate::Misdirected { to } => {
                        ("misdirected", format!("landed under `{to}`"))
                    }
                };
                Some(EventKind::Storage {
                    node: node.to_owned(),
                    fault: fault.into(),
                    key: Some(key.clone()),
                    detail,
                })
            })
            .collect()
    }

    /// Damages `node`'s record `key` (if the atlas allows): a flipped bit or a truncation.
    pub(super) fn damage(&mut self, node: &str, key: &str, cause: &str) -> Option<EventKind> {
        if !self.atlas_allows(node, key) {
            return None;
        }
        let (damage, detail) = if self.disk_rng.random_bool(0.5) {
            let at = self.disk_rng.random_range(0..4096usize);
            (Damage::FlipBit(at), format!("{cause}: a bit flipped"))
        } else {
            let to = self.disk_rng.random_range(0..4096usize);
            (Damage::Truncate(to), format!("{cause}: truncated"))
        };
        let disk = self.disks.get_mut(node)?;
        if !disk.damage(key, damage) {
            return None;
        }
        self.note_damage(node, key);
        Some(EventKind::Storage {
            node: node.to_owned(),
            fault: "corrupt".into(),
            key: Some(key.to_owned()),
            detail,
        })
    }

    /// A `corrupt` fault: damages `key` (or a record drawn from the seed) on `node`'s disk.
    pub(super) fn corrupt(&mut self, node: &str, key: Option<&str>) -> Vec<EventKind> {
        let key = match key {
            Some(k) => k.to_owned(),
            None => {
                let keys: Vec<String> = self
                    .disks
                    .get(node)
                    .map(|d| d.keys().map(str::to_owned).collect())
                    .unwrap_or_default();
                if keys.is_empty() {
                    return vec![];
                }
                keys[self.disk_rng.random_range(0..keys.len())].clone()
            }
        };
        self.damage(node, &key, "corrupt").into_iter().collect()
    }

    /// A `disk_full` fault (`full`) or `disk_free`: the engine tells the node's process.
    pub(super) fn fill_disk(&mut self, node: &str, full: bool) -> Vec<EventKind> {
        if full == self.full_disks.contains(node) {
            return vec![];
        }
        if full {
            if self.storage_faults.atlas
                && !self.faulty_disks().contains(node)
                && self.faulty_disks().len() >= self.f()
            {
                return vec![];
            }
            self.full_disks.insert(node.to_owned());
        } else {
            self.full_disks.remove(node);
        }
        vec![EventKind::Storage {
            node: node.to_owned(),
            fault: if full { "disk-full" } else { "disk-freed" }.into(),
            key: None,
            detail: String::new(),
        }]
    }

    /// How many nodes' disks may be faulty at once under the atlas.
    fn f(&self) -> usize {
        self.node_count.saturating_sub(1) / 2
    }

    /// The nodes whose disks are faulty now: a damaged record, or full.
    fn faulty_disks(&self) -> BTreeSet<&str> {
        self.damaged
            .values()
            .flatten()
            .map(String::as_str)
            .chain(self.full_disks.iter().map(String::as_str))
            .collect()
    }

    /// Whether the atlas (if on) lets `node`'s record `key` be damaged now.
    fn atlas_allows(&self, node: &str, key: &str) -> bool {
        if !self.storage_faults.atlas {
            return true;
        }
        let holders = self.damaged.get(key);
        let already = holders.is_some_and(|h| h.contains(node));
        let copies = holders.map_or(0, BTreeSet::len) + usize::from(!already);
        let faulty = self.faulty_disks();
        let disks = faulty.len() + usize::from(!faulty.contains(node));
        copies <= self.f() && disks <= self.f()
    }

    fn note_damage(&mut self, node: &str, key: &str) {
        self.damaged
            .entry(key.to_owned())
            .or_default()
            .insert(node.to_owned());
    }

    /// `node` wrote `keys` whole: those records are sound again.
    fn repaired(&mut self, node: &str, keys: &[String]) {
        if self.damaged.is_empty() {
            return;
        }
        for k in keys {
            if let Some(h) = self.damaged.get_mut(k) {
                h.remove(node);
                if h.is_empty() {
                    self.damaged.remove(k);
                }
            }
        }
    }

    /// Drops the writes `node`'s disk has not synced (it crashed) — or, with storage faults,
    /// settles each: torn, kept or lost; returns the trace events.
    pub(super) fn lose_unsynced(&mut self, node: &str) -> Vec<EventKind> {
        let rates = self.storage_faults.rates_of(node);
        self.settle_in_doubt(node, rates)
    }

    /// Runs `node`'s outside work against the shared blob store: its result, and how long it
    /// takes in simulated time (in proportion to the bytes it touched, times the request's
    /// `slowdown` when it has one).
    pub(crate) fn run_work(&mut self, req: &WorkRequest) -> (WorkResult, Duration) {
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
    pub(crate) fn blobs(&self) -> SharedMemBlobs {
        self.blobs.clone()
    }
}
