//! Scenarios: which system runs, on how many nodes, for how long, under which faults.
//!
//! A scenario comes from a TOML file ([`Scenario::load`], [`Scenario::from_toml`]) or from Rust
//! ([`Scenario::new`] and builder methods that read like the TOML). Either way it is validated:
//! bad input is an error naming the file, line, column and key. [`Scenario::to_toml`] writes a
//! scenario back out (the shrinker's output), and loading that text gives the same scenario.
//!
//! ```toml
//! name = "kv-faults"
//! system = "kv"
//! nodes = 3
//! duration = "10s"
//! seeds = "0..100"
//! [network]
//! latency = { min = "1ms", max = "20ms", distribution = "uniform" }
//! loss = 0.01
//! duplicate = 0.01
//! [[faults]]
//! at = "2s"
//! partition = [["n0"], ["n1", "n2"]]
//! [[faults]]
//! at = "5s"
//! crash = "n1"
//! restart_after = "1s"
//! [nemesis]
//! kinds = ["partition", "crash", "pause"]
//! every = "2s"
//! ```

pub(crate) mod engine_kind;
mod locate;
mod parse;
mod storage;
mod validate;
mod write;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

pub use parse::parse_seed_range;
pub use storage::{StorageFaults, StorageRates};
pub use validate::{
    MAX_CLIENTS, MAX_DURATION, MAX_NEMESIS_CHANCES, MAX_NODES, MAX_OPERATIONS, MAX_RATE, MAX_SEEDS,
    MIN_NEMESIS_EVERY,
};

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Its name (used in reports and repro lines).
    pub name: String,
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    /// Which system's node logic runs.
    pub system: String,
    /// Which variant of it (`None`: the default).
    pub variant: Option<String>,
    /// How many nodes: named `n0`, `n1`, ...
    pub nodes: usize,
    /// How long the simulation runs.
    pub duration: Duration,
    /// The default sweep.
    pub seeds: Range<u64>,
    /// Seeds that once failed: always run.
    pub regressions: Vec<u64>,
    /// The simulator's step (turmoil's tick).
    pub tick: Duration,
    /// Which engine runs it.
    pub engine: engine_kind::Engine,
    /// The network's behaviour between faults.
    pub network: Network,
    /// Per-node clock skew and drift at the start.
    pub clocks: BTreeMap<String, Clock>,
    /// What the clients do.
    pub workload: Workload,
    /// Scripted faults, in time order.
    pub faults: Vec<Fault>,
    /// Random faults drawn from the seed on top of the scripted ones.
    pub nemesis: Option<Nemesis>,
    /// The storage faults of every disk (`[storage]`; default: none).
    pub storage: StorageFaults,
    /// System parameters, passed to the nodes.
    pub config: serde_json::Value,
    /// Bounds the checkers hold the run to.
    pub checks: Checks,
}

/// Bounds the checkers hold a run to (`[checks]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checks {
    /// After the last fault, every acknowledged value must reach every node within this long.
    pub converge_within: Option<Duration>,
    /// At most this many node-to-node messages per client operation.
    pub msgs_per_op_max: Option<f64>,
    /// Bounds on the latency of successful client operations (`latency = { p50 = "..", .. }`).
    pub latency: Option<LatencyTargets>,
    /// Bounds on stable latency: the time from a value's write until every node holds it
    /// (`stable_latency = { p50 = "..", max = ".." }`; systems whose values spread, see
    /// [`System::spreads`](crate::system::System::spreads)).
    pub stable_latency: Option<LatencyTargets>,
    /// The liveness phase (`liveness = "5s"`): this long before the end of the run every
    /// fault is undone (the network healed and restored, crashed nodes restarted, paused ones
    /// resumed, clocks set right), and what the system promises once healed
    /// ([`System::liveness`](crate::system::System::liveness)) must hold by the end.
    pub liveness: Option<Duration>,
    /// Turn the nodes' [`buggify`](highstorm_nodes::Context::buggify) sites on: each is
    /// enabled per run from the seed and then fires at random (`buggify = true`; default off).
    pub buggify: bool,
}

