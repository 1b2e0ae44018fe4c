//! Bridge Four's properties, read from the leader's notes and the clients' histories:
//! - `jobs-complete`: every job a client was told was accepted reaches `Done` (or `Error`,
//!   exactly when one of its inputs does not exist, naming it), within `converge_within` of
//!   the later of its acceptance and the last fault when the scenario sets one, and its client
//!   gets the result; no accepted job is lost across leader crashes;
//! - `results-match-reference`: every result a client got equals a single-process word count
//!   of the job's inputs;
//! - `statuses-move-forward`: task and job statuses only move forward, except a running task
//!   may halt or go missing and run again; each change starts from the status the previous one
//!   left (across leader restarts too: the journal held it); no illegal move was attempted;
//! - `outputs-counted-once`: each task's output is accepted at most once, and every task of a
//!   done job exactly once (attempt fencing);
//! - `data-after-done`: a job's result is never served before the job is `Done`.

use super::{corpus, merge_counts, word_count, BridgeFourConfig, TaskStatus};
use super::{BridgeFourNote, IllegalMove, JobStatus};
use highstorm::check::{last_fault_us, stopped_on_storage};
use highstorm::check::{Operation, Recovery, Verdict};
use highstorm::scenario::Scenario;
use highstorm::trace::{EventKind, NoteError, Noted, Trace};
use highstorm_nodes::OpPhase;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the leader noted, by job.
#[derive(Default)]
struct Notes {
    accepted: BTreeMap<u64, u64>,
    tasks: BTreeMap<u64, u64>,
    done_at: BTreeMap<u64, u64>,
    error_at: BTreeMap<u64, u64>,
    served: Vec<(u64, u64)>,
    violations: Vec<String>,
    outputs: BTreeMap<(u64, u64), u32>,
}

fn rank(s: TaskStatus) -> u8 {
    match s {
        TaskStatus::NotStarted => 0,
        TaskStatus::InProgress | TaskStatus::Halted | TaskStatus::Missing => 1,
        TaskStatus::Done | TaskStatus::Error => 2,
    }
}

/// Where the leader's journal stood, event by event: a sync makes every noted status durable;
/// a restart of the leader goes back to the durable ones, or keeps the ones noted before a
/// sync that failed (those writes may have landed or not: both are legal). Without storage
/// faults every noted status is synced within its handler, so a restart changes nothing.
fn journal_marks(trace: &Trace) -> Vec<(usize, &str, bool)> {
    trace
        .events()
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.kind {
            EventKind::Sync { node, .. } => Some((i, node.as_str(), true)),
            EventKind::Restart { node, .. } => Some((i, node.as_str(), false)),
            _ => None,
        })
        .collect()
}

