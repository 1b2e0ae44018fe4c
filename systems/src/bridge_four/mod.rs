//! Bridge Four: a leader/worker batch job system that finishes its jobs, with exactly the right
//! result, through worker crashes, partitions, slow workers and leader crashes.
//!
//! A client submits a job (a word count over input files) to the [`Leader`]; the leader splits
//! it into one task per input file and assigns tasks greedily to free worker slots. A
//! [`Worker`] runs a task as outside work (read the input from the blob store, count, write an
//! output blob) and reports back. What the source system left to a manual `/refresh` and to
//! luck, this one does itself:
//! - workers heartbeat; a worker the leader has not heard from within `worker_timeout_ms` is
//!   dead to it: its tasks go `Halted` and are assigned again, with a higher **attempt**;
//! - an output is counted only if it comes from the task's current attempt (**attempt
//!   fencing**), so a slow worker and its replacement never both count;
//! - the leader **journals** jobs and task states in durable storage and syncs before it
//!   acknowledges anything, so a leader crash loses no accepted job; after a restart it
//!   reconciles with the workers (`Missing` until a worker vouches for a task);
//! - every status change goes through one transition function ([`TaskStatus::can_become`])
//!   and is noted in the trace ([`BridgeFourNote`], what the checkers read).

// Beside the node: what highstorm needs to test it (not compiled without `harness`).
#[cfg(feature = "harness")]
pub mod check;
#[cfg(feature = "harness")]
pub mod http;
#[cfg(feature = "harness")]
mod system;
#[cfg(feature = "harness")]
pub mod workload;
#[cfg(feature = "harness")]
pub use system::system;

mod leader;
mod listing;
mod notes;

/// The sometimes-points its nodes mark: a sweep reports how often each held, and which never did.
pub mod points {
    /// The output of an outdated attempt was refused.
    pub const STALE_OUTPUT_FENCED: &str = "stale-output-fenced";
    /// The leader gave a silent worker up and halted its tasks.
    pub const WORKER_LOST: &str = "worker-lost";
    /// A restarted leader recovered jobs from its journal.
    pub const LEADER_RECOVERED_JOBS: &str = "leader-recovered-jobs";
    /// Every point, declared with the system.
    pub const ALL: &[&str] = &[STALE_OUTPUT_FENCED, WORKER_LOST, LEADER_RECOVERED_JOBS];
}
pub mod paths;
mod worker;

pub use leader::Leader;
pub use notes::{BridgeFourNote, IllegalMove};
pub use worker::Worker;

use highstorm_nodes::storage::Blobs;
use highstorm_nodes::{ConfigProblem, SpawnError, SystemConfig, WorkOutcome};
use highstorm_nodes::{Ctx, Message, MsgId, Node, RpcReply, WorkId, WorkRequest, WorkResult};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bridge Four's parameters (the scenario's `[config]`, also read by its workload and
/// checkers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeFourConfig {
    /// The leader's node id; every other node is a worker.
    pub leader: String,
    /// Task slots per worker.
    pub slots: u32,
    /// How often a worker heartbeats, in milliseconds.
    pub heartbeat_ms: u64,
    /// How long the leader waits without a heartbeat before it declares a worker dead.
    pub worker_timeout_ms: u64,
    /// Workers that run their tasks this many times slower (`{ n3 = 8.0 }`).
    pub slow: BTreeMap<String, f64>,
    /// The generated corpus the simulator's blob store starts with.
    pub corpus: CorpusSpec,
    /// Jobs each simulated client submits, one after the other.
    pub jobs: u32,
    /// Input files per job (job `j` of client `c` takes a window of the corpus).
    pub files_per_job: u32,
    /// Of each client's jobs, how many name one input that does not exist (they must end in
    /// `Error`, naming the file).
    pub jobs_with_missing_input: u32,
}

impl Default for BridgeFourConfig {
    fn default() -> Self {
        BridgeFourConfig {
            leader: "n0".into(),
            slots: 2,
            heartbeat_ms: 100,
            worker_timeout_ms: 500,
            slow: BTreeMap::new(),
            corpus: CorpusSpec::default(),
            jobs: 2,
            files_per_job: 8,
            jobs_with_missing_input: 0,
        }
    }
}