/// Upper bounds on percentiles of a latency (nearest rank, as the run's metrics report
/// them); unset ones are not checked, and at least one is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyTargets {
    /// The median is at most this.
    pub p50: Option<Duration>,
    /// The 95th percentile is at most this.
    pub p95: Option<Duration>,
    /// The 99th percentile is at most this.
    pub p99: Option<Duration>,
    /// Every value is at most this.
    pub max: Option<Duration>,
}

impl LatencyTargets {
    /// The bounds that are set, by name, in percentile order.
    pub fn bounds(&self) -> Vec<(&'static str, Duration)> {
        [
            ("p50", self.p50),
            ("p95", self.p95),
            ("p99", self.p99),
            ("max", self.max),
        ]
        .into_iter()
        .filter_map(|(name, d)| Some((name, d?)))
        .collect()
    }
}

/// How one-way message latency is distributed between `min` and `max`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Distribution {
    /// Every value in `[min, max]` equally likely.
    #[default]
    Uniform,
    /// `min` plus an exponential draw with mean `(max - min) / 4`, capped at `max`: mostly
    /// fast, with a long tail.
    Exponential,
}

/// One-way latency of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    /// The least a message takes.
    pub min: Duration,
    /// The most a message takes.
    pub max: Duration,
    /// How values between are drawn.
    pub distribution: Distribution,
}

impl Latency {
    /// Uniform latency over `range`.
    pub fn uniform(range: Range<Duration>) -> Self {
        Latency {
            min: range.start,
            max: range.end,
            distribution: Distribution::Uniform,
        }
    }
}

/// Link conditions; `None` leaves a setting as it was.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Conditions {
    /// Latency.
    pub latency: Option<Latency>,
    /// Probability that a message is lost.
    pub loss: Option<f64>,
    /// Probability that a message is delivered twice.
    pub duplicate: Option<f64>,
}

/// The network between faults.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// One-way latency of every link without its own.
    pub latency: Latency,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice (the copy draws its own latency, so
    /// duplicates also reorder).
    pub duplicate: f64,
    /// Per-link overrides, applied in order.
    pub links: Vec<LinkRule>,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency: Latency::uniform(Duration::from_millis(1)..Duration::from_millis(10)),
            loss: 0.0,
            duplicate: 0.0,
            links: vec![],
        }
    }
}

/// Conditions of the links from every node of `from` to every node of `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkRule {
    /// Senders.
    pub from: Vec<String>,
    /// Receivers.
    pub to: Vec<String>,
    /// The conditions (unset ones fall back to the global ones).
    pub conditions: Conditions,
}

/// A node's clock relative to true (simulated) time: `local = true + skew`, running at
/// `1 + drift` times true speed. Node clocks never run backwards: a negative jump makes the
/// clock stand still until true time catches up.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Clock {
    /// Offset, in microseconds (negative: behind).
    pub skew_us: i64,
    /// Rate error: 0.01 runs 1% fast, -0.01 1% slow. Must be > -1.
    pub drift: f64,
}

/// The client workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// How many clients (`c0`, `c1`, ...).
    pub clients: usize,
    /// Operations per second, over all clients.
    pub rate: f64,
    /// How long a client waits for a reply before recording the operation as indeterminate.
    pub timeout: Duration,
    /// How clients reach the cluster.
    pub api: Api,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            clients: 1,
            rate: 20.0,
            timeout: Duration::from_millis(500),
            api: Api::Messages,
        }
    }
}

/// How a scenario's clients reach the cluster (`[workload] api = "http"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Api {
    /// The system's own messages, as datagrams (both engines).
    #[default]
    Messages,
    /// The system's HTTP API, served by its nodes over simulated TCP (the turmoil engine only:
    /// the events engine runs no async code).
    Http,
}

impl Api {
    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Api::Messages => "messages",
            Api::Http => "http",
        }
    }
}

impl std::str::FromStr for Api {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "messages" => Ok(Api::Messages),
            "http" => Ok(Api::Http),
            other => Err(format!("unknown api {other:?} (known: messages, http)")),
        }
    }
}

