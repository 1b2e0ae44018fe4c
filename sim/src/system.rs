//! Systems under test: what a scenario's `system = "..."` names.
//!
//! A [`System`] says how to start its nodes (per variant, from the scenario's `[config]`), how
//! its clients behave, and which checkers judge a run. highstorm's own systems are defined here
//! with exactly this API; a user defines theirs the same way and [`register`]s it, after which
//! scenarios (in Rust or TOML) name it like any shipped system:
//!
//! ```
//! use highstorm::system::{self, System};
//! use highstorm::nodes::systems::echo::Echo;
//! use highstorm::workload::EchoOps;
//!
//! system::register(
//!     System::new("my-echo", |_variant, _config| Ok(Echo))
//!         .client(|c| c.steady(EchoOps))
//!         .check(highstorm::check::echo_replies_match),
//! );
//! assert!(system::lookup("my-echo").is_ok());
//! ```

use crate::check::{self, Operation, Verdict};
use crate::scenario::Scenario;
use crate::trace::Trace;
use crate::workload::{self, Client, Operations};
use highstorm_nodes::http::HttpFn;
use highstorm_nodes::systems::{BlobsFn, SpawnError, WorkFn};
use highstorm_nodes::{LocalTime, Node, NodeProcess, Process, ProcessSetup};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Starts one node incarnation: `(variant, config, setup)`.
pub type SpawnFn =
    Arc<dyn Fn(&str, &Value, ProcessSetup) -> Result<Box<dyn Process>, SpawnError> + Send + Sync>;

/// Starts one client.
pub type ClientFn = Arc<dyn Fn(ClientSetup<'_>) -> Box<dyn Process> + Send + Sync>;

/// A property of one run: a plain function of the scenario, the trace and the client history,
/// returning a verdict with its reason.
pub type CheckFn = Arc<dyn Fn(&Scenario, &Trace, &[Operation]) -> Verdict + Send + Sync>;

/// The fewest nodes a scenario of the system can run on and still test anything (see
/// [`System::min_nodes`]).
pub type MinNodesFn = Arc<dyn Fn(&Scenario) -> usize + Send + Sync>;

/// What a client is started with.
pub struct ClientSetup<'a> {
    /// The scenario being run.
    pub scenario: &'a Scenario,
    /// The client's number (`c3` is 3).
    pub index: u64,
    /// Its id, peers (the nodes), seed and boot count.
    pub setup: ProcessSetup,
}

impl ClientSetup<'_> {
    /// How long the client waits for a reply (`[workload] timeout`).
    pub fn timeout(&self) -> std::time::Duration {
        self.scenario.workload.timeout
    }

    /// A client running `node` (any [`Node`]: it records its history with
    /// [`Context::record_op`](highstorm_nodes::Context::record_op)).
    pub fn node<N: Node + 'static>(self, node: N) -> Box<dyn Process> {
        Box::new(NodeProcess::new(node, self.setup))
    }

    /// The standard client: invokes `ops` at the scenario's rate (shared by all clients) on
    /// random nodes, one RPC each, until it is time for the system to settle; then sends the
    /// final operation (if `ops` has one) to every node. Final operations go out two timeouts
    /// before the end, so they complete within the run; regular operations stop
    /// `max(timeout, converge_within)` before that, so the final reads see a settled system.
    pub fn steady<O: Operations>(self, ops: O) -> Box<dyn Process> {
        let s = self.schedule();
        let seed = workload::ops_seed(self.setup.seed, &self.setup.id, self.setup.boot);
        let rng = <workload::OpsRng as highstorm_nodes::rand::SeedableRng>::seed_from_u64(seed);
        let client = Client::new(ops, rng, s.rate, self.timeout(), s.stop_at, s.final_at);
        Box::new(NodeProcess::new(client, self.setup))
    }

    /// When this client works, as [`steady`](ClientSetup::steady) does it: its share of the
    /// scenario's rate, when regular operations stop, when final operations go out.
    pub fn schedule(&self) -> Schedule {
        Schedule::of(self.scenario)
    }
}