fn read_notes(trace: &Trace) -> Result<Notes, NoteError> {
    let mut n = Notes::default();
    let mut last: BTreeMap<(u64, u32), TaskStatus> = BTreeMap::new();
    let mut durable = last.clone();
    // Statuses in doubt after a leader restart: the others the task's record may hold (a
    // write before a failed sync may have landed), until a status noted since is synced.
    let mut doubt: BTreeMap<(u64, u32), BTreeSet<TaskStatus>> = BTreeMap::new();
    let mut noted_since_sync: BTreeSet<(u64, u32)> = BTreeSet::new();
    // Outputs counted since the leader's last sync (lost with it if the sync failed).
    let mut unsynced_outputs: Vec<(u64, u64)> = vec![];
    let marks = journal_marks(trace);
    let mut next_mark = 0;
    let mut leader: Option<String> = None;
    for noted in trace.notes::<BridgeFourNote>() {
        let Noted {
            index,
            at_us,
            node,
            note,
        } = noted?;
        while let Some(&(_, mark_node, synced)) =
            marks.get(next_mark).filter(|(at, ..)| *at < index)
        {
            next_mark += 1;
            if leader.as_deref() != Some(mark_node) {
                continue;
            }
            if synced {
                durable.clone_from(&last);
                unsynced_outputs.clear();
                for task in std::mem::take(&mut noted_since_sync) {
                    doubt.remove(&task);
                }
            } else {
                for (task, status) in &last {
                    let kept = durable.get(task).copied().unwrap_or(TaskStatus::NotStarted);
                    if kept != *status {
                        doubt.entry(*task).or_default().insert(*status);
                    }
                }
                last.clone_from(&durable);
                // What the crashed incarnation noted is no later sync's to make durable.
                noted_since_sync.clear();
                for key in unsynced_outputs.drain(..) {
                    if let Some(c) = n.outputs.get_mut(&key) {
                        *c = c.saturating_sub(1);
                    }
                }
            }
        }
        if matches!(note, BridgeFourNote::Task { .. }) {
            leader = Some(node.to_owned());
        }
        match note {
            BridgeFourNote::JobAccepted { job, tasks, .. } => {
                n.accepted.entry(job).or_insert(at_us);
                n.tasks.insert(job, u64::from(tasks));
            }
            BridgeFourNote::Job { job, from, to } => {
                if matches!(from, JobStatus::Done | JobStatus::Error) {
                    n.violations.push(format!(
                        "job {job} moved from final {from:?} to {to:?} at {at_us}us"
                    ));
                }
                match to {
                    JobStatus::Done => {
                        n.done_at.entry(job).or_insert(at_us);
                    }
                    JobStatus::Error => {
                        n.error_at.entry(job).or_insert(at_us);
                    }
                    _ => {}
                }
            }
            BridgeFourNote::Task {
                job: j,
                task: t,
                from,
                to,
                ..
            } => {
                let prev = last.get(&(j, t)).copied().unwrap_or(TaskStatus::NotStarted);
                let in_doubt = doubt.get(&(j, t)).is_some_and(|d| d.contains(&from));
                noted_since_sync.insert((j, t));
                if prev != from && !in_doubt {
                    n.violations.push(format!(
                        "job {j} task {t}: change {from:?} -> {to:?} at {at_us}us, but its status was {prev:?}"
                    ));
                }
                let back_to_running = rank(to) == 1 && rank(from) == 1;
                if rank(to) < rank(from)
                    || from.is_final()
                    || (from == to)
                    || (rank(to) == rank(from) && !back_to_running)
                {
                    n.violations.push(format!(
                        "job {j} task {t}: {from:?} -> {to:?} at {at_us}us goes backwards"
                    ));
                }
                last.insert((j, t), to);
            }
            BridgeFourNote::IllegalTransition(refused) => {
                let what = match refused {
                    IllegalMove::Task {
                        job,
                        task,
                        from,
                        to,
                    } => {
                        format!("job {job} task {task}: {from:?} -> {to:?}")
                    }
                    IllegalMove::Job { job, from, to } => format!("job {job}: {from:?} -> {to:?}"),
                };
                n.violations.push(format!(
                    "the leader attempted an illegal move ({what}) at {at_us}us"
                ));
            }
            BridgeFourNote::OutputAccepted { attempt } => {
                let key = (attempt.job, u64::from(attempt.task));
                *n.outputs.entry(key).or_insert(0) += 1;
                unsynced_outputs.push(key);
            }
            BridgeFourNote::ServeData { job } => n.served.push((job, at_us)),
            _ => {}
        }
    }
    Ok(n)
}

/// The verdict of check `name` on a trace with a note the checkers cannot read (a node and
/// its checkers disagree about [`BridgeFourNote`]).
fn unreadable(name: &str, e: &NoteError) -> Verdict {
    Verdict::violation(name, "unreadable-note", e.to_string())
}

/// The job id of a client operation's value (`{"job": id}`).
fn job_of(v: &Value) -> Option<u64> {
    v.get("job").and_then(Value::as_u64)
}

/// Accepted jobs as clients saw them: job id -> (inputs, time the client learned it).
fn acknowledged(ops: &[Operation]) -> BTreeMap<u64, (Vec<String>, u64)> {
    let mut jobs = BTreeMap::new();
    for op in ops.iter().filter(|o| o.f == "submit") {
        let Some(c) = op.completion.as_ref().filter(|c| c.phase == OpPhase::Ok) else {
            continue;
        };
        let Some(id) = job_of(&c.value) else {
            continue;
        };
        let inputs: Vec<String> =
            serde_json::from_value(op.value["inputs"].clone()).unwrap_or_default();
        jobs.entry(id).or_insert((inputs, c.at_us));
    }
    jobs
}

fn config(scenario: &Scenario) -> BridgeFourConfig {
    highstorm_nodes::config("bridge-four", &scenario.config).unwrap_or_default()
}