/// A fault at a point in simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// When.
    pub at: Duration,
    /// What.
    pub action: FaultAction,
}

/// Which links a heal repairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heal {
    /// Every cut link.
    All,
    /// Both directions between two nodes.
    Link(String, String),
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Cut every link between nodes of different groups, both ways. Nodes in no group keep
    /// their links.
    Partition(Vec<Vec<String>>),
    /// Cut the links from every node of `from` to every node of `to`; the other direction
    /// keeps working.
    PartitionOneway {
        /// Senders that can no longer reach `to`.
        from: Vec<String>,
        /// Receivers.
        to: Vec<String>,
    },
    /// Repair cut links.
    Heal(Heal),
    /// Crash a node (its volatile state is lost); restart it after the given time, if any.
    Crash {
        /// The node.
        node: String,
        /// When to restart it, relative to the crash.
        restart_after: Option<Duration>,
    },
    /// Restart a node from `on_init` (crashing it first if it is running).
    Restart(String),
    /// Freeze a node: no timers fire and no messages are handled until it resumes; what
    /// arrives meanwhile waits for it.
    Pause {
        /// The node.
        node: String,
        /// When to resume it, relative to the pause.
        resume_after: Option<Duration>,
    },
    /// Resume a paused node.
    Resume(String),
    /// Change link conditions, globally or for the links from `link.0` to `link.1`.
    Network {
        /// The links affected (`None`: every link).
        link: Option<(Vec<String>, Vec<String>)>,
        /// The new conditions.
        conditions: Conditions,
    },
    /// Step a node's clock by `clock.skew_us` and set its drift.
    Skew {
        /// The node.
        node: String,
        /// The step and the new drift.
        clock: Clock,
    },
    /// Damage a synced record on a node's disk (a flipped bit), found when the node next
    /// reads its storage (at a restart).
    Corrupt {
        /// The node.
        node: String,
        /// The record (`None`: one drawn from the seed among those on the disk).
        key: Option<String>,
    },
    /// Fill a node's disk: its syncs fail until it is freed.
    DiskFull {
        /// The node.
        node: String,
        /// When to free it, relative to this fault.
        free_after: Option<Duration>,
    },
    /// Free a full disk.
    DiskFree(String),
}

impl FaultAction {
    /// The nodes this fault names.
    pub fn nodes(&self) -> Vec<&String> {
        match self {
            FaultAction::Partition(groups) => groups.iter().flatten().collect(),
            FaultAction::PartitionOneway { from, to } => from.iter().chain(to).collect(),
            FaultAction::Heal(Heal::All) => vec![],
            FaultAction::Heal(Heal::Link(a, b)) => vec![a, b],
            FaultAction::Crash { node, .. }
            | FaultAction::Restart(node)
            | FaultAction::Pause { node, .. }
            | FaultAction::Resume(node)
            | FaultAction::Skew { node, .. }
            | FaultAction::Corrupt { node, .. }
            | FaultAction::DiskFull { node, .. }
            | FaultAction::DiskFree(node) => vec![node],
            FaultAction::Network { link, .. } => link
                .as_ref()
                .map(|(f, t)| f.iter().chain(t).collect())
                .unwrap_or_default(),
        }
    }

    /// The fault's kind as written in a scenario file.
    pub fn kind(&self) -> &'static str {
        match self {
            FaultAction::Partition(_) => "partition",
            FaultAction::PartitionOneway { .. } => "partition_oneway",
            FaultAction::Heal(_) => "heal",
            FaultAction::Crash { .. } => "crash",
            FaultAction::Restart(_) => "restart",
            FaultAction::Pause { .. } => "pause",
            FaultAction::Resume(_) => "resume",
            FaultAction::Network { .. } => "network",
            FaultAction::Skew { .. } => "skew",
            FaultAction::Corrupt { .. } => "corrupt",
            FaultAction::DiskFull { .. } => "disk_full",
            FaultAction::DiskFree(_) => "disk_free",
        }
    }
}