/// The most a worker may be slowed down (`slow = { n3 = 1000.0 }`).
pub const MAX_SLOWDOWN: f64 = 1000.0;

/// The most tasks one simulated client's jobs may hold (`jobs` times `files_per_job`).
pub const MAX_TASKS_PER_CLIENT: u64 = 10_000;

/// The most words the generated corpus may hold, over all its files.
pub const MAX_CORPUS_WORDS: u64 = 10_000_000;

impl SystemConfig for BridgeFourConfig {
    fn check(&self) -> Result<(), ConfigProblem> {
        ConfigProblem::within("slots", self.slots, 1..=1000)?;
        ConfigProblem::period_ms("heartbeat_ms", self.heartbeat_ms)?;
        ConfigProblem::period_ms("worker_timeout_ms", self.worker_timeout_ms)?;
        if self.worker_timeout_ms <= self.heartbeat_ms {
            return Err(ConfigProblem::new(
                "worker_timeout_ms",
                format!(
                    "{} ms is not longer than `heartbeat_ms` ({} ms): every worker would be \
                     declared dead between two of its heartbeats",
                    self.worker_timeout_ms, self.heartbeat_ms
                ),
            ));
        }
        for (node, factor) in &self.slow {
            ConfigProblem::within(&format!("slow.{node}"), *factor, 1.0..=MAX_SLOWDOWN)?;
        }
        ConfigProblem::within("corpus.files", self.corpus.files, 1..=10_000)?;
        ConfigProblem::within("corpus.words", self.corpus.words, 1..=1_000_000)?;
        let words = u64::from(self.corpus.files) * u64::from(self.corpus.words);
        if words > MAX_CORPUS_WORDS {
            return Err(ConfigProblem::new(
                "corpus",
                format!(
                    "{} files of {} words is {words} words: at most {MAX_CORPUS_WORDS}",
                    self.corpus.files, self.corpus.words
                ),
            ));
        }
        ConfigProblem::within("jobs", self.jobs, 0..=1000)?;
        ConfigProblem::within("files_per_job", self.files_per_job, 1..=1000)?;
        let tasks = u64::from(self.jobs) * u64::from(self.files_per_job);
        if tasks > MAX_TASKS_PER_CLIENT {
            return Err(ConfigProblem::new(
                "jobs",
                format!(
                    "{} jobs of {} files is {tasks} tasks per client: at most \
                     {MAX_TASKS_PER_CLIENT}",
                    self.jobs, self.files_per_job
                ),
            ));
        }
        ConfigProblem::within(
            "jobs_with_missing_input",
            self.jobs_with_missing_input,
            0..=self.jobs,
        )
    }

    fn nodes(&self) -> Vec<(String, String)> {
        let slow = self.slow.keys().map(|n| (format!("slow.{n}"), n.clone()));
        std::iter::once(("leader".to_owned(), self.leader.clone()))
            .chain(slow)
            .collect()
    }
}

/// A deterministic generated corpus: `files` files of about `words` words each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorpusSpec {
    /// How many files.
    pub files: u32,
    /// Words per file.
    pub words: u32,
    /// The generator's seed.
    pub seed: u64,
}

impl Default for CorpusSpec {
    fn default() -> Self {
        CorpusSpec {
            files: 24,
            words: 1500,
            seed: 1,
        }
    }
}

/// The path of corpus file `i`.
pub fn corpus_path(i: u32) -> String {
    format!("corpus/file-{i:05}.txt")
}

