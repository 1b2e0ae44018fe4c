//! Scenarios: which system runs, on how many nodes, for how long, under which faults.
//!
//! A scenario comes from a TOML file ([`Scenario::from_toml`]) or from Rust
//! ([`Scenario::new`] and its builder methods, which read like the TOML). Either way the result is
//! validated: bad input is an error naming the file, line, column and key.
//!
//! ```toml
//! name = "unique-ids-faults"
//! system = "unique-ids"
//! nodes = 3
//! duration = "10s"
//! seeds = "0..100"
//! [network]
//! latency = { min = "1ms", max = "20ms" }
//! loss = 0.01
//! [[faults]]
//! at = "2s"
//! partition = [["n0"], ["n1", "n2"]]
//! [[faults]]
//! at = "4s"
//! heal = "all"
//! [[faults]]
//! at = "5s"
//! crash = "n1"
//! restart_after = "1s"
//! ```

use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

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
    /// The network's behaviour between faults.
    pub network: Network,
    /// What the clients do.
    pub workload: Workload,
    /// Scripted faults, in time order.
    pub faults: Vec<Fault>,
    /// System parameters, passed to the nodes.
    pub config: serde_json::Value,
}

/// The network between faults.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// One-way message latency, drawn per message.
    pub latency: Range<Duration>,
    /// Probability that a message is lost.
    pub loss: f64,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency: Duration::from_millis(1)..Duration::from_millis(10),
            loss: 0.0,
        }
    }
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
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            clients: 1,
            rate: 20.0,
            timeout: Duration::from_millis(500),
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
    /// Repair every cut link.
    HealAll,
    /// Crash a node; restart it after the given time, if any.
    Crash {
        /// The node.
        node: String,
        /// When to restart it, relative to the crash.
        restart_after: Option<Duration>,
    },
    /// Restart a crashed node.
    Restart(String),
}

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    system: Spanned<String>,
    variant: Option<Spanned<String>>,
    nodes: Spanned<i64>,
    duration: Spanned<String>,
    seeds: Option<Spanned<String>>,
    tick: Option<Spanned<String>>,
    #[serde(default)]
    regressions: Vec<u64>,
    network: Option<RawNetwork>,
    workload: Option<RawWorkload>,
    #[serde(default)]
    faults: Vec<Spanned<RawFault>>,
    config: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    latency: Option<Spanned<RawLatency>>,
    loss: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    min: Spanned<String>,
    max: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    clients: Option<Spanned<i64>>,
    rate: Option<Spanned<f64>>,
    timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    at: Spanned<String>,
    partition: Option<Spanned<Vec<Vec<String>>>>,
    partition_oneway: Option<Spanned<RawOneway>>,
    heal: Option<Spanned<String>>,
    crash: Option<Spanned<String>>,
    restart_after: Option<Spanned<String>>,
    restart: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOneway {
    from: Vec<String>,
    to: Vec<String>,
}

/// Turns byte offsets into `file:line:col` errors.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Range<usize>, key: &str, message: impl fmt::Display) -> ScenarioError {
        let upto = &self.text[..span.start.min(self.text.len())];
        let line = upto.matches('\n').count() + 1;
        let col = upto.len() - upto.rfind('\n').map_or(0, |i| i + 1) + 1;
        ScenarioError::Invalid {
            file: self.file.to_owned(),
            line,
            col,
            key: key.to_owned(),
            message: format!("`{key}`: {message}"),
        }
    }

    fn duration(&self, v: &Spanned<String>, key: &str) -> Result<Duration, ScenarioError> {
        humantime::parse_duration(v.get_ref().trim()).map_err(|e| {
            self.error(
                v.span(),
                key,
                format!("bad duration {:?}: {e}", v.get_ref()),
            )
        })
    }
}