/// The kinds of fault a nemesis may inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NemesisKind {
    /// Split the nodes into two random groups, healed after `fault_duration`.
    Partition,
    /// Cut one random direction between two random groups, healed after `fault_duration`.
    PartitionOneway,
    /// Crash a random node, restarted after `fault_duration`.
    Crash,
    /// Pause a random node, resumed after `fault_duration`.
    Pause,
    /// Step a random node's clock by up to ±1 s and give it a drift of up to ±5%.
    Skew,
    /// Lose up to 30% of messages for `fault_duration`.
    Loss,
    /// Duplicate up to 30% of messages for `fault_duration`.
    Duplicate,
    /// Slow every link down to up to 10x its latency for `fault_duration`.
    Latency,
    /// Damage a random record on a random node's disk, or fill that disk for
    /// `fault_duration` (subject to the `[storage]` fault atlas when it is on).
    Storage,
}

impl NemesisKind {
    /// Every kind, in order.
    pub const ALL: [NemesisKind; 9] = [
        NemesisKind::Partition,
        NemesisKind::PartitionOneway,
        NemesisKind::Crash,
        NemesisKind::Pause,
        NemesisKind::Skew,
        NemesisKind::Loss,
        NemesisKind::Duplicate,
        NemesisKind::Latency,
        NemesisKind::Storage,
    ];

    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Partition => "partition",
            NemesisKind::PartitionOneway => "partition-oneway",
            NemesisKind::Crash => "crash",
            NemesisKind::Pause => "pause",
            NemesisKind::Skew => "skew",
            NemesisKind::Loss => "loss",
            NemesisKind::Duplicate => "duplicate",
            NemesisKind::Latency => "latency",
            NemesisKind::Storage => "storage",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The family it belongs to: faults of one family undo each other (a heal repairs every
    /// cut), so an overlapping nemesis schedules each family on its own.
    pub fn family(self) -> FaultFamily {
        match self {
            NemesisKind::Partition | NemesisKind::PartitionOneway => FaultFamily::Cut,
            NemesisKind::Crash => FaultFamily::Crash,
            NemesisKind::Pause => FaultFamily::Pause,
            NemesisKind::Skew => FaultFamily::Skew,
            NemesisKind::Loss => FaultFamily::Loss,
            NemesisKind::Duplicate => FaultFamily::Duplicate,
            NemesisKind::Latency => FaultFamily::Latency,
            NemesisKind::Storage => FaultFamily::Storage,
        }
    }
}

/// Nemesis kinds whose faults share one schedule when faults overlap (see
/// [`Nemesis::overlap`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultFamily {
    /// Partitions, both ways and one way (healed by one `heal = "all"`).
    Cut,
    /// Crashes with restarts.
    Crash,
    /// Pauses with resumes.
    Pause,
    /// Clock steps and their reversal.
    Skew,
    /// Bursts of loss.
    Loss,
    /// Bursts of duplication.
    Duplicate,
    /// Bursts of latency.
    Latency,
    /// Damaged records and full disks.
    Storage,
}

impl FaultFamily {
    /// Every family, in order.
    pub const ALL: [FaultFamily; 8] = [
        FaultFamily::Cut,
        FaultFamily::Crash,
        FaultFamily::Pause,
        FaultFamily::Skew,
        FaultFamily::Loss,
        FaultFamily::Duplicate,
        FaultFamily::Latency,
        FaultFamily::Storage,
    ];
}

/// Random faults drawn from the run seed: every `every`, with probability `intensity`, one
/// fault of a random kind, undone after `fault_duration`.
#[derive(Clone, Debug, PartialEq)]
pub struct Nemesis {
    /// The kinds to draw from.
    pub kinds: Vec<NemesisKind>,
    /// Time between chances to inject.
    pub every: Duration,
    /// Probability of a fault at each chance, in (0, 1].
    pub intensity: f64,
    /// How long each fault lasts.
    pub fault_duration: Duration,
    /// No faults before this time.
    pub start: Duration,
    /// No faults after this time (default: 80% of the run, leaving time to converge).
    pub stop: Option<Duration>,
    /// Faults of different families overlap (`overlap = true`): each family (cuts, crashes,
    /// pauses, clock steps, loss, duplication, latency) draws its own schedule from its own
    /// stream of the seed, so a node may crash while it is cut off, or be paused while the
    /// network is lossy. Faults of one family never overlap each other. Without it (the
    /// default) one schedule draws every kind and at most one fault is active when
    /// `fault_duration <= every`.
    pub overlap: bool,
    /// Swarm mode (`swarm = true`): each seed draws which of `kinds` are on (at least one),
    /// how often a chance turns into a fault (up to `intensity`), how long faults last (a
    /// quarter of `every` to all of it) and whether families overlap — so one sweep covers
    /// many fault mixes instead of one. See [`swarm_draw`](crate::faults::swarm_draw).
    pub swarm: bool,
}

