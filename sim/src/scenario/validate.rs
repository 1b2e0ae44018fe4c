//! What makes a scenario valid whatever its system: known node names, faults within the run,
//! probabilities within [0, 1], and caps on every number, so that no value from a file can
//! make a run panic, allocate without bound or never end.
//!
//! The caps (each a constant here, named in its error):
//! - a run lasts at most [`MAX_DURATION`] (an hour of simulated time: a run's trace is kept in
//!   memory), and every other duration (latencies, timeouts, clock skews) is bounded by it too;
//! - at most [`MAX_NODES`] nodes and [`MAX_CLIENTS`] clients;
//! - clients ask for at most [`MAX_RATE`] operations per second and [`MAX_OPERATIONS`] in a run;
//! - a nemesis takes a chance at most every [`MIN_NEMESIS_EVERY`], and at most
//!   [`MAX_NEMESIS_CHANCES`] chances in a run;
//! - a seed range holds at most [`MAX_SEEDS`] seeds.

use super::{
    engine_kind, invalid, Api, Conditions, FaultAction, Heal, Invalid, Latency, LatencyTargets,
    Scenario,
};
use std::collections::BTreeSet;
use std::time::Duration;

/// The longest run (simulated time), and the longest duration of any kind in a scenario.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The most nodes a scenario may have.
pub const MAX_NODES: usize = 10_000;
/// The most clients a scenario may have.
pub const MAX_CLIENTS: usize = 100;
/// The most client operations per second, over all clients.
pub const MAX_RATE: f64 = 100_000.0;
/// The most client operations a run may plan (`rate` times `duration`).
pub const MAX_OPERATIONS: f64 = 1_000_000.0;
/// The shortest time between two chances of a nemesis.
pub const MIN_NEMESIS_EVERY: Duration = Duration::from_millis(1);
/// The most chances a nemesis may take in one run (`(stop - start) / every`).
pub const MAX_NEMESIS_CHANCES: u64 = 100_000;
/// The most seeds one range may hold (`seeds = "A..B"`, `--seeds`, `HIGHSTORM_SEEDS`).
pub const MAX_SEEDS: u64 = 1_000_000;

fn human(d: Duration) -> String {
    // `24h` rather than humantime's `1day`, `1h` rather than `1h 0m`.
    if d.subsec_nanos() == 0 && d.as_secs() % 3600 == 0 && d.as_secs() > 0 {
        format!("{}h", d.as_secs() / 3600)
    } else {
        humantime::format_duration(d).to_string()
    }
}