impl Scenario {
    /// A scenario of `system` named `name`, with defaults: 3 nodes, 10 s, seeds 0..100, 1 ms
    /// tick, latency 1–10 ms, no loss, one client at 20 ops/s, no faults.
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
            network: Network::default(),
            workload: Workload::default(),
            faults: vec![],
            config: serde_json::Value::Object(Default::default()),
        }
    }

    /// Loads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut s = Self::from_toml(&path.display().to_string(), &text)?;
        s.path = Some(path.to_owned());
        Ok(s)
    }

    /// Parses and validates scenario TOML; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let src = Source { file, text };
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let key = e
                .message()
                .split('`')
                .nth(1)
                .unwrap_or("<document>")
                .to_owned();
            src.error(e.span().unwrap_or(0..0), &key, e.message().trim())
        })?;
        let mut s = Scenario::new(raw.name.get_ref(), raw.system.get_ref());
        if raw.name.get_ref().trim().is_empty() {
            return Err(src.error(raw.name.span(), "name", "must not be empty"));
        }
        if highstorm_nodes::systems::lookup(raw.system.get_ref()).is_err() {
            let known = highstorm_nodes::systems::names().join(", ");
            return Err(src.error(
                raw.system.span(),
                "system",
                format!("unknown system {:?} (known: {known})", raw.system.get_ref()),
            ));
        }
        s.variant = raw.variant.map(|v| v.into_inner());
        if !(1..=10_000).contains(raw.nodes.get_ref()) {
            return Err(src.error(raw.nodes.span(), "nodes", "must be between 1 and 10000"));
        }
        s.nodes = usize::try_from(*raw.nodes.get_ref()).unwrap_or(1);
        s.duration = src.duration(&raw.duration, "duration")?;
        if s.duration.is_zero() {
            return Err(src.error(raw.duration.span(), "duration", "must be positive"));
        }
        if let Some(seeds) = &raw.seeds {
            s.seeds = parse_seed_range(seeds.get_ref())
                .map_err(|e| src.error(seeds.span(), "seeds", e))?;
        }
        if let Some(tick) = &raw.tick {
            s.tick = src.duration(tick, "tick")?;
            if s.tick.is_zero() || s.tick > Duration::from_millis(100) {
                return Err(src.error(tick.span(), "tick", "must be between 1us and 100ms"));
            }
        }
        s.regressions = raw.regressions;
        if let Some(net) = &raw.network {
            if let Some(lat) = &net.latency {
                let min = src.duration(&lat.get_ref().min, "network.latency.min")?;
                let max = src.duration(&lat.get_ref().max, "network.latency.max")?;
                if min > max {
                    return Err(src.error(lat.span(), "network.latency", "min exceeds max"));
                }
                s.network.latency = min..max;
            }
            if let Some(loss) = &net.loss {
                s.network.loss = probability(&src, loss, "network.loss")?;
            }
        }
        if let Some(w) = &raw.workload {
            if let Some(c) = &w.clients {
                if !(0..=100).contains(c.get_ref()) {
                    return Err(src.error(c.span(), "workload.clients", "must be 0..=100"));
                }
                s.workload.clients = usize::try_from(*c.get_ref()).unwrap_or(0);
            }
            if let Some(r) = &w.rate {
                if !(r.get_ref().is_finite() && *r.get_ref() > 0.0) {
                    return Err(src.error(r.span(), "workload.rate", "must be positive"));
                }
                s.workload.rate = *r.get_ref();
            }
            if let Some(t) = &w.timeout {
                s.workload.timeout = src.duration(t, "workload.timeout")?;
            }
        }
        let names = s.node_names();
        for (i, f) in raw.faults.iter().enumerate() {
            s.faults.push(fault(&src, i, f, &names, s.duration)?);
        }
        s.faults.sort_by_key(|f| f.at);
        if let Some(config) = raw.config {
            s.config = serde_json::to_value(config).map_err(|e| {
                src.error(0..0, "config", format!("not representable as JSON: {e}"))
            })?;
        }
        s.validate()
            .map_err(|message| src.error(0..0, "system", message))?;
        Ok(s)
    }

    /// Checks what the TOML path checks with spans, for scenarios built in Rust.
    pub fn validate(&self) -> Result<(), String> {
        let system = highstorm_nodes::systems::lookup(&self.system).map_err(|e| e.to_string())?;
        if let Some(v) = &self.variant {
            if !system.variants.contains(&v.as_str()) {
                return Err(format!(
                    "system `{}` has no variant `{v}` (known: {})",
                    self.system,
                    system.variants.join(", ")
                ));
            }
        }
        let names = self.node_names();
        for f in &self.faults {
            if f.at > self.duration {
                return Err(format!("fault at {:?} is after the end", f.at));
            }
            for n in f.action.nodes() {
                if !names.contains(n) {
                    return Err(format!("fault names unknown node `{n}`"));
                }
            }
        }
        if !(0.0..=1.0).contains(&self.network.loss) {
            return Err("network.loss must be within [0, 1]".into());
        }
        Ok(())
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

    /// Sets one-way latency: each message draws from `range`.
    pub fn latency(mut self, range: Range<Duration>) -> Self {
        self.network.latency = range;
        self
    }

    /// Sets the probability that a message is lost.
    pub fn loss(mut self, p: f64) -> Self {
        self.network.loss = p;
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

    /// Adds a fault.
    pub fn fault(mut self, at: Duration, action: FaultAction) -> Self {
        self.faults.push(Fault { at, action });
        self.faults.sort_by_key(|f| f.at);
        self
    }

    /// Partitions the nodes into `groups` at `at`.
    pub fn partition_at<G: AsRef<[&'static str]>>(self, at: Duration, groups: &[G]) -> Self {
        let groups = groups
            .iter()
            .map(|g| g.as_ref().iter().map(|n| (*n).to_owned()).collect())
            .collect();
        self.fault(at, FaultAction::Partition(groups))
    }

    /// Cuts links from `from` to `to` (one way) at `at`.
    pub fn partition_oneway_at(self, at: Duration, from: &[&str], to: &[&str]) -> Self {
        let own = |v: &[&str]| v.iter().map(|n| (*n).to_owned()).collect();
        self.fault(
            at,
            FaultAction::PartitionOneway {
                from: own(from),
                to: own(to),
            },
        )
    }

    /// Heals every link at `at`.
    pub fn heal_at(self, at: Duration) -> Self {
        self.fault(at, FaultAction::HealAll)
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
}

impl FaultAction {
    /// The nodes this fault names.
    pub fn nodes(&self) -> Vec<&String> {
        match self {
            FaultAction::Partition(groups) => groups.iter().flatten().collect(),
            FaultAction::PartitionOneway { from, to } => from.iter().chain(to).collect(),
            FaultAction::HealAll => vec![],
            FaultAction::Crash { node, .. } | FaultAction::Restart(node) => vec![node],
        }
    }
}

fn probability(src: &Source<'_>, v: &Spanned<f64>, key: &str) -> Result<f64, ScenarioError> {
    let p = *v.get_ref();
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(src.error(v.span(), key, format!("probability {p} is outside [0, 1]")))
    }
}

fn fault(
    src: &Source<'_>,
    i: usize,
    f: &Spanned<RawFault>,
    names: &[String],
    end: Duration,
) -> Result<Fault, ScenarioError> {
    let key = |k: &str| format!("faults[{i}].{k}");
    let raw = f.get_ref();
    let at = src.duration(&raw.at, &key("at"))?;
    if at > end {
        return Err(src.error(
            raw.at.span(),
            &key("at"),
            format!("fault at {} is after the scenario ends", raw.at.get_ref()),
        ));
    }
    let node = |v: &Spanned<String>, k: &str| -> Result<String, ScenarioError> {
        if names.contains(v.get_ref()) {
            Ok(v.get_ref().clone())
        } else {
            Err(src.error(
                v.span(),
                &key(k),
                format!(
                    "unknown node {:?} (nodes are n0..n{})",
                    v.get_ref(),
                    names.len() - 1
                ),
            ))
        }
    };
    let nodes = |v: &[String], span: Range<usize>, k: &str| -> Result<(), ScenarioError> {
        match v.iter().find(|n| !names.contains(n)) {
            Some(n) => Err(src.error(
                span,
                &key(k),
                format!("unknown node {n:?} (nodes are n0..n{})", names.len() - 1),
            )),
            None => Ok(()),
        }
    };
    let mut actions = vec![];
    if let Some(p) = &raw.partition {
        for g in p.get_ref() {
            nodes(g, p.span(), "partition")?;
        }
        actions.push(FaultAction::Partition(p.get_ref().clone()));
    }
    if let Some(p) = &raw.partition_oneway {
        nodes(&p.get_ref().from, p.span(), "partition_oneway.from")?;
        nodes(&p.get_ref().to, p.span(), "partition_oneway.to")?;
        actions.push(FaultAction::PartitionOneway {
            from: p.get_ref().from.clone(),
            to: p.get_ref().to.clone(),
        });
    }
    if let Some(h) = &raw.heal {
        if h.get_ref() != "all" {
            return Err(src.error(h.span(), &key("heal"), "only \"all\" is supported"));
        }
        actions.push(FaultAction::HealAll);
    }
    if let Some(c) = &raw.crash {
        let restart_after = raw
            .restart_after
            .as_ref()
            .map(|r| src.duration(r, &key("restart_after")))
            .transpose()?;
        actions.push(FaultAction::Crash {
            node: node(c, "crash")?,
            restart_after,
        });
    } else if let Some(r) = &raw.restart_after {
        return Err(src.error(r.span(), &key("restart_after"), "only valid with `crash`"));
    }
    if let Some(r) = &raw.restart {
        actions.push(FaultAction::Restart(node(r, "restart")?));
    }
    match actions.len() {
        1 => Ok(Fault {
            at,
            action: actions.remove(0),
        }),
        0 => Err(src.error(
            f.span(),
            &format!("faults[{i}]"),
            "needs one of partition, partition_oneway, heal, crash, restart",
        )),
        _ => Err(src.error(
            f.span(),
            &format!("faults[{i}]"),
            "has more than one action: use one [[faults]] entry per action",
        )),
    }
}

/// Parses `A..B` (half-open, like a Rust range) or a single seed `S`.
pub fn parse_seed_range(s: &str) -> Result<Range<u64>, String> {
    let s = s.trim();
    let num = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("bad seed {t:?} in {s:?}: expected A..B or a number"))
    };
    match s.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if a >= b {
                return Err(format!("empty seed range {s:?}"));
            }
            Ok(a..b)
        }
        None => {
            let a = num(s)?;
            Ok(a..a.saturating_add(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
system = "unique-ids"
nodes = 3
duration = "10s"
seeds = "5..9"
[network]
latency = { min = "1ms", max = "20ms" }
loss = 0.01
[workload]
clients = 2
rate = 50
[[faults]]
at = "4s"
heal = "all"
[[faults]]
at = "2s"
partition = [["n0"], ["n1", "n2"]]
[[faults]]
at = "5s"
crash = "n1"
restart_after = "1s"
"#;

    fn err(text: &str) -> ScenarioError {
        Scenario::from_toml("x.toml", text).unwrap_err()
    }

    #[test]
    fn parses_a_full_scenario_and_matches_its_rust_twin() {
        let s = Scenario::from_toml("x.toml", GOOD).unwrap();
        let ms = Duration::from_millis;
        let twin = Scenario::new("t", "unique-ids")
            .nodes(3)
            .duration(Duration::from_secs(10))
            .seeds(5..9)
            .latency(ms(1)..ms(20))
            .loss(0.01)
            .workload(2, 50.0)
            .partition_at(ms(2000), &[&["n0"][..], &["n1", "n2"][..]])
            .heal_at(ms(4000))
            .crash_at(ms(5000), "n1", Some(ms(1000)));
        assert_eq!(s, twin);
        assert!(twin.validate().is_ok());
    }

    #[test]
    fn errors_name_line_column_and_key() {
        let e = err(&GOOD.replace("loss = 0.01", "loss = 1.5"));
        assert_eq!(e.key(), Some("network.loss"));
        assert!(e.to_string().starts_with("x.toml:9:8: "), "{e}");

        let e = err(&GOOD.replace("crash = \"n1\"", "crash = \"n7\""));
        assert_eq!(e.key(), Some("faults[2].crash"));
        assert!(e.to_string().contains("unknown node \"n7\""), "{e}");
        assert!(e.to_string().starts_with("x.toml:21:"), "{e}");

        let e = err(&GOOD.replace("duration = \"10s\"", "duration = \"10 parsecs\""));
        assert_eq!(e.key(), Some("duration"));

        let e = err(&GOOD.replace("rate = 50", "rate = 50\nburst = 3"));
        assert_eq!(e.key(), Some("burst"));
        assert!(e.to_string().starts_with("x.toml:13:1: "), "{e}");

        let e = err(&GOOD.replace("at = \"4s\"", "at = \"40s\""));
        assert_eq!(e.key(), Some("faults[0].at"));
        assert!(e.to_string().contains("after the scenario ends"), "{e}");

        let e = err(&GOOD.replace("system = \"unique-ids\"", "system = \"paxos\""));
        assert_eq!(e.key(), Some("system"));

        let e = err(&GOOD.replace("heal = \"all\"", "heal = \"all\"\ncrash = \"n0\""));
        assert_eq!(e.key(), Some("faults[0]"));
    }

    #[test]
    fn seed_ranges_are_half_open() {
        assert_eq!(parse_seed_range("0..1000"), Ok(0..1000));
        assert_eq!(parse_seed_range("7"), Ok(7..8));
        assert!(parse_seed_range("5..5").is_err());
        assert!(parse_seed_range("a..b").is_err());
    }
}