impl Schedule {
    /// The schedule of every client of `scenario`.
    pub fn of(s: &Scenario) -> Schedule {
        let w = &s.workload;
        let final_at = LocalTime::from_duration(s.duration.saturating_sub(w.timeout * 2));
        let quiet = s.checks.converge_within.unwrap_or_default().max(w.timeout);
        Schedule {
            rate: w.rate / w.clients.max(1) as f64,
            stop_at: final_at - quiet,
            final_at,
        }
    }
}

/// A client's schedule (see [`ClientSetup::schedule`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// Operations per second, this client's share.
    pub rate: f64,
    /// When regular operations stop (local time).
    pub stop_at: LocalTime,
    /// When final operations go out.
    pub final_at: LocalTime,
}

/// A system under test.
#[derive(Clone)]
pub struct System {
    name: String,
    variants: Vec<String>,
    spawn: SpawnFn,
    client: Option<ClientFn>,
    checkers: Vec<CheckFn>,
    work: Option<WorkFn>,
    blobs: Option<BlobsFn>,
    http: Option<HttpFn>,
    http_client: Option<workload::http::HttpWorkloadFn>,
    min_nodes: Option<MinNodesFn>,
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System")
            .field("name", &self.name)
            .field("variants", &self.variants)
            .field("checkers", &self.checkers.len())
            .finish_non_exhaustive()
    }
}

impl System {
    /// A system called `name` whose every node runs the [`Node`] that `node` builds from the
    /// variant's name (`"default"` unless the scenario names another) and the scenario's
    /// `[config]` table (as JSON; read it with [`config`]). Its only variant is `default`
    /// until [`variants`](System::variants) says otherwise; it has no client (add one with
    /// [`client`](System::client)) and no checker (add them with [`check`](System::check)).
    pub fn new<N, F>(name: &str, node: F) -> Self
    where
        N: Node + 'static,
        F: Fn(&str, &Value) -> Result<N, SpawnError> + Send + Sync + 'static,
    {
        Self::with_spawn(name, move |variant, config, setup| {
            Ok(Box::new(NodeProcess::new(node(variant, config)?, setup)) as Box<dyn Process>)
        })
    }

    /// A system whose nodes are any [`Process`] `spawn` builds (for systems with different node
    /// types per variant or per node, or processes that are not a [`Node`]).
    pub fn with_spawn<F>(name: &str, spawn: F) -> Self
    where
        F: Fn(&str, &Value, ProcessSetup) -> Result<Box<dyn Process>, SpawnError>
            + Send
            + Sync
            + 'static,
    {
        System {
            name: name.to_owned(),
            variants: vec!["default".to_owned()],
            spawn: Arc::new(spawn),
            client: None,
            checkers: vec![],
            work: None,
            blobs: None,
            http: None,
            http_client: None,
            min_nodes: None,
        }
    }

