//! The election's properties, judged on true (simulated) time from the nodes' notes.
//!
//! **Leadership claims.** A node claims leadership from its `leader` note until the earliest
//! of: its `step-down` note, its crash, the next `leader` note of the same node, the end of
//! the run, and — when the claim carries a lease (`lease_until_us`, extended by `lease` notes
//! `until_us`, both readings of the node's own clock) — the true time at which the node's
//! clock reaches the lease's end. That time is found by rebuilding the node's clock from the
//! scenario's `[clocks]` and the trace's `skew` steps, exactly as the engines run it. A pause
//! does not end a claim: a paused leader still believes it leads, and a lease-less (naive)
//! leader acts on that belief when it wakes up.
//!
//! Many events share one instant (the turmoil engine rounds time to its 1 ms tick), and within
//! an instant trace order is the order a node did things in. So a claim covers the events from
//! its `leader` note up to, not including, the note or crash that ends it, even when both are
//! at one instant: a node may win, act and learn of a higher term all at once, and it acted
//! while it led. A lease that runs out at an instant covers none of that instant's events.
//!
//! - `one-leader-per-term`: no two nodes claim the same term.
//! - `leaders-never-overlap`: no two nodes' claims overlap in true time, in trace order within
//!   an instant (split brain).
//! - `leader-acts-within-lease`: every `assign` and `result-recorded` note with a term lies
//!   within its node's claim of that term.
//! - `leader-after-heal`: some claim is live within `[checks] converge_within` (default 5 s)
//!   of the last fault.
//! - `items-complete-once`: every acknowledged submit has a `result-recorded` note, and no
//!   item has two different results recorded (a new leader may confirm the very same result,
//!   attempt and worker, again; that is one record).

use super::{Attempt, ElectionNote};
use highstorm::check::{Operation, Recovery, Verdict};
use highstorm::faults::ClockModel;
use highstorm::scenario::Scenario;
use highstorm::trace::{EventKind, NoteError, Noted, Trace};
use highstorm_nodes::{LocalTime, OpPhase};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One node's claim to lead, on true time.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// The node.
    pub node: String,
    /// Its term, if the variant has terms.
    pub term: Option<u64>,
    /// When the claim began (µs).
    pub start_us: u64,
    /// When it ended (µs).
    pub end_us: u64,
    /// Why it ended.
    pub ended_by: String,
    /// The trace index of its `leader` note: of the events at `start_us`, those from here on.
    pub start_index: usize,
    /// Of the events at `end_us`, those before this trace index: the index of the note or
    /// crash that ended the claim, 0 when its lease ran out (none of them) or the index of the
    /// clock step that made it run out, `usize::MAX` at the end of the run (all of them).
    pub end_index: usize,
}

impl Claim {
    /// Whether the event at trace index `index`, at `at_us`, lies within this claim.
    pub fn covers(&self, at_us: u64, index: usize) -> bool {
        let at = (at_us, index);
        (self.start_us, self.start_index) <= at && at < (self.end_us, self.end_index)
    }

    /// Whether this claim and `other` share some moment, by the same order as
    /// [`covers`](Claim::covers): time, then trace order within an instant. (A node that
    /// claims in the instant another steps down overlaps it when its claim comes first.)
    pub fn overlaps(&self, other: &Claim) -> bool {
        let (start, end) = (
            (self.start_us, self.start_index),
            (self.end_us, self.end_index),
        );
        let (o_start, o_end) = (
            (other.start_us, other.start_index),
            (other.end_us, other.end_index),
        );
        start < o_end && o_start < end
    }
}

/// Rebuilds every node's clock from the scenario and the trace's skew steps.
struct Clocks<'a> {
    scenario: &'a Scenario,
    /// Per node: (when, offset, drift, trace index) of each step.
    steps: BTreeMap<&'a str, Vec<(u64, i64, f64, usize)>>,
}

