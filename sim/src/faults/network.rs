//! What the network does to each message: whether it is lost (down receiver, cut link, random
//! loss), how long each copy travels, and whether it is duplicated; and the faults that change
//! that (partitions, heals, link conditions).

use super::{Ix, World};
use crate::scenario::{Conditions, Distribution, Heal, Latency};
use crate::trace::EventKind;
use rand::Rng;
use std::time::Duration;

/// Why the network lost a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// The receiver is crashed.
    Down,
    /// The link is cut.
    Partition,
    /// Random loss.
    Loss,
}

impl DropReason {
    /// The word used in traces.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DropReason::Down => "down",
            DropReason::Partition => "partition",
            DropReason::Loss => "loss",
        }
    }
}

/// Resolved conditions of one link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Link {
    pub(super) latency: Latency,
    pub(super) loss: f64,
    pub(super) duplicate: f64,
}

impl Link {
    pub(super) fn apply(&mut self, c: &Conditions) {
        if let Some(l) = c.latency {
            self.latency = l;
        }
        if let Some(p) = c.loss {
            self.loss = p;
        }
        if let Some(p) = c.duplicate {
            self.duplicate = p;
        }
    }
}

impl World {
    fn is_cut_ix(&self, src: Ix, dest: Ix) -> bool {
        self.cuts > 0
            && self.cut[src]
                .get(dest / 64)
                .is_some_and(|w| w & (1 << (dest % 64)) != 0)
    }

    fn set_cut(&mut self, src: Ix, dest: Ix, cut: bool) {
        let row = &mut self.cut[src];
        if row.len() <= dest / 64 {
            if !cut {
                return;
            }
            row.resize(dest / 64 + 1, 0);
        }
        let bit = 1 << (dest % 64);
        let was = row[dest / 64] & bit != 0;
        if cut && !was {
            row[dest / 64] |= bit;
            self.cuts += 1;
        } else if !cut && was {
            row[dest / 64] &= !bit;
            self.cuts -= 1;
        }
    }

    pub(super) fn set_links(&mut self, from: &[String], to: &[String], c: &Conditions) {
        let from: Vec<Ix> = from.iter().map(|a| self.intern(a)).collect();
        let to: Vec<Ix> = to.iter().map(|b| self.intern(b)).collect();
        for &a in &from {
            for &b in &to {
                let entry = self.links.entry((a, b)).or_default();
                if c.latency.is_some() {
                    entry.latency = c.latency;
                }
                if c.loss.is_some() {
                    entry.loss = c.loss;
                }
                if c.duplicate.is_some() {
                    entry.duplicate = c.duplicate;
                }
            }
        }
    }

    fn link(&self, src: Option<Ix>, dest: Option<Ix>) -> Link {
        let mut link = self.global;
        if self.links.is_empty() {
            return link;
        }
        if let (Some(src), Some(dest)) = (src, dest) {
            if let Some(c) = self.links.get(&(src, dest)) {
                link.apply(c);
            }
        }
        link
    }

    /// Decides, when `src` sends to `dest`, whether the network loses the message.
    pub(crate) fn send(&mut self, src: &str, dest: &str) -> Result<(), DropReason> {
        self.send_on(self.ix(src), self.ix(dest))
    }

    /// [`send`](World::send) by process numbers ([`ix`](World::ix)).
    pub(crate) fn send_ix(&mut self, src: Ix, dest: Ix) -> Result<(), DropReason> {
        self.send_on(Some(src), Some(dest))
    }

    fn send_on(&mut self, src: Option<Ix>, dest: Option<Ix>) -> Result<(), DropReason> {
        if dest.is_some_and(|d| self.down[d]) {
            return Err(DropReason::Down);
        }
        if let (Some(s), Some(d)) = (src, dest) {
            if self.is_cut_ix(s, d) {
                return Err(DropReason::Partition);
            }
        }
        let loss = self.link(src, dest).loss;
        if loss > 0.0 && self.rng.random_bool(loss) {
            return Err(DropReason::Loss);
        }
        Ok(())
    }

    /// How long each copy of a message from `src` to `dest` travels: one delay, and a second
    /// when the network duplicates it.
    pub(crate) fn delays(&mut self, src: &str, dest: &str) -> (Duration, Option<Duration>) {
        self.delays_on(self.ix(src), self.ix(dest))
    }

