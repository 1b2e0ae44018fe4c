//! distributed-workers' properties, read from the clients' histories and the manager's notes:
//! - `jobs-complete`: every job a client was told was accepted (`put` ok) is seen `completed`
//!   by a `get`, with the md5 of the payload it was put with, and the manager recorded it
//!   within `converge_within` of the later of its acceptance and the last fault (when the
//!   scenario sets one); an id is never given to two puts, a token never queues two jobs, and
//!   the manager never says it does not know an accepted job;
//! - `results-never-lost`: once a `get` showed a job completed, every `get` invoked after that
//!   shows it completed with the same result (a manager crash must not lose it);
//! - `completed-once`: no job is completed with two different results, and the manager records
//!   each job's completion once (exactly-once recording: a second record means the first was
//!   forgotten);
//! - `statuses-move-forward`: between two `get`s of a job, one finished before the other
//!   started, the status never goes backwards except `reserved -> queued` with one more TTR
//!   expiry, and the reserve and timeout counts never shrink;
//! - `completions-fenced`: the manager records a completion only under the job's current
//!   reservation, never one whose TTR expired.

use super::{result_of, JobState, JobStatus, WorkQueueNote};
use highstorm::check::{last_fault_us, stopped_at, stopped_on_storage, storage_halt_windows};
use highstorm::check::{Operation, Recovery, Verdict};
use highstorm::scenario::Scenario;
use highstorm::trace::{EventKind, NoteError, Noted, Trace};
use highstorm_nodes::OpPhase;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The id in a client operation's value (`{"id": id}`).
fn id_of(v: &Value) -> Option<u64> {
    v.get("id").and_then(Value::as_u64)
}

/// An accepted job, as its client saw it.
struct Accepted {
    payload: Value,
    token: String,
    acked_us: u64,
}

/// Accepted jobs by id, and what was wrong with the acknowledgements themselves.
fn accepted(ops: &[Operation]) -> (BTreeMap<u64, Accepted>, Vec<Problem>) {
    let mut jobs: BTreeMap<u64, Accepted> = BTreeMap::new();
    let mut by_token: BTreeMap<String, u64> = BTreeMap::new();
    let mut problems = vec![];
    for op in ops.iter().filter(|o| o.f == "put") {
        let Some(c) = op.completion.as_ref().filter(|c| c.phase == OpPhase::Ok) else {
            continue;
        };
        let Some(id) = id_of(&c.value) else {
            problems.push((
                "put-without-id",
                format!("a put acknowledged without an id: {}", c.value),
            ));
            continue;
        };
        let token = op.value["token"].as_str().unwrap_or("").to_owned();
        if let Some(other) = by_token.insert(token.clone(), id).filter(|o| *o != id) {
            problems.push((
                "retry-not-idempotent",
                format!(
                    "token {token} queued two jobs, {other} and {id}: a retry was not idempotent"
                ),
            ));
        }
        match jobs.get(&id) {
            Some(a) if a.token != token => problems.push((
                "id-reused",
                format!("job id {id} was given to two puts, {} and {token}", a.token),
            )),
            Some(_) => {}
            None => {
                jobs.insert(
                    id,
                    Accepted {
                        payload: op.value["payload"].clone(),
                        token,
                        acked_us: c.at_us,
                    },
                );
            }
        }
    }
    (jobs, problems)
}

/// One `get` of a job: when it was invoked and answered, and what it said (`Err`: the manager
/// said it had no such job).
struct Read {
    id: u64,
    invoke_us: u64,
    at_us: u64,
    state: Result<JobState, String>,
}

/// Every answered `get` by job id, in invocation order.
fn reads(ops: &[Operation]) -> BTreeMap<u64, Vec<Read>> {
    let mut out: BTreeMap<u64, Vec<Read>> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.f == "get") {
        let (Some(id), Some(c)) = (id_of(&op.value), op.completion.as_ref()) else {
            continue;
        };
        let state = match c.phase {
            OpPhase::Ok => serde_json::from_value::<JobState>(c.value.clone())
                .map_err(|e| format!("unreadable job state {}: {e}", c.value)),
            // Refused for now (a disk that cannot make the job's record durable, a stopped
            // manager): no answer about the job.
            OpPhase::Fail
                if c.value["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("error 11:")) =>
            {
                continue
            }
            OpPhase::Fail => Err(c.value["error"].as_str().unwrap_or("refused").to_owned()),
            _ => continue,
        };
        out.entry(id).or_default().push(Read {
            id,
            invoke_us: op.invoke_us,
            at_us: c.at_us,
            state,
        });
    }
    out
}

