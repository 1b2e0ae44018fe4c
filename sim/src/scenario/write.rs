//! A [`Scenario`] written back as TOML that [`Scenario::from_toml`] reads to the same value.

use super::{Conditions, Distribution, FaultAction, Heal, Latency, Scenario};
use std::fmt::Write as _;
use std::time::Duration;

/// A duration in the largest unit that keeps it exact: `2s`, `1500ms`, `250us`, `7ns`.
///
/// Exact to the nanosecond: explore's and the shrinker's faults land between microseconds,
/// and a shrunk failure can rest on two of them meeting in one instant (a pause ending just as
/// a clock steps), which a file rounded to microseconds no longer reproduces.
pub(crate) fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns % 1_000_000_000 == 0 {
        format!("{}s", ns / 1_000_000_000)
    } else if ns % 1_000_000 == 0 {
        format!("{}ms", ns / 1_000_000)
    } else if ns % 1000 == 0 {
        format!("{}us", ns / 1000)
    } else {
        format!("{ns}ns")
    }
}

fn signed(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    format!(
        "{sign}{}",
        duration(Duration::from_micros(us.unsigned_abs()))
    )
}

fn strings(v: &[String]) -> String {
    let quoted: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

fn latency(l: &Latency) -> String {
    let dist = match l.distribution {
        Distribution::Uniform => "uniform",
        Distribution::Exponential => "exponential",
    };
    format!(
        "{{ min = \"{}\", max = \"{}\", distribution = \"{dist}\" }}",
        duration(l.min),
        duration(l.max)
    )
}

fn float(x: f64) -> String {
    let s = format!("{x}");
    if s.contains(['.', 'e', 'i', 'N']) {
        s
    } else {
        format!("{s}.0")
    }
}

fn conditions(c: &Conditions) -> Vec<String> {
    let mut parts = vec![];
    if let Some(l) = &c.latency {
        parts.push(format!("latency = {}", latency(l)));
    }
    if let Some(p) = c.loss {
        parts.push(format!("loss = {}", float(p)));
    }
    if let Some(p) = c.duplicate {
        parts.push(format!("duplicate = {}", float(p)));
    }
    parts
}

impl Scenario {
    /// The scenario as a TOML scenario file.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "name = {:?}", self.name);
        let _ = writeln!(w, "system = {:?}", self.system);
        if let Some(v) = &self.variant {
            let _ = writeln!(w, "variant = {v:?}");
        }
        let _ = writeln!(w, "nodes = {}", self.nodes);
        let _ = writeln!(w, "duration = \"{}\"", duration(self.duration));
        let _ = writeln!(w, "seeds = \"{}..{}\"", self.seeds.start, self.seeds.end);
        if !self.regressions.is_empty() {
            let r: Vec<String> = self.regressions.iter().map(u64::to_string).collect();
            let _ = writeln!(w, "regressions = [{}]", r.join(", "));
        }
        let _ = writeln!(w, "tick = \"{}\"", duration(self.tick));
        if self.engine != super::engine_kind::Engine::default() {
            let _ = writeln!(w, "engine = \"{}\"", self.engine.name());
        }

        let n = &self.network;
        let _ = writeln!(w, "\n[network]\nlatency = {}", latency(&n.latency));
        let _ = writeln!(
            w,
            "loss = {}\nduplicate = {}",
            float(n.loss),
            float(n.duplicate)
        );
        for rule in &n.links {
            let _ = writeln!(
                w,
                "\n[[network.links]]\nfrom = {}\nto = {}\nbidirectional = false",
                strings(&rule.from),
                strings(&rule.to)
            );
            for part in conditions(&rule.conditions) {
                let _ = writeln!(w, "{part}");
            }
        }
        if !self.clocks.is_empty() {
            let _ = writeln!(w, "\n[clocks]");
            for (node, c) in &self.clocks {
                let _ = writeln!(
                    w,
                    "{node} = {{ skew = \"{}\", drift = {} }}",
                    signed(c.skew_us),
                    float(c.drift)
                );
            }
        }
        let wl = &self.workload;
        let _ = writeln!(
            w,
            "\n[workload]\nclients = {}\nrate = {}\ntimeout = \"{}\"",
            wl.clients,
            float(wl.rate),
            duration(wl.timeout)
        );
        if wl.api != crate::scenario::Api::Messages {
            let _ = writeln!(w, "api = \"{}\"", wl.api.name());
        }
        for f in &self.faults {
            let _ = writeln!(w, "\n[[faults]]\nat = \"{}\"", duration(f.at));
            let _ = match &f.action {
                FaultAction::Partition(groups) => {
                    let g: Vec<String> = groups.iter().map(|g| strings(g)).collect();
                    writeln!(w, "partition = [{}]", g.join(", "))
                }
                FaultAction::PartitionOneway { from, to } => writeln!(
                    w,
                    "partition_oneway = {{ from = {}, to = {} }}",
                    strings(from),
                    strings(to)
                ),
                FaultAction::Heal(Heal::All) => writeln!(w, "heal = \"all\""),
                FaultAction::Heal(Heal::Link(a, b)) => writeln!(w, "heal = [{a:?}, {b:?}]"),
                FaultAction::Crash {
                    node,
                    restart_after,
                } => {
                    let _ = writeln!(w, "crash = {node:?}");
                    match restart_after {
                        Some(d) => writeln!(w, "restart_after = \"{}\"", duration(*d)),
                        None => Ok(()),
                    }
                }
                FaultAction::Restart(node) => writeln!(w, "restart = {node:?}"),
                FaultAction::Pause { node, resume_after } => {
                    let _ = writeln!(w, "pause = {node:?}");
                    match resume_after {
                        Some(d) => writeln!(w, "resume_after = \"{}\"", duration(*d)),
                        None => Ok(()),
                    }
                }
                FaultAction::Resume(node) => writeln!(w, "resume = {node:?}"),
                FaultAction::Network {
                    link,
                    conditions: c,
                } => {
                    let _ = writeln!(w, "network = {{ {} }}", conditions(c).join(", "));
                    match link {
                        Some((from, to)) => writeln!(
                            w,
                            "link = {{ from = {}, to = {} }}",
                            strings(from),
                            strings(to)
                        ),
                        None => Ok(()),
                    }
                }
                FaultAction::Skew { node, clock } => writeln!(
                    w,
                    "skew = {{ node = {node:?}, offset = \"{}\", drift = {} }}",
                    signed(clock.skew_us),
                    float(clock.drift)
                ),
                FaultAction::Corrupt { node, key } => match key {
                    Some(k) => writeln!(w, "corrupt = {{ node = {node:?}, key = {k:?} }}"),
                    None => writeln!(w, "corrupt = {{ node = {node:?} }}"),
                },
                FaultAction::DiskFull { node, free_after } => {
                    let _ = writeln!(w, "disk_full = {node:?}");
                    match free_after {
                        Some(d) => writeln!(w, "free_after = \"{}\"", duration(*d)),
                        None => Ok(()),
                    }
                }
                FaultAction::DiskFree(node) => writeln!(w, "disk_free = {node:?}"),
            };
        }
        if !self.storage.is_off() || self.storage.atlas {
            let st = &self.storage;
            let _ = writeln!(w, "\n[storage]");
            for (name, p) in st.rates.named() {
                let _ = writeln!(w, "{name} = {}", float(p));
            }
            if st.atlas {
                let _ = writeln!(w, "atlas = true");
            }
            for (node, r) in &st.nodes {
                let _ = writeln!(w, "\n[storage.nodes.{node}]");
                for (name, p) in r.named() {
                    let _ = writeln!(w, "{name} = {}", float(p));
                }
            }
        }
        if let Some(nm) = &self.nemesis {
            let kinds: Vec<String> = nm.kinds.iter().map(|k| format!("{:?}", k.name())).collect();
            let _ = writeln!(
                w,
                "\n[nemesis]\nkinds = [{}]\nevery = \"{}\"\nintensity = {}\nfault_duration = \"{}\"\nstart = \"{}\"",
                kinds.join(", "),
                duration(nm.every),
                float(nm.intensity),
                duration(nm.fault_duration),
                duration(nm.start)
            );
            if let Some(stop) = nm.stop {
                let _ = writeln!(w, "stop = \"{}\"", duration(stop));
            }
            if nm.overlap {
                let _ = writeln!(w, "overlap = true");
            }
            if nm.swarm {
                let _ = writeln!(w, "swarm = true");
            }
        }
        if self.checks != super::Checks::default() {
            let _ = writeln!(w, "\n[checks]");
            if let Some(d) = self.checks.converge_within {
                let _ = writeln!(w, "converge_within = \"{}\"", duration(d));
            }
            if let Some(m) = self.checks.msgs_per_op_max {
                let _ = writeln!(w, "msgs_per_op_max = {}", float(m));
            }
            if let Some(d) = self.checks.liveness {
                let _ = writeln!(w, "liveness = \"{}\"", duration(d));
            }
            for (key, targets) in [
                ("latency", &self.checks.latency),
                ("stable_latency", &self.checks.stable_latency),
            ] {
                if let Some(t) = targets {
                    let bounds: Vec<String> = t
                        .bounds()
                        .into_iter()
                        .map(|(name, d)| format!("{name} = \"{}\"", duration(d)))
                        .collect();
                    let _ = writeln!(w, "{key} = {{ {} }}", bounds.join(", "));
                }
            }
            if self.checks.buggify {
                let _ = writeln!(w, "buggify = true");
            }
        }
        if self.config.as_object().is_some_and(|c| !c.is_empty()) {
            #[derive(serde::Serialize)]
            struct Wrapper<'a> {
                config: &'a serde_json::Value,
            }
            if let Ok(text) = toml::to_string(&Wrapper {
                config: &self.config,
            }) {
                let _ = write!(w, "\n{text}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Clock, Conditions, Nemesis, NemesisKind};

    #[test]
    fn written_scenarios_read_back_to_the_same_value() {
        let ms = Duration::from_millis;
        let s = Scenario::new("round-trip", "ids")
            .nodes(4)
            .duration(ms(7250))
            .seeds(3..40)
            .latency_distribution(ms(2)..ms(80), Distribution::Exponential)
            .loss(0.125)
            .duplicate(0.5)
            .clock("n1", -1500, 0.25)
            .workload(3, 12.5)
            .client_timeout(Duration::from_micros(2500))
            .partition_at(ms(100), &[&["n0", "n1"][..], &["n2"][..]])
            .partition_oneway_at(ms(200), &["n3"], &["n0"])
            .heal_link_at(ms(300), "n3", "n0")
            .heal_at(ms(400))
            .crash_at(ms(500), "n2", Some(ms(250)))
            .crash_at(ms(600), "n3", None)
            .restart_at(ms(700), "n3")
            .pause_at(ms(800), "n0", Some(ms(100)))
            .pause_at(ms(900), "n1", None)
            .resume_at(ms(1000), "n1")
            .network_at(
                ms(1100),
                Conditions {
                    latency: Some(Latency::uniform(ms(5)..ms(6))),
                    loss: Some(0.0),
                    duplicate: None,
                },
            )
            .skew_at(ms(1200), "n2", 3_000_000, -0.01)
            .fault(
                ms(1300),
                FaultAction::Network {
                    link: Some((vec!["n0".into()], vec!["n1".into()])),
                    conditions: Conditions {
                        loss: Some(1.0),
                        ..Conditions::default()
                    },
                },
            )
            .nemesis(Nemesis {
                stop: Some(ms(5000)),
                ..Nemesis::new(&[NemesisKind::Crash, NemesisKind::Skew], ms(1500)).overlapping()
            });
        let mut s = s;
        s.regressions = vec![9, 11];
        s.engine = crate::scenario::engine_kind::Engine::Events;
        s.checks.converge_within = Some(ms(3000));
        s.checks.msgs_per_op_max = Some(30.0);
        s.checks.buggify = true;
        s.checks.latency = Some(crate::scenario::LatencyTargets {
            p99: Some(ms(900)),
            ..Default::default()
        });
        s.checks.stable_latency = Some(crate::scenario::LatencyTargets {
            p50: Some(ms(200)),
            p95: Some(ms(300)),
            max: Some(ms(400)),
            ..Default::default()
        });
        s.config = serde_json::json!({"strategy": "tree", "fanout": 4});
        s.clocks.insert(
            "n3".into(),
            Clock {
                skew_us: 7,
                drift: 0.0,
            },
        );
        s.validate().unwrap();
        let text = s.to_toml();
        let back = Scenario::from_toml("rt.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, s, "{text}");
    }

    #[test]
    fn durations_use_the_largest_exact_unit() {
        assert_eq!(duration(Duration::from_secs(3)), "3s");
        assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration(Duration::from_micros(7)), "7us");
        assert_eq!(
            duration(Duration::from_nanos(25_823_919_500)),
            "25823919500ns"
        );
        assert_eq!(signed(-250_000), "-250ms");
    }

    /// A fault between microseconds (where explore puts them) reads back to the same instant:
    /// rounded, a pause that ended just as a clock stepped ended a microsecond before it.
    #[test]
    fn faults_between_microseconds_read_back_exactly() {
        let ns = Duration::from_nanos;
        let s = Scenario::new("between", "ids")
            .nodes(2)
            .duration(Duration::from_secs(30))
            .pause_at(ns(25_823_919_500), "n0", Some(ns(176_080_500)))
            .crash_at(ns(1_000_000_001), "n1", Some(ns(999_999_999)));
        s.validate().unwrap();
        let text = s.to_toml();
        let back = Scenario::from_toml("b.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, s, "{text}");
    }
}