impl Nemesis {
    /// A nemesis of `kinds` every `every`, intensity 1, faults lasting `every / 2`.
    pub fn new(kinds: &[NemesisKind], every: Duration) -> Self {
        Nemesis {
            kinds: kinds.to_vec(),
            every,
            intensity: 1.0,
            fault_duration: every / 2,
            start: Duration::ZERO,
            stop: None,
            overlap: false,
            swarm: false,
        }
    }

    /// A swarm nemesis over `kinds` (see [`swarm`](Nemesis::swarm)): chances every `every`.
    pub fn swarm(kinds: &[NemesisKind], every: Duration) -> Self {
        Nemesis {
            swarm: true,
            ..Nemesis::new(kinds, every)
        }
    }

    /// The same nemesis with faults of different families overlapping (see
    /// [`overlap`](Nemesis::overlap)).
    pub fn overlapping(mut self) -> Self {
        self.overlap = true;
        self
    }
}

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// Why (in the message, not as a source: the message says it once).
        error: std::io::Error,
    },
    /// The file is not valid, at a known place.
    #[error("{file}:{line}:{col}: {message}")]
    Invalid {
        /// The file (or `<scenario>` for one built in Rust).
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// The key at fault.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl ScenarioError {
    /// The key at fault, if the error is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ScenarioError::Invalid { key, .. } => Some(key),
            ScenarioError::Io { .. } => None,
        }
    }
}

/// What is wrong with a scenario built in Rust: the key and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The key at fault, as it would be written in TOML (`faults[2].at`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for Invalid {}

pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        message: message.into(),
    }
}

