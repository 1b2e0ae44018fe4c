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
///
/// It reads the trace the run produced anyway and allocates nothing per event: each event's
/// *what* is hashed from the text it already holds (a few bytes: a message type, a note
/// kind), so it costs a small fraction of the run it reads.
pub fn signals(trace: &Trace, sometimes: &Sometimes) -> Signals {
    // (hash of what, context bits, reborn) -> count
    let mut counts: BTreeMap<(u64, u8, bool), u64> = BTreeMap::new();
    let mut ctx = Context::default();
    let mut restarted: BTreeSet<&str> = BTreeSet::new();
    let mut down: BTreeSet<&str> = BTreeSet::new();
    let mut paused: BTreeSet<&str> = BTreeSet::new();
    for e in trace.events() {
        let (what, node): (u64, Option<&str>) = match &e.kind {
            EventKind::Send { src, body, .. } => (what(Tag::Send, body_type(body)), Some(src)),
            EventKind::Note { node, kind, .. } => (what(Tag::Note, kind), Some(node)),
            EventKind::Client { op, .. } => (what(Tag::Client(op.phase as u8), &op.f), None),
            EventKind::Drop { reason, .. } => (what(Tag::Drop, reason), None),
            EventKind::Discard { node, .. } => (what(Tag::Discard, ""), Some(node)),
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
        .map(|((what, bits, reborn), n)| {
            let mut key = [0u8; 14];
            key[..8].copy_from_slice(&what.to_le_bytes());
            key[8] = bits;
            key[9] = u8::from(reborn);
            key[10..].copy_from_slice(&bucket(n).to_le_bytes());
            hash(&key)
        })
        .collect();
    out.extend(
        sometimes
            .hit()
            .map(|p| hash(format!("sometimes {p}").as_bytes())),
    );
    out
}

/// What kind of event a signal's *what* comes from.
#[derive(Clone, Copy)]
enum Tag {
    Send,
    Note,
    /// A client operation, in a phase.
    Client(u8),
    Drop,
    Discard,
}

/// The hash of an event's *what*: its kind and the name it carries.
fn what(tag: Tag, name: &str) -> u64 {
    let tag = match tag {
        Tag::Send => 1,
        Tag::Note => 2,
        Tag::Drop => 3,
        Tag::Discard => 4,
        Tag::Client(phase) => 16 + u64::from(phase),
    };
    xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), tag)
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

fn hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
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