impl Scenario {
    /// Checks everything that depends neither on where the scenario came from nor on its
    /// system: known node names, faults within the run, probabilities within [0, 1], and the
    /// caps in [this module](self). What needs the system (its variants, its `[config]`,
    /// whether it has an HTTP API) is checked where the system is known:
    /// [`System::validate`](crate::system::System::validate).
    pub fn validate(&self) -> Result<(), Invalid> {
        check_name(&self.name)?;
        if !(1..=MAX_NODES).contains(&self.nodes) {
            return Err(invalid(
                "nodes",
                format!("must be between 1 and {MAX_NODES}"),
            ));
        }
        // Before anything lists the clients.
        if self.workload.clients > MAX_CLIENTS {
            return Err(invalid(
                "workload.clients",
                format!("must be 0..={MAX_CLIENTS}"),
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err(invalid(
                "duration",
                format!("must be positive and at most {}", human(MAX_DURATION)),
            ));
        }
        if self.tick.is_zero() || self.tick > Duration::from_millis(100) {
            return Err(invalid("tick", "must be between 1us and 100ms"));
        }
        let seeds = self.seeds.end.saturating_sub(self.seeds.start);
        if seeds == 0 || seeds > MAX_SEEDS {
            return Err(invalid("seeds", format!("must hold 1..={MAX_SEEDS} seeds")));
        }
        self.validate_network()?;
        for (i, f) in self.faults.iter().enumerate() {
            self.validate_fault(&format!("faults[{i}]"), f)?;
        }
        self.validate_nemesis()?;
        self.storage.validate(|key, n| self.known(key, n))?;
        self.validate_checks()?;
        self.validate_workload()
    }

    /// An error unless `n` is one of the nodes.
    fn known(&self, key: &str, n: &str) -> Result<(), Invalid> {
        let index = n.strip_prefix('n').and_then(|i| i.parse::<usize>().ok());
        // `n01` is not `n1`: only the canonical spelling names a node.
        match index {
            Some(i) if i < self.nodes && format!("n{i}") == n => Ok(()),
            _ => Err(invalid(
                key,
                format!("unknown node {n:?} (nodes are n0..n{})", self.nodes - 1),
            )),
        }
    }

    /// An error unless `n` is a node, or (where links may name them) a client.
    fn known_or_client(&self, key: &str, n: &str) -> Result<(), Invalid> {
        let client = n
            .strip_prefix('c')
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i < self.workload.clients && format!("c{i}") == n);
        if client {
            Ok(())
        } else {
            self.known(key, n)
        }
    }

    fn validate_network(&self) -> Result<(), Invalid> {
        check_latency("network.latency", &self.network.latency)?;
        check_probability("network.loss", self.network.loss)?;
        check_probability("network.duplicate", self.network.duplicate)?;
        for (i, rule) in self.network.links.iter().enumerate() {
            let key = format!("network.links[{i}]");
            self.check_side(&format!("{key}.from"), &rule.from)?;
            self.check_side(&format!("{key}.to"), &rule.to)?;
            check_conditions(&key, &rule.conditions)?;
        }
        for (node, clock) in &self.clocks {
            self.known(&format!("clocks.{node}"), node)?;
            check_skew(&format!("clocks.{node}.skew"), clock.skew_us)?;
            check_drift(&format!("clocks.{node}.drift"), clock.drift)?;
        }
        Ok(())
    }

    /// One side of a link: at least one process, each a node or a client, none twice.
    fn check_side(&self, key: &str, side: &[String]) -> Result<(), Invalid> {
        if side.is_empty() {
            return Err(invalid(key, "must name at least one node"));
        }
        let mut seen = BTreeSet::new();
        for n in side {
            self.known_or_client(key, n)?;
            if !seen.insert(n) {
                return Err(invalid(key, format!("names {n:?} twice")));
            }
        }
        Ok(())
    }

    fn validate_fault(&self, key: &str, f: &super::Fault) -> Result<(), Invalid> {
        if f.at > self.duration {
            return Err(invalid(
                format!("{key}.at"),
                format!(
                    "fault at {} is after the scenario ends ({})",
                    human(f.at),
                    human(self.duration)
                ),
            ));
        }
        let kind = f.action.kind();
        let within_run = |what: &str, after: Duration| -> Result<(), Invalid> {
            match f.at.checked_add(after) {
                Some(end) if end <= self.duration => Ok(()),
                _ => Err(invalid(
                    format!("{key}.{what}"),
                    format!(
                        "{} after {} is after the scenario ends ({}): leave it out to keep \
                         the node down",
                        human(after),
                        human(f.at),
                        human(self.duration)
                    ),
                )),
            }
        };
        match &f.action {
            FaultAction::Partition(groups) => {
                self.check_groups(&format!("{key}.{kind}"), groups)?
            }
            FaultAction::PartitionOneway { from, to } => {
                let key = format!("{key}.{kind}");
                self.check_side(&format!("{key}.from"), from)?;
                self.check_side(&format!("{key}.to"), to)?;
                if let Some(n) = from.iter().find(|n| to.contains(n)) {
                    return Err(invalid(
                        key,
                        format!("{n:?} is on both sides: a node is never cut from itself"),
                    ));
                }
            }
            FaultAction::Heal(Heal::All) => {}
            FaultAction::Heal(Heal::Link(a, b)) => {
                let key = format!("{key}.{kind}");
                self.known_or_client(&key, a)?;
                self.known_or_client(&key, b)?;
                if a == b {
                    return Err(invalid(key, format!("heals {a:?} with itself")));
                }
            }
            FaultAction::Crash {
                node,
                restart_after,
            } => {
                self.known(&format!("{key}.{kind}"), node)?;
                if let Some(after) = restart_after {
                    within_run("restart_after", *after)?;
                }
            }
            FaultAction::Pause { node, resume_after } => {
                self.known(&format!("{key}.{kind}"), node)?;
                if let Some(after) = resume_after {
                    within_run("resume_after", *after)?;
                }
            }
            FaultAction::Restart(node) | FaultAction::Resume(node) => {
                self.known(&format!("{key}.{kind}"), node)?
            }
            FaultAction::Network { link, conditions } => {
                let key = format!("{key}.{kind}");
                if let Some((from, to)) = link {
                    self.check_side(&format!("{key}.from"), from)?;
                    self.check_side(&format!("{key}.to"), to)?;
                }
                check_conditions(&key, conditions)?;
            }
            FaultAction::Skew { node, clock } => {
                let key = format!("{key}.{kind}");
                self.known(&key, node)?;
                check_skew(&format!("{key}.offset"), clock.skew_us)?;
                check_drift(&format!("{key}.drift"), clock.drift)?;
            }
            FaultAction::Corrupt { node, .. } => {
                self.known(&format!("{key}.{kind}.node"), node)?;
            }
            FaultAction::DiskFull { node, free_after } => {
                self.known(&format!("{key}.{kind}"), node)?;
                if let Some(after) = free_after {
                    within_run("free_after", *after)?;
                }
            }
            FaultAction::DiskFree(node) => self.known(&format!("{key}.{kind}"), node)?,
        }
        Ok(())
    }

    /// Partition groups: at least two, none empty, no node in two (a node in two groups would
    /// be cut from itself).
    fn check_groups(&self, key: &str, groups: &[Vec<String>]) -> Result<(), Invalid> {
        if groups.len() < 2 {
            return Err(invalid(
                key,
                "needs at least two groups: a partition cuts the links between groups",
            ));
        }
        let mut seen = BTreeSet::new();
        for (g, group) in groups.iter().enumerate() {
            if group.is_empty() {
                return Err(invalid(key, format!("group {g} is empty")));
            }
            for n in group {
                self.known_or_client(key, n)?;
                if !seen.insert(n) {
                    return Err(invalid(
                        key,
                        format!("{n:?} is in two groups: each node belongs to one"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_nemesis(&self) -> Result<(), Invalid> {
        let Some(n) = &self.nemesis else {
            return Ok(());
        };
        if n.kinds.is_empty() {
            return Err(invalid("nemesis.kinds", "must name at least one kind"));
        }
        if n.every < MIN_NEMESIS_EVERY || n.every > self.duration {
            return Err(invalid(
                "nemesis.every",
                format!(
                    "must be between {} and the run's duration ({})",
                    human(MIN_NEMESIS_EVERY),
                    human(self.duration)
                ),
            ));
        }
        if !(n.intensity > 0.0 && n.intensity <= 1.0) {
            return Err(invalid("nemesis.intensity", "must be within (0, 1]"));
        }
        if n.start > self.duration {
            return Err(invalid("nemesis.start", "must be within the run"));
        }
        if n.stop.is_some_and(|s| s > self.duration) {
            return Err(invalid("nemesis.stop", "must be within the run"));
        }
        let stop = self.nemesis_stop().unwrap_or(self.duration);
        if let (Some(from), Some(set)) = (self.liveness_from(), n.stop) {
            if set > from {
                return Err(invalid(
                    "nemesis.stop",
                    format!(
                        "{} is inside the liveness phase, which starts at {} (`checks.liveness` \
                         before the end): faults must stop before it",
                        human(set),
                        human(from)
                    ),
                ));
            }
        }
        if n.start >= stop {
            let (key, which) = match n.stop {
                Some(_) => ("nemesis.start", "`stop`".to_owned()),
                None => (
                    "nemesis.start",
                    format!("the default stop, 80% of the run ({})", human(stop)),
                ),
            };
            return Err(invalid(
                key,
                format!(
                    "start {} is not before {which}: the nemesis would inject nothing",
                    human(n.start)
                ),
            ));
        }
        let chances = (stop - n.start).as_nanos() / n.every.as_nanos().max(1);
        if chances > u128::from(MAX_NEMESIS_CHANCES) {
            return Err(invalid(
                "nemesis.every",
                format!(
                    "{} between chances from {} to {} is {chances} chances: at most \
                     {MAX_NEMESIS_CHANCES} per run",
                    human(n.every),
                    human(n.start),
                    human(stop)
                ),
            ));
        }
        if n.fault_duration.is_zero() || n.fault_duration > self.duration {
            return Err(invalid(
                "nemesis.fault_duration",
                "must be positive and within the run",
            ));
        }
        // A swarm draws its own fault durations (up to `every`) and overlap.
        if n.overlap && !n.swarm {
            if n.fault_duration > n.every {
                return Err(invalid(
                    "nemesis.fault_duration",
                    "with `overlap = true` must not exceed `every`: faults of one family \
                     never overlap each other (their undoing would end the other early)",
                ));
            }
            let mut families: Vec<_> = n.kinds.iter().map(|k| k.family()).collect();
            families.sort();
            families.dedup();
            if families.len() < 2 {
                return Err(invalid(
                    "nemesis.overlap",
                    "needs kinds of at least two families to overlap (`partition` and \
                     `partition-oneway` are one family, cuts)",
                ));
            }
        }
        Ok(())
    }

    fn validate_checks(&self) -> Result<(), Invalid> {
        if let Some(m) = self.checks.msgs_per_op_max {
            if !(m.is_finite() && m > 0.0) {
                return Err(invalid("checks.msgs_per_op_max", "must be positive"));
            }
        }
        if self
            .checks
            .converge_within
            .is_some_and(|c| c > self.duration)
        {
            return Err(invalid(
                "checks.converge_within",
                "must be within the run's duration",
            ));
        }
        self.validate_liveness()?;
        for (key, targets) in [
            ("checks.latency", &self.checks.latency),
            ("checks.stable_latency", &self.checks.stable_latency),
        ] {
            if let Some(t) = targets {
                check_targets(key, t)?;
            }
        }
        Ok(())
    }

    /// The liveness phase fits in the run, after every scripted fault has ended.
    fn validate_liveness(&self) -> Result<(), Invalid> {
        let Some(d) = self.checks.liveness else {
            return Ok(());
        };
        if d.is_zero() || d >= self.duration {
            return Err(invalid(
                "checks.liveness",
                format!(
                    "must be positive and shorter than the run ({})",
                    human(self.duration)
                ),
            ));
        }
        let from = self.duration - d;
        for (i, f) in self.faults.iter().enumerate() {
            let end = f.at
                + match &f.action {
                    FaultAction::Crash {
                        restart_after: Some(a),
                        ..
                    }
                    | FaultAction::Pause {
                        resume_after: Some(a),
                        ..
                    } => *a,
                    _ => Duration::ZERO,
                };
            if end > from {
                return Err(invalid(
                    format!("faults[{i}].at"),
                    format!(
                        "the fault lasts until {}, inside the liveness phase, which starts at \
                         {} (`checks.liveness` before the end)",
                        human(end),
                        human(from)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_workload(&self) -> Result<(), Invalid> {
        let w = &self.workload;
        if w.timeout.is_zero() || w.timeout > self.duration {
            return Err(invalid(
                "workload.timeout",
                "must be positive and within the run's duration",
            ));
        }
        // Both are within the duration (checked above), so this cannot overflow.
        let quiet = self
            .checks
            .converge_within
            .unwrap_or_default()
            .max(w.timeout);
        if w.clients > 0 && self.duration <= w.timeout * 2 + quiet {
            return Err(invalid(
                "duration",
                format!(
                    "leaves clients no time for operations: they stop {} before the end \
                     (final reads two timeouts before it, after a quiet period of \
                     max(timeout, converge_within))",
                    human(w.timeout * 2 + quiet)
                ),
            ));
        }
        if w.api == Api::Http {
            if let Err(why) = engine_kind::supports(self.engine, self) {
                return Err(invalid("workload.api", why));
            }
        }
        if !(w.rate.is_finite() && w.rate > 0.0 && w.rate <= MAX_RATE) {
            return Err(invalid(
                "workload.rate",
                format!("must be positive and at most {MAX_RATE} operations per second"),
            ));
        }
        let planned = w.rate * self.duration.as_secs_f64();
        if w.clients > 0 && planned > MAX_OPERATIONS {
            return Err(invalid(
                "workload.rate",
                format!(
                    "{} operations per second for {} is {planned:.0} operations: at most \
                     {MAX_OPERATIONS} per run",
                    w.rate,
                    human(self.duration)
                ),
            ));
        }
        Ok(())
    }
}

/// A scenario's name names files (shrunk scenarios) and is written back into them: a name,
/// not a path, and printable.
fn check_name(name: &str) -> Result<(), Invalid> {
    if name.trim().is_empty() {
        return Err(invalid("name", "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(invalid("name", "must be at most 200 characters"));
    }
    if name.chars().any(|c| c == '/' || c == '\\') || name.trim_matches('.').is_empty() {
        return Err(invalid(
            "name",
            format!(
                "{name:?} is a path: a scenario's name has no `/` or `\\` and is not `.` or \
                 `..`"
            ),
        ));
    }
    // Control characters, and anything else a file would have to escape.
    if let Some(c) = name
        .chars()
        .find(|&c| c != '"' && c != '\'' && c.escape_debug().len() > 1)
    {
        return Err(invalid(
            "name",
            format!("has the unprintable character {:?}", c),
        ));
    }
    Ok(())
}

fn check_probability(key: &str, p: f64) -> Result<(), Invalid> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(invalid(key, format!("probability {p} is outside [0, 1]")))
    }
}

fn check_latency(key: &str, l: &Latency) -> Result<(), Invalid> {
    if l.min > l.max {
        return Err(invalid(key, "min exceeds max"));
    }
    if l.max > MAX_DURATION {
        return Err(invalid(
            format!("{key}.max"),
            format!("must be at most {}", human(MAX_DURATION)),
        ));
    }
    Ok(())
}

fn check_skew(key: &str, skew_us: i64) -> Result<(), Invalid> {
    let max = MAX_DURATION.as_micros() as i64;
    if (-max..=max).contains(&skew_us) {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("a clock may be off by at most {}", human(MAX_DURATION)),
        ))
    }
}

fn check_drift(key: &str, drift: f64) -> Result<(), Invalid> {
    if drift.is_finite() && drift > -0.5 && drift < 0.5 {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("drift {drift} is outside (-0.5, 0.5)"),
        ))
    }
}

fn check_targets(key: &str, t: &LatencyTargets) -> Result<(), Invalid> {
    let bounds = t.bounds();
    if bounds.is_empty() {
        return Err(invalid(key, "must set at least one of p50, p95, p99, max"));
    }
    for (name, d) in &bounds {
        if d.is_zero() || *d > MAX_DURATION {
            return Err(invalid(
                format!("{key}.{name}"),
                format!("must be positive and at most {}", human(MAX_DURATION)),
            ));
        }
    }
    for pair in bounds.windows(2) {
        let ((lo, a), (hi, b)) = (pair[0], pair[1]);
        if a > b {
            return Err(invalid(
                format!("{key}.{hi}"),
                format!(
                    "{hi} bound {} is below the {lo} bound {}: a higher percentile cannot be \
                     smaller",
                    human(b),
                    human(a)
                ),
            ));
        }
    }
    Ok(())
}

fn check_conditions(key: &str, c: &Conditions) -> Result<(), Invalid> {
    if let Some(l) = &c.latency {
        check_latency(&format!("{key}.latency"), l)?;
    }
    if let Some(p) = c.loss {
        check_probability(&format!("{key}.loss"), p)?;
    }
    if let Some(p) = c.duplicate {
        check_probability(&format!("{key}.duplicate"), p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Nemesis, NemesisKind};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn base() -> Scenario {
        Scenario::new("v", "ids").duration(ms(10_000))
    }

    fn key(s: Scenario) -> String {
        s.validate().expect_err("invalid").key
    }

    #[test]
    fn partitions_need_two_disjoint_nonempty_groups() {
        let p = |groups: &[&[&'static str]]| base().partition_at(ms(1000), groups);
        assert!(p(&[&["n0"], &["n1", "n2"]]).validate().is_ok());
        let e = p(&[&["n0", "n1"], &["n1", "n2"]]).validate().unwrap_err();
        assert_eq!(e.key, "faults[0].partition");
        assert!(e.message.contains("\"n1\" is in two groups"), "{e}");
        let e = p(&[&[], &["n1", "n2"]]).validate().unwrap_err();
        assert!(e.message.contains("group 0 is empty"), "{e}");
        assert_eq!(key(p(&[&["n0", "n1"]])), "faults[0].partition");
        let oneway = base().partition_oneway_at(ms(1000), &["n0", "n1"], &["n1"]);
        assert_eq!(key(oneway), "faults[0].partition_oneway");
        let empty = base().partition_oneway_at(ms(1000), &[], &["n1"]);
        assert_eq!(key(empty), "faults[0].partition_oneway.from");
        assert_eq!(
            key(base().heal_link_at(ms(1000), "n1", "n1")),
            "faults[0].heal"
        );
    }

    #[test]
    fn restarts_and_resumes_fall_within_the_run() {
        assert!(base()
            .crash_at(ms(9000), "n1", Some(ms(1000)))
            .validate()
            .is_ok());
        let e = base()
            .crash_at(ms(9000), "n1", Some(ms(1001)))
            .validate()
            .unwrap_err();
        assert_eq!(e.key, "faults[0].restart_after");
        assert!(e.message.contains("after the scenario ends"), "{e}");
        let huge = base().pause_at(ms(1), "n1", Some(Duration::MAX));
        assert_eq!(key(huge), "faults[0].resume_after");
    }

    #[test]
    fn nemesis_periods_are_bounded() {
        let n = |every: Duration| base().nemesis(Nemesis::new(&[NemesisKind::Crash], every));
        assert!(n(ms(500)).validate().is_ok());
        assert_eq!(key(n(Duration::from_micros(1))), "nemesis.every");
        assert_eq!(key(n(Duration::ZERO)), "nemesis.every");
        assert_eq!(key(n(ms(20_000))), "nemesis.every");
        let long = Scenario::new("v", "ids")
            .duration(MAX_DURATION)
            .nemesis(Nemesis::new(&[NemesisKind::Crash], ms(1)));
        let e = long.validate().unwrap_err();
        assert_eq!(e.key, "nemesis.every");
        assert!(e.message.contains("at most 100000 per run"), "{e}");
        let mut late = Nemesis::new(&[NemesisKind::Crash], ms(500));
        late.start = ms(3000);
        late.stop = Some(ms(2000));
        let e = base().nemesis(late.clone()).validate().unwrap_err();
        assert_eq!(e.key, "nemesis.start");
        late.stop = None;
        late.start = ms(9000);
        let e = base().nemesis(late).validate().unwrap_err();
        assert!(e.message.contains("default stop"), "{e}");
    }

    #[test]
    fn every_number_is_capped() {
        assert_eq!(key(base().duration(MAX_DURATION + ms(1))), "duration");
        assert_eq!(
            key(base().workload(MAX_CLIENTS + 1, 10.0)),
            "workload.clients"
        );
        assert_eq!(key(base().workload(1, 1e9)), "workload.rate");
        assert_eq!(key(base().workload(1, f64::NAN)), "workload.rate");
        let mut many = Scenario::new("v", "ids").duration(MAX_DURATION);
        many.workload.rate = 1000.0;
        assert_eq!(key(many), "workload.rate");
        assert_eq!(key(base().seeds(0..MAX_SEEDS + 1)), "seeds");
        assert_eq!(
            key(base().latency(ms(1)..MAX_DURATION + ms(1))),
            "network.latency.max"
        );
        assert_eq!(key(base().clock("n1", i64::MIN, 0.0)), "clocks.n1.skew");
        assert_eq!(
            key(base().skew_at(ms(1), "n1", i64::MAX, 0.0)),
            "faults[0].skew.offset"
        );
        assert_eq!(
            key(base().client_timeout(Duration::ZERO)),
            "workload.timeout"
        );
        assert_eq!(
            key(base().client_timeout(Duration::MAX)),
            "workload.timeout"
        );
        assert_eq!(
            key(base().converge_within(Duration::MAX)),
            "checks.converge_within"
        );
    }

    #[test]
    fn scenario_names_are_not_paths() {
        for bad in [
            "../../../../ESCAPED",
            "a/b",
            "a\\b",
            "..",
            "tab\there",
            " ",
            "zero\u{200b}width",
        ] {
            let e = Scenario::new(bad, "ids").validate().unwrap_err();
            assert_eq!(e.key, "name", "{bad:?}");
        }
        assert!(Scenario::new("gossip-5.shrunk v2", "ids")
            .validate()
            .is_ok());
    }

    #[test]
    fn names_are_canonical_nodes() {
        assert_eq!(key(base().crash_at(ms(1), "n01", None)), "faults[0].crash");
        assert_eq!(key(base().crash_at(ms(1), "c0", None)), "faults[0].crash");
        // Links may name clients.
        assert!(base()
            .partition_at(ms(1), &[&["c0"][..], &["n0", "n1", "n2"][..]])
            .validate()
            .is_ok());
    }
}
