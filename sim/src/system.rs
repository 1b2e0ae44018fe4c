//! Systems under test: what a scenario's `system = "..."` names.
//!
//! A [`System`] says how to start its nodes (per variant, from the scenario's `[config]`), how
//! its clients behave, and which checkers judge a run. highstorm's own systems are defined with
//! exactly this API. A binary or a test builds a [`Registry`] of the systems it knows once,
//! resolves the system a scenario names in it, and passes `&System` to whatever runs it:
//!
//! ```
//! use highstorm::prelude::*;
//! # struct Mute;
//! # impl Node for Mute {
//! #     type Msg = serde_json::Value;
//! #     type Timer = NoTimer;
//! #     fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<serde_json::Value>) {}
//! # }
//!
//! let registry = Registry::new().with(
//!     System::new("mute", |_variant, _config| Ok(Mute))
//!         .check(highstorm::check::requests_answered_unless_faulted),
//! );
//! let scenario = Scenario::new("mute-once", "mute");
//! assert!(registry.resolve(&scenario).is_ok());
//! assert!(registry.get("loud").is_err());
//! ```

use crate::check::{self, HistoryOp, OpRef, Operation, Verdict};
use crate::http_api::HttpFn;
use crate::metrics::Metrics;
use crate::scenario::{invalid, Api, Invalid, Scenario, ScenarioError};
use crate::trace::Trace;
use crate::workload::{self, Client, Operations};
use highstorm_nodes::{read_checked_config, BlobsFn, SpawnError, SystemConfig, WorkFn};
use highstorm_nodes::{LocalTime, Node, NodeProcess, Process, ProcessSetup};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Starts one node incarnation: `(variant, config, setup)`.
pub type SpawnFn =
    Arc<dyn Fn(&str, &Value, ProcessSetup) -> Result<Box<dyn Process>, SpawnError> + Send + Sync>;

