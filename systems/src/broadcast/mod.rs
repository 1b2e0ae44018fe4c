//! Broadcast (Maelstrom's third challenge): every value a client broadcasts reaches every node,
//! through loss, duplication, partitions and crashes.
//!
//! A client's `broadcast` is acknowledged only once a second node holds the value (a
//! `replicate` RPC to the first node it would push to, retried elsewhere on timeout). Both
//! nodes write the value to durable storage (one key per value, synced) before they answer, and
//! a restarted node takes its stored values back and spreads them again: an acknowledged value
//! survives both of its holders crashing before it spread (which overlapping cuts and crashes
//! do, `scenarios/broadcast-5-overlap.toml` seed 52). Values a node merely heard of are not
//! written; a restart recovers them from peers. Then two mechanisms, each doing one job:
//! - **Push**, for speed: new values are batched per neighbour and sent every `batch` interval
//!   along the strategy's topology (`flood`, `grid`, `tree`, `star`, or `best`).
//! - **Anti-entropy**, for safety: every `anti_entropy` interval a node sends a random peer a
//!   digest (count and an order-independent hash) of what it holds; a peer whose digest differs
//!   answers with everything it has, and the asker pushes back whatever the peer lacked. A node
//!   that (re)starts asks its peers for everything at once, so a restarted node recovers all
//!   values. Pushes need no acks: anything a partition or loss swallowed is repaired here.
//!
//! Here: messages, config, the node and its acknowledgement path. Beside it: `topology.rs`
//! (where values go next), `held.rs` (the held set and its durable part), `push.rs` (batched
//! pushes) and `anti_entropy.rs` (digests and repair).

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

/// The sometimes-points its nodes mark: a sweep reports how often each held, and which never did.
pub mod points {
    /// Anti-entropy found values a peer lacked and sent them.
    pub const REPAIR_SENT: &str = "anti-entropy-repair-sent";
    /// A restarted node recovered values from its storage.
    pub const RECOVERED_VALUES: &str = "restart-recovered-values";
    /// Every point, declared with the system.
    pub const ALL: &[&str] = &[REPAIR_SENT, RECOVERED_VALUES];
}

mod anti_entropy;
mod held;
mod push;
mod topology;

use anti_entropy::{RECOVERY_PEERS, SYNC_RETRIES};
use topology::Arrival;

pub use notes::BroadcastNote;

use highstorm_nodes::{
    ConfigProblem, Ctx, Duration, ErrorBody, ErrorCode, Message, Node, SystemConfig, MAX_PERIOD_MS,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Broadcast's messages: Maelstrom's client API plus the nodes' own gossip.
///
/// (`Deserialize` comes from [`tagged_deserialize!`](highstorm_nodes::tagged_deserialize): the big
/// `read_ok` and `everything` lists decode without serde's buffering.)
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BroadcastMsg {
    /// Client: please spread this value.
    Broadcast {
        /// The value.
        message: u64,
    },
    /// The value is accepted (it will reach every node).
    BroadcastOk,
    /// Client: which values do you hold?
    Read,
    /// Every value this node holds, ascending.
    ReadOk {
        /// The values.
        messages: Vec<u64>,
    },
    /// Maelstrom's suggested topology (ignored: the strategy chooses its own).
    Topology {
        /// Node -> neighbours.
        topology: BTreeMap<String, Vec<String>>,
    },
    /// The topology was received.
    TopologyOk,
    /// Node to node: hold these values before I acknowledge them to a client.
    Replicate {
        /// The values.
        values: Vec<u64>,
        /// Spread them as if a client had sent them here (set when this node is not the
        /// sender's first choice, which pushes them on the sender's behalf).
        #[serde(default)]
        relay: bool,
    },
    /// The values of a `replicate` are held.
    ReplicateOk,
    /// Node to node: values new to the sender.
    Gossip {
        /// The values.
        values: Vec<u64>,
    },
    /// Node to node: a summary of what the sender holds.
    Digest {
        /// How many values.
        count: u64,
        /// Order-independent hash of the values.
        hash: u64,
    },
    /// Answer to a digest that needs no repair from the sender (the same values, or none).
    DigestOk,
    /// Answer to a differing digest: everything the sender holds.
    Everything {
        /// The values.
        values: Vec<u64>,
    },
    /// Node to node: values the receiver was found to lack; spread them like a client's.
    Repair {
        /// The values.
        values: Vec<u64>,
    },
}

highstorm_nodes::tagged_deserialize!(BroadcastMsg {
    "broadcast" => Broadcast { message },
    "broadcast_ok" => BroadcastOk,
    "read" => Read,
    "read_ok" => ReadOk { messages },
    "topology" => Topology { topology },
    "topology_ok" => TopologyOk,
    "replicate" => Replicate { values, relay = default },
    "replicate_ok" => ReplicateOk,
    "gossip" => Gossip { values },
    "digest" => Digest { count, hash },
    "digest_ok" => DigestOk,
    "everything" => Everything { values },
    "repair" => Repair { values },
});

/// How pushes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The receiving node sends each new client value straight to every peer.
    Flood,
    /// Maelstrom's default offer: a square grid, values forwarded to grid neighbours.
    Grid,
    /// A tree rooted at `n0` with `fanout` children per node, values forwarded along it.
    Tree,
    /// Every node sends to the hub `n0`, which sends to everyone.
    Star,
    /// A star whose hub forwards every batch at once and whose leaves push on arrival:
    /// two hops, the fewest messages.
    Best,
}

