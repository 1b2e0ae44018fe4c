//! The held set: the values a node holds (sorted, with an order-independent hash), and the
//! ones it vouched for kept durable across crashes.

use super::{Broadcast, BroadcastNote};
use highstorm_nodes::{Ctx, SyncError};

/// Where a value this node acknowledged (or helped acknowledge) is kept: one durable key per
/// value, holding nothing, so writing it again is harmless.
const HELD_PREFIX: &str = "held/";

impl Broadcast {
    /// Adds `values` to those held; returns the ones that were new, in the order given (each
    /// once). A long ascending list (a peer's `everything`) is merged in one pass.
    pub(super) fn insert(&mut self, values: &[u64]) -> Vec<u64> {
        if values.len() > 16 && values.is_sorted() {
            let mut new = vec![];
            let mut merged = Vec::with_capacity(self.values.len() + values.len());
            let mut held = self.values.iter().copied().peekable();
            for &v in values {
                while let Some(h) = held.next_if(|&h| h < v) {
                    merged.push(h);
                }
                if held.peek() == Some(&v) || merged.last() == Some(&v) {
                    continue;
                }
                merged.push(v);
                new.push(v);
            }
            merged.extend(held);
            if !new.is_empty() {
                self.values = merged;
            }
            return new;
        }
        let mut new = vec![];
        for &v in values {
            if let Err(at) = self.values.binary_search(&v) {
                self.values.insert(at, v);
                new.push(v);
            }
        }
        new
    }

    /// Makes `values` durable before this node vouches for them (a client's ack, a replica's
    /// `replicate_ok`): writes those not yet stored and syncs once.
    /// A failed sync leaves the keys it covered in doubt: they are written again next time,
    /// and the caller must not vouch for `values`.
    pub(super) fn persist(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        values: &[u64],
    ) -> Result<(), SyncError> {
        if self.amnesiac {
            return Ok(());
        }
        let mut written = std::mem::take(&mut self.in_doubt);
        for &v in &written {
            ctx.put(&held_key(v), vec![]);
        }
        for &v in values {
            let key = held_key(v);
            if ctx.storage().get(&key).is_none() {
                ctx.put(&key, vec![]);
            }
        }
        written.extend_from_slice(values);
        ctx.sync().inspect_err(|_| self.in_doubt = written)
    }

    /// The values an earlier incarnation made durable, ascending.
    pub(super) fn recover(ctx: &mut Ctx<'_, Self>) -> Vec<u64> {
        let mut held = vec![];
        let mut unreadable = vec![];
        for (key, record) in ctx.storage().prefixed(HELD_PREFIX) {
            // The value is in the key; a damaged record still names it, but what it vouched
            // for is unknown: report it, and let anti-entropy bring the value back.
            match (key[HELD_PREFIX.len()..].parse::<u64>(), record) {
                (Ok(v), Ok(_)) => held.push(v),
                _ => unreadable.push(key.to_owned()),
            }
        }
        if !unreadable.is_empty() {
            ctx.note_typed(&BroadcastNote::UnreadableStorage(unreadable));
        }
        held.sort_unstable();
        ctx.sometimes(super::points::RECOVERED_VALUES, !held.is_empty());
        held
    }
}

fn held_key(v: u64) -> String {
    format!("{HELD_PREFIX}{v}")
}

pub(super) fn value_hash(v: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64(&v.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::BroadcastConfig;
    use super::*;

    #[test]
    fn held_values_merge_like_a_set() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..200 {
            let mut node = Broadcast::new(BroadcastConfig::default());
            let mut oracle = std::collections::BTreeSet::new();
            for _ in 0..6 {
                // Short unsorted batches and long ascending ones (with repeats), as gossip
                // and `everything` deliver them.
                let n = rng.random_range(0..60);
                let mut batch: Vec<u64> = (0..n).map(|_| rng.random_range(0..80)).collect();
                if rng.random_bool(0.5) {
                    batch.sort_unstable();
                }
                let want: Vec<u64> = batch
                    .iter()
                    .copied()
                    .filter(|v| oracle.insert(*v))
                    .collect();
                assert_eq!(node.insert(&batch), want, "{batch:?}");
                assert!(node.values().iter().eq(oracle.iter()));
            }
        }
    }
}
