//! Scenario TOML -> a validated [`Scenario`], with `file:line:col` errors that name the key.
//!
//! Parsing is two steps: serde reads the document into `Raw*` structs that keep each value's
//! byte span (unknown keys and wrong types fail here, with toml's span), then the conversion
//! reads durations and enums, records the span of every key it meets, and runs
//! [`Scenario::validate`] — the same checks a scenario built in Rust gets — mapping the key of
//! any problem back to its span.

use super::{
    Clock, Conditions, Distribution, Fault, FaultAction, Heal, Latency, LatencyTargets, LinkRule,
    Nemesis, NemesisKind, Scenario, ScenarioError, StorageFaults, StorageRates, MAX_CLIENTS,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

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
    engine: Option<Spanned<String>>,
    #[serde(default)]
    regressions: Vec<u64>,
    network: Option<RawNetwork>,
    clocks: Option<BTreeMap<String, Spanned<RawClock>>>,
    workload: Option<RawWorkload>,
    #[serde(default)]
    faults: Vec<Spanned<RawFault>>,
    nemesis: Option<Spanned<RawNemesis>>,
    storage: Option<RawStorage>,
    config: Option<toml::Table>,
    checks: Option<RawChecks>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    torn: Option<Spanned<f64>>,
    unsynced_kept: Option<Spanned<f64>>,
    sync_failure: Option<Spanned<f64>>,
    read_corruption: Option<Spanned<f64>>,
    lost_write: Option<Spanned<f64>>,
    misdirected_write: Option<Spanned<f64>>,
    atlas: Option<Spanned<bool>>,
    nodes: Option<BTreeMap<String, Spanned<RawRates>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRates {
    torn: Option<Spanned<f64>>,
    unsynced_kept: Option<Spanned<f64>>,
    sync_failure: Option<Spanned<f64>>,
    read_corruption: Option<Spanned<f64>>,
    lost_write: Option<Spanned<f64>>,
    misdirected_write: Option<Spanned<f64>>,
}

impl RawRates {
    fn named(&self) -> [(&'static str, &Option<Spanned<f64>>); 6] {
        [
            ("torn", &self.torn),
            ("unsynced_kept", &self.unsynced_kept),
            ("sync_failure", &self.sync_failure),
            ("read_corruption", &self.read_corruption),
            ("lost_write", &self.lost_write),
            ("misdirected_write", &self.misdirected_write),
        ]
    }
}

impl RawStorage {
    fn rates(&self) -> RawRates {
        let c = |v: &Option<Spanned<f64>>| v.clone();
        RawRates {
            torn: c(&self.torn),
            unsynced_kept: c(&self.unsynced_kept),
            sync_failure: c(&self.sync_failure),
            read_corruption: c(&self.read_corruption),
            lost_write: c(&self.lost_write),
            misdirected_write: c(&self.misdirected_write),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCorrupt {
    node: String,
    key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    converge_within: Option<Spanned<String>>,
    msgs_per_op_max: Option<Spanned<f64>>,
    latency: Option<Spanned<RawTargets>>,
    stable_latency: Option<Spanned<RawTargets>>,
    liveness: Option<Spanned<String>>,
    buggify: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    p50: Option<Spanned<String>>,
    p95: Option<Spanned<String>>,
    p99: Option<Spanned<String>>,
    max: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    latency: Option<Spanned<RawLatency>>,
    loss: Option<Spanned<f64>>,
    duplicate: Option<Spanned<f64>>,
    #[serde(default)]
    links: Vec<Spanned<RawLink>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    min: Spanned<String>,
    max: Spanned<String>,
    distribution: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConditions {
    latency: Option<Spanned<RawLatency>>,
    loss: Option<Spanned<f64>>,
    duplicate: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    from: Vec<String>,
    to: Vec<String>,
    #[serde(default = "yes")]
    bidirectional: bool,
    latency: Option<Spanned<RawLatency>>,
    loss: Option<Spanned<f64>>,
    duplicate: Option<Spanned<f64>>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClock {
    skew: Option<Spanned<String>>,
    drift: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    clients: Option<Spanned<i64>>,
    rate: Option<Spanned<f64>>,
    timeout: Option<Spanned<String>>,
    api: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawHeal {
    All(String),
    Link(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    at: Spanned<String>,
    partition: Option<Spanned<Vec<Vec<String>>>>,
    partition_oneway: Option<Spanned<RawOneway>>,
    heal: Option<Spanned<RawHeal>>,
    crash: Option<Spanned<String>>,
    restart_after: Option<Spanned<String>>,
    restart: Option<Spanned<String>>,
    pause: Option<Spanned<String>>,
    resume_after: Option<Spanned<String>>,
    resume: Option<Spanned<String>>,
    network: Option<Spanned<RawConditions>>,
    link: Option<Spanned<RawOneway>>,
    skew: Option<Spanned<RawSkew>>,
    corrupt: Option<Spanned<RawCorrupt>>,
    disk_full: Option<Spanned<String>>,
    free_after: Option<Spanned<String>>,
    disk_free: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOneway {
    from: Vec<String>,
    to: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSkew {
    node: String,
    offset: Option<Spanned<String>>,
    drift: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNemesis {
    kinds: Option<Spanned<Vec<String>>>,
    every: Spanned<String>,
    intensity: Option<Spanned<f64>>,
    fault_duration: Option<Spanned<String>>,
    start: Option<Spanned<String>>,
    stop: Option<Spanned<String>>,
    overlap: Option<Spanned<bool>>,
    swarm: Option<Spanned<bool>>,
}

/// The document being read: turns spans into `file:line:col` and remembers each key's span.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
    spans: BTreeMap<String, Range<usize>>,
}

impl Source<'_> {
    fn error(
        &self,
        span: Range<usize>,
        key: &str,
        message: impl std::fmt::Display,
    ) -> ScenarioError {
        let (line, col) = super::locate::line_col(self.text, span.start);
        ScenarioError::Invalid {
            file: self.file.to_owned(),
            line,
            col,
            key: key.to_owned(),
            message: format!("`{key}`: {message}"),
        }
    }

    /// Remembers where `key` is.
    fn at(&mut self, key: impl Into<String>, span: Range<usize>) {
        self.spans.insert(key.into(), span);
    }

    /// The span of `key`, or of its nearest enclosing key.
    fn span_of(&self, key: &str) -> Range<usize> {
        let mut k = key;
        loop {
            if let Some(s) = self.spans.get(k) {
                return s.clone();
            }
            match k.rfind(['.', '[']) {
                Some(i) => k = &k[..i],
                None => return 0..0,
            }
        }
    }

    fn duration(&mut self, v: &Spanned<String>, key: &str) -> Result<Duration, ScenarioError> {
        self.at(key, v.span());
        parse_duration(v.get_ref()).map_err(|e| {
            self.error(
                v.span(),
                key,
                format!("bad duration {:?}: {e}", v.get_ref()),
            )
        })
    }

    fn signed_duration_us(&mut self, v: &Spanned<String>, key: &str) -> Result<i64, ScenarioError> {
        self.at(key, v.span());
        let text = v.get_ref().trim();
        let (sign, rest) = match text.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text.strip_prefix('+').unwrap_or(text)),
        };
        let d = parse_duration(rest)
            .map_err(|e| self.error(v.span(), key, format!("bad duration {text:?}: {e}")))?;
        Ok(sign * i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }

    fn number(&mut self, v: &Spanned<f64>, key: &str) -> f64 {
        self.at(key, v.span());
        *v.get_ref()
    }

    fn latency(&mut self, v: &Spanned<RawLatency>, key: &str) -> Result<Latency, ScenarioError> {
        self.at(key, v.span());
        let raw = v.get_ref();
        let distribution = match &raw.distribution {
            None => Distribution::Uniform,
            Some(d) => match d.get_ref().as_str() {
                "uniform" => Distribution::Uniform,
                "exponential" => Distribution::Exponential,
                other => {
                    return Err(self.error(
                        d.span(),
                        &format!("{key}.distribution"),
                        format!("unknown distribution {other:?} (known: uniform, exponential)"),
                    ))
                }
            },
        };
        Ok(Latency {
            min: self.duration(&raw.min, &format!("{key}.min"))?,
            max: self.duration(&raw.max, &format!("{key}.max"))?,
            distribution,
        })
    }

    fn conditions(
        &mut self,
        key: &str,
        latency: &Option<Spanned<RawLatency>>,
        loss: &Option<Spanned<f64>>,
        duplicate: &Option<Spanned<f64>>,
    ) -> Result<Conditions, ScenarioError> {
        Ok(Conditions {
            latency: latency
                .as_ref()
                .map(|l| self.latency(l, &format!("{key}.latency")))
                .transpose()?,
            loss: loss
                .as_ref()
                .map(|p| self.number(p, &format!("{key}.loss"))),
            duplicate: duplicate
                .as_ref()
                .map(|p| self.number(p, &format!("{key}.duplicate"))),
        })
    }
}

fn parse_duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text.trim())
}

impl Scenario {
    /// Loads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|error| ScenarioError::Io {
            path: file.clone(),
            error,
        })?;
        let text =
            String::from_utf8(bytes).map_err(|e| not_utf8(&file, e.as_bytes(), e.utf8_error()))?;
        let mut s = Self::from_toml(&file, &text)?;
        s.path = Some(path.to_owned());
        Ok(s)
    }

    /// Parses and validates scenario TOML; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let mut src = Source {
            file,
            text,
            spans: BTreeMap::new(),
        };
        let raw: RawScenario = toml::from_str(text).map_err(|e| toml_error(&src, &e))?;
        let mut links = vec![];
        let mut s = convert(&mut src, raw, &mut links)?;
        // Validate in file order, so `faults[i]` names the i-th entry of the file.
        s.validate().map_err(|e| {
            let key = file_key(&e.key, &links);
            src.error(src.span_of(&key), &key, &e.message)
        })?;
        // Stable: same-time faults keep their file order.
        s.faults.sort_by_key(|f| f.at);
        Ok(s)
    }
}

/// A file that is not UTF-8: one error at the first bad byte, naming the key on its line.
fn not_utf8(file: &str, bytes: &[u8], e: std::str::Utf8Error) -> ScenarioError {
    let lossy = String::from_utf8_lossy(bytes);
    // The lossy text has the same lines up to the bad byte (it only replaces invalid bytes).
    let offset = e.valid_up_to();
    let (line, col) = super::locate::line_col(&lossy, offset);
    let key = super::locate::key_at(&lossy, offset).unwrap_or_else(|| "<file>".to_owned());
    ScenarioError::Invalid {
        file: file.to_owned(),
        line,
        col,
        message: format!(
            "`{key}`: not valid UTF-8 (byte 0x{:02x}): scenario files are UTF-8 text",
            bytes.get(offset).copied().unwrap_or(0)
        ),
        key,
    }
}

/// A TOML or type error, at its span, naming the key it is about: the key whose entry holds
/// the span (a value of the wrong type, an unknown key), plus the field a table misses.
fn toml_error(src: &Source<'_>, e: &toml::de::Error) -> ScenarioError {
    let span = e.span().unwrap_or(0..0);
    let message = e.message().trim();
    // The name in backticks, for errors about a field (`missing field `every``).
    let quoted = message.split('`').nth(1).filter(|q| {
        !q.is_empty()
            && q.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    });
    let at = super::locate::key_at(src.text, span.start);
    let key = match (at, quoted) {
        (Some(at), Some(field)) if message.starts_with("missing field") => {
            format!("{at}.{field}")
        }
        (Some(at), _) => at,
        (None, Some(field)) => field.to_owned(),
        (None, None) => super::locate::key_at(src.text, 0).unwrap_or_else(|| "<file>".to_owned()),
    };
    src.error(span, &key, message)
}

/// A key of the validated scenario as the file writes it: a bidirectional link is one entry
/// of the file but two rules of the scenario (`links[r]` maps to the file's entry).
fn file_key(key: &str, links: &[usize]) -> String {
    const LINKS: &str = "network.links[";
    let Some(rest) = key.strip_prefix(LINKS) else {
        return key.to_owned();
    };
    let Some((index, after)) = rest.split_once(']') else {
        return key.to_owned();
    };
    match index.parse::<usize>().ok().and_then(|r| links.get(r)) {
        Some(entry) => format!("{LINKS}{entry}]{after}"),
        None => key.to_owned(),
    }
}

/// Reads the raw document into a scenario (not yet validated); `links` gets, for each link
/// rule of the scenario, the index of the file's entry it came from.
fn convert(
    src: &mut Source<'_>,
    raw: RawScenario,
    links: &mut Vec<usize>,
) -> Result<Scenario, ScenarioError> {
    src.at("name", raw.name.span());
    if raw.name.get_ref().trim().is_empty() {
        return Err(src.error(raw.name.span(), "name", "must not be empty"));
    }
    src.at("system", raw.system.span());
    let mut s = Scenario::new(raw.name.get_ref(), raw.system.get_ref());
    if let Some(v) = &raw.variant {
        src.at("variant", v.span());
        s.variant = Some(v.get_ref().clone());
    }
    src.at("nodes", raw.nodes.span());
    s.nodes = usize::try_from(*raw.nodes.get_ref()).unwrap_or(0);
    s.duration = src.duration(&raw.duration, "duration")?;
    if let Some(seeds) = &raw.seeds {
        s.seeds =
            parse_seed_range(seeds.get_ref()).map_err(|e| src.error(seeds.span(), "seeds", e))?;
    }
    if let Some(tick) = &raw.tick {
        s.tick = src.duration(tick, "tick")?;
    }
    if let Some(engine) = &raw.engine {
        s.engine = engine
            .get_ref()
            .parse()
            .map_err(|e| src.error(engine.span(), "engine", e))?;
    }
    s.regressions = raw.regressions;
    if let Some(net) = &raw.network {
        if let Some(l) = &net.latency {
            s.network.latency = src.latency(l, "network.latency")?;
        }
        if let Some(p) = &net.loss {
            s.network.loss = src.number(p, "network.loss");
        }
        if let Some(p) = &net.duplicate {
            s.network.duplicate = src.number(p, "network.duplicate");
        }
        for (i, link) in net.links.iter().enumerate() {
            let key = format!("network.links[{i}]");
            src.at(&key, link.span());
            let l = link.get_ref();
            let conditions = src.conditions(&key, &l.latency, &l.loss, &l.duplicate)?;
            s.network.links.push(LinkRule {
                from: l.from.clone(),
                to: l.to.clone(),
                conditions,
            });
            links.push(i);
            if l.bidirectional {
                links.push(i);
                s.network.links.push(LinkRule {
                    from: l.to.clone(),
                    to: l.from.clone(),
                    conditions,
                });
            }
        }
    }
    for (node, c) in raw.clocks.iter().flatten() {
        let key = format!("clocks.{node}");
        src.at(&key, c.span());
        let raw = c.get_ref();
        let skew_us = match &raw.skew {
            Some(v) => src.signed_duration_us(v, &format!("{key}.skew"))?,
            None => 0,
        };
        let drift = raw
            .drift
            .as_ref()
            .map_or(0.0, |d| src.number(d, &format!("{key}.drift")));
        s.clocks.insert(node.clone(), Clock { skew_us, drift });
    }
    if let Some(w) = &raw.workload {
        if let Some(c) = &w.clients {
            src.at("workload.clients", c.span());
            s.workload.clients = usize::try_from(*c.get_ref()).map_err(|_| {
                src.error(
                    c.span(),
                    "workload.clients",
                    format!("{} is out of range: must be 0..={MAX_CLIENTS}", c.get_ref()),
                )
            })?;
        }
        if let Some(r) = &w.rate {
            s.workload.rate = src.number(r, "workload.rate");
        }
        if let Some(t) = &w.timeout {
            s.workload.timeout = src.duration(t, "workload.timeout")?;
        }
        if let Some(a) = &w.api {
            src.at("workload.api", a.span());
            s.workload.api = a
                .get_ref()
                .parse()
                .map_err(|e| src.error(a.span(), "workload.api", e))?;
        }
    }
    for (i, f) in raw.faults.iter().enumerate() {
        s.faults.push(fault(src, i, f)?);
    }
    if let Some(n) = &raw.nemesis {
        s.nemesis = Some(nemesis(src, n)?);
    }
    if let Some(st) = &raw.storage {
        s.storage = storage(src, st);
    }
    if let Some(c) = &raw.checks {
        if let Some(d) = &c.converge_within {
            s.checks.converge_within = Some(src.duration(d, "checks.converge_within")?);
        }
        if let Some(m) = &c.msgs_per_op_max {
            s.checks.msgs_per_op_max = Some(src.number(m, "checks.msgs_per_op_max"));
        }
        if let Some(t) = &c.latency {
            s.checks.latency = Some(targets(src, t, "checks.latency")?);
        }
        if let Some(t) = &c.stable_latency {
            s.checks.stable_latency = Some(targets(src, t, "checks.stable_latency")?);
        }
        if let Some(d) = &c.liveness {
            s.checks.liveness = Some(src.duration(d, "checks.liveness")?);
        }
        s.checks.buggify = c.buggify.unwrap_or(false);
    }
    if let Some(config) = raw.config {
        s.config = serde_json::to_value(config)
            .map_err(|e| src.error(0..0, "config", format!("not representable as JSON: {e}")))?;
    }
    Ok(s)
}

fn fault(src: &mut Source<'_>, i: usize, f: &Spanned<RawFault>) -> Result<Fault, ScenarioError> {
    let key = |k: &str| format!("faults[{i}].{k}");
    src.at(format!("faults[{i}]"), f.span());
    let raw = f.get_ref();
    let at = src.duration(&raw.at, &key("at"))?;
    let mut actions = vec![];
    if let Some(p) = &raw.partition {
        src.at(key("partition"), p.span());
        actions.push(FaultAction::Partition(p.get_ref().clone()));
    }
    if let Some(p) = &raw.partition_oneway {
        src.at(key("partition_oneway"), p.span());
        actions.push(FaultAction::PartitionOneway {
            from: p.get_ref().from.clone(),
            to: p.get_ref().to.clone(),
        });
    }
    if let Some(h) = &raw.heal {
        src.at(key("heal"), h.span());
        let heal = match h.get_ref() {
            RawHeal::All(all) if all == "all" => Heal::All,
            RawHeal::Link(pair) if pair.len() == 2 => Heal::Link(pair[0].clone(), pair[1].clone()),
            _ => {
                return Err(src.error(
                    h.span(),
                    &key("heal"),
                    "expected \"all\" or a pair of nodes like [\"n0\", \"n1\"]",
                ))
            }
        };
        actions.push(FaultAction::Heal(heal));
    }
    let after = |src: &mut Source<'_>, v: &Option<Spanned<String>>, k: &str| {
        v.as_ref().map(|r| src.duration(r, &key(k))).transpose()
    };
    if let Some(c) = &raw.crash {
        src.at(key("crash"), c.span());
        let restart_after = after(src, &raw.restart_after, "restart_after")?;
        actions.push(FaultAction::Crash {
            node: c.get_ref().clone(),
            restart_after,
        });
    } else if let Some(r) = &raw.restart_after {
        return Err(src.error(r.span(), &key("restart_after"), "only valid with `crash`"));
    }
    if let Some(r) = &raw.restart {
        src.at(key("restart"), r.span());
        actions.push(FaultAction::Restart(r.get_ref().clone()));
    }
    if let Some(p) = &raw.pause {
        src.at(key("pause"), p.span());
        let resume_after = after(src, &raw.resume_after, "resume_after")?;
        actions.push(FaultAction::Pause {
            node: p.get_ref().clone(),
            resume_after,
        });
    } else if let Some(r) = &raw.resume_after {
        return Err(src.error(r.span(), &key("resume_after"), "only valid with `pause`"));
    }
    if let Some(r) = &raw.resume {
        src.at(key("resume"), r.span());
        actions.push(FaultAction::Resume(r.get_ref().clone()));
    }
    if let Some(n) = &raw.network {
        src.at(key("network"), n.span());
        let c = n.get_ref();
        let conditions = src.conditions(&key("network"), &c.latency, &c.loss, &c.duplicate)?;
        let link = raw.link.as_ref().map(|l| {
            src.at(key("network"), l.span());
            (l.get_ref().from.clone(), l.get_ref().to.clone())
        });
        actions.push(FaultAction::Network { link, conditions });
    } else if let Some(l) = &raw.link {
        return Err(src.error(l.span(), &key("link"), "only valid with `network`"));
    }
    if let Some(sk) = &raw.skew {
        src.at(key("skew"), sk.span());
        let r = sk.get_ref();
        let skew_us = match &r.offset {
            Some(o) => src.signed_duration_us(o, &key("skew.offset"))?,
            None => 0,
        };
        let drift = r
            .drift
            .as_ref()
            .map_or(0.0, |d| src.number(d, &key("skew.drift")));
        actions.push(FaultAction::Skew {
            node: r.node.clone(),
            clock: Clock { skew_us, drift },
        });
    }
    if let Some(c) = &raw.corrupt {
        src.at(key("corrupt"), c.span());
        src.at(key("corrupt.node"), c.span());
        actions.push(FaultAction::Corrupt {
            node: c.get_ref().node.clone(),
            key: c.get_ref().key.clone(),
        });
    }
    if let Some(d) = &raw.disk_full {
        src.at(key("disk_full"), d.span());
        let free_after = after(src, &raw.free_after, "free_after")?;
        actions.push(FaultAction::DiskFull {
            node: d.get_ref().clone(),
            free_after,
        });
    } else if let Some(r) = &raw.free_after {
        return Err(src.error(r.span(), &key("free_after"), "only valid with `disk_full`"));
    }
    if let Some(d) = &raw.disk_free {
        src.at(key("disk_free"), d.span());
        actions.push(FaultAction::DiskFree(d.get_ref().clone()));
    }
    match actions.len() {
        1 => Ok(Fault {
            at,
            action: actions.remove(0),
        }),
        0 => Err(src.error(
            f.span(),
            &format!("faults[{i}]"),
            "needs one of partition, partition_oneway, heal, crash, restart, pause, resume, \
             network, skew, corrupt, disk_full, disk_free",
        )),
        _ => Err(src.error(
            f.span(),
            &format!("faults[{i}]"),
            "has more than one action: use one [[faults]] entry per action",
        )),
    }
}

/// The `[storage]` table: rates are range-checked by validation, which names their keys.
fn storage(src: &mut Source<'_>, raw: &RawStorage) -> StorageFaults {
    let mut rates = StorageRates::default();
    fill(src, "storage", &raw.rates(), &mut rates);
    let mut out = StorageFaults {
        rates,
        nodes: BTreeMap::new(),
        atlas: false,
    };
    if let Some(a) = &raw.atlas {
        src.at("storage.atlas", a.span());
        out.atlas = *a.get_ref();
    }
    for (node, r) in raw.nodes.iter().flatten() {
        let key = format!("storage.nodes.{node}");
        src.at(&key, r.span());
        let mut node_rates = rates;
        fill(src, &key, r.get_ref(), &mut node_rates);
        out.nodes.insert(node.clone(), node_rates);
    }
    out
}

fn fill(src: &mut Source<'_>, prefix: &str, raw: &RawRates, rates: &mut StorageRates) {
    for (name, v) in raw.named() {
        if let (Some(v), Some(slot)) = (v, rates.by_name(name)) {
            *slot = src.number(v, &format!("{prefix}.{name}"));
        }
    }
}

fn targets(
    src: &mut Source<'_>,
    t: &Spanned<RawTargets>,
    key: &str,
) -> Result<LatencyTargets, ScenarioError> {
    src.at(key, t.span());
    let raw = t.get_ref();
    let mut bound = |v: &Option<Spanned<String>>, name: &str| {
        v.as_ref()
            .map(|d| src.duration(d, &format!("{key}.{name}")))
            .transpose()
    };
    Ok(LatencyTargets {
        p50: bound(&raw.p50, "p50")?,
        p95: bound(&raw.p95, "p95")?,
        p99: bound(&raw.p99, "p99")?,
        max: bound(&raw.max, "max")?,
    })
}

fn nemesis(src: &mut Source<'_>, n: &Spanned<RawNemesis>) -> Result<Nemesis, ScenarioError> {
    src.at("nemesis", n.span());
    let raw = n.get_ref();
    let swarm = raw.swarm.as_ref().is_some_and(|s| *s.get_ref());
    if let Some(sw) = &raw.swarm {
        src.at("nemesis.swarm", sw.span());
    }
    let mut kinds = vec![];
    match &raw.kinds {
        Some(raw_kinds) => {
            src.at("nemesis.kinds", raw_kinds.span());
            for k in raw_kinds.get_ref() {
                let kind = NemesisKind::from_name(k).ok_or_else(|| {
                    let known: Vec<&str> = NemesisKind::ALL.iter().map(|k| k.name()).collect();
                    src.error(
                        raw_kinds.span(),
                        "nemesis.kinds",
                        format!("unknown kind {k:?} (known: {})", known.join(", ")),
                    )
                })?;
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
        }
        // A swarm draws from every kind unless told which.
        None if swarm => kinds = NemesisKind::ALL.to_vec(),
        None => {
            return Err(src.error(
                n.span(),
                "nemesis.kinds",
                "missing: a nemesis names the `kinds` it draws from (or is a `swarm`)",
            ))
        }
    }
    let every = src.duration(&raw.every, "nemesis.every")?;
    let mut nemesis = Nemesis::new(&kinds, every);
    if let Some(i) = &raw.intensity {
        nemesis.intensity = src.number(i, "nemesis.intensity");
    }
    if let Some(d) = &raw.fault_duration {
        nemesis.fault_duration = src.duration(d, "nemesis.fault_duration")?;
    }
    if let Some(d) = &raw.start {
        nemesis.start = src.duration(d, "nemesis.start")?;
    }
    if let Some(d) = &raw.stop {
        nemesis.stop = Some(src.duration(d, "nemesis.stop")?);
    }
    if let Some(o) = &raw.overlap {
        src.at("nemesis.overlap", o.span());
        nemesis.overlap = *o.get_ref();
    }
    nemesis.swarm = swarm;
    Ok(nemesis)
}

/// Parses `A..B` (half-open, like a Rust range, of at most [`MAX_SEEDS`](super::MAX_SEEDS)
/// seeds) or a single seed `S`.
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
            if b - a > super::MAX_SEEDS {
                return Err(format!(
                    "seed range {s:?} holds {} seeds: at most {} (split it with --shard)",
                    b - a,
                    super::MAX_SEEDS
                ));
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
system = "ids"
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
    fn swarm_and_liveness_keys_parse_round_trip_and_are_checked_at_their_place() {
        let swarm =
            format!("{GOOD}[nemesis]\nswarm = true\nevery = \"1s\"\n[checks]\nliveness = \"3s\"\n");
        let s = Scenario::from_toml("x.toml", &swarm).unwrap();
        let n = s.nemesis.as_ref().unwrap();
        assert!(n.swarm);
        // A swarm without `kinds` draws from every kind.
        assert_eq!(n.kinds, NemesisKind::ALL.to_vec());
        assert_eq!(s.checks.liveness, Some(Duration::from_secs(3)));
        // The nemesis stops where the liveness phase starts (7 s), before the default 8 s.
        assert_eq!(s.nemesis_stop(), Some(Duration::from_secs(7)));
        let again = Scenario::from_toml("y.toml", &s.to_toml()).unwrap();
        assert_eq!(again.nemesis, s.nemesis);
        assert_eq!(again.checks, s.checks);
        // A nemesis that is no swarm still names its kinds.
        let e = err(&format!("{GOOD}[nemesis]\nevery = \"1s\"\n"));
        assert_eq!(e.key(), Some("nemesis.kinds"));
        let e = err(&format!(
            "{GOOD}[nemesis]\nswarm = \"yes\"\nevery = \"1s\"\n"
        ));
        assert!(e.to_string().starts_with("x.toml:"), "{e}");
        let checks = |t: &str| format!("{GOOD}[checks]\n{t}\n");
        for (text, key, line) in [
            ("liveness = \"soon\"", "checks.liveness", 24),
            ("liveness = \"0s\"", "checks.liveness", 24),
            ("liveness = \"10s\"", "checks.liveness", 24),
            // The crash at 5 s restarts at 6 s: inside a liveness phase from 5.5 s.
            ("liveness = \"4500ms\"", "faults[2].at", 20),
        ] {
            let e = err(&checks(text));
            assert_eq!(e.key(), Some(key), "{text}: {e}");
            let ScenarioError::Invalid { line: at, .. } = &e else {
                panic!("{e}")
            };
            assert_eq!(*at, line, "{text}: {e}");
        }
        let late_stop = format!(
            "{GOOD}[nemesis]\nkinds = [\"crash\"]\nevery = \"1s\"\nstop = \"9s\"\n[checks]\nliveness = \"3s\"\n"
        );
        assert_eq!(err(&late_stop).key(), Some("nemesis.stop"));
    }

    #[test]
    fn parses_a_full_scenario_and_matches_its_rust_twin() {
        let s = Scenario::from_toml("x.toml", GOOD).unwrap();
        let ms = Duration::from_millis;
        let twin = Scenario::new("t", "ids")
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
    fn parses_every_fault_kind() {
        let text = r#"
name = "all"
system = "ids"
nodes = 3
duration = "10s"
[network]
latency = { min = "1ms", max = "50ms", distribution = "exponential" }
duplicate = 0.05
[[network.links]]
from = ["n0"]
to = ["n1"]
bidirectional = false
loss = 0.5
[clocks]
n2 = { skew = "-250ms", drift = 0.01 }
[[faults]]
at = "1s"
partition_oneway = { from = ["n0"], to = ["n1", "n2"] }
[[faults]]
at = "2s"
heal = ["n0", "n1"]
[[faults]]
at = "3s"
pause = "n1"
resume_after = "500ms"
[[faults]]
at = "4s"
resume = "n1"
[[faults]]
at = "5s"
network = { loss = 0.2, latency = { min = "10ms", max = "90ms" } }
link = { from = ["n0"], to = ["n2"] }
[[faults]]
at = "6s"
skew = { node = "n0", offset = "+2s", drift = -0.02 }
[[faults]]
at = "7s"
restart = "n2"
[nemesis]
kinds = ["partition", "crash", "pause", "skew", "loss", "duplicate", "latency", "partition-oneway"]
every = "2s"
intensity = 0.5
fault_duration = "700ms"
"#;
        let s = Scenario::from_toml("all.toml", text).unwrap();
        assert_eq!(s.network.latency.distribution, Distribution::Exponential);
        assert_eq!(s.network.links.len(), 1);
        assert_eq!(
            s.clocks["n2"],
            Clock {
                skew_us: -250_000,
                drift: 0.01
            }
        );
        assert_eq!(s.faults.len(), 7);
        assert_eq!(
            s.faults[5].action,
            FaultAction::Skew {
                node: "n0".into(),
                clock: Clock {
                    skew_us: 2_000_000,
                    drift: -0.02
                }
            }
        );
        let n = s.nemesis.as_ref().unwrap();
        assert_eq!(n.kinds.len(), 8);
        assert_eq!(n.fault_duration, Duration::from_millis(700));
    }

    #[test]
    fn storage_tables_and_faults_parse_and_are_checked_at_their_place() {
        let text = format!(
            "{GOOD}[storage]\nsync_failure = 0.1\ntorn = 0.2\natlas = true\n\
             [storage.nodes.n1]\nlost_write = 0.5\n\
             [[faults]]\nat = \"3s\"\ncorrupt = {{ node = \"n2\", key = \"k\" }}\n\
             [[faults]]\nat = \"3s\"\ndisk_full = \"n0\"\nfree_after = \"1s\"\n"
        );
        let s = Scenario::from_toml("x.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.storage.atlas);
        assert_eq!(s.storage.rates.sync_failure, 0.1);
        let n1 = s.storage.rates_of("n1");
        assert_eq!(
            (n1.lost_write, n1.torn),
            (0.5, 0.2),
            "unset keys take the global rate"
        );
        assert_eq!(s.storage.rates_of("n0").lost_write, 0.0);
        // Written out and read back: the same scenario.
        let again = Scenario::from_toml("y.toml", &s.to_toml()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (again.storage, again.faults),
            (s.storage.clone(), s.faults.clone())
        );

        let e = err(&format!("{GOOD}[storage]\ntorn = 1.5\n"));
        assert_eq!(e.key(), Some("storage.torn"));
        assert!(e.to_string().contains("outside [0, 1]"), "{e}");
        assert!(e.to_string().starts_with("x.toml:24:8: "), "{e}");
        let e = err(&format!("{GOOD}[storage.nodes.n9]\ntorn = 0.5\n"));
        assert_eq!(e.key(), Some("storage.nodes.n9"));
        let e = err(&format!("{GOOD}[storage]\nmeteor = 0.5\n"));
        assert!(e.to_string().contains("meteor"), "{e}");
        let e = err(&format!(
            "{GOOD}[[faults]]\nat = \"3s\"\ncorrupt = {{ node = \"n5\" }}\n"
        ));
        assert_eq!(e.key(), Some("faults[3].corrupt.node"));
        let e = err(&format!(
            "{GOOD}[[faults]]\nat = \"3s\"\nfree_after = \"1s\"\n"
        ));
        assert_eq!(e.key(), Some("faults[3].free_after"));
        let e = err(&format!(
            "{GOOD}[[faults]]\nat = \"9s\"\ndisk_full = \"n1\"\nfree_after = \"5s\"\n"
        ));
        assert_eq!(e.key(), Some("faults[3].free_after"));
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
        assert_eq!(e.key(), Some("workload.burst"));
        assert!(e.to_string().starts_with("x.toml:13:1: "), "{e}");

        let e = err(&GOOD.replace("at = \"4s\"", "at = \"40s\""));
        assert_eq!(e.key(), Some("faults[0].at"));
        assert!(e.to_string().contains("after the scenario ends"), "{e}");
        assert!(e.to_string().starts_with("x.toml:14:6: "), "{e}");

        // The system is checked where it is resolved, not by the parser.
        let paxos = GOOD.replace("system = \"ids\"", "system = \"paxos\"");
        let s = Scenario::from_toml("x.toml", &paxos).unwrap();
        let e = crate::testing::fixture::registry().resolve(&s).unwrap_err();
        assert_eq!(e.key(), Some("system"));
        assert!(e.to_string().contains("unknown system `paxos`"), "{e}");
        let s = Scenario::from_toml(
            "x.toml",
            &GOOD.replace("[network]", "variant = \"rusty\"\n[network]"),
        )
        .unwrap();
        let e = crate::testing::fixture::registry().resolve(&s).unwrap_err();
        assert_eq!(e.key(), Some("variant"));

        let e = err(&GOOD.replace("heal = \"all\"", "heal = \"all\"\ncrash = \"n0\""));
        assert_eq!(e.key(), Some("faults[0]"));

        let e = err(&format!(
            "{GOOD}[nemesis]\nkinds = [\"meteor\"]\nevery = \"1s\"\n"
        ));
        assert_eq!(e.key(), Some("nemesis.kinds"));
        assert!(e.to_string().contains("unknown kind \"meteor\""), "{e}");

        let e = err(&format!(
            "{GOOD}[nemesis]\nkinds = [\"crash\"]\nevery = \"1s\"\nintensity = 0\n"
        ));
        assert_eq!(e.key(), Some("nemesis.intensity"));

        let overlap = |extra: &str| {
            format!("{GOOD}[nemesis]\nkinds = [\"crash\", \"partition\"]\nevery = \"1s\"\n{extra}")
        };
        let s = Scenario::from_toml("x.toml", &overlap("overlap = true\n")).unwrap();
        assert!(s.nemesis.is_some_and(|n| n.overlap));
        let e = err(&overlap("overlap = true\nfault_duration = \"2s\"\n"));
        assert_eq!(e.key(), Some("nemesis.fault_duration"));
        assert!(e.to_string().starts_with("x.toml:27:18: "), "{e}");
        let e = err(&overlap("overlap = \"yes\"\n"));
        assert!(e.to_string().starts_with("x.toml:26:"), "{e}");
        let e = err(&overlap("fault_duration = \"0s\"\n"));
        assert_eq!(e.key(), Some("nemesis.fault_duration"));
        let e = err(&format!(
            "{GOOD}[nemesis]\nkinds = [\"partition\"]\nevery = \"1s\"\noverlap = true\n"
        ));
        assert_eq!(e.key(), Some("nemesis.overlap"));
        assert!(e.to_string().starts_with("x.toml:26:11: "), "{e}");

        let checks = |t: &str| format!("{GOOD}[checks]\n{t}\n");
        let s = Scenario::from_toml(
            "x.toml",
            &checks("stable_latency = { p50 = \"200ms\", max = \"400ms\" }"),
        )
        .unwrap();
        let t = s.checks.stable_latency.unwrap();
        assert_eq!((t.p50, t.p95), (Some(Duration::from_millis(200)), None));
        let e = err(&checks(
            "stable_latency = { p50 = \"500ms\", max = \"400ms\" }",
        ));
        assert_eq!(e.key(), Some("checks.stable_latency.max"));
        assert!(e.to_string().starts_with("x.toml:24:41: "), "{e}");
        assert!(e.to_string().contains("below the p50 bound"), "{e}");
        let e = err(&checks("latency = { p99 = \"0s\" }"));
        assert_eq!(e.key(), Some("checks.latency.p99"));
        let e = err(&checks("latency = {}"));
        assert_eq!(e.key(), Some("checks.latency"));
        let e = err(&checks("latency = { p90 = \"1s\" }"));
        assert!(e.to_string().contains("p90"), "{e}");
        let e = err(&checks("latency = { p50 = \"soon\" }"));
        assert_eq!(e.key(), Some("checks.latency.p50"));

        let e = err(&GOOD.replace("loss = 0.01", "loss = 0.01\nduplicate = -1"));
        assert_eq!(e.key(), Some("network.duplicate"));

        let e = err(&format!("{GOOD}[clocks]\nn9 = {{ skew = \"1s\" }}\n"));
        assert_eq!(e.key(), Some("clocks.n9"));

        let e = err(&GOOD.replace("nodes = 3", "nodes = 0"));
        assert_eq!(e.key(), Some("nodes"));
        assert!(e.to_string().starts_with("x.toml:4:"), "{e}");
    }

    #[test]
    fn type_and_syntax_errors_name_the_key_and_its_place() {
        let e = err(&GOOD.replace("nodes = 3", "nodes = \"3\""));
        assert_eq!(e.key(), Some("nodes"));
        assert!(
            e.to_string()
                .starts_with("x.toml:4:9: `nodes`: invalid type"),
            "{e}"
        );
        let e = err(&GOOD.replace("rate = 50", "rate = \"fast\""));
        assert_eq!(e.key(), Some("workload.rate"));
        assert!(e.to_string().starts_with("x.toml:12:8: "), "{e}");
        let e = err(&GOOD.replace("crash = \"n1\"", "crash = [\"n1\"]"));
        assert_eq!(e.key(), Some("faults[2].crash"));
        let e = err(&GOOD.replace("clients = 2", "clients = -1"));
        assert_eq!(e.key(), Some("workload.clients"));
        assert!(e.to_string().starts_with("x.toml:11:11: "), "{e}");
        assert!(e.to_string().contains("-1 is out of range"), "{e}");
        // A table without a field it needs: the table's key and the field.
        let e = err(&format!("{GOOD}[nemesis]\nkinds = [\"crash\"]\n"));
        assert_eq!(e.key(), Some("nemesis.every"));
        // Not TOML at all (a key twice): the key as the line writes it.
        let e = err(&GOOD.replace("loss = 0.01", "loss = 0.01\nloss = 0.02"));
        assert_eq!(e.key(), Some("network.loss"));
        assert!(e.to_string().starts_with("x.toml:10:"), "{e}");
        let e = err(&GOOD.replace("[workload]", "[workload"));
        assert!(e.to_string().starts_with("x.toml:10:"), "{e}");
        assert_ne!(e.key(), Some("<document>"));
    }

    #[test]
    fn a_file_that_is_not_utf8_is_one_error_at_its_place() {
        let dir = std::env::temp_dir().join(format!("highstorm-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        let mut bytes = GOOD.replace("name = \"t\"", "name = \"t?\"").into_bytes();
        let at = bytes.iter().position(|b| *b == b'?').unwrap();
        bytes[at] = 0xff;
        std::fs::write(&path, bytes).unwrap();
        let e = Scenario::load(&path).unwrap_err();
        let text = e.to_string();
        assert_eq!(e.key(), Some("name"));
        assert!(
            text.starts_with(&format!("{}:2:10: ", path.display())),
            "{text}"
        );
        assert_eq!(text.matches("valid UTF-8").count(), 1, "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn config_problems_a_system_finds_are_located_at_their_key() {
        let dir = std::env::temp_dir().join(format!("highstorm-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let registry = crate::testing::fixture::registry();
        let resolve = |config: &str| {
            let path = dir.join("spin.toml");
            let text = format!(
                "name = \"spin\"\nsystem = \"spinner\"\nnodes = 3\nduration = \"1s\"\n\
                 [workload]\nclients = 0\n[config]\n{config}\n"
            );
            std::fs::write(&path, text).unwrap();
            let s = Scenario::load(&path).unwrap();
            registry.resolve(&s).map(|_| ()).map_err(|e| {
                let file = path.display().to_string();
                let text = e.to_string();
                (e.key().map(str::to_owned), text.replace(&file, "spin.toml"))
            })
        };
        assert!(resolve("tick_ms = 5").is_ok());
        let (key, text) = resolve("tick_ms = 0").unwrap_err();
        assert_eq!(key.as_deref(), Some("config.tick_ms"));
        assert!(
            text.starts_with("spin.toml:8:11: `config.tick_ms`: 0 ms"),
            "{text}"
        );
        let (key, text) = resolve("tick_ms = 5\nspins = \"n9\"").unwrap_err();
        assert_eq!(key.as_deref(), Some("config.spins"));
        assert!(text.starts_with("spin.toml:9:9: "), "{text}");
        assert!(text.contains("unknown node \"n9\""), "{text}");
        let (key, text) = resolve("tick_ms = \"soon\"").unwrap_err();
        assert_eq!(key.as_deref(), Some("config.tick_ms"));
        assert!(text.starts_with("spin.toml:8:11: "), "{text}");
        let (key, text) = resolve("tock_ms = 3").unwrap_err();
        assert_eq!(key.as_deref(), Some("config.tock_ms"));
        assert!(text.starts_with("spin.toml:8:11: "), "{text}");
        assert!(text.contains("unknown field `tock_ms`"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn seed_ranges_are_half_open() {
        assert_eq!(parse_seed_range("0..1000"), Ok(0..1000));
        assert_eq!(parse_seed_range("7"), Ok(7..8));
        assert!(parse_seed_range("5..5").is_err());
        assert!(parse_seed_range("a..b").is_err());
        assert!(parse_seed_range("0..18446744073709551615").is_err());
        assert_eq!(parse_seed_range("0..1000000"), Ok(0..1_000_000));
    }
}
