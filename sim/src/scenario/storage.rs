//! The `[storage]` table: which storage faults a run's disks suffer, and how often.
//!
//! ```toml
//! [storage]
//! torn = 0.3              # at a crash, each pending write is torn with this probability
//! unsynced_kept = 0.5     # ... else applied whole with this one (else lost)
//! sync_failure = 0.02     # each sync of pending writes fails (EIO) with this probability
//! read_corruption = 0.01  # each record read at a restart comes back damaged
//! lost_write = 0.0        # opt-in: a synced write silently never lands
//! misdirected_write = 0.0 # opt-in: a synced write lands under another key
//! atlas = true            # keep damage survivable (see StorageFaults::atlas)
//! [storage.nodes.n1]      # per-node rates; unset keys take the global value
//! sync_failure = 0.1
//! ```

use super::{invalid, Invalid};
use std::collections::BTreeMap;

/// How often each kind of storage fault strikes one disk. Every rate is a probability in
/// [0, 1]; all zero (the default) is a disk without faults: a sync makes every pending write
/// durable and a crash loses every one.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StorageRates {
    /// At a crash (or a failed sync), the probability that a pending write is torn: only a
    /// prefix of its record lands, which fails its checksum.
    pub torn: f64,
    /// At a crash (or a failed sync), the probability that a pending write that is not torn
    /// lands whole anyway (else it is lost).
    pub unsynced_kept: f64,
    /// The probability that a sync of pending writes fails with an I/O error.
    pub sync_failure: f64,
    /// The probability that a record read at a restart comes back damaged (a flipped bit or
    /// a truncation); the damage stays on the disk.
    pub read_corruption: f64,
    /// Opt-in: the probability that a write a sync reported durable silently never lands.
    pub lost_write: f64,
    /// Opt-in: the probability that a synced write lands under another key of the same disk.
    pub misdirected_write: f64,
}

impl StorageRates {
    /// The rates with their keys in `[storage]`, in order.
    pub fn named(&self) -> [(&'static str, f64); 6] {
        [
            ("torn", self.torn),
            ("unsynced_kept", self.unsynced_kept),
            ("sync_failure", self.sync_failure),
            ("read_corruption", self.read_corruption),
            ("lost_write", self.lost_write),
            ("misdirected_write", self.misdirected_write),
        ]
    }

    /// The rate called `name`, to set it.
    pub fn by_name(&mut self, name: &str) -> Option<&mut f64> {
        Some(match name {
            "torn" => &mut self.torn,
            "unsynced_kept" => &mut self.unsynced_kept,
            "sync_failure" => &mut self.sync_failure,
            "read_corruption" => &mut self.read_corruption,
            "lost_write" => &mut self.lost_write,
            "misdirected_write" => &mut self.misdirected_write,
            _ => return None,
        })
    }

    /// Whether every rate is zero.
    pub fn is_off(&self) -> bool {
        self.named().iter().all(|(_, p)| *p == 0.0)
    }
}

/// A run's storage faults: global rates, per-node overrides, and the fault atlas. `Default`
/// is off (no storage faults), and a run without them is exactly a run of the model without
/// storage faults (same trace). Swarm mode and other generators fill this in directly.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageFaults {
    /// The rates of every node without its own entry.
    pub rates: StorageRates,
    /// Per-node rates (complete: parsing fills unset keys from the global rates).
    pub nodes: BTreeMap<String, StorageRates>,
    /// The fault atlas: keep injected damage survivable by a system that replicates its
    /// records — never damage (tear, corrupt, lose or misdirect) the same record on a
    /// majority of nodes, and never let more than `f = (nodes - 1) / 2` nodes' disks be
    /// faulty (damaged or full) at once. A fault the atlas refuses is not injected.
    pub atlas: bool,
}

impl StorageFaults {
    /// The rates of `node`'s disk.
    pub fn rates_of(&self, node: &str) -> StorageRates {
        self.nodes.get(node).copied().unwrap_or(self.rates)
    }

    /// Whether no disk suffers any fault from these rates.
    pub fn is_off(&self) -> bool {
        self.rates.is_off() && self.nodes.values().all(StorageRates::is_off)
    }

    /// Checks every rate is a probability; `known` checks a node name.
    pub(crate) fn validate(
        &self,
        known: impl Fn(&str, &str) -> Result<(), Invalid>,
    ) -> Result<(), Invalid> {
        let check = |prefix: &str, r: &StorageRates| {
            for (name, p) in r.named() {
                if !(0.0..=1.0).contains(&p) {
                    return Err(invalid(
                        format!("{prefix}.{name}"),
                        format!("probability {p} is outside [0, 1]"),
                    ));
                }
            }
            Ok(())
        };
        check("storage", &self.rates)?;
        for (node, r) in &self.nodes {
            let key = format!("storage.nodes.{node}");
            known(&key, node)?;
            check(&key, r)?;
        }
        Ok(())
    }
}