    /// [`delays`](World::delays) by process numbers.
    pub(crate) fn delays_ix(&mut self, src: Ix, dest: Ix) -> (Duration, Option<Duration>) {
        self.delays_on(Some(src), Some(dest))
    }

    fn delays_on(&mut self, src: Option<Ix>, dest: Option<Ix>) -> (Duration, Option<Duration>) {
        let link = self.link(src, dest);
        let first = self.draw_latency(&link.latency);
        let second = (link.duplicate > 0.0 && self.rng.random_bool(link.duplicate))
            .then(|| self.draw_latency(&link.latency));
        (first, second)
    }

    fn draw_latency(&mut self, l: &Latency) -> Duration {
        if l.max <= l.min {
            return l.min;
        }
        let span = (l.max - l.min).as_secs_f64();
        let extra = match l.distribution {
            Distribution::Uniform => self.rng.random_range(0.0..=span),
            Distribution::Exponential => {
                let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
                (-u.ln() * span / 4.0).min(span)
            }
        };
        l.min + Duration::from_secs_f64(extra)
    }

    /// Whether a partition cuts the link from `src` to `dest`.
    pub(crate) fn is_cut(&self, src: &str, dest: &str) -> bool {
        match (self.ix(src), self.ix(dest)) {
            (Some(s), Some(d)) => self.is_cut_ix(s, d),
            _ => false,
        }
    }

    /// Cuts every link between nodes of different `groups`, both ways: one `cut` event a group.
    pub(super) fn partition(&mut self, groups: &[Vec<String>]) -> Vec<EventKind> {
        groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let others: Vec<String> = groups
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, h)| h.iter().cloned())
                    .collect();
                self.cut_links(g, &others);
                EventKind::Cut {
                    from: g.clone(),
                    to: others,
                    cause: "partition".into(),
                }
            })
            .collect()
    }

    /// Cuts the links from every node of `from` to every node of `to`.
    pub(super) fn partition_oneway(&mut self, from: &[String], to: &[String]) -> EventKind {
        self.cut_links(from, to);
        EventKind::Cut {
            from: from.to_vec(),
            to: to.to_vec(),
            cause: "partition-oneway".into(),
        }
    }

    /// Repairs every cut link, or both directions of one.
    pub(super) fn heal(&mut self, heal: &Heal) -> EventKind {
        match heal {
            Heal::All => {
                for row in &mut self.cut {
                    row.fill(0);
                }
                self.cuts = 0;
                EventKind::Heal {
                    scope: "all".into(),
                }
            }
            Heal::Link(a, b) => {
                let (a_ix, b_ix) = (self.intern(a), self.intern(b));
                self.set_cut(a_ix, b_ix, false);
                self.set_cut(b_ix, a_ix, false);
                EventKind::Heal {
                    scope: format!("{a}<->{b}"),
                }
            }
        }
    }

    /// Changes the conditions of every link, or of the links from `link.0` to `link.1`.
    pub(super) fn change_conditions(
        &mut self,
        link: Option<&(Vec<String>, Vec<String>)>,
        conditions: &Conditions,
    ) -> EventKind {
        let scope = match link {
            Some((from, to)) => {
                self.set_links(from, to, conditions);
                format!("[{}]->[{}]", from.join(","), to.join(","))
            }
            None => {
                self.global.apply(conditions);
                "all".into()
            }
        };
        EventKind::Network {
            scope,
            change: describe(conditions),
        }
    }

    fn cut_links(&mut self, from: &[String], to: &[String]) {
        let from: Vec<Ix> = from.iter().map(|a| self.intern(a)).collect();
        let to: Vec<Ix> = to.iter().map(|b| self.intern(b)).collect();
        for &a in &from {
            for &b in &to {
                if a != b {
                    self.set_cut(a, b, true);
                }
            }
        }
    }
}