    /// The system's variants; the first is the default. Planted bugs are variants.
    pub fn variants(mut self, variants: &[&str]) -> Self {
        self.variants = variants.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// How each client is started.
    pub fn client<F>(mut self, client: F) -> Self
    where
        F: Fn(ClientSetup<'_>) -> Box<dyn Process> + Send + Sync + 'static,
    {
        self.client = Some(Arc::new(client));
        self
    }

    /// Adds a checker.
    pub fn check<F>(mut self, checker: F) -> Self
    where
        F: Fn(&Scenario, &Trace, &[Operation]) -> Verdict + Send + Sync + 'static,
    {
        self.checkers.push(Arc::new(checker));
        self
    }

    /// Runs the outside work its nodes ask for ([`Context::spawn_work`]) against the simulated
    /// blob store.
    ///
    /// [`Context::spawn_work`]: highstorm_nodes::Context::spawn_work
    pub fn work(mut self, work: WorkFn) -> Self {
        self.work = Some(work);
        self
    }

    /// The blobs the simulated blob store starts with, from `[config]`.
    pub fn blobs(mut self, blobs: BlobsFn) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// Its HTTP API (served by the nodes it returns a router for) and the client that drives
    /// it, for scenarios with `[workload] api = "http"` (turmoil engine).
    pub fn http(mut self, api: HttpFn, client: workload::http::HttpWorkloadFn) -> Self {
        self.http = Some(api);
        self.http_client = Some(client);
        self
    }

    /// The fewest nodes a scenario of it needs (default 1): a leader and a worker, say, or a
    /// quorum that survives a fault. The shrinker never goes below it, nor below the nodes
    /// the scenario's `[config]` names.
    pub fn min_nodes<F>(mut self, min: F) -> Self
    where
        F: Fn(&Scenario) -> usize + Send + Sync + 'static,
    {
        self.min_nodes = Some(Arc::new(min));
        self
    }

    /// The fewest nodes `scenario` can run on (see [`min_nodes`](System::min_nodes)).
    pub fn min_nodes_for(&self, scenario: &Scenario) -> usize {
        self.min_nodes.as_ref().map_or(1, |f| f(scenario)).max(1)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its variants, the default first.
    pub fn variant_names(&self) -> &[String] {
        &self.variants
    }

    /// Starts one node incarnation of `variant` (the default when `None`).
    pub fn spawn(
        &self,
        variant: Option<&str>,
        config: &Value,
        setup: ProcessSetup,
    ) -> Result<Box<dyn Process>, SpawnError> {
        let variant = variant.unwrap_or(&self.variants[0]);
        if !self.variants.iter().any(|v| v == variant) {
            return Err(SpawnError::UnknownVariant {
                system: self.name.clone(),
                variant: variant.into(),
                known: self.variants.join(", "),
            });
        }
        (self.spawn)(variant, config, setup)
    }

    /// Starts client `setup.id` of `scenario` (a client that does nothing if the system has
    /// no client).
    pub fn spawn_client(&self, scenario: &Scenario, setup: ProcessSetup) -> Box<dyn Process> {
        let index = setup.id.trim_start_matches('c').parse().unwrap_or(0);
        let c = ClientSetup {
            scenario,
            index,
            setup,
        };
        match &self.client {
            Some(client) => client(c),
            None => c.node(workload::Idle),
        }
    }

    /// Runs every checker over a run, then checks the targets the scenario sets in
    /// `[checks]` (latency, stable latency, messages per operation) whatever the system.
    pub fn check_run(&self, scenario: &Scenario, trace: &Trace, ops: &[Operation]) -> Vec<Verdict> {
        let mut verdicts: Vec<Verdict> = self
            .checkers
            .iter()
            .map(|c| c(scenario, trace, ops))
            .collect();
        let targets = check::targets::targets_met(scenario, trace, ops, &verdicts);
        verdicts.extend(targets);
        verdicts
    }

    /// Its outside-work runner.
    pub fn work_fn(&self) -> Option<WorkFn> {
        self.work
    }

    /// Its initial blobs.
    pub fn blobs_fn(&self) -> Option<BlobsFn> {
        self.blobs
    }

    /// Its HTTP API and HTTP client, if it has them.
    pub fn http_api(&self) -> Option<(HttpFn, workload::http::HttpWorkloadFn)> {
        self.http.zip(self.http_client)
    }
}

/// Reads a system's `[config]` table into its config type (the type's `Default` when the
/// table is absent or empty); a mismatch is a clear [`SpawnError::BadConfig`].
pub fn config<T: serde::de::DeserializeOwned + Default>(
    system: &str,
    config: &Value,
) -> Result<T, SpawnError> {
    highstorm_nodes::systems::config(system, config)
}

static REGISTRY: RwLock<BTreeMap<String, Arc<System>>> = RwLock::new(BTreeMap::new());

/// Registers `system` so scenarios can name it; a system registered again under the same
/// name replaces the earlier one (so every test may register what it needs).
pub fn register(system: System) -> Arc<System> {
    let system = Arc::new(system);
    let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    registry.insert(system.name.clone(), system.clone());
    system
}

/// The system a scenario names: a registered one, or one of highstorm's own.
pub fn lookup(name: &str) -> Result<Arc<System>, SpawnError> {
    {
        let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = registry.get(name) {
            return Ok(s.clone());
        }
    }
    match builtin(name) {
        Some(s) => Ok(register(s)),
        None => Err(SpawnError::UnknownSystem(name.to_owned())),
    }
}

/// highstorm's own systems, defined with the same API users have: their nodes from
/// [`highstorm_nodes::systems`], their clients from [`crate::workload`], their checkers from
/// [`crate::check`].
fn builtin(name: &str) -> Option<System> {
    use crate::check::{bridge_four as b4, election as el, work_queue as wq};
    use crate::workload::work_queue::{http_client as work_queue_http, QueueClient};
    use crate::workload::{
        bridge_four, BroadcastOps, EchoOps, ElectionOps, GCounterOps, UniqueIdOps,
    };
    use highstorm_nodes::systems::work_queue;
    let nodes = highstorm_nodes::systems::lookup(name).ok()?;
    let base = System::with_spawn(name, nodes.spawn).variants(nodes.variants);
    let base = match nodes.work {
        Some(w) => base.work(w),
        None => base,
    };
    let base = match nodes.blobs {
        Some(b) => base.blobs(b),
        None => base,
    };
    let answered = check::requests_answered_unless_faulted;
    Some(match name {
        "echo" => base
            .client(|c| c.steady(EchoOps))
            .check(check::echo_replies_match)
            .check(answered),
        "unique-ids" => base
            .client(|c| c.steady(UniqueIdOps))
            .check(check::ids_unique)
            .check(answered),
        "g-counter" => base
            .client(|c| c.steady(GCounterOps))
            // Nodes keep their state in memory: it survives a crash only on another node.
            .min_nodes(|_| 2)
            .check(check::counter_converges)
            .check(answered),
        "broadcast" => base
            .client(|c| {
                let clients = c.scenario.workload.clients.max(1) as u64;
                let index = c.index;
                c.steady(BroadcastOps::new(index, clients))
            })
            // Nodes keep their values in memory: they survive a crash only on another node.
            .min_nodes(|_| 2)
            .check(check::broadcast_converges)
            .check(answered)
            .check(check::msgs_per_op_within_budget),
        "bridge-four" => base
            .client(|c| {
                let cfg = config("bridge-four", &c.scenario.config).unwrap_or_default();
                let (index, timeout) = (c.index, c.timeout());
                c.node(bridge_four::JobClient::new(cfg, index, timeout))
            })
            .http(
                highstorm_nodes::http::bridge_four::api,
                bridge_four::http_client,
            )
            // The leader and one worker.
            .min_nodes(|_| 2)
            .check(b4::jobs_complete)
            .check(b4::results_match_reference)
            .check(b4::statuses_move_forward)
            .check(b4::outputs_counted_once)
            .check(b4::data_after_done),
        "work-queue" => base
            .client(|c| {
                let cfg: work_queue::WorkQueueConfig =
                    config("work-queue", &c.scenario.config).unwrap_or_default();
                let s = c.schedule();
                // Puts stop a timeout earlier still, so even the last one is acknowledged
                // `converge_within` before the final reads.
                let puts_stop_at = s.stop_at - c.timeout();
                let timeout = c.timeout();
                c.node(QueueClient::new(
                    cfg.manager,
                    s.rate,
                    timeout,
                    puts_stop_at,
                    s.final_at,
                ))
            })
            .http(highstorm_nodes::http::work_queue::api, work_queue_http)
            // The manager and one worker.
            .min_nodes(|_| 2)
            .check(wq::jobs_complete)
            .check(wq::results_never_lost)
            .check(wq::completed_once)
            .check(wq::statuses_move_forward)
            .check(wq::completions_fenced),
        "election" => base
            .client(|c| c.steady(ElectionOps))
            // The smallest cluster whose majority survives a fault.
            .min_nodes(|_| 3)
            .check(el::one_leader_per_term)
            .check(el::leaders_never_overlap)
            .check(el::leader_acts_within_lease)
            .check(el::leader_after_heal)
            .check(el::items_complete_once),
        _ => base.check(answered),
    })
}

/// The names of highstorm's own systems and every registered one.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = highstorm_nodes::systems::names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    names.extend(registry.keys().cloned());
    names.sort();
    names.dedup();
    names
}
