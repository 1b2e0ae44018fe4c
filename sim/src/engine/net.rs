//! The simulated network's fault state, shared by every host of a run: which links are cut,
//! which nodes are down, how lossy it is. Every decision it makes is drawn from the run's seed
//! and recorded in the trace by the caller.

use crate::scenario::FaultAction;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

/// Cut links, down nodes and loss.
#[derive(Debug)]
pub struct NetModel {
    cut: BTreeSet<(String, String)>,
    down: BTreeSet<String>,
    loss: f64,
    rng: ChaCha8Rng,
}

impl NetModel {
    /// A healthy network losing each message with probability `loss`, drawing from `seed`.
    pub fn new(loss: f64, seed: u64) -> Self {
        NetModel {
            cut: BTreeSet::new(),
            down: BTreeSet::new(),
            loss,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Why a message from `src` to `dest` sent now is lost, if it is.
    pub fn drop_reason(&mut self, src: &str, dest: &str) -> Option<&'static str> {
        if self.down.contains(dest) {
            return Some("down");
        }
        if self.cut.contains(&(src.to_owned(), dest.to_owned())) {
            return Some("partition");
        }
        if self.loss > 0.0 && self.rng.random_bool(self.loss) {
            return Some("loss");
        }
        None
    }

    /// Cuts every link from `from` to `to`.
    pub fn cut(&mut self, from: &[String], to: &[String]) {
        for a in from {
            for b in to {
                if a != b {
                    self.cut.insert((a.clone(), b.clone()));
                }
            }
        }
    }

    /// Applies a partition fault; returns the (from, to) cuts it made.
    pub fn partition(&mut self, action: &FaultAction) -> Vec<(Vec<String>, Vec<String>)> {
        let mut cuts = vec![];
        match action {
            FaultAction::Partition(groups) => {
                for (i, g) in groups.iter().enumerate() {
                    let others: Vec<String> = groups
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .flat_map(|(_, h)| h.iter().cloned())
                        .collect();
                    self.cut(g, &others);
                    cuts.push((g.clone(), others));
                }
            }
            FaultAction::PartitionOneway { from, to } => {
                self.cut(from, to);
                cuts.push((from.clone(), to.clone()));
            }
            _ => {}
        }
        cuts
    }

    /// Repairs every link.
    pub fn heal_all(&mut self) {
        self.cut.clear();
    }

    /// Whether `node` is down.
    pub fn is_down(&self, node: &str) -> bool {
        self.down.contains(node)
    }

    /// Marks `node` down or up.
    pub fn set_down(&mut self, node: &str, down: bool) {
        if down {
            self.down.insert(node.to_owned());
        } else {
            self.down.remove(node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn partitions_cut_between_groups_only_and_oneway_cuts_one_direction() {
        let mut net = NetModel::new(0.0, 1);
        net.partition(&FaultAction::Partition(vec![v(&["n0"]), v(&["n1", "n2"])]));
        assert_eq!(net.drop_reason("n0", "n1"), Some("partition"));
        assert_eq!(net.drop_reason("n2", "n0"), Some("partition"));
        assert_eq!(net.drop_reason("n1", "n2"), None);
        assert_eq!(net.drop_reason("c0", "n0"), None);
        net.heal_all();
        net.partition(&FaultAction::PartitionOneway {
            from: v(&["n0"]),
            to: v(&["n1"]),
        });
        assert_eq!(net.drop_reason("n0", "n1"), Some("partition"));
        assert_eq!(net.drop_reason("n1", "n0"), None);
        net.set_down("n1", true);
        assert_eq!(net.drop_reason("n2", "n1"), Some("down"));
    }

    #[test]
    fn loss_is_seeded_and_roughly_calibrated() {
        let lost = |seed| {
            let mut net = NetModel::new(0.1, seed);
            (0..10_000)
                .filter(|_| net.drop_reason("a", "b").is_some())
                .count()
        };
        assert_eq!(lost(3), lost(3));
        assert!((800..1200).contains(&lost(3)), "{}", lost(3));
    }
}