impl Scenario {
    /// `problem` as an error naming this scenario's file (or `<scenario>` for one built in
    /// Rust) and the key at fault.
    pub fn error(&self, problem: &Invalid) -> ScenarioError {
        let file = self
            .path
            .as_ref()
            .map_or_else(|| "<scenario>".to_owned(), |p| p.display().to_string());
        // The key's place in the file (or its nearest enclosing key's).
        let (line, col) = self
            .path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| {
                let span = locate::span_of(&text, &problem.key)?;
                Some(locate::line_col(&text, span.start))
            })
            .unwrap_or((1, 1));
        ScenarioError::Invalid {
            file,
            line,
            col,
            key: problem.key.clone(),
            message: format!("`{}`: {}", problem.key, problem.message),
        }
    }

    /// A scenario of `system` named `name`, with defaults: 3 nodes, 10 s, seeds 0..100, 1 ms
    /// tick, uniform latency 1–10 ms, no loss or duplication, one client at 20 ops/s, no faults.
    pub fn new(name: &str, system: &str) -> Self {
        Scenario {
            name: name.to_owned(),
            path: None,
            system: system.to_owned(),
            variant: None,
            nodes: 3,
            duration: Duration::from_secs(10),
            seeds: 0..100,
            regressions: vec![],
            tick: Duration::from_millis(1),
            engine: engine_kind::Engine::default(),
            network: Network::default(),
            clocks: BTreeMap::new(),
            workload: Workload::default(),
            faults: vec![],
            nemesis: None,
            storage: StorageFaults::default(),
            config: serde_json::Value::Object(Default::default()),
            checks: Checks::default(),
        }
    }

    /// The same scenario with these storage faults (`[storage]`).
    pub fn storage(mut self, storage: StorageFaults) -> Self {
        self.storage = storage;
        self
    }

    /// Damages `node`'s record `key` (or a random one) at `at`.
    pub fn corrupt_at(self, at: Duration, node: &str, key: Option<&str>) -> Self {
        self.fault(
            at,
            FaultAction::Corrupt {
                node: node.to_owned(),
                key: key.map(str::to_owned),
            },
        )
    }

    /// Fills `node`'s disk at `at`, freeing it after `free_after` (if given).
    pub fn disk_full_at(self, at: Duration, node: &str, free_after: Option<Duration>) -> Self {
        self.fault(
            at,
            FaultAction::DiskFull {
                node: node.to_owned(),
                free_after,
            },
        )
    }

    /// The node names: `n0` .. `n{nodes-1}`.
    pub fn node_names(&self) -> Vec<String> {
        (0..self.nodes).map(|i| format!("n{i}")).collect()
    }

    /// The client names: `c0` ..
    pub fn client_names(&self) -> Vec<String> {
        (0..self.workload.clients)
            .map(|i| format!("c{i}"))
            .collect()
    }

    /// Sets the node count.
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// Sets the engine.
    pub fn engine(mut self, engine: engine_kind::Engine) -> Self {
        self.engine = engine;
        self
    }

    /// Sets the variant.
    pub fn variant(mut self, v: &str) -> Self {
        self.variant = Some(v.to_owned());
        self
    }

    /// Sets how long the simulation runs.
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration = d;
        self
    }

    /// Sets the default sweep.
    pub fn seeds(mut self, seeds: Range<u64>) -> Self {
        self.seeds = seeds;
        self
    }

    /// Sets uniform one-way latency over `range`.
    pub fn latency(mut self, range: Range<Duration>) -> Self {
        self.network.latency = Latency::uniform(range);
        self
    }

    /// Sets one-way latency with a distribution.
    pub fn latency_distribution(mut self, range: Range<Duration>, d: Distribution) -> Self {
        self.network.latency = Latency {
            distribution: d,
            ..Latency::uniform(range)
        };
        self
    }

    /// Sets the probability that a message is lost.
    pub fn loss(mut self, p: f64) -> Self {
        self.network.loss = p;
        self
    }

    /// Sets the probability that a message is delivered twice.
    pub fn duplicate(mut self, p: f64) -> Self {
        self.network.duplicate = p;
        self
    }

    /// Sets the conditions of the links from every node of `from` to every node of `to` (one
    /// direction; add the reverse rule for both).
    pub fn link(mut self, from: &[&str], to: &[&str], conditions: Conditions) -> Self {
        self.network.links.push(LinkRule {
            from: owned(from),
            to: owned(to),
            conditions,
        });
        self
    }

    /// Gives `node` a clock `skew` (may be negative) and `drift` from the start.
    pub fn clock(mut self, node: &str, skew_us: i64, drift: f64) -> Self {
        self.clocks
            .insert(node.to_owned(), Clock { skew_us, drift });
        self
    }

    /// Sets the workload's clients and total rate (operations per second).
    pub fn workload(mut self, clients: usize, rate: f64) -> Self {
        self.workload.clients = clients;
        self.workload.rate = rate;
        self
    }

    /// Sets how long clients wait for a reply before recording an operation as indeterminate.
    pub fn client_timeout(mut self, timeout: Duration) -> Self {
        self.workload.timeout = timeout;
        self
    }

    /// The scenario with its nemesis in swarm mode (`--swarm`): a scenario without a nemesis
    /// gets a swarm over every kind with a chance every tenth of the run.
    pub fn swarmed(mut self) -> Self {
        let every = (self.duration / 10).max(MIN_NEMESIS_EVERY);
        let n = self
            .nemesis
            .get_or_insert_with(|| Nemesis::new(&NemesisKind::ALL, every));
        n.swarm = true;
        self
    }

    /// Adds a liveness phase of `d` at the end of the run (see [`Checks::liveness`]).
    pub fn liveness(mut self, d: Duration) -> Self {
        self.checks.liveness = Some(d);
        self
    }

    /// When the liveness phase starts (every fault undone), if the scenario has one:
    /// `[checks] liveness` before the end of the run.
    pub fn liveness_from(&self) -> Option<Duration> {
        let d = self.checks.liveness?;
        Some(self.duration.saturating_sub(d))
    }

    /// When the nemesis stops injecting: its `stop`, else 80% of the run, or the start of the
    /// liveness phase if that is earlier.
    pub fn nemesis_stop(&self) -> Option<Duration> {
        let n = self.nemesis.as_ref()?;
        Some(n.stop.unwrap_or_else(|| {
            let default = self.duration.mul_f64(0.8);
            self.liveness_from().map_or(default, |l| default.min(l))
        }))
    }

    /// Requires every acknowledged value to reach every node within `d` of the last fault.
    pub fn converge_within(mut self, d: Duration) -> Self {
        self.checks.converge_within = Some(d);
        self
    }

    /// Turns the nodes' buggify sites on ([`Checks::buggify`]).
    pub fn buggify(mut self, on: bool) -> Self {
        self.checks.buggify = on;
        self
    }

    /// Sets the system's `[config]`.
    pub fn config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }

    /// Adds a nemesis.
    pub fn nemesis(mut self, nemesis: Nemesis) -> Self {
        self.nemesis = Some(nemesis);
        self
    }

    /// Adds a fault.
    pub fn fault(mut self, at: Duration, action: FaultAction) -> Self {
        self.faults.push(Fault { at, action });
        self.faults.sort_by_key(|f| f.at);
        self
    }

    /// Partitions the nodes into `groups` at `at`.
    pub fn partition_at<G: AsRef<[&'static str]>>(self, at: Duration, groups: &[G]) -> Self {
        let groups = groups.iter().map(|g| owned(g.as_ref())).collect();
        self.fault(at, FaultAction::Partition(groups))
    }

    /// Cuts links from `from` to `to` (one way) at `at`.
    pub fn partition_oneway_at(self, at: Duration, from: &[&str], to: &[&str]) -> Self {
        self.fault(
            at,
            FaultAction::PartitionOneway {
                from: owned(from),
                to: owned(to),
            },
        )
    }

    /// Heals every link at `at`.
    pub fn heal_at(self, at: Duration) -> Self {
        self.fault(at, FaultAction::Heal(Heal::All))
    }

    /// Heals the link between `a` and `b` at `at`.
    pub fn heal_link_at(self, at: Duration, a: &str, b: &str) -> Self {
        self.fault(
            at,
            FaultAction::Heal(Heal::Link(a.to_owned(), b.to_owned())),
        )
    }

    /// Crashes `node` at `at`, restarting it `restart_after` later if given.
    pub fn crash_at(self, at: Duration, node: &str, restart_after: Option<Duration>) -> Self {
        self.fault(
            at,
            FaultAction::Crash {
                node: node.to_owned(),
                restart_after,
            },
        )
    }

    /// Restarts `node` at `at`.
    pub fn restart_at(self, at: Duration, node: &str) -> Self {
        self.fault(at, FaultAction::Restart(node.to_owned()))
    }

    /// Pauses `node` at `at`, resuming it `resume_after` later if given.
    pub fn pause_at(self, at: Duration, node: &str, resume_after: Option<Duration>) -> Self {
        self.fault(
            at,
            FaultAction::Pause {
                node: node.to_owned(),
                resume_after,
            },
        )
    }

    /// Resumes `node` at `at`.
    pub fn resume_at(self, at: Duration, node: &str) -> Self {
        self.fault(at, FaultAction::Resume(node.to_owned()))
    }

    /// Changes every link's conditions at `at`.
    pub fn network_at(self, at: Duration, conditions: Conditions) -> Self {
        self.fault(
            at,
            FaultAction::Network {
                link: None,
                conditions,
            },
        )
    }

    /// Steps `node`'s clock by `skew_us` and sets its drift at `at`.
    pub fn skew_at(self, at: Duration, node: &str, skew_us: i64, drift: f64) -> Self {
        self.fault(
            at,
            FaultAction::Skew {
                node: node.to_owned(),
                clock: Clock { skew_us, drift },
            },
        )
    }
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|n| (*n).to_owned()).collect()
}
