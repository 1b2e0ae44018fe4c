//! The links a partition cuts, kept as the partition's groups rather than as pairs.
//!
//! A partition of n processes into two halves cuts n²/4 directed links (250,000 at 1000
//! nodes); a set of pairs costs that much per cut. Here each cut is kept as it came, a block
//! `from × to`, with the pairs healed one by one since: a cut costs its two groups, a heal of
//! one link costs a lookup per block, and a heal of everything drops the blocks.

use std::collections::{BTreeMap, BTreeSet};

/// One cut as it came: every link from a process in `from` to one in `to`, minus the links
/// healed one by one after it.
#[derive(Debug, Default)]
struct Block<'a> {
    from: BTreeSet<&'a str>,
    to: BTreeSet<&'a str>,
    /// (source, destination) of links of this block healed since it was cut.
    healed: BTreeSet<(&'a str, &'a str)>,
}

impl<'a> Block<'a> {
    fn holds(&self, a: &str, b: &str) -> bool {
        self.from.contains(a) && self.to.contains(b)
    }

    /// Whether the directed link `a -> b` is cut by this block and not healed since.
    #[cfg(test)]
    fn cuts(&self, a: &str, b: &str) -> bool {
        self.holds(a, b) && !self.healed.contains(&(a, b))
    }

    /// Heals `a -> b` if this block cuts it.
    fn heal(&mut self, a: &'a str, b: &'a str) {
        if self.holds(a, b) {
            self.healed.insert((a, b));
        }
    }

    /// The processes at either end of a link of this block that is still cut: a source is
    /// one while fewer of its links are healed than there are destinations, and the same for
    /// a destination.
    fn endpoints(&self, into: &mut BTreeSet<&'a str>) {
        let mut healed_from = BTreeMap::<&str, usize>::new();
        let mut healed_to = BTreeMap::<&str, usize>::new();
        for &(a, b) in &self.healed {
            *healed_from.entry(a).or_default() += 1;
            *healed_to.entry(b).or_default() += 1;
        }
        let still_cut = |healed: &BTreeMap<&str, usize>, p: &str, links: usize| {
            healed.get(p).copied().unwrap_or(0) < links
        };
        into.extend((self.from.iter()).filter(|a| still_cut(&healed_from, a, self.to.len())));
        into.extend((self.to.iter()).filter(|b| still_cut(&healed_to, b, self.from.len())));
    }
}

/// The directed links cut so far, as the cuts that made them (see the module's note).
#[derive(Debug, Default)]
pub(crate) struct CutLinks<'a> {
    blocks: Vec<Block<'a>>,
}

impl<'a> CutLinks<'a> {
    /// Cuts every link from a process in `from` to one in `to`.
    pub(crate) fn cut(
        &mut self,
        from: impl IntoIterator<Item = &'a str>,
        to: impl IntoIterator<Item = &'a str>,
    ) {
        let block = Block {
            from: from.into_iter().collect(),
            to: to.into_iter().collect(),
            healed: BTreeSet::new(),
        };
        if !block.from.is_empty() && !block.to.is_empty() {
            self.blocks.push(block);
        }
    }

    /// Heals the link between `a` and `b`, both ways.
    pub(crate) fn heal_between(&mut self, a: &'a str, b: &'a str) {
        for block in &mut self.blocks {
            block.heal(a, b);
            block.heal(b, a);
        }
    }

    /// Heals every link.
    pub(crate) fn heal_all(&mut self) {
        self.blocks.clear();
    }

    /// Whether the directed link `a -> b` is cut now (the check needs only the ends; the
    /// tests compare link by link).
    #[cfg(test)]
    pub(crate) fn is_cut(&self, a: &str, b: &str) -> bool {
        self.blocks.iter().any(|block| block.cuts(a, b))
    }