/// Every acknowledged job finishes, correctly classified, in time, and its client gets it.
pub fn jobs_complete(scenario: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "jobs-complete";
    let notes = match read_notes(trace) {
        Ok(notes) => notes,
        Err(e) => return unreadable(NAME, &e),
    };
    let jobs = acknowledged(ops);
    let files: BTreeSet<String> = corpus(&config(scenario).corpus)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let last_fault = last_fault_us(trace);
    // A leader still stopped on a storage error at the end finishes nothing more: jobs it
    // had not finished are excused (never the ones it finished wrongly).
    let stopped = !stopped_on_storage(trace).is_empty();
    let mut problems = vec![];
    for (id, (inputs, acked_at)) in &jobs {
        let missing: Vec<&String> = inputs.iter().filter(|i| !files.contains(*i)).collect();
        if !notes.accepted.contains_key(id) {
            problems.push((
                "job-not-accepted",
                format!("job {id} was acknowledged but the leader never accepted it"),
            ));
            continue;
        }
        let finished = if missing.is_empty() {
            notes.done_at.get(id)
        } else {
            notes.error_at.get(id)
        };
        let want = if missing.is_empty() { "Done" } else { "Error" };
        let Some(&at) = finished else {
            if stopped {
                continue;
            }
            problems.push((
                "job-not-finished",
                format!("job {id} (acknowledged at {acked_at}us) never reached {want}"),
            ));
            continue;
        };
        if let Some(bound) = scenario.checks.converge_within {
            let from = (*acked_at).max(last_fault);
            if at > from + bound.as_micros() as u64 {
                problems.push((
                    "job-late",
                    format!(
                        "job {id} reached {want} at {at}us, more than {bound:?} after {from}us"
                    ),
                ));
            }
        }
        let got = ops.iter().find(|o| {
            o.f == "result"
                && job_of(&o.value) == Some(*id)
                && o.completion.as_ref().is_some_and(|c| match c.phase {
                    OpPhase::Ok => missing.is_empty(),
                    OpPhase::Fail => {
                        !missing.is_empty()
                            && missing
                                .iter()
                                .all(|m| c.value.to_string().contains(m.as_str()))
                    }
                    _ => false,
                })
        });
        if got.is_none() && !stopped {
            problems.push((
                "result-not-delivered",
                format!(
                    "job {id}'s client never got its {}",
                    if missing.is_empty() {
                        "result".to_owned()
                    } else {
                        format!("error naming {missing:?}")
                    }
                ),
            ));
        }
    }
    for (id, _) in notes
        .done_at
        .iter()
        .filter(|(id, _)| notes.error_at.contains_key(id))
    {
        problems.push((
            "done-and-error",
            format!("job {id} reached both Done and Error"),
        ));
    }
    if jobs.is_empty() && stopped {
        return Verdict::pass(
            NAME,
            "no job was acknowledged: the leader stopped on a storage error first",
        );
    }
    if jobs.is_empty() {
        return Verdict::violation(
            NAME,
            "nothing-tested",
            "no job was acknowledged: the run tested nothing",
        );
    }
    match problems.first() {
        Some((kind, p)) => {
            Verdict::violation(NAME, kind, format!("{p} ({} problems)", problems.len()))
        }
        None => Verdict::pass(
            NAME,
            format!(
                "{} acknowledged jobs finished and their clients got them",
                jobs.len()
            ),
        ),
    }
}

/// Every result a client got equals a reference count of the job's inputs.
pub fn results_match_reference(scenario: &Scenario, _: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "results-match-reference";
    let texts: BTreeMap<String, String> = corpus(&config(scenario).corpus).into_iter().collect();
    let jobs = acknowledged(ops);
    let mut checked = 0;
    for op in ops.iter().filter(|o| o.f == "result") {
        let Some(c) = op.completion.as_ref().filter(|c| c.phase == OpPhase::Ok) else {
            continue;
        };
        let id = job_of(&op.value).unwrap_or(0);
        let Some((inputs, _)) = jobs.get(&id) else {
            return Verdict::violation(
                NAME,
                "result-never-acknowledged",
                format!("a result for job {id}, never acknowledged"),
            );
        };
        let mut reference = BTreeMap::new();
        for i in inputs {
            if let Some(t) = texts.get(i) {
                merge_counts(&mut reference, &word_count(t));
            }
        }
        let got: BTreeMap<String, u64> =
            serde_json::from_value(c.value["counts"].clone()).unwrap_or_default();
        if got != reference {
            let diff: Vec<String> = reference
                .keys()
                .chain(got.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|w| reference.get(*w) != got.get(*w))
                .take(5)
                .map(|w| {
                    format!(
                        "{w:?}: {} (reference {})",
                        got.get(w).copied().unwrap_or(0),
                        reference.get(w).copied().unwrap_or(0)
                    )
                })
                .collect();
            return Verdict::violation(
                NAME,
                "wrong-count",
                format!(
                    "job {id}: {} words counted, reference {}; first differences: {}",
                    got.values().sum::<u64>(),
                    reference.values().sum::<u64>(),
                    diff.join(", ")
                ),
            );
        }
        checked += 1;
    }
    Verdict::pass(NAME, format!("{checked} results equal the reference count"))
}