impl<'a> Clocks<'a> {
    fn new(scenario: &'a Scenario, trace: &'a Trace) -> Self {
        let mut steps: BTreeMap<&str, Vec<(u64, i64, f64, usize)>> = BTreeMap::new();
        for (index, e) in trace.events().iter().enumerate() {
            if let EventKind::Skew {
                node,
                offset_us,
                drift,
            } = &e.kind
            {
                steps
                    .entry(node.as_str())
                    .or_default()
                    .push((e.at_us, *offset_us, *drift, index));
            }
        }
        Clocks { scenario, steps }
    }

    /// The first moment, at or after `from_us`, at which `node`'s clock reads `local_us`: its
    /// true time, and of the events at that instant, the first that sees it — the step's own
    /// trace index when a forward step jumped the clock there (the events before the step still
    /// read the old time), else 0 (the clock ran there before the instant's first event).
    fn reaches(&self, node: &str, from_us: u64, local_us: u64) -> (u64, usize) {
        let initial = self.scenario.clocks.get(node);
        let mut model =
            initial.map_or_else(ClockModel::default, |c| ClockModel::new(c.skew_us, c.drift));
        let local = LocalTime::from_duration(Duration::from_micros(local_us));
        let steps = self.steps.get(node).map_or(&[][..], |s| &s[..]);
        let mut from = Duration::from_micros(from_us);
        for &(at_us, offset, drift, index) in steps {
            let at = Duration::from_micros(at_us);
            if at <= from {
                model.step(at, offset, drift);
                continue;
            }
            if model.peek(at) >= local {
                break;
            }
            model.step(at, offset, drift);
            if model.peek(at) >= local {
                return (at_us, index);
            }
            from = at;
        }
        (model.true_time_of(from, local).as_micros() as u64, 0)
    }
}

struct Open {
    term: Option<u64>,
    start_us: u64,
    start_index: usize,
    lease_until: Option<u64>,
}

/// Every leadership claim in `trace`, in order of their start; an error when a node's note
/// does not decode.
pub fn claims(scenario: &Scenario, trace: &Trace) -> Result<Vec<Claim>, NoteError> {
    let clocks = Clocks::new(scenario, trace);
    let end_of_run = trace
        .events()
        .last()
        .map_or(0, |e| e.at_us)
        .max(scenario.duration.as_micros() as u64);
    let mut open: BTreeMap<String, Open> = BTreeMap::new();
    let mut out = vec![];
    // Ends the claim at the event `(at, index)`, or earlier where its lease runs out (before
    // every event of that instant).
    let close = |out: &mut Vec<Claim>, node: &str, o: Open, at: (u64, usize), why: &str| {
        let (end, why) = match o.lease_until {
            Some(until) => {
                let expiry = clocks.reaches(node, o.start_us, until);
                if expiry < at {
                    (expiry, "lease expired")
                } else {
                    (at, why)
                }
            }
            None => (at, why),
        };
        let end = end.max((o.start_us, 0));
        out.push(Claim {
            node: node.to_owned(),
            term: o.term,
            start_us: o.start_us,
            end_us: end.0,
            ended_by: why.to_owned(),
            start_index: o.start_index,
            end_index: end.1,
        });
    };
    // Notes and crashes, in trace order (a note and a crash at one instant keep their order).
    let notes: Vec<Noted<'_, ElectionNote>> = trace.notes().collect::<Result<_, _>>()?;
    let mut notes = notes.into_iter().peekable();
    for (index, e) in trace.events().iter().enumerate() {
        match &e.kind {
            EventKind::Note { .. } => {
                let Some(noted) = notes.next_if(|n| n.index == index) else {
                    continue; // not an election note
                };
                let node = noted.node;
                match noted.note {
                    ElectionNote::Leader {
                        term,
                        lease_until_us,
                        ..
                    } => {
                        if let Some(o) = open.remove(node) {
                            close(&mut out, node, o, (e.at_us, index), "new claim");
                        }
                        let o = Open {
                            term,
                            start_us: e.at_us,
                            start_index: index,
                            lease_until: lease_until_us,
                        };
                        open.insert(node.to_owned(), o);
                    }
                    ElectionNote::Lease { term, until_us } => {
                        if let Some(o) = open.get_mut(node).filter(|o| o.term == Some(term)) {
                            o.lease_until =
                                Some(o.lease_until.map_or(until_us, |l| l.max(until_us)));
                        }
                    }
                    ElectionNote::StepDown { .. } => {
                        if let Some(o) = open.remove(node) {
                            close(&mut out, node, o, (e.at_us, index), "stepped down");
                        }
                    }
                    _ => {}
                }
            }
            EventKind::Crash { node } => {
                if let Some(o) = open.remove(node) {
                    close(&mut out, node, o, (e.at_us, index), "crashed");
                }
            }
            _ => {}
        }
    }
    for (node, o) in std::mem::take(&mut open) {
        close(&mut out, &node, o, (end_of_run, usize::MAX), "end of run");
    }
    out.sort_by(|a, b| (a.start_us, &a.node).cmp(&(b.start_us, &b.node)));
    Ok(out)
}