/// Generates the corpus: `(path, text)` for each file. Words come from a fixed vocabulary with
/// a skewed distribution, mixed case, punctuation and some non-ASCII letters and digits, so the
/// word-count rule (lowercase; maximal runs of Unicode alphanumerics) is exercised.
pub fn corpus(spec: &CorpusSpec) -> Vec<(String, String)> {
    const VOCAB: &[&str] = &[
        "the",
        "and",
        "of",
        "to",
        "a",
        "in",
        "storm",
        "highstorm",
        "bridge",
        "four",
        "leader",
        "worker",
        "task",
        "job",
        "Kaladin",
        "Shallan",
        "Dalinar",
        "spren",
        "stormlight",
        "chasm",
        "run",
        "crash",
        "restart",
        "partition",
        "heal",
        "seed",
        "trace",
        "naïve",
        "café",
        "über",
        "straße",
        "日本",
        "данные",
        "x1",
        "42",
        "2026",
        "it's",
        "co-op",
        "e-mail",
        "Ω",
    ];
    const PUNCT: &[&str] = &[
        " ", " ", " ", " ", ", ", ". ", "; ", "! ", "? ", " -- ", "\n",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed);
    (0..spec.files)
        .map(|i| {
            let mut text = String::new();
            for w in 0..spec.words {
                // Skewed: low indices far more often.
                let r: f64 = rng.random();
                let idx = ((r * r * r) * VOCAB.len() as f64) as usize;
                let mut word = VOCAB[idx.min(VOCAB.len() - 1)].to_owned();
                if rng.random_bool(0.1) {
                    word = word.to_uppercase();
                } else if rng.random_bool(0.1) {
                    let mut c = word.chars();
                    if let Some(f) = c.next() {
                        word = f.to_uppercase().chain(c).collect();
                    }
                }
                text.push_str(&word);
                if w + 1 < spec.words {
                    text.push_str(PUNCT[rng.random_range(0..PUNCT.len())]);
                }
            }
            text.push('\n');
            (corpus_path(i), text)
        })
        .collect()
}

/// Counts words: lowercase, a word is a maximal run of Unicode alphanumeric characters.
pub fn word_count(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// Adds `more` into `into`.
pub fn merge_counts(into: &mut BTreeMap<String, u64>, more: &BTreeMap<String, u64>) {
    for (w, n) in more {
        *into.entry(w.clone()).or_insert(0) += n;
    }
}

/// The initial blobs for `[config]`: the generated corpus.
pub fn blobs(config: &serde_json::Value) -> Result<Vec<(String, String)>, SpawnError> {
    let cfg: BridgeFourConfig = highstorm_nodes::config("bridge-four", config)?;
    Ok(corpus(&cfg.corpus))
}

/// Bridge Four's outside work, the same for real (on a blocking pool, over a directory) and in
/// the simulator (over the simulated blob store):
/// - `wordcount {input, output}`: counts the input's words and writes them to `output` as a
///   JSON object; result `{output, words}`;
/// - `aggregate {outputs, result}`: sums the outputs' counts and writes them to `result`;
///   result `{result, words, distinct}`;
/// - `read {path}`: the blob at `path`, parsed as JSON (how clients fetch a result).
pub fn work(req: &WorkRequest, blobs: &mut dyn Blobs) -> WorkOutcome {
    let mut bytes = 0u64;
    let result = run_work(req, blobs, &mut bytes);
    WorkOutcome { result, bytes }
}

fn run_work(req: &WorkRequest, blobs: &mut dyn Blobs, bytes: &mut u64) -> WorkResult {
    let field = |name: &str| -> Result<&str, String> {
        req.input
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("`{}` work needs a string `{name}`", req.kind))
    };
    match req.kind.as_str() {
        "wordcount" => {
            let text = blobs.read(field("input")?)?;
            *bytes += text.len() as u64;
            let counts = word_count(&text);
            let words: u64 = counts.values().sum();
            let out = serde_json::to_string(&counts).map_err(|e| e.to_string())?;
            *bytes += out.len() as u64;
            let output = field("output")?;
            blobs.write(output, &out)?;
            Ok(serde_json::json!({"output": output, "words": words}))
        }
        "aggregate" => {
            let outputs = req
                .input
                .get("outputs")
                .and_then(|v| v.as_array())
                .ok_or("`aggregate` work needs an array `outputs`")?;
            let mut total = BTreeMap::new();
            for path in outputs {
                let path = path.as_str().ok_or("`outputs` holds paths")?;
                let text = blobs.read(path)?;
                *bytes += text.len() as u64;
                let counts: BTreeMap<String, u64> = serde_json::from_str(&text)
                    .map_err(|e| format!("output {path} is not a word count: {e}"))?;
                merge_counts(&mut total, &counts);
            }
            let out = serde_json::to_string(&total).map_err(|e| e.to_string())?;
            *bytes += out.len() as u64;
            let result = field("result")?;
            blobs.write(result, &out)?;
            let words: u64 = total.values().sum();
            Ok(serde_json::json!({"result": result, "words": words, "distinct": total.len()}))
        }
        "read" => {
            let path = field("path")?;
            let text = blobs.read(path)?;
            *bytes += text.len() as u64;
            serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))
        }
        other => Err(format!("unknown work `{other}`")),
    }
}