/// Statuses move forward only (see the module docs).
pub fn statuses_move_forward(_: &Scenario, trace: &Trace, _: &[Operation]) -> Verdict {
    const NAME: &str = "statuses-move-forward";
    let notes = match read_notes(trace) {
        Ok(notes) => notes,
        Err(e) => return unreadable(NAME, &e),
    };
    match notes.violations.first() {
        Some(v) => Verdict::violation(
            NAME,
            "status-backwards",
            format!("{v} ({} violations)", notes.violations.len()),
        ),
        None => Verdict::pass(
            NAME,
            "every task and job status change was a legal forward move",
        ),
    }
}

/// No task's output is counted twice; every task of a done job is counted once.
pub fn outputs_counted_once(_: &Scenario, trace: &Trace, _: &[Operation]) -> Verdict {
    const NAME: &str = "outputs-counted-once";
    let notes = match read_notes(trace) {
        Ok(notes) => notes,
        Err(e) => return unreadable(NAME, &e),
    };
    if let Some(((j, t), n)) = notes.outputs.iter().find(|(_, n)| **n > 1) {
        return Verdict::violation(
            NAME,
            "output-counted-twice",
            format!("job {j} task {t}: {n} outputs counted"),
        );
    }
    for job in notes.done_at.keys() {
        let tasks = notes.tasks.get(job).copied().unwrap_or(0);
        if let Some(t) = (0..tasks).find(|t| !notes.outputs.contains_key(&(*job, *t))) {
            return Verdict::violation(
                NAME,
                "output-missing",
                format!("job {job} is Done without task {t}'s output"),
            );
        }
    }
    Verdict::pass(
        NAME,
        format!("{} task outputs, each counted once", notes.outputs.len()),
    )
}

/// Results are served only after their job is done.
pub fn data_after_done(_: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "data-after-done";
    let notes = match read_notes(trace) {
        Ok(notes) => notes,
        Err(e) => return unreadable(NAME, &e),
    };
    for (job, at) in &notes.served {
        match notes.done_at.get(job) {
            Some(done) if done <= at => {}
            _ => {
                return Verdict::violation(
                    NAME,
                    "data-before-done",
                    format!("job {job}'s data served at {at}us before it was Done"),
                )
            }
        }
    }
    for op in ops.iter().filter(|o| o.f == "result") {
        let job = job_of(&op.value).unwrap_or(0);
        if let Some(c) = op.completion.as_ref().filter(|c| c.phase == OpPhase::Ok) {
            if notes.done_at.get(&job).is_none_or(|d| *d > c.at_us) {
                return Verdict::violation(
                    NAME,
                    "result-before-done",
                    format!("a client got job {job}'s result before it was Done"),
                );
            }
        }
    }
    Verdict::pass(
        NAME,
        format!("{} results served, all after Done", notes.served.len()),
    )
}

/// Once healed (the liveness phase): every job acknowledged before the heal is finished (Done,
/// or Error when its inputs do not exist) within the bound.
pub fn jobs_finished_after_heal(
    _: &Scenario,
    trace: &Trace,
    ops: &[Operation],
    phase: Recovery,
) -> Result<String, String> {
    let notes = read_notes(trace).map_err(|e| format!("unreadable notes: {e}"))?;
    let due: Vec<u64> = acknowledged(ops)
        .into_iter()
        .filter(|(_, (_, acked))| *acked <= phase.from_us())
        .map(|(id, _)| id)
        .collect();
    let finished = |id: &u64| {
        notes
            .done_at
            .get(id)
            .or(notes.error_at.get(id))
            .is_some_and(|at| *at <= phase.by_us())
    };
    highstorm::check::liveness::all_done(
        &due,
        finished,
        "jobs acknowledged before the heal",
        "finished",
    )
}
