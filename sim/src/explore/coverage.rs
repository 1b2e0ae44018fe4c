//! The coverage signal explore steers by: what a run did, in which fault context.
//!
//! A signal is one (what, context, how often) combination seen in a run's trace, hashed to 64
//! bits:
//! - *what*: a message type sent, a note kind, a client operation's phase, a drop's reason, a
//!   discard, a sometimes-point that held;
//! - *context*: which faults were in force at that moment (a cut link, a node down, a node
//!   paused, a skewed clock, changed link conditions) and whether the node involved is a
//!   restarted incarnation;
//! - *how often*: the count of that combination in the run, in AFL-style buckets (1, 2, 3,
//!   4-7, 8-15, ...), so that doing the same thing markedly more often counts as new too.
//!
//! Nothing here knows a system: message types and note kinds are read from the trace.

use crate::sometimes::Sometimes;
use crate::trace::{EventKind, Trace};
use std::collections::{BTreeMap, BTreeSet};

/// The signals of one run, as 64-bit hashes.
pub type Signals = BTreeSet<u64>;

/// Faults in force at one moment, as bits.
#[derive(Clone, Copy, Default)]
struct Context {
    cut: bool,
    down: usize,
    paused: usize,
    skewed: bool,
    network: bool,
}

impl Context {
    fn bits(&self) -> u8 {
        u8::from(self.cut)
            | u8::from(self.down > 0) << 1
            | u8::from(self.paused > 0) << 2
            | u8::from(self.skewed) << 3
            | u8::from(self.network) << 4
    }
}

/// The coverage signals of a run: its trace read in fault context, plus the sometimes-points
/// that held.
pub fn signals(trace: &Trace, sometimes: &Sometimes) -> Signals {
    let mut counts: BTreeMap<(String, u8, bool), u64> = BTreeMap::new();
    let mut ctx = Context::default();
    let mut restarted: BTreeSet<&str> = BTreeSet::new();
    let mut down: BTreeSet<&str> = BTreeSet::new();
    let mut paused: BTreeSet<&str> = BTreeSet::new();
    for e in trace.events() {
        let (what, node): (String, Option<&str>) = match &e.kind {
            EventKind::Send { src, body, .. } => (format!("send {}", body_type(body)), Some(src)),
            EventKind::Note { node, kind, .. } => (format!("note {kind}"), Some(node)),
            EventKind::Client { op, .. } => (format!("client {} {:?}", op.f, op.phase), None),
            EventKind::Drop { reason, .. } => (format!("drop {reason}"), None),
            EventKind::Discard { node, .. } => ("discard".to_owned(), Some(node)),
            EventKind::Crash { node } => {
                down.insert(node);
                ctx.down = down.len();
                continue;
            }
            EventKind::Restart { node, .. } => {
                down.remove(node.as_str());
                restarted.insert(node);
                ctx.down = down.len();
                continue;
            }
            EventKind::Cut { .. } => {
                ctx.cut = true;
                continue;
            }
            EventKind::Heal { scope } => {
                ctx.cut &= scope != "all";
                continue;
            }
            EventKind::Pause { node } => {
                paused.insert(node);
                ctx.paused = paused.len();
                continue;
            }
            EventKind::Resume { node } => {
                paused.remove(node.as_str());
                ctx.paused = paused.len();
                continue;
            }
            EventKind::Skew { .. } => {
                ctx.skewed = true;
                continue;
            }
            EventKind::Network { .. } => {
                ctx.network = true;
                continue;
            }
            _ => continue,
        };
        let reborn = node.is_some_and(|n| restarted.contains(n));
        *counts.entry((what, ctx.bits(), reborn)).or_default() += 1;
    }
    let mut out: Signals = counts
        .into_iter()
        .map(|((what, bits, reborn), n)| hash(&format!("{what}|{bits}|{reborn}|{}", bucket(n))))
        .collect();
    out.extend(sometimes.hit().map(|p| hash(&format!("sometimes {p}"))));
    out
}

/// The message type of a JSON body (`"type":"..."`), or `?`.
fn body_type(body: &str) -> &str {
    let Some(start) = body.find("\"type\":\"").map(|i| i + 8) else {
        return "?";
    };
    let rest = &body[start..];
    rest.find('"').map_or("?", |end| &rest[..end])
}

/// AFL's hit-count buckets: 1, 2, 3, 4-7, 8-15, 16-31, ...
fn bucket(n: u64) -> u32 {
    match n {
        0..=3 => n as u32,
        _ => 64 - n.leading_zeros() + 1,
    }
}

fn hash(text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(trace: &mut Trace, at_ms: u64, kind: &str) {
        trace.push(
            std::time::Duration::from_millis(at_ms),
            EventKind::Send {
                src: "n1".into(),
                dest: "n2".into(),
                msg_id: Some(1),
                in_reply_to: None,
                body: format!(r#"{{"type":"{kind}","x":1}}"#),
            },
        );
    }

    #[test]
    fn the_same_message_in_a_new_fault_context_is_a_new_signal() {
        let mut calm = Trace::new();
        send(&mut calm, 1, "gossip");
        let base = signals(&calm, &Sometimes::default());
        assert_eq!(base.len(), 1);

        let mut crashed = calm.clone();
        let at = std::time::Duration::from_millis(2);
        crashed.push(at, EventKind::Crash { node: "n3".into() });
        send(&mut crashed, 3, "gossip");
        let more = signals(&crashed, &Sometimes::default());
        assert!(more.len() > base.len(), "a send while n3 is down is new");

        let mut points = Sometimes::default();
        points.record("stepped-down", true);
        points.record("never-true", false);
        assert_eq!(
            signals(&calm, &points).len(),
            2,
            "only points that held count"
        );
    }

    #[test]
    fn counts_fall_in_buckets_and_types_are_read_from_bodies() {
        assert_eq!(
            (1..=9).map(bucket).collect::<Vec<_>>(),
            [1, 2, 3, 4, 4, 4, 4, 5, 5]
        );
        assert_eq!(body_type(r#"{"type":"read_ok","messages":[]}"#), "read_ok");
        assert_eq!(body_type("{}"), "?");
    }
}