/// A task's execution status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskStatus {
    /// Not assigned yet.
    NotStarted,
    /// Assigned to a worker, which is (as far as the leader knows) running it.
    InProgress,
    /// Its worker died or was cut off; waiting to be assigned again.
    Halted,
    /// Done: its output (from the current attempt) is counted.
    Done,
    /// Failed for good (e.g. its input does not exist); the reason is kept.
    Error,
    /// The leader restarted and does not know yet whether its worker still runs it.
    Missing,
}

impl TaskStatus {
    /// The one transition table: every status change goes through it.
    ///
    /// Forward only, except that a running task may be halted (its worker died) or go
    /// missing (the leader restarted) and then run again; `Done` and `Error` are final. A
    /// halted task may still finish if its current attempt reports before it is reassigned.
    pub fn can_become(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        matches!(
            (self, to),
            (NotStarted, InProgress)
                | (InProgress, Done | Error | Halted | Missing)
                | (Halted, InProgress | Done | Error)
                | (Missing, InProgress | Done | Error | Halted)
        )
    }

    /// Whether the task is finished for good.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Error)
    }
}

/// A job's overall execution status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JobStatus {
    /// No task has started.
    NotStarted,
    /// Tasks are running, or the outputs are being aggregated.
    InProgress,
    /// Every task is done and the result is written.
    Done,
    /// Every task is final and at least one failed.
    Error,
}

impl JobStatus {
    /// Forward only.
    pub fn can_become(self, to: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, to),
            (NotStarted, InProgress | Done | Error) | (InProgress, Done | Error)
        )
    }
}

/// How much of a job has been handed to workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AssignmentStatus {
    /// No task has been assigned.
    NotAssigned,
    /// Some tasks have been assigned (or finished), not all.
    PartiallyAssigned,
    /// Every task has been assigned at least once (or finished).
    FullyAssigned,
}

/// Names one attempt of one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Attempt {
    /// The job.
    pub job: u64,
    /// The task (index of its input in the job).
    pub task: u32,
    /// The attempt: 1 for the first assignment, one more for each reassignment.
    pub attempt: u32,
}

/// A task's summary in [`JobView`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// Its index.
    pub task: u32,
    /// Its input file.
    pub input: String,
    /// Its status.
    pub status: TaskStatus,
    /// Its current attempt (0: never assigned).
    pub attempt: u32,
    /// The worker running it or that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Why it failed, for `Error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A job as `GET /jobs/{id}` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    /// The job's id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its kind (`wordcount`).
    pub kind: String,
    /// Its execution status.
    pub status: JobStatus,
    /// How much of it has been assigned.
    pub assignment: AssignmentStatus,
    /// Tasks done, of `total`.
    pub done: u32,
    /// Tasks failed.
    pub failed: u32,
    /// Tasks in all.
    pub total: u32,
    /// Per-task progress (omitted in listings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskView>,
    /// Why the job failed, for `Error`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// A worker as `GET /cluster` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerView {
    /// Its id.
    pub id: String,
    /// Its slots.
    pub slots: u32,
    /// Tasks it runs for the leader now.
    pub running: u32,
    /// Whether the leader heard from it within the timeout.
    pub alive: bool,
    /// Milliseconds since the leader last heard from it (local clock).
    pub last_heard_ms: u64,
}

