//! Push, for speed: new values are batched per neighbour and sent every `batch` interval
//! along the strategy's topology.

use super::topology::Arrival;
use super::{held::value_hash, Broadcast, BroadcastMsg, BroadcastNote, BroadcastTimer};
use highstorm_nodes::{Ctx, Duration};

impl Broadcast {
    /// Takes in values from `from` (`None`: a client) and queues them for the strategy's
    /// targets, except `skip` (a node already handed them directly).
    pub(super) fn learn(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        values: &[u64],
        arrival: Arrival<'_>,
        skip: Option<&str>,
    ) {
        let new = self.insert(values);
        if new.is_empty() {
            return;
        }
        for v in &new {
            self.hash = self.hash.wrapping_add(value_hash(*v));
        }
        ctx.note_typed(&BroadcastNote::Learn(new.clone()));
        self.everyone(ctx);
        let skip = skip.and_then(|s| self.position(s));
        let mut queued = false;
        for target in self.targets(ctx.id(), arrival) {
            if Some(target) != skip {
                if self.pending.len() < self.all.len() {
                    self.pending.resize(self.all.len(), vec![]);
                }
                if self.pending[target].is_empty() {
                    self.dirty.push(target);
                }
                self.pending[target].extend(&new);
                queued = true;
            }
        }
        if self.config.batch_ms == 0 {
            self.flush(ctx);
        } else if !self.flush_armed && queued {
            self.flush_armed = true;
            // A rare path: this batch waits five intervals instead of one (a slow step).
            let wait = if ctx.buggify("broadcast-batch-late") {
                5
            } else {
                1
            };
            ctx.set_timer(
                Duration::from_millis(self.config.batch_ms * wait),
                BroadcastTimer::Flush,
            );
        }
    }

    pub(super) fn flush(&mut self, ctx: &mut Ctx<'_, Self>) {
        let mut dirty = std::mem::take(&mut self.dirty);
        if dirty.len() > 1 {
            if self.rank.is_empty() {
                let mut by_name: Vec<usize> = (0..self.all.len()).collect();
                by_name.sort_by(|&a, &b| self.all[a].cmp(&self.all[b]));
                self.rank = vec![0; by_name.len()];
                for (rank, &i) in by_name.iter().enumerate() {
                    self.rank[i] = rank;
                }
            }
            dirty.sort_by_key(|&i| self.rank[i]);
        }
        let batches: Vec<(usize, Vec<u64>)> = dirty
            .into_iter()
            .map(|target| {
                let mut values = std::mem::take(&mut self.pending[target]);
                values.sort_unstable();
                values.dedup();
                (target, values)
            })
            .collect();
        // Neighbours in a row that get the same values (a hub's leaves, mostly) share one
        // encoding of the message; the sends, their order and their bytes are as one by one.
        for run in batches.chunk_by(|a, b| a.1 == b.1) {
            let values = run[0].1.clone();
            let dests = run.iter().map(|(target, _)| self.all[*target].as_str());
            ctx.send_to_each(dests, &BroadcastMsg::Gossip { values });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BroadcastConfig, Strategy};
    use super::*;
    use highstorm_nodes::testing::Harness;

    #[test]
    fn values_are_batched_per_neighbour_and_forwarded_once() {
        let cfg = BroadcastConfig {
            strategy: Strategy::Star,
            anti_entropy_ms: 60_000,
            ..BroadcastConfig::default()
        };
        let mut hub = Harness::new(Broadcast::new(cfg), "n0", &["n1", "n2", "n3"]);
        hub.take_sent();
        hub.request("n1", 1, &BroadcastMsg::Gossip { values: vec![1, 2] });
        hub.request("n2", 1, &BroadcastMsg::Gossip { values: vec![2, 3] });
        // Nothing yet: the batch waits 50 ms.
        assert!(hub.take_sent().is_empty());
        let sent = hub.advance(Duration::from_millis(50));
        let mut got: Vec<(String, Vec<u64>)> = sent
            .into_iter()
            .map(|m| match m.body {
                BroadcastMsg::Gossip { values } => (m.dest, values),
                other => panic!("{other:?}"),
            })
            .collect();
        got.sort();
        // Each value goes to everyone except where it first came from (2 came from n1 first),
        // in one batch per neighbour.
        assert_eq!(
            got,
            [
                ("n1".to_owned(), vec![3]),
                ("n2".to_owned(), vec![1, 2]),
                ("n3".to_owned(), vec![1, 2, 3])
            ]
        );
        // A value seen again is not forwarded again.
        hub.request("n3", 2, &BroadcastMsg::Gossip { values: vec![1] });
        assert!(hub.advance(Duration::from_millis(100)).is_empty());
    }
}
