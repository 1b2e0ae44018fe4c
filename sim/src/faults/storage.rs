//! What the world keeps for the nodes: each node's disk (writes pending until synced, lost
//! beyond the last sync when it crashes), the blob store every node shares, and the system's
//! outside work, which runs against that store and takes simulated time.

use super::World;
use crate::trace::EventKind;
use highstorm_nodes::storage::{DurableStore, SharedMemBlobs, Storage};
use highstorm_nodes::{Output, WorkRequest, WorkResult};
use std::time::Duration;

/// Simulated throughput of outside work: bytes read and written per simulated second.
const WORK_BYTES_PER_SEC: u64 = 300_000;
/// The fixed cost of any piece of outside work.
const WORK_BASE: Duration = Duration::from_millis(1);

impl World {
    /// What `node`'s next incarnation finds in its durable storage.
    pub(crate) fn durable(&self, node: &str) -> Storage {
        self.disks
            .get(node)
            .map(|d| d.synced().clone())
            .unwrap_or_default()
    }

    /// Carries out a storage output of `node`: a write (pending until synced) or a sync, which
    /// is recorded in the trace.
    pub(crate) fn storage(&mut self, node: &str, out: &Output) -> Option<EventKind> {
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

    /// Drops the writes `node`'s disk has not synced (it crashed): the trace event, if any
    /// were lost.
    pub(super) fn lose_unsynced(&mut self, node: &str) -> Option<EventKind> {
        let lost = self.disks.get_mut(node).map_or(0, DurableStore::crash);
        (lost > 0).then(|| EventKind::LostWrites {
            node: node.to_owned(),
            writes: lost as u64,
        })
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