/// The verdict of check `name` on a trace with a note the checkers cannot read (a node and
/// its checkers disagree about [`ElectionNote`]).
fn unreadable(name: &str, e: &NoteError) -> Verdict {
    Verdict::violation(name, "unreadable-note", e.to_string())
}

fn describe(c: &Claim) -> String {
    let term = c.term.map_or(String::new(), |t| format!(" term {t}"));
    format!(
        "{}{term} [{:.6}s, {:.6}s) ({})",
        c.node,
        c.start_us as f64 / 1e6,
        c.end_us as f64 / 1e6,
        c.ended_by
    )
}

/// No two nodes claim the same term.
pub fn one_leader_per_term(scenario: &Scenario, trace: &Trace, _: &[Operation]) -> Verdict {
    const NAME: &str = "one-leader-per-term";
    let claims = match claims(scenario, trace) {
        Ok(claims) => claims,
        Err(e) => return unreadable(NAME, &e),
    };
    let mut by_term: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for c in &claims {
        if let Some(t) = c.term {
            by_term.entry(t).or_default().insert(c.node.as_str());
        }
    }
    if let Some((t, nodes)) = by_term.iter().find(|(_, n)| n.len() > 1) {
        return Verdict::violation(
            NAME,
            "two-leaders-one-term",
            format!("term {t} has leaders {nodes:?}"),
        );
    }
    Verdict::pass(
        NAME,
        format!("{} terms with a leader, one each", by_term.len()),
    )
}

/// No two nodes' leadership claims overlap in true time.
pub fn leaders_never_overlap(scenario: &Scenario, trace: &Trace, _: &[Operation]) -> Verdict {
    const NAME: &str = "leaders-never-overlap";
    let claims = match claims(scenario, trace) {
        Ok(claims) => claims,
        Err(e) => return unreadable(NAME, &e),
    };
    for (i, a) in claims.iter().enumerate() {
        for b in &claims[i + 1..] {
            if a.node != b.node && a.overlaps(b) {
                return Verdict::violation(
                    NAME,
                    "two-leaders-overlap",
                    format!(
                        "split brain: {} and {} both lead from {:.6}s",
                        describe(a),
                        describe(b),
                        b.start_us as f64 / 1e6
                    ),
                );
            }
        }
    }
    Verdict::pass(NAME, format!("{} claims, none overlapping", claims.len()))
}

