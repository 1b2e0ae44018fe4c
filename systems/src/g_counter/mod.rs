//! Grow-only counter (Maelstrom's fourth challenge) as a state-based CRDT.
//!
//! The state is a map from incarnation (`node/boot`) to how much that incarnation added;
//! merging takes the maximum per key, and the counter's value is the sum. Keying by
//! incarnation rather than by node is what makes restarts safe: a restarted node starts a new
//! key at zero instead of counting again from zero under its old key (which the max-merge would
//! hide until it caught up).
//!
//! Adds are not idempotent, and the network may deliver a request twice: a node remembers the
//! (client, msg_id) of the adds it applied (the most recent 100,000) and ignores repeats. An add
//! that would take the counter past `u64::MAX` is refused with error 22 (precondition-failed,
//! definite): the counter never wraps; a read whose sum no longer fits (adds on two nodes that
//! met) is refused with error 14 rather than wrapped.
//!
//! An `add` is acknowledged only once a peer holds the new count (a `replicate` RPC, retried
//! elsewhere on timeout; an indefinite error if nobody answers). Both the node that took the
//! add and the replica write their counts to durable storage (one key, synced) before they
//! answer, and a restarted node starts from what it wrote: an acknowledged add survives every
//! node crashing in turn while cuts keep the survivors from passing it on
//! (`scenarios/g-counter-overlap.toml` seed 24). Changed state is pushed to every peer every
//! `gossip_ms`; every `anti_entropy_ms` a node also sends its state to one random peer, which
//! answers with its own when it knows more, and a (re)starting node asks every peer for theirs.

// Beside the node: what highstorm needs to test it (not compiled without `harness`).
#[cfg(feature = "harness")]
pub mod check;
#[cfg(feature = "harness")]
mod system;
#[cfg(feature = "harness")]
pub mod workload;
#[cfg(feature = "harness")]
pub use system::system;

mod notes;

/// Sometimes-point: a retried add was recognised and not applied twice.
pub const DUPLICATE_ADD_IGNORED: &str = "duplicate-add-ignored";

pub use notes::GCounterNote;

use highstorm_nodes::{
    ConfigProblem, Ctx, Duration, ErrorBody, ErrorCode, Message, MsgId, Node, RpcReply, SyncError,
    SystemConfig,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The counter's messages: Maelstrom's client API plus the nodes' own state exchange.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GCounterMsg {
    /// Client: add `delta` (non-negative) to the counter.
    Add {
        /// How much to add.
        delta: u64,
    },
    /// The add is durable on two nodes and will reach every node.
    AddOk,
    /// Client: what is the counter's value?
    Read,
    /// The value as this node knows it.
    ReadOk {
        /// The sum of every incarnation's count this node has heard of.
        value: u64,
    },
    /// Node to node: hold this state before I acknowledge an add.
    Replicate {
        /// Incarnation -> count.
        counts: BTreeMap<String, u64>,
    },
    /// The state of a `replicate` is merged.
    ReplicateOk,
    /// Node to node: my state; `reply` asks for yours if it differs.
    State {
        /// Incarnation -> count.
        counts: BTreeMap<String, u64>,
        /// Whether the receiver should answer with its own state when it differs.
        reply: bool,
        /// The sender's clock when it sent this, in ms (variant `clock-fenced` only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent_at_ms: Option<u64>,
    },
}

/// The counter's parameters (the scenario's `[config]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GCounterConfig {
    /// How often changed state is pushed to every peer, in milliseconds.
    pub gossip_ms: u64,
    /// How often state is compared with one random peer, in milliseconds.
    pub anti_entropy_ms: u64,
    /// How long a `replicate` waits before trying another peer, in milliseconds.
    pub replicate_timeout_ms: u64,
}

impl Default for GCounterConfig {
    fn default() -> Self {
        GCounterConfig {
            gossip_ms: 100,
            anti_entropy_ms: 1000,
            replicate_timeout_ms: 100,
        }
    }
}