/// Broadcast's parameters (the scenario's `[config]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BroadcastConfig {
    /// The push strategy.
    pub strategy: Strategy,
    /// Children per node for `tree`.
    pub fanout: usize,
    /// How long new values wait to be batched, in milliseconds (0: send at once).
    pub batch_ms: u64,
    /// How often a node compares digests with a random peer, in milliseconds.
    pub anti_entropy_ms: u64,
    /// How long a `replicate` waits for its answer before trying another peer, in milliseconds.
    pub replicate_timeout_ms: u64,
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        BroadcastConfig {
            strategy: Strategy::Best,
            fanout: 4,
            batch_ms: 50,
            anti_entropy_ms: 1000,
            replicate_timeout_ms: 250,
        }
    }
}

impl SystemConfig for BroadcastConfig {
    fn check(&self) -> Result<(), ConfigProblem> {
        ConfigProblem::within("fanout", self.fanout, 1..=1000)?;
        ConfigProblem::within("batch_ms", self.batch_ms, 0..=MAX_PERIOD_MS)?;
        ConfigProblem::period_ms("anti_entropy_ms", self.anti_entropy_ms)?;
        ConfigProblem::period_ms("replicate_timeout_ms", self.replicate_timeout_ms)
    }
}

/// Broadcast's timers.
#[derive(Debug)]
pub enum BroadcastTimer {
    /// Send the batched values (armed when the first value of a batch arrives).
    Flush,
    /// Compare digests with a random peer (every `anti_entropy_ms`).
    AntiEntropy,
}

/// A broadcast node.
#[derive(Debug)]
pub struct Broadcast {
    config: BroadcastConfig,
    /// Skip anti-entropy and restart recovery: the planted bug of variant `amnesiac`.
    amnesiac: bool,
    /// Push nothing, leaving every value to anti-entropy: the planted bug of variant `silent`.
    silent: bool,
    /// The values held, ascending and distinct.
    values: Vec<u64>,
    /// Sum of per-value hashes: order-independent, updated as values arrive.
    hash: u64,
    /// Values waiting for the next flush, per target (by position in `all`; sized on first
    /// use).
    pending: Vec<Vec<u64>>,
    /// The targets with values pending.
    dirty: Vec<usize>,
    /// This node's position in `all`.
    me_at: Option<usize>,
    /// Each position's rank in name order, the order a flush sends in (computed the first
    /// time a flush has more than one target).
    rank: Vec<usize>,
    flush_armed: bool,
    /// Client broadcasts waiting for a replica: replicate RPC -> (request, value, peers tried).
    unacked: BTreeMap<highstorm_nodes::MsgId, (Message<BroadcastMsg>, u64, Vec<String>)>,
    /// The anti-entropy exchange in flight: digest RPC -> (peer, retries left).
    syncing: Option<(highstorm_nodes::MsgId, String, u32)>,
    /// Every node of the cluster, this one included, in natural order (`n2` before `n10`; set
    /// on init: the membership is fixed for an incarnation, and sorting it per message costs
    /// O(n log n)). Usually the host's own member list, shared, not a copy.
    all: std::sync::Arc<[String]>,
    /// Values whose durable key a failed sync left in doubt: written again at the next
    /// persist, whatever this incarnation's view of storage says.
    in_doubt: Vec<u64>,
}