    /// The processes at either end of some link that is cut now.
    pub(crate) fn endpoints(&self) -> BTreeSet<&'a str> {
        let mut out = BTreeSet::new();
        for block in &self.blocks {
            block.endpoints(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The representation this replaces, as the reference: every cut link as a pair.
    #[derive(Default)]
    struct Pairs<'a>(BTreeSet<(&'a str, &'a str)>);

    impl<'a> Pairs<'a> {
        fn cut(&mut self, from: &[&'a str], to: &[&'a str]) {
            for a in from {
                for b in to {
                    self.0.insert((a, b));
                }
            }
        }
        fn heal_between(&mut self, a: &'a str, b: &'a str) {
            self.0.remove(&(a, b));
            self.0.remove(&(b, a));
        }
        fn endpoints(&self) -> BTreeSet<&'a str> {
            self.0.iter().flat_map(|&(a, b)| [a, b]).collect()
        }
    }

    /// A small seeded generator (xorshift), so the sequences are the same on every run.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    const NODES: [&str; 6] = ["n0", "n1", "n2", "n3", "n4", "n5"];

    fn some_nodes(rng: &mut Rng) -> Vec<&'static str> {
        NODES
            .iter()
            .copied()
            .filter(|_| rng.below(2) == 0)
            .collect()
    }

    #[test]
    fn blocks_agree_with_the_set_of_pairs_over_random_cuts_and_heals() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut nonempty_ends = 0;
        for _ in 0..500 {
            let (mut blocks, mut pairs) = (CutLinks::default(), Pairs::default());
            for _ in 0..rng.below(12) {
                match rng.below(10) {
                    0 => {
                        blocks.heal_all();
                        pairs.0.clear();
                    }
                    1..=4 => {
                        let a = NODES[rng.below(6) as usize];
                        let b = NODES[rng.below(6) as usize];
                        blocks.heal_between(a, b);
                        pairs.heal_between(a, b);
                    }
                    _ => {
                        let (from, to) = (some_nodes(&mut rng), some_nodes(&mut rng));
                        blocks.cut(from.iter().copied(), to.iter().copied());
                        pairs.cut(&from, &to);
                    }
                }
                for a in NODES {
                    for b in NODES {
                        assert_eq!(blocks.is_cut(a, b), pairs.0.contains(&(a, b)), "{a}->{b}");
                    }
                }
                assert_eq!(blocks.endpoints(), pairs.endpoints());
            }
            nonempty_ends += usize::from(!pairs.endpoints().is_empty());
        }
        // The sequences must exercise lasting cuts, not only empty states.
        assert!(nonempty_ends > 100, "{nonempty_ends}");
    }

    #[test]
    fn a_cut_after_a_heal_of_its_link_stays_cut_and_healing_every_link_ends_it() {
        let mut links = CutLinks::default();
        links.cut(["n0", "n1"], ["n2"]);
        links.heal_between("n2", "n0");
        assert!(!links.is_cut("n0", "n2") && links.is_cut("n1", "n2"));
        assert_eq!(links.endpoints(), BTreeSet::from(["n1", "n2"]));
        // Cut again after its heal: cut again.
        links.cut(["n0"], ["n2"]);
        assert!(links.is_cut("n0", "n2"));
        links.heal_between("n0", "n2");
        links.heal_between("n1", "n2");
        assert!(links.endpoints().is_empty());
        links.cut(["n3"], ["n4"]);
        links.heal_all();
        assert!(!links.is_cut("n3", "n4") && links.endpoints().is_empty());
    }

    #[test]
    fn a_half_and_half_cut_of_1000_nodes_keeps_its_groups_not_its_pairs() {
        let names: Vec<String> = (0..1000).map(|i| format!("n{i}")).collect();
        let (left, right) = names.split_at(500);
        let mut links = CutLinks::default();
        links.cut(
            left.iter().map(String::as_str),
            right.iter().map(String::as_str),
        );
        links.cut(
            right.iter().map(String::as_str),
            left.iter().map(String::as_str),
        );
        let stored: usize = links
            .blocks
            .iter()
            .map(|b| b.from.len() + b.to.len() + b.healed.len())
            .sum();
        assert_eq!(stored, 2000);
        assert!(links.is_cut("n0", "n999") && !links.is_cut("n0", "n1"));
        assert_eq!(links.endpoints().len(), 1000);
        links.heal_between("n0", "n999");
        assert!(!links.is_cut("n999", "n0") && links.is_cut("n0", "n998"));
        assert_eq!(links.endpoints().len(), 1000);
    }
}