fn describe(c: &Conditions) -> String {
    let mut parts = vec![];
    if let Some(l) = &c.latency {
        let d = match l.distribution {
            Distribution::Uniform => "uniform",
            Distribution::Exponential => "exponential",
        };
        parts.push(format!("latency={:?}..{:?} {d}", l.min, l.max));
    }
    if let Some(p) = c.loss {
        parts.push(format!("loss={p}"));
    }
    if let Some(p) = c.duplicate {
        parts.push(format!("duplicate={p}"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::tests::world;
    use super::*;
    use crate::scenario::{FaultAction, Scenario};

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn partitions_cut_between_groups_only_and_oneway_cuts_one_direction() {
        let mut net = world();
        let z = Duration::ZERO;
        net.apply(
            z,
            &FaultAction::Partition(vec![v(&["n0"]), v(&["n1", "n2"])]),
        );
        assert_eq!(net.send("n0", "n1"), Err(DropReason::Partition));
        assert_eq!(net.send("n2", "n0"), Err(DropReason::Partition));
        assert_eq!(net.send("n1", "n2"), Ok(()));
        assert_eq!(net.send("c0", "n0"), Ok(()));
        net.apply(z, &FaultAction::Heal(Heal::Link("n1".into(), "n0".into())));
        assert_eq!(net.send("n0", "n1"), Ok(()));
        assert_eq!(net.send("n0", "n2"), Err(DropReason::Partition));
        net.apply(z, &FaultAction::Heal(Heal::All));
        net.apply(
            z,
            &FaultAction::PartitionOneway {
                from: v(&["n0"]),
                to: v(&["n1"]),
            },
        );
        assert_eq!(net.send("n0", "n1"), Err(DropReason::Partition));
        assert_eq!(net.send("n1", "n0"), Ok(()));
        net.apply(
            z,
            &FaultAction::Crash {
                node: "n1".into(),
                restart_after: None,
            },
        );
        assert_eq!(net.send("n2", "n1"), Err(DropReason::Down));
    }

    #[test]
    fn loss_duplication_and_latency_follow_their_settings() {
        let ms = Duration::from_millis;
        let s = Scenario::new("t", "ids")
            .loss(0.1)
            .duplicate(0.2)
            .latency(ms(10)..ms(20));
        let run = |seed| {
            let mut net = World::new(&s, seed);
            let (mut lost, mut copies, mut delays) = (0, 0, vec![]);
            for _ in 0..10_000 {
                if net.send("a", "b").is_err() {
                    lost += 1;
                    continue;
                }
                let (first, second) = net.delays("a", "b");
                copies += 1 + usize::from(second.is_some());
                delays.extend(std::iter::once(first).chain(second));
            }
            (lost, copies, delays)
        };
        let (lost, copies, delays) = run(3);
        assert_eq!(run(3).0, lost, "seeded");
        assert!((800..1200).contains(&lost), "{lost}");
        let sent = 10_000 - lost;
        let dup_rate = (copies - sent) as f64 / sent as f64;
        assert!((0.17..0.23).contains(&dup_rate), "{dup_rate}");
        assert!(delays.iter().all(|d| (ms(10)..=ms(20)).contains(d)));
        let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
        assert!((ms(14)..ms(16)).contains(&mean), "{mean:?}");
    }

    #[test]
    fn exponential_latency_is_mostly_fast_with_a_tail_capped_at_max() {
        let ms = Duration::from_millis;
        let s = Scenario::new("t", "ids")
            .latency_distribution(ms(0)..ms(100), Distribution::Exponential);
        let mut net = World::new(&s, 9);
        let d: Vec<Duration> = (0..10_000).map(|_| net.delays("a", "b").0).collect();
        assert!(d.iter().all(|d| *d <= ms(100)));
        let below_25 = d.iter().filter(|d| **d < ms(25)).count();
        assert!((5800..6900).contains(&below_25), "{below_25}");
    }

    #[test]
    fn link_rules_and_network_faults_override_per_link() {
        let s = Scenario::new("t", "ids");
        let mut net = World::new(&s, 1);
        net.apply(
            Duration::ZERO,
            &FaultAction::Network {
                link: Some((v(&["n0"]), v(&["n1"]))),
                conditions: Conditions {
                    loss: Some(1.0),
                    ..Conditions::default()
                },
            },
        );
        assert_eq!(net.send("n0", "n1"), Err(DropReason::Loss));
        assert_eq!(net.send("n1", "n0"), Ok(()));
    }
}