/// Every leader action with a term happens within its node's claim of that term.
pub fn leader_acts_within_lease(scenario: &Scenario, trace: &Trace, _: &[Operation]) -> Verdict {
    const NAME: &str = "leader-acts-within-lease";
    let claims = match claims(scenario, trace) {
        Ok(claims) => claims,
        Err(e) => return unreadable(NAME, &e),
    };
    let mut actions = 0;
    for noted in trace.notes::<ElectionNote>() {
        let Noted {
            index,
            at_us,
            node,
            note,
        } = match noted {
            Ok(n) => n,
            Err(e) => return unreadable(NAME, &e),
        };
        let (what, item, term) = match &note {
            ElectionNote::Assign { item, term, .. } => ("assign", item, term),
            ElectionNote::ResultRecorded { item, term, .. } => ("result-recorded", item, term),
            _ => continue,
        };
        let Some(term) = *term else {
            continue;
        };
        actions += 1;
        let within = claims
            .iter()
            .any(|c| c.node == node && c.term == Some(term) && c.covers(at_us, index));
        if !within {
            let mine: Vec<String> = claims
                .iter()
                .filter(|c| c.node == node)
                .map(describe)
                .collect();
            return Verdict::violation(
                NAME,
                "acted-outside-lease",
                format!(
                    "{node} noted {what} of item {item} at {:.6}s outside its claims of term {term}: {mine:?}",
                    at_us as f64 / 1e6
                ),
            );
        }
    }
    Verdict::pass(
        NAME,
        format!("{actions} leader actions within their leases"),
    )
}

/// A leader claims within `converge_within` (default 5 s) of the last fault.
pub fn leader_after_heal(scenario: &Scenario, trace: &Trace, _: &[Operation]) -> Verdict {
    const NAME: &str = "leader-after-heal";
    let bound = scenario
        .checks
        .converge_within
        .unwrap_or(Duration::from_secs(5))
        .as_micros() as u64;
    let last_fault = highstorm::check::last_fault_us(trace);
    let by = last_fault + bound;
    let end_of_run = scenario.duration.as_micros() as u64;
    if by > end_of_run {
        return Verdict::pass(
            NAME,
            format!(
                "not judged: the run ends within {:.3}s of the last fault at {:.3}s",
                bound as f64 / 1e6,
                last_fault as f64 / 1e6
            ),
        );
    }
    let claims = match claims(scenario, trace) {
        Ok(claims) => claims,
        Err(e) => return unreadable(NAME, &e),
    };
    match claims
        .iter()
        .find(|c| c.start_us <= by && c.end_us > last_fault && c.end_us > c.start_us)
    {
        Some(c) => Verdict::pass(
            NAME,
            format!(
                "last fault at {:.3}s; {}",
                last_fault as f64 / 1e6,
                describe(c)
            ),
        ),
        None => Verdict::violation(
            NAME,
            "no-leader-after-heal",
            format!(
                "no leader between the last fault at {:.3}s and {:.3}s",
                last_fault as f64 / 1e6,
                by as f64 / 1e6
            ),
        ),
    }
}