/// Pairs of reads of one job where the first was answered before the second was invoked.
fn ordered_pairs(reads: &[Read]) -> impl Iterator<Item = (&Read, &Read)> {
    reads.iter().flat_map(move |a| {
        reads
            .iter()
            .filter(move |b| a.at_us < b.invoke_us)
            .map(move |b| (a, b))
    })
}

/// The manager's `completed` notes: (id, reservation, result, time).
/// The completions the manager recorded: each `completed` note, except those a crash took back
/// before any sync made them durable (after a failed sync; such a completion was never
/// acknowledged, and the job is completed again). Without storage faults every completion is
/// synced within its handler, so none is dropped.
fn completions(trace: &Trace) -> Result<Vec<(u64, u32, String, u64)>, NoteError> {
    let marks: Vec<(usize, &str, bool)> = trace
        .events()
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.kind {
            EventKind::Sync { node, .. } => Some((i, node.as_str(), true)),
            EventKind::Crash { node } => Some((i, node.as_str(), false)),
            _ => None,
        })
        .collect();
    let mut next_mark = 0;
    let mut out = vec![];
    let mut unsynced: Vec<(u64, u32, String, u64)> = vec![];
    let mut manager: Option<String> = None;
    let mut apply =
        |upto: usize, manager: &Option<String>, out: &mut Vec<_>, unsynced: &mut Vec<_>| {
            while let Some(&(_, node, synced)) = marks.get(next_mark).filter(|(at, ..)| *at < upto)
            {
                next_mark += 1;
                if manager.as_deref() == Some(node) {
                    if synced {
                        out.append(unsynced);
                    } else {
                        unsynced.clear();
                    }
                }
            }
        };
    for noted in trace.notes::<WorkQueueNote>() {
        let Noted {
            index,
            at_us,
            node,
            note,
        } = noted?;
        apply(index, &manager, &mut out, &mut unsynced);
        if let WorkQueueNote::Completed {
            id,
            reservation,
            result,
        } = note
        {
            manager = Some(node.to_owned());
            unsynced.push((id, reservation, result, at_us));
        }
    }
    apply(usize::MAX, &manager, &mut out, &mut unsynced);
    out.append(&mut unsynced);
    Ok(out)
}

/// The verdict of check `name` on a trace with a note the checkers cannot read (the manager
/// and its checkers disagree about [`WorkQueueNote`]).
fn unreadable(name: &str, e: &NoteError) -> Verdict {
    Verdict::violation(name, "unreadable-note", e.to_string())
}