impl SystemConfig for GCounterConfig {
    fn check(&self) -> Result<(), ConfigProblem> {
        ConfigProblem::period_ms("gossip_ms", self.gossip_ms)?;
        ConfigProblem::period_ms("anti_entropy_ms", self.anti_entropy_ms)?;
        ConfigProblem::period_ms("replicate_timeout_ms", self.replicate_timeout_ms)
    }
}

/// The counter's timers.
#[derive(Debug)]
pub enum GCounterTimer {
    /// Push changed state to every peer (every `gossip_ms`).
    Gossip,
    /// Compare state with a random peer (every `anti_entropy_ms`).
    AntiEntropy,
}

/// A grow-only counter node.
#[derive(Debug, Default)]
pub struct GCounter {
    config: GCounterConfig,
    counts: BTreeMap<String, u64>,
    changed: bool,
    /// Adds waiting for a replica: replicate RPC -> (client request, tries).
    unacked: BTreeMap<MsgId, (Message<GCounterMsg>, usize)>,
    /// Adds already applied, by (client, msg_id), oldest first for pruning.
    applied: std::collections::BTreeSet<(String, MsgId)>,
    applied_order: std::collections::VecDeque<(String, MsgId)>,
    /// The planted bug of variant `clock-fenced`: stamp state with the local clock, and on
    /// state stamped more than 500 ms in this node's future, conclude this clock is wrong and
    /// stop merging anybody's state — for good.
    clock_fence: bool,
    /// Merging nothing (`clock-fenced` only).
    fenced: bool,
}

/// How many applied adds a node remembers to ignore duplicates.
const REMEMBERED_ADDS: usize = 100_000;

/// The durable key holding a node's counts (incarnation -> count, as JSON).
const COUNTS_KEY: &str = "counts";

impl GCounter {
    /// A counter node with `config`.
    pub fn new(config: GCounterConfig) -> Self {
        GCounter {
            config,
            ..GCounter::default()
        }
    }

    /// The variant `clock-fenced`, with a planted bug for testing the harness: state carries
    /// the sender's clock, and state from more than 500 ms in the receiver's future makes the
    /// receiver distrust its own clock and stop merging state, and it never starts again.
    pub fn clock_fenced(config: GCounterConfig) -> Self {
        GCounter {
            clock_fence: true,
            ..GCounter::new(config)
        }
    }

    /// Its state as a message to a peer.
    fn state(&self, ctx: &Ctx<'_, Self>, reply: bool) -> GCounterMsg {
        GCounterMsg::State {
            counts: self.counts.clone(),
            reply,
            sent_at_ms: self.clock_fence.then(|| ctx.now().as_millis()),
        }
    }

    /// The counter's value as this node knows it; `None` if it does not fit a `u64` (adds that
    /// would overflow are refused, but concurrent adds on different nodes can still meet).
    pub fn value(&self) -> Option<u64> {
        self.counts
            .values()
            .try_fold(0u64, |sum, &n| sum.checked_add(n))
    }

    /// Merges `other` by taking the maximum per incarnation; returns whether anything grew.
    fn merge(&mut self, other: &BTreeMap<String, u64>) -> bool {
        let mut grew = false;
        for (k, v) in other {
            let mine = self.counts.entry(k.clone()).or_insert(0);
            if *v > *mine {
                *mine = *v;
                grew = true;
            }
        }
        self.changed |= grew;
        grew
    }

    /// Makes the counts durable before this node vouches for them (a client's `add_ok`, a
    /// replica's `replicate_ok`).
    /// A failed sync means the counts are not durable: the caller must not vouch for them.
    fn persist(&self, ctx: &mut Ctx<'_, Self>) -> Result<(), SyncError> {
        ctx.put_json(COUNTS_KEY, &self.counts);
        ctx.sync()
    }

    fn replicate(&mut self, ctx: &mut Ctx<'_, Self>, request: Message<GCounterMsg>, tries: usize) {
        let Some(to) = ctx.random_peer() else {
            return;
        };
        let timeout = Duration::from_millis(self.config.replicate_timeout_ms.max(1));
        let id = ctx.rpc(
            &to,
            GCounterMsg::Replicate {
                counts: self.counts.clone(),
            },
            timeout,
        );
        self.unacked.insert(id, (request, tries));
    }
}