/// Once healed (the liveness phase): some node holds the lead within the bound, and it
/// serves: every submit made while it leads, from a second into its lead (time for the others
/// to hear of it; counted from when every clock the heal stepped back runs again) until a
/// client timeout before it ends or the bound runs out, is acknowledged.
pub fn leader_after_recovery(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[Operation],
    phase: Recovery,
) -> Result<String, String> {
    let claims = claims(scenario, trace).map_err(|e| format!("unreadable notes: {e}"))?;
    let (from, by) = (phase.from_us(), phase.by_us());
    let Some(c) = claims
        .iter()
        .find(|c| c.start_us <= by && c.end_us > from && c.end_us > c.start_us)
    else {
        return Err(format!(
            "no leader between the heal and {:.3}s ({} claims in the run)",
            by as f64 / 1e6,
            claims.len()
        ));
    };
    let timeout = scenario.workload.timeout.as_micros() as u64;
    // A clock set right at the heal by a step back stands still until true time catches up:
    // its node's timers (the leader's heartbeats among them) wait that long.
    let stood_still = trace
        .events()
        .iter()
        .filter(|e| e.at_us == from)
        .filter_map(|e| match &e.kind {
            EventKind::Skew { offset_us, .. } if *offset_us < 0 => Some(offset_us.unsigned_abs()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let open = c.start_us.max(from + stood_still) + 1_000_000;
    let close = c.end_us.min(by);
    let refused: Vec<String> = ops
        .iter()
        .filter(|o| o.f == "submit" && o.invoke_us >= open && o.invoke_us + timeout <= close)
        .filter(|o| {
            o.completion
                .as_ref()
                .is_none_or(|done| done.phase != OpPhase::Ok)
        })
        .map(|o| format!("{} at {:.3}s", o.client, o.invoke_us as f64 / 1e6))
        .collect();
    if refused.is_empty() {
        Ok(describe(c))
    } else {
        Err(format!(
            "{} led, but {} submits made while it led were not acknowledged (first: {})",
            c.node,
            refused.len(),
            refused[..refused.len().min(3)].join(", ")
        ))
    }
}

/// Every acknowledged item has a recorded result, and no item two different ones.
pub fn items_complete_once(scenario: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "items-complete-once";
    let mut records: BTreeMap<String, Vec<(String, Attempt, &str, u64)>> = BTreeMap::new();
    for noted in trace.notes::<ElectionNote>() {
        let Noted {
            at_us, node, note, ..
        } = match noted {
            Ok(n) => n,
            Err(e) => return unreadable(NAME, &e),
        };
        let ElectionNote::ResultRecorded {
            item,
            worker,
            attempt,
            ..
        } = note
        else {
            continue;
        };
        let list = records.entry(item.clone()).or_default();
        if let Some(first) = list.iter().find(|r| (&r.0, r.1) != (&worker, attempt)) {
            return Verdict::violation(
                NAME,
                "item-recorded-twice",
                format!(
                    "item {item} recorded twice: by {} at {:.6}s (worker {}, attempt {:?}) and by \
                     {node} at {:.6}s (worker {worker}, attempt {attempt:?})",
                    first.2,
                    first.3 as f64 / 1e6,
                    first.0,
                    first.1,
                    at_us as f64 / 1e6,
                ),
            );
        }
        list.push((worker, attempt, node, at_us));
    }
    let acked: Vec<&str> = ops
        .iter()
        .filter(|op| op.f == "submit")
        .filter(|op| {
            op.completion
                .as_ref()
                .is_some_and(|c| c.phase == OpPhase::Ok)
        })
        .filter_map(|op| op.value.as_str())
        .collect();
    if let Some(lost) = acked.iter().find(|i| !records.contains_key(**i)) {
        return Verdict::violation(
            NAME,
            "acknowledged-item-lost",
            format!(
                "item {lost} was acknowledged but never completed ({} of {} acknowledged items \
                 completed)",
                acked.iter().filter(|i| records.contains_key(**i)).count(),
                acked.len()
            ),
        );
    }
    if scenario.workload.clients > 0 && acked.is_empty() {
        return Verdict::violation(NAME, "nothing-tested", "no submit was acknowledged");
    }
    Verdict::pass(
        NAME,
        format!(
            "{} acknowledged items completed; {} results recorded once each",
            acked.len(),
            records.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm::trace::Trace;
    use serde_json::json;

    fn note(t: &mut Trace, at_ms: u64, node: &str, note: ElectionNote) {
        t.push_note(Duration::from_millis(at_ms), node, &note);
    }

    /// A step of `node`'s clock by `offset_us` at `at_ms`, its rate unchanged.
    fn step(t: &mut Trace, at_ms: u64, node: &str, offset_us: i64) {
        let kind = EventKind::Skew {
            node: node.into(),
            offset_us,
            drift: 0.0,
        };
        t.push(Duration::from_millis(at_ms), kind);
    }

    /// A leased claim of `term` (lease end `lease_until_us` if any).
    fn leader(term: u64, lease_until_us: Option<u64>) -> ElectionNote {
        ElectionNote::Leader {
            term: Some(term),
            lease_until_us,
            rank: None,
        }
    }

    /// A naive claim by rank.
    fn ranked(rank: i64) -> ElectionNote {
        ElectionNote::Leader {
            term: None,
            lease_until_us: None,
            rank: Some(rank),
        }
    }

    fn assign(term: u64, item: &str) -> ElectionNote {
        ElectionNote::Assign {
            item: item.into(),
            worker: "n0".into(),
            term: Some(term),
            attempt: Attempt(term, 1),
        }
    }

    fn claims(s: &Scenario, t: &Trace) -> Vec<Claim> {
        super::claims(s, t).expect("notes decode")
    }

    #[test]
    fn leases_end_claims_on_true_time_even_on_skewed_clocks() {
        // n1's clock runs 1 s ahead: its lease until local 2.5 s ends at true 1.5 s.
        let s = Scenario::new("t", "election").clock("n1", 1_000_000, 0.0);
        let mut t = Trace::new();
        note(&mut t, 1000, "n1", leader(1, Some(2_500_000)));
        note(&mut t, 1600, "n2", leader(2, Some(2_200_000)));
        note(&mut t, 1700, "n2", assign(2, "a"));
        let c = claims(&s, &t);
        assert_eq!(c[0].end_us, 1_500_000, "{c:?}");
        assert_eq!(c[0].ended_by, "lease expired");
        assert_eq!(c[1].end_us, 2_200_000);
        assert!(leaders_never_overlap(&s, &t, &[]).ok);
        assert!(one_leader_per_term(&s, &t, &[]).ok);
        assert!(leader_acts_within_lease(&s, &t, &[]).ok);
        // n2's assignment at 2.3 s would be outside its lease.
        note(&mut t, 2300, "n2", assign(2, "b"));
        let v = leader_acts_within_lease(&s, &t, &[]);
        assert!(
            !v.ok && v.detail.contains("assign of item b"),
            "{}",
            v.detail
        );
    }

    fn step_down(term: u64) -> ElectionNote {
        ElectionNote::StepDown {
            term: Some(term),
            reason: Some("higher term".into()),
            to: None,
        }
    }

    #[test]
    fn a_leader_that_wins_acts_and_steps_down_in_one_instant_acted_within_its_claim() {
        // election-skew seed 14 on turmoil: three replies reach n3 in one 1 ms tick; two votes
        // make it leader, it assigns, and the third reply's higher term makes it step down.
        let s = Scenario::new("t", "election");
        let mut t = Trace::new();
        note(&mut t, 10_042, "n3", leader(8, Some(11_482_080)));
        note(&mut t, 10_042, "n3", assign(8, "c1-12"));
        note(&mut t, 10_042, "n3", step_down(8));
        let c = claims(&s, &t);
        let v = leader_acts_within_lease(&s, &t, &[]);
        assert!(v.ok, "{}", v.detail);
        assert_eq!((c[0].start_us, c[0].end_us), (10_042_000, 10_042_000));
        assert!(c[0].covers(10_042_000, 1) && !c[0].covers(10_042_000, 2));
        // Acting after the step-down, in the same instant, is outside the claim.
        note(&mut t, 10_042, "n3", assign(8, "c1-13"));
        let v = leader_acts_within_lease(&s, &t, &[]);
        assert!(
            !v.ok && v.detail.contains("assign of item c1-13"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn an_action_in_the_instant_a_claim_ends_counts_by_trace_order() {
        let s = Scenario::new("t", "election").duration(Duration::from_secs(3));
        let mut t = Trace::new();
        note(&mut t, 1000, "n1", leader(1, None));
        note(&mut t, 2000, "n1", assign(1, "a"));
        note(&mut t, 2000, "n1", step_down(1));
        note(&mut t, 2000, "n2", leader(2, None));
        note(&mut t, 3000, "n2", assign(2, "b"));
        assert!(leader_acts_within_lease(&s, &t, &[]).ok);
        assert!(leaders_never_overlap(&s, &t, &[]).ok);
        t.push(
            Duration::from_millis(3000),
            EventKind::Crash { node: "n2".into() },
        );
        note(&mut t, 3000, "n2", assign(2, "c"));
        let v = leader_acts_within_lease(&s, &t, &[]);
        assert!(!v.ok && v.detail.contains("item c"), "{}", v.detail);
    }

    #[test]
    fn claims_in_one_instant_overlap_by_trace_order() {
        let s = Scenario::new("t", "election").duration(Duration::from_secs(3));
        // n1 wins and steps down in one instant; n2 claims in that instant after it did.
        let mut t = Trace::new();
        note(&mut t, 1000, "n1", leader(1, None));
        note(&mut t, 1000, "n1", step_down(1));
        note(&mut t, 1000, "n2", leader(2, None));
        assert!(leaders_never_overlap(&s, &t, &[]).ok);
        // n2 claims before n1 stepped down: two leaders at once, in a claim of no duration.
        let mut t = Trace::new();
        note(&mut t, 1000, "n1", leader(1, None));
        note(&mut t, 1000, "n2", leader(2, None));
        note(&mut t, 1000, "n1", step_down(1));
        let v = leaders_never_overlap(&s, &t, &[]);
        assert!(!v.ok && v.detail.contains("split brain"), "{}", v.detail);
        // The same at the instant a longer claim ends.
        let mut t = Trace::new();
        note(&mut t, 500, "n1", leader(1, None));
        note(&mut t, 1000, "n2", leader(2, None));
        note(&mut t, 1000, "n1", step_down(1));
        assert!(!leaders_never_overlap(&s, &t, &[]).ok);
        // A lease that ran out at the instant ends before all of it.
        let mut t = Trace::new();
        note(&mut t, 500, "n1", leader(1, Some(1_000_000)));
        note(&mut t, 1000, "n2", leader(2, None));
        note(&mut t, 1000, "n1", step_down(1));
        assert!(leaders_never_overlap(&s, &t, &[]).ok);
    }

    #[test]
    fn a_lease_that_runs_out_in_an_instant_covers_none_of_its_events() {
        let s = Scenario::new("t", "election");
        let mut t = Trace::new();
        note(&mut t, 1000, "n1", leader(1, Some(1_500_000)));
        note(&mut t, 1500, "n1", assign(1, "a"));
        note(&mut t, 1500, "n1", step_down(1));
        let c = claims(&s, &t);
        assert_eq!(
            (c[0].end_us, c[0].end_index, c[0].ended_by.as_str()),
            (1_500_000, 0, "lease expired")
        );
        let v = leader_acts_within_lease(&s, &t, &[]);
        assert!(!v.ok && v.detail.contains("item a"), "{}", v.detail);
    }

    /// The explore finding behind it (`election-overlap` at seed 1573069640, shrunk): n0,
    /// paused, resumed at 26 s and assigned items in that instant, and only then did its clock
    /// step forward past its lease, in the same instant. The assignments read the old clock.
    #[test]
    fn a_forward_step_ends_a_lease_at_the_step_within_its_instant() {
        let s = Scenario::new("t", "election");
        let mut t = Trace::new();
        note(&mut t, 1000, "n1", leader(1, Some(2_000_000)));
        note(&mut t, 1500, "n1", assign(1, "before"));
        step(&mut t, 1500, "n1", 800_000);
        let step = t.events().len() - 1;
        let c = claims(&s, &t);
        assert_eq!(
            (c[0].end_us, c[0].end_index, c[0].ended_by.as_str()),
            (1_500_000, step, "lease expired")
        );
        assert!(leader_acts_within_lease(&s, &t, &[]).ok);
        // An action after the step, in the same instant, reads the new clock: outside.
        note(&mut t, 1500, "n1", assign(1, "after"));
        let v = leader_acts_within_lease(&s, &t, &[]);
        assert!(!v.ok && v.detail.contains("item after"), "{}", v.detail);
    }

    #[test]
    fn a_backward_step_lengthens_a_lease_in_true_time() {
        let s = Scenario::new("t", "election");
        let mut t = Trace::new();
        note(&mut t, 1000, "n1", leader(1, Some(1_600_000)));
        step(&mut t, 1200, "n1", -300_000);
        note(&mut t, 1800, "n2", leader(2, None));
        let c = claims(&s, &t);
        // The clock stands still at 1.2 s until true 1.5 s, so the lease ends at 1.9 s.
        assert_eq!(c[0].end_us, 1_900_000, "{c:?}");
        let v = leaders_never_overlap(&s, &t, &[]);
        assert!(!v.ok && v.detail.contains("split brain"), "{}", v.detail);
    }

    #[test]
    fn a_lease_extension_and_a_crash_move_a_claims_end() {
        let s = Scenario::new("t", "election").duration(Duration::from_secs(10));
        let mut t = Trace::new();
        note(&mut t, 1000, "n1", leader(1, Some(1_500_000)));
        let lease = |term, until_us| ElectionNote::Lease { term, until_us };
        // Another term's lease does not extend this claim; its own does.
        note(&mut t, 1200, "n1", lease(4, 9_000_000));
        note(&mut t, 1300, "n1", lease(1, 2_000_000));
        note(&mut t, 3000, "n2", leader(2, None));
        t.push(
            Duration::from_millis(3500),
            EventKind::Crash { node: "n2".into() },
        );
        let c = claims(&s, &t);
        assert_eq!(
            (c[0].end_us, c[0].ended_by.as_str()),
            (2_000_000, "lease expired")
        );
        assert_eq!(
            (c[1].end_us, c[1].ended_by.as_str()),
            (3_500_000, "crashed")
        );
    }

    #[test]
    fn lease_less_leaders_overlap_until_they_step_down() {
        let s = Scenario::new("t", "election");
        let mut t = Trace::new();
        note(&mut t, 100, "n0", ranked(9));
        let yield_to = ElectionNote::StepDown {
            term: None,
            reason: None,
            to: Some("n1".into()),
        };
        note(&mut t, 900, "n0", yield_to);
        note(&mut t, 900, "n1", ranked(3));
        assert!(leaders_never_overlap(&s, &t, &[]).ok);
        note(&mut t, 1000, "n2", ranked(4));
        assert!(!leaders_never_overlap(&s, &t, &[]).ok);
        let mut t2 = Trace::new();
        note(&mut t2, 100, "n0", leader(5, None));
        note(&mut t2, 900, "n1", leader(5, None));
        assert!(!one_leader_per_term(&s, &t2, &[]).ok);
    }

    #[test]
    fn a_second_different_result_is_caught_and_the_same_one_is_not() {
        let s = Scenario::new("t", "election").workload(0, 1.0);
        let mut t = Trace::new();
        let r = |w: &str, a: u64| ElectionNote::ResultRecorded {
            item: "x".into(),
            worker: w.into(),
            attempt: Attempt(1, a),
            term: Some(1),
        };
        note(&mut t, 100, "n0", r("n1", 1));
        note(&mut t, 200, "n2", r("n1", 1));
        assert!(items_complete_once(&s, &t, &[]).ok);
        note(&mut t, 300, "n2", r("n3", 2));
        let v = items_complete_once(&s, &t, &[]);
        assert!(!v.ok && v.detail.contains("recorded twice"), "{}", v.detail);
    }

    #[test]
    fn a_note_that_does_not_decode_fails_every_check_that_reads_notes() {
        let s = Scenario::new("t", "election").workload(0, 1.0);
        let mut t = Trace::new();
        note(&mut t, 100, "n0", leader(1, Some(900_000)));
        t.push(
            Duration::from_millis(200),
            EventKind::Note {
                node: "n1".into(),
                kind: "leader".into(),
                data: json!({"term": "two"}),
            },
        );
        let checks = [
            one_leader_per_term,
            leaders_never_overlap,
            leader_acts_within_lease,
            items_complete_once,
        ];
        for check in checks {
            let v = check(&s, &t, &[]);
            assert!(!v.ok && v.kind == "unreadable-note", "{v:?}");
            assert!(v.detail.contains("event 1 at 200000us"), "{}", v.detail);
        }
    }
}