/// A problem a checker found: its kind (see [`Verdict::kind`]) and its description.
type Problem = (&'static str, String);

/// Fails with the first problem's kind and text, if there is one.
fn verdict(name: &str, problems: &[Problem], pass: String) -> Verdict {
    match problems.first() {
        Some((kind, p)) => {
            Verdict::violation(name, kind, format!("{p} ({} problems)", problems.len()))
        }
        None => Verdict::pass(name, pass),
    }
}

/// Every accepted job is completed, with the right result, in time.
pub fn jobs_complete(scenario: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "jobs-complete";
    let (jobs, mut problems) = accepted(ops);
    if jobs.is_empty() {
        return Verdict::violation(
            NAME,
            "nothing-tested",
            "no job was accepted: the run tested nothing",
        );
    }
    let reads = reads(ops);
    let completions = match completions(trace) {
        Ok(c) => c,
        Err(e) => return unreadable(NAME, &e),
    };
    let mut recorded: BTreeMap<u64, u64> = BTreeMap::new();
    for (id, _, _, at) in completions {
        recorded.entry(id).or_insert(at);
    }
    let last_fault = last_fault_us(trace);
    // A manager stopped on a damaged record (until the end) completes nothing more; reads
    // it refused since are no sign of a forgotten job. Safety (payloads, results) still holds.
    let stopped = stopped_on_storage(trace).into_iter().map(|h| h.at_us).min();
    let halts = storage_halt_windows(trace);
    let none = vec![];
    for (id, job) in &jobs {
        let want = result_of(&job.payload);
        let reads = reads.get(id).unwrap_or(&none);
        for r in reads {
            match &r.state {
                Ok(s) if s.payload != job.payload => problems.push((
                    "wrong-payload",
                    format!(
                        "job {id} was put with {} but a get at {}us shows {}",
                        job.payload, r.at_us, s.payload
                    ),
                )),
                Ok(s) if s.status == JobStatus::Completed && s.result.as_ref() != Some(&want) => {
                    problems.push((
                        "wrong-result",
                        format!(
                        "job {id} completed with result {:?}, but the md5 of its payload is {want}",
                        s.result
                    ),
                    ))
                }
                Ok(_) => {}
                Err(_) if stopped_at(&halts, r.invoke_us) => {}
                Err(e) => problems.push((
                    "job-forgotten",
                    format!(
                        "the manager did not know accepted job {id} at {}us: {e}",
                        r.at_us
                    ),
                )),
            }
        }
        let completed = reads
            .iter()
            .any(|r| matches!(&r.state, Ok(s) if s.status == JobStatus::Completed));
        if !completed && stopped.is_some() {
            continue;
        }
        if !completed {
            let last = reads
                .iter()
                .rev()
                .find_map(|r| r.state.as_ref().ok())
                .map_or("never read".to_owned(), |s| {
                    format!("last seen {:?}, {} reserves", s.status, s.reserves)
                });
            problems.push((
                "job-not-done",
                format!(
                    "job {id} (accepted at {}us) was never seen completed ({last})",
                    job.acked_us
                ),
            ));
            continue;
        }
        if let (Some(bound), Some(&at)) = (scenario.checks.converge_within, recorded.get(id)) {
            let from = job.acked_us.max(last_fault);
            if at > from + bound.as_micros() as u64 {
                problems.push((
                    "job-late",
                    format!("job {id} was completed at {at}us, more than {bound:?} after {from}us"),
                ));
            }
        }
    }
    let pass = match stopped {
        Some(at) => format!(
            "{} accepted jobs: none wrong; the manager stopped on a damaged record at {at}us, \
             so completion was not required after it",
            jobs.len()
        ),
        None => format!(
            "{} accepted jobs completed with the md5 of their payload",
            jobs.len()
        ),
    };
    verdict(NAME, &problems, pass)
}

/// A completed job stays completed, with the same result.
pub fn results_never_lost(_: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "results-never-lost";
    // A manager stopped on a damaged record refuses every read (never answers a wrong one).
    let halts = storage_halt_windows(trace);
    let mut problems = vec![];
    let mut checked = 0;
    for reads in reads(ops).values() {
        for (a, b) in ordered_pairs(reads) {
            let Ok(before) = &a.state else { continue };
            if before.status != JobStatus::Completed {
                continue;
            }
            checked += 1;
            match &b.state {
                Ok(after) if after.status == JobStatus::Completed && after.result == before.result => {}
                Ok(after) => problems.push(("result-lost", format!(
                    "job {} was completed ({:?}) at {}us, but a get at {}us shows {:?} with result {:?}",
                    a.id, before.result, a.at_us, b.at_us, after.status, after.result
                ))),
                Err(_) if stopped_at(&halts, b.invoke_us) => {}
                Err(e) => problems.push(("result-lost", format!(
                    "job {} was completed at {}us, but at {}us the manager did not know it: {e}",
                    a.id, a.at_us, b.at_us
                ))),
            }
        }
    }
    verdict(
        NAME,
        &problems,
        format!("{checked} reads after a completion still showed its result"),
    )
}

/// No job has two results; the manager records each completion once.
pub fn completed_once(_: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "completed-once";
    let mut results: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    let mut records: BTreeMap<u64, Vec<(u32, u64)>> = BTreeMap::new();
    let completions = match completions(trace) {
        Ok(c) => c,
        Err(e) => return unreadable(NAME, &e),
    };
    for (id, reservation, result, at) in completions {
        results.entry(id).or_default().insert(result);
        records.entry(id).or_default().push((reservation, at));
    }
    for (id, rs) in reads(ops) {
        for r in rs {
            if let Ok(JobState {
                result: Some(result),
                ..
            }) = r.state
            {
                results.entry(id).or_default().insert(result);
            }
        }
    }
    let mut problems = vec![];
    for (id, rs) in &results {
        if rs.len() > 1 {
            problems.push((
                "two-results",
                format!("job {id} was completed with {} results: {rs:?}", rs.len()),
            ));
        }
    }
    for (id, recs) in &records {
        if recs.len() > 1 {
            problems.push((
                "recorded-twice",
                format!(
                    "job {id}'s completion was recorded {} times (reservation, us): {recs:?}",
                    recs.len()
                ),
            ));
        }
    }
    verdict(
        NAME,
        &problems,
        format!(
            "{} jobs completed, each recorded once with one result",
            records.len()
        ),
    )
}

fn rank(s: JobStatus) -> u8 {
    match s {
        JobStatus::Queued => 0,
        JobStatus::Reserved => 1,
        JobStatus::Completed => 2,
    }
}

/// Why `after` cannot follow `before`, if it cannot.
fn backwards(before: &JobState, after: &JobState) -> Option<String> {
    if after.reserves < before.reserves || after.timeouts < before.timeouts {
        return Some(format!(
            "reserves/timeouts went from {}/{} to {}/{}",
            before.reserves, before.timeouts, after.reserves, after.timeouts
        ));
    }
    let expired = before.status == JobStatus::Reserved
        && after.status == JobStatus::Queued
        && after.timeouts > before.timeouts;
    if rank(after.status) < rank(before.status) && !expired {
        return Some(format!("{:?} -> {:?}", before.status, after.status));
    }
    // A job is reserved again only through a new reservation.
    if before.status == JobStatus::Queued
        && after.status == JobStatus::Reserved
        && after.reserves == before.reserves
    {
        return Some("Queued -> Reserved without a new reservation".into());
    }
    None
}

/// Statuses only move forward, except a reservation's TTR expiring.
pub fn statuses_move_forward(_: &Scenario, _: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "statuses-move-forward";
    let mut problems = vec![];
    let mut pairs = 0;
    for reads in reads(ops).values() {
        for (a, b) in ordered_pairs(reads) {
            let (Ok(before), Ok(after)) = (&a.state, &b.state) else {
                continue;
            };
            pairs += 1;
            if let Some(why) = backwards(before, after) {
                problems.push((
                    "status-backwards",
                    format!(
                        "job {}: {why} between gets answered at {}us and {}us",
                        a.id, a.at_us, b.at_us
                    ),
                ));
            }
        }
    }
    verdict(
        NAME,
        &problems,
        format!("{pairs} ordered pairs of reads, none going backwards"),
    )
}

/// Completions are recorded only under a job's current, unexpired reservation.
pub fn completions_fenced(_: &Scenario, trace: &Trace, _: &[Operation]) -> Verdict {
    const NAME: &str = "completions-fenced";
    let mut current: BTreeMap<u64, u32> = BTreeMap::new();
    let mut expired: BTreeSet<(u64, u32)> = BTreeSet::new();
    let mut problems = vec![];
    let mut fenced = 0;
    for noted in trace.notes::<WorkQueueNote>() {
        let Noted { at_us, note, .. } = match noted {
            Ok(n) => n,
            Err(e) => return unreadable(NAME, &e),
        };
        match note {
            WorkQueueNote::Reserved {
                id, reservation, ..
            } => {
                current.insert(id, reservation);
            }
            WorkQueueNote::TtrExpired { id, reservation } => {
                expired.insert((id, reservation));
            }
            WorkQueueNote::StaleCompletion { .. } => fenced += 1,
            WorkQueueNote::Completed {
                id, reservation: r, ..
            } => {
                if expired.contains(&(id, r)) {
                    problems.push((
                        "expired-completion",
                        format!(
                            "job {id} completed at {at_us}us under reservation {r}, whose TTR had expired"
                        ),
                    ));
                } else if current.get(&id) != Some(&r) {
                    problems.push(("stale-completion", format!(
                        "job {id} completed at {at_us}us under reservation {r}, not its current one {:?}",
                        current.get(&id)
                    )));
                }
            }
            _ => {}
        }
    }
    verdict(
        NAME,
        &problems,
        format!("every completion under its current reservation; {fenced} stale ones fenced off"),
    )
}

/// Once healed (the liveness phase): the manager accepts the jobs put in the phase, and every
/// job accepted before the heal is completed within the bound.
pub fn jobs_done_after_heal(
    scenario: &Scenario,
    trace: &Trace,
    ops: &[Operation],
    phase: Recovery,
) -> Result<String, String> {
    let puts: Vec<Operation> = ops.iter().filter(|o| o.f == "put").cloned().collect();
    let accepting = highstorm::check::liveness::requests_answered(scenario, trace, &puts, phase)
        .map_err(|e| format!("puts refused: {e}"))?;
    let (jobs, _) = accepted(ops);
    let done: BTreeSet<u64> = completions(trace)
        .map_err(|e| format!("unreadable notes: {e}"))?
        .into_iter()
        .filter(|(_, _, _, at)| *at <= phase.by_us())
        .map(|(id, ..)| id)
        .collect();
    let due: Vec<u64> = jobs
        .iter()
        .filter(|(_, j)| j.acked_us <= phase.from_us())
        .map(|(id, _)| *id)
        .collect();
    highstorm::check::liveness::all_done(
        &due,
        |id| done.contains(id),
        "jobs accepted before the heal",
        "completed",
    )
    .map(|held| format!("{held}; puts: {accepting}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm::check::Completion;
    use highstorm::trace::EventKind;
    use serde_json::json;
    use std::time::Duration;

    fn op(
        n: u64,
        f: &str,
        value: Value,
        invoke_ms: u64,
        end: Option<(u64, OpPhase, Value)>,
    ) -> Operation {
        Operation {
            client: "c0".into(),
            op: n,
            node: "n0".into(),
            f: f.into(),
            invoke_us: invoke_ms * 1000,
            value,
            request: None,
            completion: end.map(|(at_ms, phase, value)| Completion {
                at_us: at_ms * 1000,
                phase,
                value,
            }),
        }
    }

    fn payload(n: u64) -> Value {
        json!({"client": "c0", "n": n})
    }

    fn put(n: u64, id: u64, at_ms: u64) -> Operation {
        let value = json!({"token": format!("c0-{n}"), "payload": payload(n)});
        op(
            n,
            "put",
            value,
            at_ms,
            Some((at_ms + 1, OpPhase::Ok, json!({"id": id}))),
        )
    }

    fn state(id: u64, n: u64, status: JobStatus, reserves: u32, timeouts: u32) -> Value {
        let result = (status == JobStatus::Completed).then(|| result_of(&payload(n)));
        serde_json::to_value(JobState {
            id,
            status,
            reserves,
            timeouts,
            time_left_ms: None,
            result,
            payload: payload(n),
        })
        .unwrap()
    }

    fn get(id: u64, at_ms: u64, st: Value) -> Operation {
        op(
            99,
            "get",
            json!({"id": id}),
            at_ms,
            Some((at_ms + 1, OpPhase::Ok, st)),
        )
    }

    fn note(t: &mut Trace, at_ms: u64, note: WorkQueueNote) {
        t.push_note(Duration::from_millis(at_ms), "n0", &note);
    }

    fn completed(id: u64, reservation: u32, result: &str) -> WorkQueueNote {
        let result = result.into();
        WorkQueueNote::Completed {
            id,
            reservation,
            result,
        }
    }

    fn reserved(id: u64, reservation: u32) -> WorkQueueNote {
        let worker = "n1".into();
        WorkQueueNote::Reserved {
            id,
            reservation,
            worker,
        }
    }

    fn scenario() -> Scenario {
        Scenario::new("t", "work-queue")
    }

    #[test]
    fn an_accepted_job_must_be_seen_completed_with_its_md5() {
        let s = scenario();
        let t = Trace::new();
        let done = vec![
            put(1, 1, 10),
            get(1, 100, state(1, 1, JobStatus::Completed, 1, 0)),
        ];
        assert!(jobs_complete(&s, &t, &done).ok);
        let never = vec![
            put(1, 1, 10),
            get(1, 100, state(1, 1, JobStatus::Reserved, 1, 0)),
        ];
        let v = jobs_complete(&s, &t, &never);
        assert!(
            !v.ok && v.detail.contains("never seen completed"),
            "{}",
            v.detail
        );
        let mut wrong = state(1, 1, JobStatus::Completed, 1, 0);
        wrong["result"] = json!("0000");
        let v = jobs_complete(&s, &t, &[put(1, 1, 10), get(1, 100, wrong)]);
        assert!(!v.ok && v.detail.contains("md5"), "{}", v.detail);
        // Job 1 now shows job 2's payload: its id was reused.
        let v = jobs_complete(
            &s,
            &t,
            &[
                put(1, 1, 10),
                get(1, 100, state(1, 2, JobStatus::Queued, 0, 0)),
            ],
        );
        assert!(!v.ok && v.detail.contains("was put with"), "{}", v.detail);
        // An id given to two puts, and a token that queued two jobs.
        let v = jobs_complete(&s, &t, &[put(1, 1, 10), put(2, 1, 20)]);
        assert!(!v.ok && v.detail.contains("two puts"), "{}", v.detail);
        let v = jobs_complete(&s, &t, &[put(1, 1, 10), put(1, 2, 20)]);
        assert!(!v.ok && v.detail.contains("not idempotent"), "{}", v.detail);
        // The manager forgot an accepted job.
        let unknown = op(
            9,
            "get",
            json!({"id": 1}),
            50,
            Some((51, OpPhase::Fail, json!({"id": 1, "error": "no job 1"}))),
        );
        let v = jobs_complete(
            &s,
            &t,
            &[
                put(1, 1, 10),
                unknown,
                get(1, 100, state(1, 1, JobStatus::Completed, 1, 0)),
            ],
        );
        assert!(!v.ok && v.detail.contains("did not know"), "{}", v.detail);
        assert!(
            !jobs_complete(&s, &t, &[]).ok,
            "nothing tested is a failure"
        );
    }

    #[test]
    fn a_completion_later_than_the_bound_fails() {
        let mut s = scenario();
        s.checks.converge_within = Some(Duration::from_secs(1));
        let ops = vec![
            put(1, 1, 10),
            get(1, 3000, state(1, 1, JobStatus::Completed, 1, 0)),
        ];
        let mut t = Trace::new();
        note(&mut t, 900, completed(1, 1, "x"));
        assert!(jobs_complete(&s, &t, &ops).ok);
        let mut late = Trace::new();
        note(&mut late, 2000, completed(1, 1, "x"));
        let v = jobs_complete(&s, &late, &ops);
        assert!(!v.ok && v.detail.contains("more than"), "{}", v.detail);
    }

    #[test]
    fn a_result_seen_and_then_gone_is_lost() {
        let s = scenario();
        let t = Trace::new();
        let kept = vec![
            get(1, 100, state(1, 1, JobStatus::Completed, 1, 0)),
            get(1, 200, state(1, 1, JobStatus::Completed, 1, 0)),
        ];
        assert!(results_never_lost(&s, &t, &kept).ok);
        let lost = vec![
            get(1, 100, state(1, 1, JobStatus::Completed, 1, 0)),
            get(1, 200, state(1, 1, JobStatus::Reserved, 1, 0)),
        ];
        let v = results_never_lost(&s, &t, &lost);
        assert!(!v.ok && v.detail.contains("Reserved"), "{}", v.detail);
        // Overlapping reads are not ordered: no claim.
        let overlapping = vec![
            get(1, 100, state(1, 1, JobStatus::Completed, 1, 0)),
            get(1, 100, state(1, 1, JobStatus::Reserved, 1, 0)),
        ];
        assert!(results_never_lost(&s, &t, &overlapping).ok);
    }

    #[test]
    fn two_results_or_two_records_of_one_job_are_caught() {
        let s = scenario();
        let mut t = Trace::new();
        note(&mut t, 100, completed(1, 1, "a"));
        assert!(completed_once(&s, &t, &[]).ok);
        let mut other = state(1, 1, JobStatus::Completed, 1, 0);
        other["result"] = json!("b");
        let v = completed_once(&s, &t, &[get(1, 200, other)]);
        assert!(!v.ok && v.detail.contains("2 results"), "{}", v.detail);
        note(&mut t, 300, completed(1, 2, "a"));
        let v = completed_once(&s, &t, &[]);
        assert!(
            !v.ok && v.detail.contains("recorded 2 times"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn statuses_go_back_only_when_a_reservation_expires() {
        let s = scenario();
        let t = Trace::new();
        let q = |at, r, to| get(1, at, state(1, 1, JobStatus::Queued, r, to));
        let res = |at, r, to| get(1, at, state(1, 1, JobStatus::Reserved, r, to));
        let fine = vec![q(0, 0, 0), res(10, 1, 0), q(20, 1, 1), res(30, 2, 1)];
        assert!(statuses_move_forward(&s, &t, &fine).ok);
        let v = statuses_move_forward(&s, &t, &[res(10, 1, 0), q(20, 1, 0)]);
        assert!(
            !v.ok && v.detail.contains("Reserved -> Queued"),
            "{}",
            v.detail
        );
        let v = statuses_move_forward(&s, &t, &[res(10, 2, 0), res(20, 1, 0)]);
        assert!(
            !v.ok && v.detail.contains("reserves/timeouts"),
            "{}",
            v.detail
        );
        let v = statuses_move_forward(
            &s,
            &t,
            &[
                get(1, 10, state(1, 1, JobStatus::Completed, 1, 0)),
                q(20, 1, 0),
            ],
        );
        assert!(
            !v.ok && v.detail.contains("Completed -> Queued"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn a_note_that_does_not_decode_fails_the_checks_that_read_notes() {
        let s = scenario();
        let mut t = Trace::new();
        note(&mut t, 10, reserved(1, 1));
        t.push(
            Duration::from_millis(20),
            EventKind::Note {
                node: "n0".into(),
                kind: "completed".into(),
                data: json!({"id": "one", "reservation": 1, "result": "a"}),
            },
        );
        let ops = [
            put(1, 1, 10),
            get(1, 100, state(1, 1, JobStatus::Completed, 1, 0)),
        ];
        for v in [
            completions_fenced(&s, &t, &[]),
            completed_once(&s, &t, &[]),
            jobs_complete(&s, &t, &ops),
        ] {
            assert!(!v.ok && v.kind == "unreadable-note", "{v:?}");
            assert!(v.detail.contains("event 1 at 20000us"), "{}", v.detail);
        }
    }

    #[test]
    fn a_completion_under_an_expired_reservation_is_caught() {
        let s = scenario();
        let mut t = Trace::new();
        note(&mut t, 10, reserved(1, 1));
        note(
            &mut t,
            600,
            WorkQueueNote::TtrExpired {
                id: 1,
                reservation: 1,
            },
        );
        note(
            &mut t,
            650,
            WorkQueueNote::StaleCompletion {
                id: 1,
                reservation: 1,
                worker: "n2".into(),
            },
        );
        note(&mut t, 700, reserved(1, 2));
        note(&mut t, 750, completed(1, 2, "a"));
        assert!(completions_fenced(&s, &t, &[]).ok);
        let mut bad = Trace::new();
        note(&mut bad, 10, reserved(1, 1));
        note(
            &mut bad,
            600,
            WorkQueueNote::TtrExpired {
                id: 1,
                reservation: 1,
            },
        );
        note(&mut bad, 650, completed(1, 1, "a"));
        let v = completions_fenced(&s, &bad, &[]);
        assert!(!v.ok && v.detail.contains("had expired"), "{}", v.detail);
    }
}
