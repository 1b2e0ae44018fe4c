//! The work table on disk: one record per item (`election/item/<item>`), synced before the node
//! says it holds what the record covers.
//!
//! - **Written before it is acknowledged.** A follower answers a heartbeat with the version it
//!   holds only once the heartbeat's items are synced; a leader counts itself among the holders
//!   of a round only once its own changes are. A failed sync (or a full disk) acknowledges
//!   nothing new: the items stay staged and are written again, with a fresh sync, next time.
//! - **The mark** (`election/table`) says the disk holds every item this node acknowledged: a
//!   member of the initial cluster writes it at start (its table is empty), and a node that
//!   had to recover from others writes it once it synced the whole table it recovered. A disk
//!   without it (real mode without `--store`, a new disk) holds nothing the node can vouch
//!   for.
//! - **Read at restart.** A node whose mark and item records are all sound holds every item it
//!   ever acknowledged, which is all a voter needs (any majority that held a recorded item
//!   meets any majority of voters): it is recovered at once, and waits out only the promise
//!   every restarted node keeps. Without this, three of five nodes restarting together could never
//!   recover again (each waits for `n - majority + 1` recovered peers; see
//!   `docs/findings/election-majority-unrecovered.toml`).
//! - **A damaged record** (torn, corrupted) is named in a `table-record-damaged` note and the
//!   node recovers as if its disk were empty: from a leader's heartbeat or from its peers. The
//!   sound records still count as what it holds. Once recovered it rewrites the damaged
//!   records from the table it recovered (and deletes those of items it no longer knows), so
//!   that its next restart finds a sound disk.
//!
//! A synced write is assumed durable: the opt-in `lost_write` storage fault (a disk that
//! acknowledges a sync and drops the write) can lose an item acknowledged by a majority when
//! it strikes enough of them, as it would under Raft.

use super::Election;
use crate::election::{ElectionNote, Record};
use highstorm_nodes::storage::StorageError;
use highstorm_nodes::Ctx;

/// Where the item records live: this prefix, then the item.
pub(super) const ITEM_PREFIX: &str = "election/item/";
/// The mark: the disk holds every item this node acknowledged.
pub(super) const MARK: &str = "election/table";

impl Election {
    /// Reads the table from disk at start; returns whether the disk holds every item this node
    /// acknowledged: the mark is there and every record is sound (damaged ones are named in
    /// notes; the sound ones are kept either way).
    pub(super) fn load_table(&mut self, ctx: &mut Ctx<'_, Self>) -> bool {
        let mut damaged = vec![];
        let marked = match ctx.storage().get_json::<bool>(MARK) {
            None => false,
            Some(Ok(mark)) => mark,
            Some(Err(e)) => {
                damaged.push(e);
                false
            }
        };
        for (key, bytes) in ctx.storage().prefixed(ITEM_PREFIX) {
            let item = &key[ITEM_PREFIX.len()..];
            let record = bytes.and_then(|b| {
                serde_json::from_slice::<Option<Record>>(b).map_err(|e| StorageError::Decode {
                    key: key.to_owned(),
                    reason: e.to_string(),
                })
            });
            match record {
                Ok(r) => {
                    self.table.insert(item.to_owned(), r);
                }
                Err(e) => {
                    self.damaged_items.insert(item.to_owned());
                    damaged.push(e);
                }
            }
        }
        for e in &damaged {
            ctx.note_typed(&ElectionNote::TableRecordDamaged {
                record: e.key().to_owned(),
                error: e.to_string(),
            });
        }
        self.unmarked = !(marked && damaged.is_empty());
        !self.unmarked
    }

    /// After a recovery from a leader or peers: rewrites the records found damaged at start
    /// (deleting those of items the recovered table does not hold) and syncs.
    pub(super) fn heal_disk(&mut self, ctx: &mut Ctx<'_, Self>) {
        for item in std::mem::take(&mut self.damaged_items) {
            if self.table.contains_key(&item) {
                self.unsaved.insert(item);
            } else {
                ctx.delete(&format!("{ITEM_PREFIX}{item}"));
            }
        }
        // A failed sync keeps the items staged for the next one.
        let _ = self.persist(ctx);
    }

    /// Marks `items` to be written, with the value they hold then, at the next
    /// [`persist`](Election::persist).
    pub(super) fn stage<'a>(&mut self, items: impl IntoIterator<Item = &'a String>) {
        self.unsaved.extend(items.into_iter().cloned());
    }

    /// Writes every staged item and syncs; `true` when the disk now holds the whole table as
    /// this node knows it (nothing was staged, or the sync succeeded). A recovered node whose
    /// disk is not marked yet writes its whole table, then (once that is synced) the mark.
    pub(super) fn persist(&mut self, ctx: &mut Ctx<'_, Self>) -> bool {
        let mark = self.unmarked && self.recovered;
        if mark {
            self.unsaved.extend(self.table.keys().cloned());
        }
        if !self.unsaved.is_empty() {
            for item in &self.unsaved {
                let record: Option<&Record> = self.table.get(item).and_then(Option::as_ref);
                ctx.put_json(&format!("{ITEM_PREFIX}{item}"), &record);
            }
            if let Err(e) = ctx.sync() {
                ctx.note_typed(&ElectionNote::TableNotSynced {
                    items: self.unsaved.len() as u64,
                    error: e.to_string(),
                });
                return false;
            }
            self.unsaved.clear();
        }
        if mark {
            // Only after the items: a mark the disk holds vouches for every one of them.
            ctx.put_json(MARK, &true);
            match ctx.sync() {
                Ok(()) => self.unmarked = false,
                Err(e) => ctx.note_typed(&ElectionNote::TableNotSynced {
                    items: 0,
                    error: e.to_string(),
                }),
            }
        }
        true
    }
}

/// The table a node reads back from `storage` (sound records only), for tests.
#[cfg(test)]
pub(super) fn read_back(storage: &highstorm_nodes::storage::Storage) -> crate::election::Table {
    storage
        .prefixed(ITEM_PREFIX)
        .filter_map(|(k, b)| {
            let r = serde_json::from_slice::<Option<Record>>(b.ok()?).ok()?;
            Some((k[ITEM_PREFIX.len()..].to_owned(), r))
        })
        .collect()
}
