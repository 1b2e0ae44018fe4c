//! Sometimes-assertions: coverage of interesting states, per run and over a sweep.
//!
//! Nodes mark points with [`Context::sometimes`](highstorm_nodes::Context::sometimes) and
//! [`Context::reachable`](highstorm_nodes::Context::reachable). A run tallies them in its
//! [`Sometimes`] (outside the trace, whose text and hash they never change); a sweep adds the
//! runs up in a [`SometimesReport`], which also lists the points a system declared
//! ([`System::sometimes`](crate::system::System::sometimes)) that no run reached.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// How often one point was evaluated in one run, and how often its condition held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Times the point was evaluated.
    pub evaluated: u64,
    /// Times its condition held.
    pub hits: u64,
}

/// The sometimes-points of one run, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Sometimes(BTreeMap<String, Tally>);

impl Sometimes {
    /// Counts one evaluation of `point`.
    pub fn record(&mut self, point: &str, hit: bool) {
        let tally = match self.0.get_mut(point) {
            Some(t) => t,
            None => self.0.entry(point.to_owned()).or_default(),
        };
        tally.evaluated += 1;
        tally.hits += u64::from(hit);
    }

    /// Every point evaluated, in name order, with its tally.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Tally)> {
        self.0.iter().map(|(k, t)| (k.as_str(), *t))
    }

    /// The points whose condition held at least once, in name order.
    pub fn hit(&self) -> impl Iterator<Item = &str> {
        self.iter().filter(|(_, t)| t.hits > 0).map(|(k, _)| k)
    }

    /// The tally of `point` (zero when it was never evaluated).
    pub fn get(&self, point: &str) -> Tally {
        self.0.get(point).copied().unwrap_or_default()
    }
}

/// One point over a sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PointSummary {
    /// Whether the system declared it.
    pub declared: bool,
    /// Runs that evaluated it.
    pub runs_reached: u64,
    /// Runs in which its condition held at least once.
    pub runs_hit: u64,
    /// Times its condition held, over all runs.
    pub hits: u64,
}

/// The sometimes-points of a sweep: which were hit, how often, and which never were.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SometimesReport {
    /// Runs added.
    pub runs: u64,
    /// Every declared or evaluated point, by name.
    pub points: BTreeMap<String, PointSummary>,
}

impl SometimesReport {
    /// An empty report that knows the `declared` points (so it can name those never hit).
    pub fn new<'a>(declared: impl IntoIterator<Item = &'a str>) -> Self {
        let points = declared
            .into_iter()
            .map(|p| {
                let summary = PointSummary {
                    declared: true,
                    ..Default::default()
                };
                (p.to_owned(), summary)
            })
            .collect();
        SometimesReport { runs: 0, points }
    }

    /// Adds one run.
    pub fn add(&mut self, run: &Sometimes) {
        self.runs += 1;
        for (point, tally) in run.iter() {
            let s = self.points.entry(point.to_owned()).or_default();
            s.runs_reached += 1;
            s.runs_hit += u64::from(tally.hits > 0);
            s.hits += tally.hits;
        }
    }

    /// The points no run hit (declared ones never reached among them), in name order.
    pub fn never_hit(&self) -> Vec<&str> {
        self.points
            .iter()
            .filter(|(_, s)| s.runs_hit == 0)
            .map(|(p, _)| p.as_str())
            .collect()
    }

    /// Whether there is anything to report.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

impl fmt::Display for SometimesReport {
    /// One line a point: `hit 12/40 runs (31 times)  leader-stepped-down`, then the points
    /// never hit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sometimes-assertions over {} runs:", self.runs)?;
        for (point, s) in &self.points {
            let what = match (s.runs_hit, s.runs_reached) {
                (0, 0) => "NEVER REACHED".to_owned(),
                (0, r) => format!("NEVER HIT (reached in {r} runs)"),
                (h, _) => format!("hit {h}/{} runs ({} times)", self.runs, s.hits),
            };
            let undeclared = if s.declared { "" } else { " (undeclared)" };
            writeln!(f, "  {point:<32} {what}{undeclared}")?;
        }
        let never = self.never_hit();
        if never.is_empty() {
            writeln!(f, "every point was hit")
        } else {
            writeln!(f, "never hit: {}", never.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_counts_runs_hits_and_names_points_never_hit() {
        let mut a = Sometimes::default();
        a.record("stepped-down", true);
        a.record("stepped-down", true);
        a.record("retried", false);
        let mut b = Sometimes::default();
        b.record("stepped-down", false);
        b.record("stray", true);
        let mut report = SometimesReport::new(["stepped-down", "retried", "lost-lease"]);
        report.add(&a);
        report.add(&b);
        let sd = report.points["stepped-down"];
        assert_eq!((sd.runs_reached, sd.runs_hit, sd.hits), (2, 1, 2));
        assert_eq!(report.never_hit(), ["lost-lease", "retried"]);
        assert!(!report.points["stray"].declared);
        let text = report.to_string();
        assert!(text.contains("hit 1/2 runs (2 times)"), "{text}");
        assert!(
            text.contains("lost-lease") && text.contains("NEVER REACHED"),
            "{text}"
        );
        assert!(text.contains("NEVER HIT (reached in 1 runs)"), "{text}");
        assert!(text.contains("never hit: lost-lease, retried"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["points"]["stray"]["runs_hit"], 1);
    }
}