impl Broadcast {
    /// A node with `config`.
    pub fn new(config: BroadcastConfig) -> Self {
        Broadcast {
            config,
            amnesiac: false,
            silent: false,
            in_doubt: vec![],
            values: vec![],
            hash: 0,
            pending: vec![],
            dirty: vec![],
            me_at: None,
            rank: vec![],
            flush_armed: false,
            unacked: BTreeMap::new(),
            syncing: None,
            all: Default::default(),
        }
    }

    /// The variant `amnesiac`, with a planted bug for testing the harness: no anti-entropy and
    /// no recovery on restart, so values lost to a partition or a crash stay lost.
    pub fn amnesiac(config: BroadcastConfig) -> Self {
        Broadcast {
            amnesiac: true,
            ..Broadcast::new(config)
        }
    }

    /// The variant `silent`, with a planted bug for testing the harness: it relays nothing
    /// (no pushes along the topology), so values spread only by anti-entropy. It converges,
    /// slowly: only a latency target tells it from a correct node.
    pub fn silent(config: BroadcastConfig) -> Self {
        Broadcast {
            silent: true,
            ..Broadcast::new(config)
        }
    }

    /// The values held, ascending.
    pub fn values(&self) -> &[u64] {
        &self.values
    }

    /// Accepts a client's value: stores it, hands it to a replica and acknowledges once the
    /// replica holds it.
    fn accept(&mut self, ctx: &mut Ctx<'_, Self>, request: Message<BroadcastMsg>, value: u64) {
        let client = Arrival::Origin { from: None };
        if let Err(e) = self.persist(ctx, &[value]) {
            // Not durable here, so not acknowledged (it may be on disk: indefinite).
            ctx.reply_error(&request, ErrorBody::new(ErrorCode::Crash, e.to_string()));
            return;
        }
        if ctx.peers().is_empty() || self.amnesiac {
            ctx.reply(&request, BroadcastMsg::BroadcastOk);
            self.learn(ctx, &[value], client, None);
            return;
        }
        self.everyone(ctx);
        let partner = match self.targets(ctx.id(), client).into_iter().next() {
            Some(p) => self.all[p].clone(),
            None => ctx.random_peer().unwrap_or_default(),
        };
        self.learn(ctx, &[value], client, Some(&partner));
        self.replicate(ctx, request, value, partner, vec![]);
    }

    fn replicate(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: Message<BroadcastMsg>,
        value: u64,
        to: String,
        mut tried: Vec<String>,
    ) {
        let timeout = Duration::from_millis(self.config.replicate_timeout_ms.max(1));
        // The first replica receives the value in place of the push; later ones (after a
        // timeout) must spread it themselves, since the first may never have got it.
        let relay = !tried.is_empty();
        let id = ctx.rpc(
            &to,
            BroadcastMsg::Replicate {
                values: vec![value],
                relay,
            },
            timeout,
        );
        tried.push(to);
        self.unacked.insert(id, (request, value, tried));
    }
}