/// Bridge Four's messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BridgeFourMsg {
    /// Client -> leader: run a job. `token` makes retries idempotent.
    SubmitJob {
        /// A name for people.
        name: String,
        /// `wordcount`.
        kind: String,
        /// Input paths in the blob store.
        inputs: Vec<String>,
        /// Where outputs go (default `output/job-{id}`; see [`paths`] for what is refused).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
        /// A client-chosen token: a retry with the same token gets the same job.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// The job is journalled and will run.
    SubmitJobOk {
        /// Its id.
        id: u64,
    },
    /// Client -> leader: list jobs, a page at a time (a page fits one message).
    ListJobs {
        /// List the jobs after this id (a page's `next`); from the first when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<u64>,
    },
    /// A page of jobs in id order, without per-task detail.
    ListJobsOk {
        /// The jobs.
        jobs: Vec<JobView>,
        /// Where the next page starts (`after`), when jobs are left.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<u64>,
    },
    /// Client -> leader: one job's status.
    JobStatus {
        /// The job.
        id: u64,
    },
    /// A job's status.
    JobStatusOk {
        /// The job.
        job: JobView,
    },
    /// Client -> leader: where a job's result is (error 22 until it is done).
    JobData {
        /// The job.
        id: u64,
    },
    /// The result's path in the blob store.
    JobDataOk {
        /// The job.
        id: u64,
        /// The result blob (a JSON object word -> count).
        result: String,
        /// Words counted.
        words: u64,
        /// Distinct words.
        distinct: u64,
    },
    /// Client -> leader: the workers.
    Cluster,
    /// The workers as the leader sees them.
    ClusterOk {
        /// The workers.
        workers: Vec<WorkerView>,
    },
    /// Worker -> leader, every `heartbeat_ms`: alive, with this many slots, running these
    /// attempts, with these results not yet acknowledged.
    Heartbeat {
        /// The worker's boot count: a new one means its earlier tasks are gone.
        boot: u64,
        /// Its slots.
        slots: u32,
        /// The highest assignment sequence it has received: `(leader boot, n)`.
        seen: (u64, u64),
        /// Attempts it is running.
        running: Vec<Attempt>,
        /// Attempts it finished whose reports are not acknowledged yet.
        finished: Vec<Attempt>,
    },
    /// Leader -> worker: run this attempt.
    Assign {
        /// The attempt.
        attempt: Attempt,
        /// Its input.
        input: String,
        /// Where its output goes.
        output: String,
        /// The assignment's sequence number: `(leader boot, n)`.
        seq: (u64, u64),
    },
    /// Worker -> leader: an attempt finished (resent until acknowledged).
    TaskDone {
        /// The attempt.
        attempt: Attempt,
        /// Its output path and word total, or why it failed.
        result: Result<TaskOutput, String>,
    },
    /// Leader -> worker: the report of this attempt is recorded (or fenced off).
    TaskDoneOk {
        /// The attempt.
        attempt: Attempt,
    },
}

/// What a successful task produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskOutput {
    /// The output blob.
    pub output: String,
    /// Words counted.
    pub words: u64,
}

/// Bridge Four's timers.
#[derive(Debug)]
pub enum BridgeFourTimer {
    /// Leader: look for dead workers and assign what is ready.
    Check,
    /// Worker: heartbeat and resend unacknowledged reports.
    Heartbeat,
}

/// A Bridge Four node: the leader or a worker, by id.
#[allow(clippy::large_enum_variant)] // one per process
pub enum BridgeFour {
    /// The leader.
    Leader(Leader),
    /// A worker.
    Worker(Worker),
}

impl BridgeFour {
    /// The node `id` of a cluster configured by `cfg`; `unfenced` plants a bug (the leader
    /// counts outputs from stale attempts).
    pub fn new(cfg: BridgeFourConfig, id: &str, unfenced: bool) -> Self {
        if id == cfg.leader {
            BridgeFour::Leader(Leader::new(cfg, unfenced))
        } else {
            BridgeFour::Worker(Worker::new(cfg))
        }
    }
}

impl Node for BridgeFour {
    type Msg = BridgeFourMsg;
    type Timer = BridgeFourTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            BridgeFour::Leader(l) => l.on_init(ctx),
            BridgeFour::Worker(w) => w.on_init(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<BridgeFourMsg>) {
        match self {
            BridgeFour::Leader(l) => l.on_message(ctx, msg),
            BridgeFour::Worker(w) => w.on_message(ctx, msg),
        }
    }

    fn on_rpc_reply(&mut self, _: &mut Ctx<'_, Self>, _: MsgId, _: RpcReply<BridgeFourMsg>) {
        // Neither role sends RPCs: reports are resent until acknowledged.
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: BridgeFourTimer) {
        match self {
            BridgeFour::Leader(l) => l.on_timer(ctx, timer),
            BridgeFour::Worker(w) => w.on_timer(ctx, timer),
        }
    }