/// Starts one client.
pub type ClientFn = Arc<dyn Fn(ClientSetup<'_>) -> Box<dyn Process> + Send + Sync>;

/// A property of one run: a plain function of the scenario, the trace and the client history,
/// returning a verdict with its reason.
pub type CheckFn = Arc<dyn Fn(&Scenario, &Trace, &[Operation]) -> Verdict + Send + Sync>;

/// A property of one run over the client history borrowed from the trace (see
/// [`System::check_refs`]): what [`CheckFn`] is, without the history copied out.
pub type CheckRefsFn = Arc<dyn Fn(&Scenario, &Trace, &[OpRef<'_>]) -> Verdict + Send + Sync>;

/// What a system promises once every fault is undone (see [`System::liveness`]).
pub type LivenessFn = Arc<check::liveness::Promise>;

/// [`LivenessFn`] over the client history borrowed from the trace (see
/// [`System::liveness_refs`]).
pub type LivenessRefsFn = Arc<check::liveness::PromiseRefs>;

/// A checker, over the history in either form.
#[derive(Clone)]
enum Checker {
    Owned(CheckFn),
    Refs(CheckRefsFn),
}

/// A liveness promise, over the history in either form.
#[derive(Clone)]
enum Liveness {
    Owned(LivenessFn),
    Refs(LivenessRefsFn),
}

/// A run's client history as the checkers take it: borrowed from the trace, and copied out
/// (once) only when a checker that takes owned [`Operation`]s asks for it.
struct History<'a, 't> {
    refs: &'a [OpRef<'t>],
    owned: Option<&'a [Operation]>,
    copied: std::cell::OnceCell<Vec<Operation>>,
}

impl<'a, 't> History<'a, 't> {
    fn borrowed(refs: &'a [OpRef<'t>]) -> Self {
        History {
            refs,
            owned: None,
            copied: std::cell::OnceCell::new(),
        }
    }

    fn owned(&self) -> &[Operation] {
        match self.owned {
            Some(ops) => ops,
            None => self
                .copied
                .get_or_init(|| self.refs.iter().map(OpRef::to_operation).collect()),
        }
    }
}

/// The fewest nodes a scenario of the system can run on and still test anything (see
/// [`System::min_nodes`]).
pub type MinNodesFn = Arc<dyn Fn(&Scenario) -> usize + Send + Sync>;

/// Checks what a scenario's `[config]` says for a system (see [`System::config_type`]).
pub type ConfigCheckFn = Arc<dyn Fn(&Scenario) -> Result<(), Invalid> + Send + Sync>;

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
    checkers: Vec<Checker>,
    work: Option<WorkFn>,
    blobs: Option<BlobsFn>,
    http: Option<HttpFn>,
    http_client: Option<workload::http::HttpWorkloadFn>,
    min_nodes: Option<MinNodesFn>,
    spreads: Option<&'static str>,
    replayed_by: Option<String>,
    config_check: Option<ConfigCheckFn>,
    liveness: Option<Liveness>,
    sometimes: Vec<&'static str>,
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
            spreads: None,
            replayed_by: None,
            config_check: None,
            liveness: None,
            sometimes: vec![],
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
        self.checkers.push(Checker::Owned(Arc::new(checker)));
        self
    }

    /// Adds a checker that reads the client history where the trace holds it
    /// ([`OpRef`]s: the same fields as [`Operation`], borrowed). A run's history is copied
    /// out of its trace only if some checker takes owned operations, and for big reads that
    /// copy costs as much as the checks: a system whose checkers all take `OpRef`s is judged
    /// without it. Checkers written over any [`HistoryOp`] serve both
    /// (`|s, t, ops| check::requests_answered_unless_faulted(s, t, ops)`).
    pub fn check_refs<F>(mut self, checker: F) -> Self
    where
        F: Fn(&Scenario, &Trace, &[OpRef<'_>]) -> Verdict + Send + Sync + 'static,
    {
        self.checkers.push(Checker::Refs(Arc::new(checker)));
        self
    }

    /// What the system promises once every fault is undone, for scenarios with a liveness
    /// phase (`[checks] liveness = "5s"`): `promise` returns `Ok` with what held, or `Err`
    /// with what was still missing when the bound ran out (a value some node lacks, a job
    /// not done, no leader). It is judged as the `live-after-heal` check; see
    /// [`check::liveness`] for the phase and a promise any request/response system can make.
    pub fn liveness<F>(mut self, promise: F) -> Self
    where
        F: Fn(&Scenario, &Trace, &[Operation], check::Recovery) -> Result<String, String>
            + Send
            + Sync
            + 'static,
    {
        self.liveness = Some(Liveness::Owned(Arc::new(promise)));
        self
    }

    /// [`liveness`](System::liveness) over the client history borrowed from the trace (see
    /// [`check_refs`](System::check_refs)).
    pub fn liveness_refs<F>(mut self, promise: F) -> Self
    where
        F: Fn(&Scenario, &Trace, &[OpRef<'_>], check::Recovery) -> Result<String, String>
            + Send
            + Sync
            + 'static,
    {
        self.liveness = Some(Liveness::Refs(Arc::new(promise)));
        self
    }

    /// Whether it declares what holds once healed ([`liveness`](System::liveness)).
    pub fn has_liveness(&self) -> bool {
        self.liveness.is_some()
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

    /// Its `[config]` is a `T`: a scenario whose `[config]` does not read as `T`, fails
    /// [`SystemConfig::check`] or names a node the scenario does not have
    /// ([`SystemConfig::nodes`]) is invalid, an error at the `[config]` key at fault (checked
    /// with the rest of the scenario: [`System::validate`]). Without it, `[config]` is only
    /// read when a node starts.
    pub fn config_type<T: SystemConfig + 'static>(mut self) -> Self {
        self.config_check = Some(Arc::new(check_config::<T>));
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

    /// Values written by client operations `f` must spread to every node, and nodes note
    /// `learn` with the values they come to hold (see [`check::spread`]): the run measures
    /// how long each took ([`Metrics::stable_latency_ms`](crate::metrics::Metrics)), and a
    /// `[checks] stable_latency` target can judge it.
    pub fn spreads(mut self, f: &'static str) -> Self {
        self.spreads = Some(f);
        self
    }

    /// The binary built with [`crate::cli`] that knows this system: failures print
    /// `BIN replay FILE --seed S --engine E` beside the `cargo test` line. A [`Registry`] sets
    /// it for every system it holds ([`Registry::replayed_by`]).
    pub fn replayed_by(mut self, bin: &str) -> Self {
        self.replayed_by = Some(bin.to_owned());
        self
    }

    /// The sometimes-points its nodes mark ([`Context::sometimes`], [`Context::reachable`]):
    /// a sweep reports each, and names those no run hit — including points no run reached,
    /// which it could not know of otherwise.
    ///
    /// [`Context::sometimes`]: highstorm_nodes::Context::sometimes
    /// [`Context::reachable`]: highstorm_nodes::Context::reachable
    pub fn sometimes(mut self, points: &[&'static str]) -> Self {
        self.sometimes.extend_from_slice(points);
        self
    }

    /// The sometimes-points it declared (see [`sometimes`](System::sometimes)).
    pub fn sometimes_points(&self) -> &[&'static str] {
        &self.sometimes
    }

    /// The binary that replays its scenario files, if one was named.
    pub fn replay_binary(&self) -> Option<&str> {
        self.replayed_by.as_deref()
    }

    /// The operation whose values spread to every node, if any (see
    /// [`spreads`](System::spreads)).
    pub fn spread_op(&self) -> Option<&'static str> {
        self.spreads
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
    pub(crate) fn spawn_client(
        &self,
        scenario: &Scenario,
        setup: ProcessSetup,
    ) -> Box<dyn Process> {
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

    /// Runs every checker over a run's trace (reading the client history from it).
    pub fn check_trace(&self, scenario: &Scenario, trace: &Trace) -> Vec<Verdict> {
        let refs = check::history_refs(trace);
        let history = History::borrowed(&refs);
        let mut verdicts = self.system_verdicts(scenario, trace, &history);
        let targets = check::targets::targets_met(scenario, trace, &refs, self.spreads, &verdicts);
        verdicts.extend(targets);
        verdicts
    }

    /// Runs every checker over a run, then checks the targets the scenario sets in
    /// `[checks]` (latency, stable latency, messages per operation) whatever the system.
    pub fn check_run(&self, scenario: &Scenario, trace: &Trace, ops: &[Operation]) -> Vec<Verdict> {
        let refs: Vec<OpRef<'_>> = ops.iter().map(HistoryOp::view).collect();
        let history = History {
            owned: Some(ops),
            ..History::borrowed(&refs)
        };
        let mut verdicts = self.system_verdicts(scenario, trace, &history);
        let targets = check::targets::targets_met(scenario, trace, &refs, self.spreads, &verdicts);
        verdicts.extend(targets);
        verdicts
    }

    /// The system's own verdicts on a run: its checkers, then its liveness promise when the
    /// scenario has a liveness phase (what [`check_run`](System::check_run) and
    /// [`judge`](System::judge) share, before the scenario's targets).
    fn system_verdicts(
        &self,
        scenario: &Scenario,
        trace: &Trace,
        history: &History<'_, '_>,
    ) -> Vec<Verdict> {
        let mut verdicts: Vec<Verdict> = self
            .checkers
            .iter()
            .map(|c| match c {
                Checker::Owned(c) => c(scenario, trace, history.owned()),
                Checker::Refs(c) => c(scenario, trace, history.refs),
            })
            .collect();
        if let Some(promise) = &self.liveness {
            verdicts.extend(check::liveness::judge_with(
                scenario,
                trace,
                |phase| match promise {
                    Liveness::Owned(p) => p(scenario, trace, history.owned(), phase),
                    Liveness::Refs(p) => p(scenario, trace, history.refs, phase),
                },
            ));
        }
        verdicts
    }

    /// [`check_run`](System::check_run) and the run's [`Metrics`] together: the metrics are
    /// measured once and the scenario's targets judged from them (what a runner that reports
    /// both needs; the same verdicts and metrics as the two apart).
    pub fn judge(
        &self,
        scenario: &Scenario,
        trace: &Trace,
        ops: &[Operation],
    ) -> (Vec<Verdict>, Metrics) {
        let refs: Vec<OpRef<'_>> = ops.iter().map(HistoryOp::view).collect();
        let history = History {
            owned: Some(ops),
            ..History::borrowed(&refs)
        };
        self.judge_history(scenario, trace, &history)
    }

    /// [`judge`](System::judge) reading the client history from the trace itself: borrowed,
    /// and copied out only if one of the system's checkers takes owned operations (what a
    /// runner calls after each run).
    pub fn judge_trace(&self, scenario: &Scenario, trace: &Trace) -> (Vec<Verdict>, Metrics) {
        let refs = check::history_refs(trace);
        self.judge_history(scenario, trace, &History::borrowed(&refs))
    }

    fn judge_history(
        &self,
        scenario: &Scenario,
        trace: &Trace,
        history: &History<'_, '_>,
    ) -> (Vec<Verdict>, Metrics) {
        let mut verdicts = self.system_verdicts(scenario, trace, history);
        let ops = history.refs;
        let metrics = crate::metrics::measure_history(scenario, trace, ops, self.spreads);
        let targets =
            check::targets::targets_met_measured(scenario, trace, ops, &metrics, &verdicts);
        verdicts.extend(targets);
        (verdicts, metrics)
    }

    /// Its outside-work runner.
    pub(crate) fn work_fn(&self) -> Option<WorkFn> {
        self.work
    }

    /// Its initial blobs.
    pub(crate) fn blobs_fn(&self) -> Option<BlobsFn> {
        self.blobs
    }

    /// Checks what in `scenario` depends on this system: the variant it names, its `[config]`
    /// (when the system declares its [`config_type`](System::config_type)), and that the
    /// system has an HTTP API when the scenario's clients use one.
    pub fn validate(&self, scenario: &Scenario) -> Result<(), Invalid> {
        if let Some(v) = &scenario.variant {
            if !self.variants.contains(v) {
                return Err(invalid(
                    "variant",
                    format!(
                        "system `{}` has no variant `{v}` (known: {})",
                        self.name,
                        self.variants.join(", ")
                    ),
                ));
            }
        }
        if let Some(check) = &self.config_check {
            check(scenario)?;
        }
        if scenario.checks.liveness.is_some() && self.liveness.is_none() {
            return Err(invalid(
                "checks.liveness",
                format!(
                    "system `{}` declares nothing that must hold once healed (System::liveness)",
                    self.name
                ),
            ));
        }
        if scenario.workload.api == Api::Http && self.http_api().is_none() {
            return Err(invalid(
                "workload.api",
                format!("system `{}` has no HTTP API", self.name),
            ));
        }
        Ok(())
    }

    /// Its HTTP API and HTTP client, if it has them.
    pub(crate) fn http_api(&self) -> Option<(HttpFn, workload::http::HttpWorkloadFn)> {
        self.http.zip(self.http_client)
    }
}

#[doc(inline)]
pub use highstorm_nodes::config;

/// Reads `scenario`'s `[config]` as a `T`, checks it, and checks that the nodes it names are
/// the scenario's; a problem is [`Invalid`] at `config.KEY`.
fn check_config<T: SystemConfig>(scenario: &Scenario) -> Result<(), Invalid> {
    let at = |key: &str| {
        if key.is_empty() {
            "config".to_owned()
        } else {
            format!("config.{key}")
        }
    };
    let cfg: T =
        read_checked_config(&scenario.config).map_err(|p| invalid(at(&p.key), p.message))?;
    let names = scenario.node_names();
    for (key, node) in cfg.nodes() {
        if !names.contains(&node) {
            return Err(invalid(
                at(&key),
                format!(
                    "unknown node {node:?} (nodes are n0..n{})",
                    scenario.nodes.saturating_sub(1)
                ),
            ));
        }
    }
    Ok(())
}

/// The systems a binary or a test knows, by name: built once, then asked for the system a
/// scenario names ([`Registry::resolve`]), which is passed down as `&System`.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    systems: BTreeMap<String, System>,
    replayed_by: Option<String>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The registry with `system` added (replacing one of the same name).
    pub fn with(mut self, system: System) -> Self {
        self.add(system);
        self
    }

    /// Adds `system` (replacing one of the same name).
    pub fn add(&mut self, mut system: System) {
        if let Some(bin) = &self.replayed_by {
            system.replayed_by.get_or_insert_with(|| bin.clone());
        }
        self.systems.insert(system.name.clone(), system);
    }

    /// Names `bin` as the binary that replays the scenario files of every system it holds,
    /// and of those added later, unless a system names its own ([`System::replayed_by`]).
    pub fn replayed_by(mut self, bin: &str) -> Self {
        for system in self.systems.values_mut() {
            system.replayed_by.get_or_insert_with(|| bin.to_owned());
        }
        self.replayed_by = Some(bin.to_owned());
        self
    }

    /// The system called `name`.
    pub fn get(&self, name: &str) -> Result<&System, SpawnError> {
        self.systems
            .get(name)
            .ok_or_else(|| SpawnError::UnknownSystem {
                name: name.to_owned(),
                known: self.names().join(", "),
            })
    }

    /// The system `scenario` names, checked against it ([`System::validate`]).
    pub fn resolve(&self, scenario: &Scenario) -> Result<&System, ScenarioError> {
        let system = self
            .get(&scenario.system)
            .map_err(|e| scenario.error(&invalid("system", e.to_string())))?;
        system.validate(scenario).map_err(|e| scenario.error(&e))?;
        Ok(system)
    }

    /// The names of its systems, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.systems.keys().map(String::as_str).collect()
    }

    /// Its systems, by name.
    pub fn iter(&self) -> impl Iterator<Item = &System> {
        self.systems.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::liveness::LIVE_AFTER_HEAL;
    use std::time::Duration;

    #[test]
    fn judge_gives_the_liveness_verdict_that_check_run_gives() {
        let system = crate::testing::fixture::ids()
            .liveness(|_, _, _, _| Err("no request answered after the heal".to_owned()));
        let scenario = Scenario::new("t", "ids").liveness(Duration::from_secs(1));
        let trace = Trace::new();
        let (judged, _) = system.judge(&scenario, &trace, &[]);
        let checked = system.check_run(&scenario, &trace, &[]);
        let live = |vs: &[Verdict]| {
            vs.iter()
                .find(|v| v.name == LIVE_AFTER_HEAL)
                .map(|v| (v.ok, v.detail.clone()))
        };
        let judged_live = live(&judged).expect("judge names live-after-heal");
        assert!(!judged_live.0);
        assert!(
            judged_live.1.contains("no request answered"),
            "{judged_live:?}"
        );
        assert_eq!(Some(judged_live), live(&checked));
        // Without a liveness phase neither judges it.
        let calm = Scenario::new("t", "ids");
        assert_eq!(live(&system.judge(&calm, &trace, &[]).0), None);
    }

    /// A system judged over borrowed operations gives what the same checks over owned ones
    /// give, whether the history comes from the trace (`judge_trace`) or from the caller
    /// (`judge`), and its checkers see the history `history` reads.
    #[test]
    fn checkers_over_borrowed_operations_judge_as_owned_ones_do() {
        use crate::engine::Engine;
        use std::sync::Mutex;
        let seen: Arc<Mutex<Vec<Operation>>> = Arc::default();
        let kept = Arc::clone(&seen);
        let count = |name: &'static str| {
            move |_: &Scenario, _: &Trace, ops: &[OpRef<'_>]| {
                let ok = ops.iter().filter(|o| o.ok_value().is_some()).count();
                Verdict::pass(name, format!("{ok} of {} ok", ops.len()))
            }
        };
        let owned_count = |name: &'static str| {
            move |s: &Scenario, t: &Trace, ops: &[Operation]| {
                let refs: Vec<OpRef<'_>> = ops.iter().map(HistoryOp::view).collect();
                count(name)(s, t, &refs)
            }
        };
        let borrowed = crate::testing::fixture::ids()
            .check_refs(count("counted"))
            .check_refs(move |_, _, ops| {
                *kept.lock().unwrap() = ops.iter().map(OpRef::to_operation).collect();
                Verdict::pass("kept", "")
            })
            .check_refs(|s, t, ops| check::requests_answered_unless_faulted(s, t, ops))
            .liveness_refs(|s, t, ops, phase| check::liveness::requests_answered(s, t, ops, phase));
        let owned = crate::testing::fixture::ids()
            .check(owned_count("counted"))
            .check(|_, _, _| Verdict::pass("kept", ""))
            .check(check::requests_answered_unless_faulted)
            .liveness(check::liveness::requests_answered);
        for engine in [Engine::Events, Engine::Turmoil] {
            let scenario = Scenario::new("t", "ids")
                .engine(engine)
                .duration(Duration::from_secs(3))
                .liveness(Duration::from_secs(1));
            let out = crate::engine::run(&borrowed, &scenario, 5).expect("runs");
            let history = check::history(&out.trace);
            assert!(history.len() > 10, "{} operations", history.len());
            let by_trace = borrowed.judge_trace(&scenario, &out.trace);
            assert_eq!(*seen.lock().unwrap(), history, "a checker sees the history");
            let by_history = borrowed.judge(&scenario, &out.trace, &history);
            let by_owned = owned.judge_trace(&scenario, &out.trace);
            assert_eq!(by_trace, by_history);
            assert_eq!(by_trace, by_owned);
            assert_eq!(
                borrowed.check_trace(&scenario, &out.trace),
                owned.check_run(&scenario, &out.trace, &history)
            );
            let names: Vec<&str> = by_trace.0.iter().map(|v| v.name.as_str()).collect();
            for name in ["counted", "kept", LIVE_AFTER_HEAL] {
                assert!(names.contains(&name), "{name} in {names:?}");
            }
            let counted = by_trace.0.iter().find(|v| v.name == "counted").unwrap();
            assert!(counted
                .detail
                .ends_with(&format!("of {} ok", history.len())));
        }
    }
}