impl Node for Broadcast {
    type Msg = BroadcastMsg;
    type Timer = BroadcastTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.amnesiac {
            return;
        }
        // What an earlier incarnation vouched for comes back from storage and spreads again,
        // as if a client had just sent it (its other holder may be gone too).
        let hub = self.everyone(ctx)[0].clone();
        let held = Self::recover(ctx);
        self.learn(ctx, &held, Arrival::Origin { from: None }, None);
        // Recover everything else: a digest differs from any peer that holds more. Ask every
        // peer in a small cluster; in a big one, the hub (in a star) and random others.
        let ask: Vec<String> = if ctx.peers().len() <= RECOVERY_PEERS {
            ctx.peers().to_vec()
        } else {
            let star = matches!(self.config.strategy, Strategy::Star | Strategy::Best);
            let mut ask = vec![];
            if star && ctx.id() != hub {
                ask.push(hub);
            }
            while ask.len() < RECOVERY_PEERS {
                let p = ctx.random_peer().unwrap_or_default();
                if !ask.contains(&p) {
                    ask.push(p);
                }
            }
            ask
        };
        for p in &ask {
            ctx.send(p, self.digest());
        }
        let first = self.config.anti_entropy_ms.max(1);
        let jitter = {
            use rand::Rng;
            ctx.rng().random_range(0..first)
        };
        ctx.set_timer(Duration::from_millis(jitter), BroadcastTimer::AntiEntropy);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<BroadcastMsg>) {
        match &msg.body {
            BroadcastMsg::Broadcast { message } => {
                let v = *message;
                self.accept(ctx, msg, v);
            }
            BroadcastMsg::Replicate { values, relay } => {
                let values = values.clone();
                if let Err(e) = self.persist(ctx, &values) {
                    let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, e.to_string());
                    ctx.reply_error(&msg, e);
                    return;
                }
                ctx.reply(&msg, BroadcastMsg::ReplicateOk);
                let arrival = if *relay {
                    Arrival::Origin {
                        from: Some(&msg.src),
                    }
                } else {
                    Arrival::Push { from: &msg.src }
                };
                self.learn(ctx, &values, arrival, None);
            }
            BroadcastMsg::Repair { values } => {
                let values = values.clone();
                let arrival = Arrival::Origin {
                    from: Some(&msg.src),
                };
                self.learn(ctx, &values, arrival, None);
            }
            BroadcastMsg::Read => {
                let messages = self.values.clone();
                ctx.reply(&msg, BroadcastMsg::ReadOk { messages });
            }
            BroadcastMsg::Topology { .. } => {
                ctx.reply(&msg, BroadcastMsg::TopologyOk);
            }
            BroadcastMsg::Gossip { values } => {
                let values = values.clone();
                self.learn(ctx, &values, Arrival::Push { from: &msg.src }, None);
            }
            BroadcastMsg::Digest { count, hash } => {
                if (*count, *hash) != (self.values.len() as u64, self.hash)
                    && !self.values.is_empty()
                {
                    let values = self.values.clone();
                    ctx.reply(&msg, BroadcastMsg::Everything { values });
                } else {
                    ctx.reply(&msg, BroadcastMsg::DigestOk);
                }
            }
            // Answers to the digests of a (re)start, which are not RPCs.
            BroadcastMsg::Everything { values } => {
                let values = values.clone();
                self.everything(ctx, &msg.src, &values);
            }
            BroadcastMsg::DigestOk => {}
            BroadcastMsg::BroadcastOk
            | BroadcastMsg::ReadOk { .. }
            | BroadcastMsg::TopologyOk
            | BroadcastMsg::ReplicateOk => {}
        }
    }

    fn on_rpc_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: highstorm_nodes::MsgId,
        reply: highstorm_nodes::RpcReply<BroadcastMsg>,
    ) {
        if let Some((id, peer, retries)) = self.syncing.take() {
            if id != request {
                self.syncing = Some((id, peer, retries));
            } else {
                match reply {
                    highstorm_nodes::RpcReply::Reply(m) => {
                        if let BroadcastMsg::Everything { values } = &m.body {
                            self.everything(ctx, &m.src, values);
                        }
                    }
                    _ if retries > 0 => self.sync(ctx, peer, retries - 1),
                    _ => {}
                }
                return;
            }
        }
        let Some((client_request, value, tried)) = self.unacked.remove(&request) else {
            return;
        };
        match reply {
            highstorm_nodes::RpcReply::Reply(_) => {
                ctx.reply(&client_request, BroadcastMsg::BroadcastOk);
            }
            // No replica yet: try another peer. After every peer had its chance, tell the
            // client the outcome is unknown (the value stays here and anti-entropy will spread
            // it once the network allows).
            _ if tried.len() < ctx.peers().len() => {
                // The next untried peer, starting from a random one.
                let peers = ctx.peers().to_vec();
                let start = ctx
                    .random_peer()
                    .and_then(|p| peers.iter().position(|q| *q == p));
                let next = (0..peers.len())
                    .map(|i| &peers[(start.unwrap_or(0) + i) % peers.len()])
                    .find(|p| !tried.contains(p))
                    .cloned()
                    .unwrap_or_default();
                self.replicate(ctx, client_request, value, next, tried);
            }
            _ => {
                let error = highstorm_nodes::ErrorBody::new(
                    highstorm_nodes::ErrorCode::Timeout,
                    format!("no peer confirmed holding {value}; it may still spread"),
                );
                ctx.reply_error(&client_request, error);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: BroadcastTimer) {
        match timer {
            BroadcastTimer::Flush => {
                self.flush_armed = false;
                self.flush(ctx);
            }
            BroadcastTimer::AntiEntropy => {
                // In a star, leaves compare with the hub, which spreads any repair to everyone;
                // elsewhere (and at the hub) with a random peer.
                let hub = self.everyone(ctx)[0].clone();
                let star = matches!(self.config.strategy, Strategy::Star | Strategy::Best);
                let peer = if star && ctx.id() != hub {
                    Some(hub)
                } else {
                    ctx.random_peer()
                };
                if let Some(peer) = peer {
                    self.sync(ctx, peer, SYNC_RETRIES);
                }
                ctx.set_timer(
                    Duration::from_millis(self.config.anti_entropy_ms.max(1)),
                    BroadcastTimer::AntiEntropy,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::testing::Harness;

    #[test]
    fn every_message_decodes_as_encoded_whatever_the_key_order() {
        use highstorm_nodes::wire::{decode, encode_parts, DecodeError};
        let all = vec![
            BroadcastMsg::Broadcast { message: 7 },
            BroadcastMsg::BroadcastOk,
            BroadcastMsg::Read,
            BroadcastMsg::ReadOk {
                messages: vec![1, 2, u64::MAX],
            },
            BroadcastMsg::Topology {
                topology: [("n1".to_owned(), vec!["n2".to_owned()])].into(),
            },
            BroadcastMsg::TopologyOk,
            BroadcastMsg::Replicate {
                values: vec![3],
                relay: true,
            },
            BroadcastMsg::ReplicateOk,
            BroadcastMsg::Gossip { values: vec![] },
            BroadcastMsg::Digest { count: 2, hash: 9 },
            BroadcastMsg::DigestOk,
            BroadcastMsg::Everything { values: vec![5, 6] },
            BroadcastMsg::Repair { values: vec![8] },
        ];
        for msg in all {
            let bytes = encode_parts("n1", "n2", Some(4), Some(3), &msg);
            let env = decode::<BroadcastMsg>(&bytes).unwrap();
            assert_eq!(env.body.payload, msg);
            assert_eq!((env.body.msg_id, env.body.in_reply_to), (Some(4), Some(3)));
            // The tag last (another implementation's order): the buffered path.
            let json = serde_json::to_string(&msg).unwrap();
            let tag = serde_json::to_value(&msg).unwrap()["type"].clone();
            let head = format!(r#"{{"type":{tag}"#);
            let fields = json.strip_prefix(&head).unwrap().strip_suffix('}').unwrap();
            let text =
                format!(r#"{{"src":"n1","dest":"n2","body":{{"zz":1{fields},"type":{tag}}}}}"#);
            let env = decode::<BroadcastMsg>(text.as_bytes()).unwrap();
            assert_eq!(env.body.payload, msg, "{text}");
        }
        let body = |b: &str| format!(r#"{{"src":"c1","dest":"n1","body":{b}}}"#);
        // A `#[serde(default)]` field may be missing; a required one may not.
        let env = decode::<BroadcastMsg>(body(r#"{"type":"replicate","values":[1]}"#).as_bytes());
        let want = BroadcastMsg::Replicate {
            values: vec![1],
            relay: false,
        };
        assert_eq!(env.unwrap().body.payload, want);
        let err = decode::<BroadcastMsg>(body(r#"{"type":"gossip","msg_id":1}"#).as_bytes());
        assert!(
            matches!(&err, Err(DecodeError::Malformed { error, .. }) if error.to_string().contains("missing field `values`")),
            "{err:?}"
        );
        let err = decode::<BroadcastMsg>(body(r#"{"type":"nope","msg_id":1}"#).as_bytes());
        assert!(
            matches!(err, Err(DecodeError::Unsupported { .. })),
            "{err:?}"
        );
        let err = decode::<BroadcastMsg>(body(r#"{"messages":[1]}"#).as_bytes());
        assert!(err.is_err());
        let err = decode::<BroadcastMsg>(body(r#"{"type":"read_ok","messages":"x"}"#).as_bytes());
        assert!(matches!(err, Err(DecodeError::Malformed { .. })), "{err:?}");
    }

    #[test]
    fn a_broadcast_is_acknowledged_only_once_a_replica_holds_it() {
        let cfg = BroadcastConfig {
            strategy: Strategy::Star,
            anti_entropy_ms: 60_000,
            ..BroadcastConfig::default()
        };
        let mut leaf = Harness::new(Broadcast::new(cfg), "n2", &["n0", "n1"]);
        leaf.take_sent();
        let sent = leaf.request("c0", 7, &BroadcastMsg::Broadcast { message: 5 });
        // No ack yet: the value goes to the hub as a replicate RPC, not as a batched push.
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].dest, "n0");
        assert_eq!(
            sent[0].body,
            BroadcastMsg::Replicate {
                values: vec![5],
                relay: false
            }
        );
        assert!(
            leaf.advance(Duration::from_millis(60)).is_empty(),
            "no duplicate push"
        );
        // The hub confirms: now the client gets its ack.
        let id = sent[0].msg_id.unwrap();
        let bytes = highstorm_nodes::wire::encode(&highstorm_nodes::wire::Envelope {
            src: "n0".into(),
            dest: "n2".into(),
            body: highstorm_nodes::wire::Body {
                msg_id: Some(1),
                in_reply_to: Some(id),
                payload: BroadcastMsg::ReplicateOk,
            },
        });
        let acks = leaf.deliver_bytes(&bytes);
        assert_eq!(acks.len(), 1);
        assert_eq!(
            (acks[0].dest.as_str(), acks[0].in_reply_to),
            ("c0", Some(7))
        );
        assert_eq!(acks[0].body, BroadcastMsg::BroadcastOk);
    }

    #[test]
    fn an_unreplicated_broadcast_ends_in_an_indefinite_error() {
        let mut leaf = Harness::new(
            Broadcast::new(BroadcastConfig::default()),
            "n2",
            &["n0", "n1"],
        );
        leaf.take_sent();
        leaf.request("c0", 7, &BroadcastMsg::Broadcast { message: 5 });
        // Two peers, two tries of 250 ms each, nobody answers.
        leaf.advance(Duration::from_millis(550));
        let error = leaf.outputs.iter().find_map(|o| match o {
            highstorm_nodes::Output::Transmit(t) if t.dest == "c0" => {
                Some(String::from_utf8_lossy(&t.bytes).into_owned())
            }
            _ => None,
        });
        let error = error.expect("the client gets an answer");
        assert!(error.contains(r#""code":0"#), "{error}");
        assert!(
            leaf.node().values().contains(&5),
            "the value is kept for anti-entropy"
        );
    }

    #[test]
    fn what_a_node_vouched_for_survives_its_crash_and_spreads_again() {
        let cfg = BroadcastConfig {
            strategy: Strategy::Star,
            anti_entropy_ms: 60_000,
            ..BroadcastConfig::default()
        };
        let mut hub = Harness::new(Broadcast::new(cfg.clone()), "n0", &["n1", "n2"]);
        hub.take_sent();
        // As a replica: durable before its answer goes out.
        let relay = BroadcastMsg::Replicate {
            values: vec![4, 6],
            relay: false,
        };
        let answer = hub.request("n1", 1, &relay);
        assert_eq!(answer[0].body, BroadcastMsg::ReplicateOk);
        // As the node a client chose: durable before the replicate (and so the ack).
        hub.request("c0", 1, &BroadcastMsg::Broadcast { message: 9 });
        // Heard of only: not written.
        hub.request("n2", 2, &BroadcastMsg::Gossip { values: vec![7] });
        assert_eq!(hub.synced().len(), 3);
        let mut hub = hub.crash_and_restart(Broadcast::new(cfg));
        assert_eq!(hub.node().values(), [4, 6, 9]);
        // The restarted hub pushes them to everyone again.
        let sent = hub.advance(Duration::from_millis(50));
        let pushed: Vec<_> = sent
            .iter()
            .filter(|m| matches!(&m.body, BroadcastMsg::Gossip { values } if values == &[4, 6, 9]))
            .map(|m| m.dest.as_str())
            .collect();
        assert_eq!(pushed, ["n1", "n2"]);
    }

    #[test]
    fn the_amnesiac_variant_writes_nothing() {
        let mut n = Harness::new(
            Broadcast::amnesiac(BroadcastConfig::default()),
            "n0",
            &["n1"],
        );
        n.request("c0", 1, &BroadcastMsg::Broadcast { message: 9 });
        let relay = BroadcastMsg::Replicate {
            values: vec![4],
            relay: false,
        };
        n.request("n1", 1, &relay);
        assert!(n.synced().is_empty());
    }

    #[test]
    fn clients_get_broadcast_ok_and_read_ok() {
        let mut n = Harness::new(Broadcast::new(BroadcastConfig::default()), "n0", &[]);
        let r = n.request("c0", 1, &BroadcastMsg::Broadcast { message: 9 });
        assert_eq!(r[0].body, BroadcastMsg::BroadcastOk);
        assert_eq!(r[0].in_reply_to, Some(1));
        let r = n.request("c0", 2, &BroadcastMsg::Read);
        assert_eq!(r[0].body, BroadcastMsg::ReadOk { messages: vec![9] });
        let r = n.request(
            "c0",
            3,
            &BroadcastMsg::Topology {
                topology: BTreeMap::new(),
            },
        );
        assert_eq!(r[0].body, BroadcastMsg::TopologyOk);
    }
}