    fn on_work_done(&mut self, ctx: &mut Ctx<'_, Self>, work: WorkId, result: WorkResult) {
        match self {
            BridgeFour::Leader(l) => l.on_work_done(ctx, work, result),
            BridgeFour::Worker(w) => w.on_work_done(ctx, work, result),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::storage::MemBlobs;

    #[test]
    fn words_are_lowercased_runs_of_unicode_alphanumerics() {
        let c = word_count("It's the CAFÉ's café -- über2026, 日本!\nx1 X1");
        let expected: BTreeMap<String, u64> = [
            ("it", 1),
            ("s", 2),
            ("the", 1),
            ("café", 2),
            ("über2026", 1),
            ("日本", 1),
            ("x1", 2),
        ]
        .iter()
        .map(|(w, n)| (w.to_string(), *n))
        .collect();
        assert_eq!(c, expected);
    }

    #[test]
    fn the_corpus_is_deterministic_and_exercises_the_rule() {
        let spec = CorpusSpec {
            files: 3,
            words: 400,
            seed: 9,
        };
        let a = corpus(&spec);
        assert_eq!(a, corpus(&spec));
        assert_ne!(
            a,
            corpus(&CorpusSpec {
                seed: 10,
                ..spec.clone()
            })
        );
        let all: String = a.iter().map(|(_, t)| t.as_str()).collect();
        let counts = word_count(&all);
        assert_eq!(
            counts.values().sum::<u64>(),
            3 * 400 + count_split_words(&all)
        );
        assert!(
            counts.keys().any(|w| !w.is_ascii()),
            "non-ASCII words appear"
        );
    }

    /// Vocabulary entries like `it's` and `co-op` split into two words.
    fn count_split_words(text: &str) -> u64 {
        ["it's", "co-op", "e-mail"]
            .iter()
            .map(|w| text.to_lowercase().matches(w).count() as u64)
            .sum()
    }

    #[test]
    fn wordcount_and_aggregate_work_add_up_to_the_reference() {
        let mut blobs = MemBlobs::default();
        let files = corpus(&CorpusSpec {
            files: 4,
            words: 300,
            seed: 2,
        });
        let mut reference = BTreeMap::new();
        for (path, text) in &files {
            blobs.blobs.insert(path.clone(), text.clone());
            merge_counts(&mut reference, &word_count(text));
        }
        let mut outputs = vec![];
        for (i, (path, _)) in files.iter().enumerate() {
            let out = format!("out/{i}.json");
            let req = WorkRequest {
                id: WorkId(i as u64),
                kind: "wordcount".into(),
                input: serde_json::json!({"input": path, "output": out}),
            };
            let done = work(&req, &mut blobs);
            assert!(done.result.is_ok(), "{:?}", done.result);
            assert!(done.bytes > 0);
            outputs.push(out);
        }
        let req = WorkRequest {
            id: WorkId(9),
            kind: "aggregate".into(),
            input: serde_json::json!({"outputs": outputs, "result": "out/result.json"}),
        };
        let res = work(&req, &mut blobs).result.unwrap();
        assert_eq!(res["distinct"], reference.len());
        let read = WorkRequest {
            id: WorkId(10),
            kind: "read".into(),
            input: serde_json::json!({"path": "out/result.json"}),
        };
        let got: BTreeMap<String, u64> =
            serde_json::from_value(work(&read, &mut blobs).result.unwrap()).unwrap();
        assert_eq!(got, reference);
        let missing = WorkRequest {
            id: WorkId(11),
            kind: "wordcount".into(),
            input: serde_json::json!({"input": "nope.txt", "output": "o"}),
        };
        assert_eq!(
            work(&missing, &mut blobs).result,
            Err("no such file: nope.txt".into())
        );
    }

    #[test]
    fn the_transition_table_only_goes_forward_except_halting_and_going_missing() {
        use TaskStatus::*;
        let all = [NotStarted, InProgress, Halted, Done, Error, Missing];
        for from in all {
            for to in all {
                let ok = from.can_become(to);
                if from.is_final() || to == NotStarted || from == to {
                    assert!(!ok, "{from:?} -> {to:?}");
                }
            }
        }
        assert!(InProgress.can_become(Halted) && Halted.can_become(InProgress));
        assert!(!Done.can_become(Halted) && !Error.can_become(InProgress));
    }
}