/// Whether `a` lacks a count `b` holds, or holds it lower.
fn lacks(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> bool {
    b.iter().any(|(k, v)| a.get(k).is_none_or(|have| have < v))
}

fn key(ctx: &Ctx<'_, GCounter>) -> String {
    format!("{}/{}", ctx.id(), ctx.boot())
}

impl Node for GCounter {
    type Msg = GCounterMsg;
    type Timer = GCounterTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Start from what earlier incarnations made durable, then offer it to every peer and
        // ask for what they know beyond it.
        match ctx.storage().get_json::<BTreeMap<String, u64>>(COUNTS_KEY) {
            Some(Ok(stored)) => {
                self.merge(&stored);
            }
            Some(Err(e)) => ctx.note_typed(&GCounterNote::UnreadableStorage(e.to_string())),
            None => {}
        }
        for p in ctx.peers().to_vec() {
            let state = self.state(ctx, true);
            ctx.send(&p, state);
        }
        ctx.set_timer(
            Duration::from_millis(self.config.gossip_ms.max(1)),
            GCounterTimer::Gossip,
        );
        let jitter = {
            use rand::Rng;
            ctx.rng()
                .random_range(0..self.config.anti_entropy_ms.max(1))
        };
        ctx.set_timer(Duration::from_millis(jitter), GCounterTimer::AntiEntropy);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<GCounterMsg>) {
        match &msg.body {
            GCounterMsg::Add { delta } => {
                let tag = msg.msg_id.map(|id| (msg.src.clone(), id));
                if let Some(tag) = tag.as_ref().filter(|t| self.applied.contains(*t)) {
                    ctx.reachable(DUPLICATE_ADD_IGNORED);
                    ctx.note_typed(&GCounterNote::DuplicateAdd(tag.0.clone(), tag.1));
                    return;
                }
                // Overflow is refused, never wrapped: the add does not happen (definite).
                if self.value().and_then(|v| v.checked_add(*delta)).is_none() {
                    let e = ErrorBody::new(
                        ErrorCode::PreconditionFailed,
                        format!(
                            "adding {delta} would overflow the counter (at most {} in all)",
                            u64::MAX
                        ),
                    );
                    ctx.reply_error(&msg, e);
                    return;
                }
                if let Some(tag) = tag {
                    self.applied.insert(tag.clone());
                    self.applied_order.push_back(tag);
                    if self.applied_order.len() > REMEMBERED_ADDS {
                        if let Some(old) = self.applied_order.pop_front() {
                            self.applied.remove(&old);
                        }
                    }
                }
                let k = key(ctx);
                *self.counts.entry(k.clone()).or_insert(0) += *delta;
                self.changed = true;
                if let Err(e) = self.persist(ctx) {
                    // Not durable: take the add back (the disk may still hold it, which makes
                    // it an add of unknown outcome — hence the indefinite error).
                    if let Some(c) = self.counts.get_mut(&k) {
                        *c -= *delta;
                    }
                    ctx.reply_error(&msg, ErrorBody::new(ErrorCode::Crash, e.to_string()));
                    return;
                }
                if ctx.peers().is_empty() {
                    ctx.reply(&msg, GCounterMsg::AddOk);
                } else {
                    self.replicate(ctx, msg, 1);
                }
            }
            GCounterMsg::Read => match self.value() {
                Some(value) => {
                    ctx.reply(&msg, GCounterMsg::ReadOk { value });
                }
                None => {
                    let e = ErrorBody::new(
                        ErrorCode::Abort,
                        "the counter's value does not fit 64 bits (concurrent adds overflowed it)",
                    );
                    ctx.reply_error(&msg, e);
                }
            },
            GCounterMsg::Replicate { counts } => {
                let counts = counts.clone();
                self.merge(&counts);
                match self.persist(ctx) {
                    Ok(()) => {
                        ctx.reply(&msg, GCounterMsg::ReplicateOk);
                    }
                    Err(e) => {
                        let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, e.to_string());
                        ctx.reply_error(&msg, e);
                    }
                }
            }
            GCounterMsg::State {
                counts,
                reply,
                sent_at_ms,
            } => {
                let counts = counts.clone();
                if sent_at_ms.is_some_and(|at| at > ctx.now().as_millis() + 500) {
                    self.fenced = true;
                }
                if !self.fenced {
                    self.merge(&counts);
                }
                if *reply && lacks(&counts, &self.counts) {
                    let mine = self.state(ctx, false);
                    ctx.reply(&msg, mine);
                }
            }
            GCounterMsg::AddOk | GCounterMsg::ReadOk { .. } | GCounterMsg::ReplicateOk => {}
        }
    }

    fn on_rpc_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: MsgId,
        reply: RpcReply<GCounterMsg>,
    ) {
        let Some((client_request, tries)) = self.unacked.remove(&request) else {
            return;
        };
        match reply {
            RpcReply::Reply(_) => {
                ctx.reply(&client_request, GCounterMsg::AddOk);
            }
            _ if tries < ctx.peers().len() => self.replicate(ctx, client_request, tries + 1),
            _ => {
                let error = ErrorBody::new(
                    ErrorCode::Timeout,
                    "no peer confirmed the add; it may still count",
                );
                ctx.reply_error(&client_request, error);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: GCounterTimer) {
        match timer {
            GCounterTimer::Gossip => {
                // A rare path: a gossip round is skipped (its changes go out with the next).
                if !ctx.buggify("g-counter-gossip-skipped") && std::mem::take(&mut self.changed) {
                    for p in ctx.peers().to_vec() {
                        let state = self.state(ctx, false);
                        ctx.send(&p, state);
                    }
                }
                ctx.set_timer(
                    Duration::from_millis(self.config.gossip_ms.max(1)),
                    GCounterTimer::Gossip,
                );
            }
            GCounterTimer::AntiEntropy => {
                if let Some(peer) = ctx.random_peer() {
                    let state = self.state(ctx, true);
                    ctx.send(&peer, state);
                }
                ctx.set_timer(
                    Duration::from_millis(self.config.anti_entropy_ms.max(1)),
                    GCounterTimer::AntiEntropy,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::testing::Harness;

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn merge_takes_the_maximum_per_incarnation() {
        let mut c = GCounter::default();
        assert!(c.merge(&counts(&[("n1/0", 5), ("n2/0", 3)])));
        assert!(
            !c.merge(&counts(&[("n1/0", 4)])),
            "a lower count changes nothing"
        );
        assert!(c.merge(&counts(&[("n1/0", 7), ("n1/1", 2)])));
        assert_eq!(c.value(), Some(7 + 3 + 2));
        assert!(!lacks(&c.counts, &counts(&[("n2/0", 3)])));
        assert!(lacks(&c.counts, &counts(&[("n3/0", 1)])));
        assert!(lacks(&counts(&[("n2/0", 1)]), &c.counts));
    }

    #[test]
    fn a_restarted_node_counts_under_a_new_incarnation() {
        let mut first = Harness::with_boot(GCounter::default(), "n1", &[], 0);
        first.request("c0", 1, &GCounterMsg::Add { delta: 5 });
        let mut second = Harness::with_boot(GCounter::default(), "n1", &[], 1);
        second.request("c0", 1, &GCounterMsg::Add { delta: 2 });
        // Peers merging both incarnations see 7, not max(5, 2).
        let mut peer = GCounter::default();
        peer.merge(&first.node().counts);
        peer.merge(&second.node().counts);
        assert_eq!(peer.value(), Some(7));
    }

    #[test]
    fn counts_a_node_vouched_for_survive_its_crash() {
        // The node that took the add: durable before its replicate goes out.
        let mut n = Harness::new(GCounter::default(), "n1", &["n2"]);
        n.request("c0", 1, &GCounterMsg::Add { delta: 5 });
        let n = n.crash_and_restart(GCounter::default());
        assert_eq!(n.node().value(), Some(5));
        // The replica: durable before its answer.
        let mut r = Harness::new(GCounter::default(), "n2", &["n1"]);
        r.take_sent();
        let held = GCounterMsg::Replicate {
            counts: counts(&[("n1/0", 5), ("n3/1", 2)]),
        };
        assert_eq!(r.request("n1", 1, &held)[0].body, GCounterMsg::ReplicateOk);
        let mut r = r.crash_and_restart(GCounter::default());
        assert_eq!(r.node().value(), Some(7));
        // The restarted replica offers what it kept to its peers.
        r.take_sent();
        let mut again = r.crash_and_restart(GCounter::default());
        let offered = again.take_sent();
        assert!(
            offered.iter().any(|m| m.body
                == GCounterMsg::State {
                    counts: counts(&[("n1/0", 5), ("n3/1", 2)]),
                    reply: true,
                    sent_at_ms: None,
                }),
            "{offered:?}"
        );
    }

    #[test]
    fn a_duplicated_add_counts_once() {
        let mut n = Harness::new(GCounter::default(), "n1", &[]);
        n.request("c0", 5, &GCounterMsg::Add { delta: 3 });
        n.request("c0", 5, &GCounterMsg::Add { delta: 3 });
        n.request("c1", 5, &GCounterMsg::Add { delta: 3 });
        assert_eq!(n.node().value(), Some(6));
    }

    #[test]
    fn an_add_that_would_overflow_is_refused_never_wrapped() {
        let mut n = Harness::new(GCounter::default(), "n1", &[]);
        let ok = n.request("c0", 1, &GCounterMsg::Add { delta: 5 });
        assert_eq!(ok[0].body, GCounterMsg::AddOk);
        let refused = n.request("c0", 2, &GCounterMsg::Add { delta: u64::MAX });
        assert!(refused.is_empty(), "no add_ok: {refused:?}");
        let errors: Vec<String> = n
            .outputs
            .iter()
            .filter_map(|o| match o {
                highstorm_nodes::Output::Transmit(t) => {
                    Some(String::from_utf8_lossy(&t.bytes).into_owned())
                }
                _ => None,
            })
            .filter(|t| t.contains(r#""type":"error""#))
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains(r#""code":22"#) && errors[0].contains("overflow"),
            "{}",
            errors[0]
        );
        assert!(errors[0].contains(r#""in_reply_to":2"#), "{}", errors[0]);
        let read = n.request("c0", 3, &GCounterMsg::Read);
        assert_eq!(read[0].body, GCounterMsg::ReadOk { value: 5 });
        // The largest add that fits is taken.
        let ok = n.request(
            "c0",
            4,
            &GCounterMsg::Add {
                delta: u64::MAX - 5,
            },
        );
        assert_eq!(ok[0].body, GCounterMsg::AddOk);
        let read = n.request("c0", 5, &GCounterMsg::Read);
        assert_eq!(read[0].body, GCounterMsg::ReadOk { value: u64::MAX });
        // Concurrent adds elsewhere that together overflow: reads refuse, never wrap.
        let mut m = GCounter::default();
        m.merge(&counts(&[("n1/0", u64::MAX), ("n2/0", 1)]));
        assert_eq!(m.value(), None);
    }

    #[test]
    fn an_add_is_acknowledged_once_a_peer_holds_it() {
        let mut n = Harness::new(GCounter::default(), "n1", &["n2"]);
        n.take_sent();
        let sent = n.request("c0", 9, &GCounterMsg::Add { delta: 4 });
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].body,
            GCounterMsg::Replicate {
                counts: counts(&[("n1/0", 4)])
            }
        );
        let ok = highstorm_nodes::wire::encode(&highstorm_nodes::wire::Envelope {
            src: "n2".into(),
            dest: "n1".into(),
            body: highstorm_nodes::wire::Body {
                msg_id: Some(1),
                in_reply_to: sent[0].msg_id,
                payload: GCounterMsg::ReplicateOk,
            },
        });
        let acks = n.deliver_bytes(&ok);
        assert_eq!(acks[0].body, GCounterMsg::AddOk);
        assert_eq!(acks[0].in_reply_to, Some(9));
        let read = n.request("c0", 10, &GCounterMsg::Read);
        assert_eq!(read[0].body, GCounterMsg::ReadOk { value: 4 });
    }
}
