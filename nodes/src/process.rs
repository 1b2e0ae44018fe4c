//! One running incarnation of a node, driven through bytes and time only (sans-IO).
//!
//! [`NodeProcess`] wraps a [`Node`] with everything a host would otherwise have to re-implement:
//! decoding and classifying input, RPC bookkeeping, the timer table and the rng. Every host —
//! the turmoil engine, the event engine, the UDP and stdio drivers — talks to nodes only through
//! the object-safe [`Process`] trait, so no engine leaks into node logic.

use crate::node::{Context, Core, Message, Node, Output, RpcReply, WorkId, WorkResult};
use crate::time::LocalTime;
use crate::timers::Slot;
use crate::wire::{self, DecodeError, Envelope, ErrorBody, Header, MsgId};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// How many timed-out RPC ids a process remembers to discard late replies.
const EXPIRED_RPC_MEMORY: usize = 4096;

/// What a host knows when it starts a node incarnation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessSetup {
    /// The node's id.
    pub id: String,
    /// The other nodes, in a stable order (a view of the cluster's one shared member list; a
    /// `Vec<String>` converts with `.into()`).
    pub peers: crate::Peers,
    /// The run seed (simulator) or a per-process seed (real mode).
    pub seed: u64,
    /// How many times this node started before.
    pub boot: u64,
    /// What survived of the node's durable storage (empty on a first start).
    pub durable: crate::storage::Storage,
    /// Whether its [`buggify`](crate::Context::buggify) sites may fire (off in real mode).
    pub buggify: crate::Buggify,
}

impl ProcessSetup {
    /// The seed of this incarnation's rng: derived from (seed, id, boot).
    pub fn rng_seed(&self) -> u64 {
        crate::node::derive_seed(self.seed, &self.id, self.boot)
    }
}

/// Counters a host can read at any time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessStats {
    /// Messages handed to the node (including RPC replies; not the late, stale or unsolicited
    /// ones it never saw).
    pub delivered: u64,
    /// Messages sent.
    pub sent: u64,
    /// Inputs that were not valid JSON envelopes, or whose body did not match its type.
    pub malformed: u64,
    /// Inputs of a type the node does not handle.
    pub unsupported: u64,
    /// Inputs or outputs over the size limit.
    pub oversized: u64,
    /// Replies that arrived after their RPC timed out, and error replies nobody waited for.
    pub unsolicited: u64,
    /// Replies (and error replies) to a request this incarnation never sent — in practice, to
    /// an earlier incarnation's request. Never handed to the node.
    pub stale: u64,
}

/// The host-facing side of a running node: bytes and time in, [`Output`]s out.
///
/// Call order: [`handle_start`](Process::handle_start) once, then the other `handle_*` methods
/// with non-decreasing `now`; after each, drain [`poll_output`](Process::poll_output) and re-read
/// [`poll_timeout`](Process::poll_timeout).
pub trait Process {
    /// The node's id.
    fn id(&self) -> &str;
    /// Starts the node (`on_init`).
    fn handle_start(&mut self, now: LocalTime);
    /// Delivers raw bytes received from the network.
    fn handle_datagram(&mut self, now: LocalTime, bytes: &[u8]);
    /// Fires every timer due at or before `now` that was set before the call: one set during
    /// it for `now` (a timer re-arming itself with no delay) is due at the next call, so the
    /// host sees it in [`poll_timeout`](Process::poll_timeout) and stays in control.
    fn handle_timeout(&mut self, now: LocalTime);
    /// Reports that outside work finished.
    fn handle_work_done(&mut self, now: LocalTime, work: WorkId, result: WorkResult);
    /// Sets the faults this node's syncs suffer (see [`SyncFaults`](crate::SyncFaults)); call
    /// before [`handle_start`](Process::handle_start). Hosts without storage faults never call
    /// it. The default does nothing (a process without durable storage).
    fn handle_sync_faults(&mut self, faults: crate::SyncFaults) {
        let _ = faults;
    }
    /// The node's disk became full (`true`: syncs fail until it is freed) or was freed.
    fn handle_disk_full(&mut self, full: bool) {
        let _ = full;
    }
    /// The next time [`handle_timeout`](Process::handle_timeout) must be called.
    #[must_use]
    fn poll_timeout(&self) -> Option<LocalTime>;
    /// The next thing the node asked for, in the order asked.
    #[must_use]
    fn poll_output(&mut self) -> Option<Output>;
    /// Counters.
    fn stats(&self) -> ProcessStats;
}

/// A [`Node`] hosted as a [`Process`].
pub struct NodeProcess<N: Node> {
    node: N,
    core: Core<N::Msg, N::Timer>,
    stats: ProcessStats,
    started: bool,
}

impl<N: Node> NodeProcess<N> {
    /// Hosts `node` as the incarnation described by `setup`.
    pub fn new(node: N, setup: ProcessSetup) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(setup.rng_seed());
        let buggify = crate::buggify::Sites::new(setup.buggify, setup.seed, &setup.id, setup.boot);
        NodeProcess {
            node,
            core: Core::new(
                setup.id,
                setup.peers,
                setup.boot,
                rng,
                setup.durable,
                buggify,
            ),
            stats: ProcessStats::default(),
            started: false,
        }
    }

    /// The hosted node (for unit tests and checkers that inspect state).
    pub fn node(&self) -> &N {
        &self.node
    }

    fn ctx(&mut self, now: LocalTime) -> (&mut N, Context<'_, N::Msg, N::Timer>) {
        (
            &mut self.node,
            Context {
                core: &mut self.core,
                now,
            },
        )
    }

    fn discard(&mut self, from: Option<String>, reason: String) {
        tracing::debug!(node = %self.core.id, from = ?from, %reason, "input discarded");
        self.core
            .outputs
            .push_back(Output::Discarded { from, reason });
    }

    fn deliver(&mut self, now: LocalTime, env: Envelope<N::Msg>) {
        let msg = Message::from(env);
        if let Some(request) = msg.in_reply_to {
            if let Some(timer) = self.core.rpcs.remove(&request) {
                self.core.timers.remove(timer);
                self.stats.delivered += 1;
                let (node, mut ctx) = self.ctx(now);
                node.on_rpc_reply(&mut ctx, request, RpcReply::Reply(msg));
                return;
            }
            if self.core.expired_rpcs.contains(&request) {
                self.stats.unsolicited += 1;
                self.discard(
                    Some(msg.src),
                    format!("late reply to request {request}: its RPC already timed out"),
                );
                return;
            }
            if !self.core.msg_ids.has_issued(request) {
                return self.discard_stale(msg.src, request);
            }
        }
        self.stats.delivered += 1;
        let (node, mut ctx) = self.ctx(now);
        node.on_message(&mut ctx, msg);
    }

    /// A reply to `request`, which this incarnation never sent: it answers an earlier
    /// incarnation (whose ids lie in another range), or nobody. Handing it to the node would
    /// pair it with whatever this incarnation sent under the same id.
    fn discard_stale(&mut self, from: String, request: MsgId) {
        self.stats.stale += 1;
        let reason = if self.core.msg_ids.in_range(request) {
            format!("reply to request {request}, which this incarnation never sent")
        } else {
            format!(
                "reply to request {request} of an earlier incarnation (this is boot {})",
                self.core.boot
            )
        };
        self.discard(Some(from), reason);
    }

    fn reject(&mut self, now: LocalTime, err: DecodeError, bytes: &[u8]) {
        let header = err.header().cloned();
        if let Some(h) = header.as_ref().filter(|h| h.body.kind == "error") {
            if let Ok(e) = serde_json::from_slice::<Envelope<ErrorBody>>(bytes) {
                return self.error_reply(now, h, e.body.payload);
            }
        }
        match &err {
            DecodeError::Oversized(_) => self.stats.oversized += 1,
            DecodeError::Unsupported { .. } => self.stats.unsupported += 1,
            _ => self.stats.malformed += 1,
        }
        tracing::warn!(node = %self.core.id, error = %err, "malformed input");
        // Only requests get an error reply: answering a reply could start an error ping-pong.
        if let (Some(h), Some(reply)) = (&header, err.reply()) {
            if h.body.is_answerable() {
                self.core.transmit(&h.src, h.body.msg_id, &reply);
            }
        }
        self.discard(header.map(|h| h.src), err.to_string());
    }

    /// An error reply from a peer: resolves the RPC it answers; never answered back.
    fn error_reply(&mut self, now: LocalTime, header: &Header, error: ErrorBody) {
        let pending = header
            .body
            .in_reply_to
            .and_then(|r| self.core.rpcs.remove(&r).map(|timer| (r, timer)));
        match pending {
            Some((request, timer)) => {
                self.core.timers.remove(timer);
                self.stats.delivered += 1;
                let (node, mut ctx) = self.ctx(now);
                node.on_rpc_reply(&mut ctx, request, RpcReply::Error(error));
            }
            None => match header.body.in_reply_to {
                Some(r) if !self.core.msg_ids.has_issued(r) => {
                    self.discard_stale(header.src.clone(), r)
                }
                _ => {
                    self.stats.unsolicited += 1;
                    self.discard(
                        Some(header.src.clone()),
                        format!("{error} answers no pending RPC"),
                    );
                }
            },
        }
    }

    fn count_sends(&mut self) {
        self.stats.sent = self.core.msg_ids.issued();
        self.stats.oversized += std::mem::take(&mut self.core.oversized_sends);
    }
}

impl<N: Node> Process for NodeProcess<N> {
    fn id(&self) -> &str {
        &self.core.id
    }

    fn handle_start(&mut self, now: LocalTime) {
        debug_assert!(!self.started, "handle_start called twice");
        self.started = true;
        let (node, mut ctx) = self.ctx(now);
        node.on_init(&mut ctx);
        self.count_sends();
    }

    fn handle_datagram(&mut self, now: LocalTime, bytes: &[u8]) {
        match wire::decode::<N::Msg>(bytes) {
            Ok(env) => self.deliver(now, env),
            Err(err) => self.reject(now, err, bytes),
        }
        self.count_sends();
    }

    fn handle_timeout(&mut self, now: LocalTime) {
        let mark = self.core.timers.mark();
        while let Some(slot) = self.core.timers.pop_due(now, mark) {
            match slot {
                Slot::User(timer) => {
                    self.core.outputs.push_back(Output::TimerFired {
                        timer: format!("{timer:?}"),
                    });
                    let (node, mut ctx) = self.ctx(now);
                    node.on_timer(&mut ctx, timer);
                }
                Slot::RpcTimeout(request) => {
                    self.core.rpcs.remove(&request);
                    remember_expired(&mut self.core.expired_rpcs, request);
                    let (node, mut ctx) = self.ctx(now);
                    node.on_rpc_reply(&mut ctx, request, RpcReply::Timeout);
                }
            }
        }
        self.count_sends();
    }

    fn handle_work_done(&mut self, now: LocalTime, work: WorkId, result: WorkResult) {
        let (node, mut ctx) = self.ctx(now);
        node.on_work_done(&mut ctx, work, result);
        self.count_sends();
    }

    fn handle_sync_faults(&mut self, faults: crate::SyncFaults) {
        self.core.disk.set_faults(faults);
    }

    fn handle_disk_full(&mut self, full: bool) {
        self.core.disk.full = full;
    }

    fn poll_timeout(&self) -> Option<LocalTime> {
        self.core.timers.next_deadline()
    }

    fn poll_output(&mut self) -> Option<Output> {
        self.core.outputs.pop_front()
    }

    fn stats(&self) -> ProcessStats {
        self.stats
    }
}

fn remember_expired(expired: &mut std::collections::VecDeque<MsgId>, id: MsgId) {
    if expired.len() == EXPIRED_RPC_MEMORY {
        expired.pop_front();
    }
    expired.push_back(id);
}

#[cfg(test)]
mod tests {
    use crate::testing::Harness;
    use crate::time::Duration;
    use crate::wire::{Body, ErrorCode, MsgId};
    use crate::{Ctx, Message, Node, Output, Process, RpcReply};
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Msg {
        Ask,
        Answer,
    }

    #[derive(Debug)]
    enum Timer {
        AskAgain,
    }

    /// Asks n2 at start and on its timer; remembers how each RPC ended, and every other
    /// message it was handed.
    #[derive(Default)]
    struct Asker {
        outcomes: Vec<(MsgId, String)>,
        messages: Vec<Message<Msg>>,
    }

    impl Node for Asker {
        type Msg = Msg;
        type Timer = Timer;
        fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
            ctx.rpc("n2", Msg::Ask, Duration::from_millis(100));
            ctx.set_timer(Duration::from_millis(50), Timer::AskAgain);
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, msg: Message<Msg>) {
            self.messages.push(msg);
        }
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: Timer) {
            ctx.rpc("n2", Msg::Ask, Duration::from_millis(100));
        }
        fn on_rpc_reply(&mut self, _: &mut Ctx<'_, Self>, request: MsgId, reply: RpcReply<Msg>) {
            let what = match reply {
                RpcReply::Reply(m) => format!("reply {:?}", m.body),
                RpcReply::Error(e) => format!("error {}", e.code.code()),
                RpcReply::Timeout => "timeout".into(),
            };
            self.outcomes.push((request, what));
        }
    }

    fn from_n2(in_reply_to: MsgId, payload: &impl Serialize) -> Vec<u8> {
        crate::wire::encode(&crate::wire::Envelope {
            src: "n2".into(),
            dest: "n1".into(),
            body: Body {
                msg_id: Some(900),
                in_reply_to: Some(in_reply_to),
                payload,
            },
        })
    }

    #[test]
    fn each_rpc_ends_exactly_once_and_late_replies_are_discarded() {
        let mut h = Harness::new(Asker::default(), "n1", &["n2"]);
        // Request 1 answered in time; request 2 (sent at 50 ms) times out at 150 ms.
        h.deliver_bytes(&from_n2(1, &Msg::Answer));
        h.deliver_bytes(&from_n2(1, &Msg::Answer)); // a duplicate: not an RPC reply any more
        h.advance(Duration::from_millis(200));
        h.deliver_bytes(&from_n2(2, &Msg::Answer)); // late
        assert_eq!(
            h.node().outcomes,
            vec![(1, "reply Answer".to_owned()), (2, "timeout".to_owned())]
        );
        assert_eq!(h.process().stats().unsolicited, 1);
        assert!(h.outputs.iter().any(|o| matches!(o,
            Output::Discarded { reason, .. } if reason.contains("late reply to request 2"))));
    }

    #[test]
    fn a_reply_to_an_earlier_incarnation_never_reaches_the_new_one() {
        let h = Harness::new(Asker::default(), "n1", &["n2"]);
        let mut h = {
            let mut h = h;
            let sent = h.take_sent();
            assert_eq!(
                sent[0].msg_id,
                Some(1),
                "boot 0 numbers from 1, as Maelstrom does"
            );
            h.crash_and_restart(Asker::default())
        };
        let sent = h.take_sent();
        assert_eq!(sent.len(), 1, "the new incarnation's first request");
        let new_request = sent[0].msg_id.expect("requests carry an id");
        assert_ne!(new_request, 1, "ids are not reused across incarnations");
        // The old incarnation's request 1 is answered now, late, by n2 — as a reply and as an
        // error reply.
        h.deliver_bytes(&from_n2(1, &Msg::Answer));
        let busy = crate::ErrorBody::new(ErrorCode::TemporarilyUnavailable, "busy");
        h.deliver_bytes(&from_n2(1, &busy));
        assert!(h.node().outcomes.is_empty(), "{:?}", h.node().outcomes);
        assert!(h.node().messages.is_empty(), "{:?}", h.node().messages);
        let stats = h.process().stats();
        assert_eq!((stats.stale, stats.delivered, stats.unsolicited), (2, 0, 0));
        let stale = |o: &Output| {
            matches!(o, Output::Discarded { from: Some(f), reason }
            if f == "n2" && reason.contains("reply to request 1 of an earlier incarnation"))
        };
        assert_eq!(h.outputs.iter().filter(|o| stale(o)).count(), 2);
        // A reply to an id of this incarnation's range it has not issued yet is stale too.
        h.deliver_bytes(&from_n2(new_request + 1, &Msg::Answer));
        assert!(h.node().messages.is_empty());
        assert_eq!(h.process().stats().stale, 3);
        assert!(h
            .outputs
            .iter()
            .any(|o| matches!(o, Output::Discarded { reason, .. }
            if reason.contains("which this incarnation never sent"))));
        // The new request's own reply is delivered, once.
        h.deliver_bytes(&from_n2(new_request, &Msg::Answer));
        assert_eq!(
            h.node().outcomes,
            vec![(new_request, "reply Answer".to_owned())]
        );
        assert_eq!(h.process().stats().delivered, 1);
    }

    #[test]
    fn error_replies_resolve_rpcs_and_are_never_answered() {
        let mut h = Harness::new(Asker::default(), "n1", &["n2"]);
        assert_eq!(h.take_sent().len(), 1, "the first request");
        let error = crate::ErrorBody::new(ErrorCode::TemporarilyUnavailable, "busy");
        assert!(h.deliver_bytes(&from_n2(1, &error)).is_empty());
        assert!(h.deliver_bytes(&from_n2(1, &error)).is_empty()); // answered already
        assert!(h.deliver_bytes(&from_n2(77, &error)).is_empty()); // never sent
        assert_eq!(h.node().outcomes, vec![(1, "error 11".to_owned())]);
        let stats = h.process().stats();
        assert_eq!((stats.unsolicited, stats.stale), (1, 1));
        // No error was sent back for any.
        assert!(!h.outputs.iter().any(|o| matches!(o, Output::Transmit(_))));
    }

    #[test]
    fn malformed_input_is_counted_and_answered_only_when_it_is_a_request() {
        let mut h = Harness::new(Asker::default(), "n1", &["n2"]);
        h.outputs.clear();
        h.deliver_bytes(b"\xff\xfe not json");
        h.deliver_bytes(br#"{"src":"c1","dest":"n1","body":{"type":"launch","msg_id":5}}"#);
        h.deliver_bytes(br#"{"src":"n2","dest":"n1","body":{"type":"launch","in_reply_to":1}}"#);
        let stats = h.process().stats();
        assert_eq!((stats.malformed, stats.unsupported), (1, 2));
        let replies: Vec<_> = h
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Transmit(t) => Some(t),
                _ => None,
            })
            .collect();
        assert_eq!(replies.len(), 1, "only the request is answered");
        assert_eq!(replies[0].dest, "c1");
        assert_eq!(replies[0].in_reply_to, Some(5));
        let text = String::from_utf8_lossy(&replies[0].bytes);
        assert!(text.contains(r#""code":10"#), "{text}");
    }

    #[test]
    fn sending_to_each_is_sending_one_by_one() {
        /// Sends one body to many peers, either one by one or with `send_to_each`.
        struct Pusher {
            each: bool,
        }
        impl Node for Pusher {
            type Msg = serde_json::Value;
            type Timer = crate::NoTimer;
            fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
                // Names that need escaping, a body with its own `msg_id` field, and a body
                // over the size limit for every destination.
                let dests = ["n2", "a\"b", "n\\3", "n\u{e9}", "n2"];
                let bodies = [
                    serde_json::json!({"type": "push", "values": [1, 22, 333], "msg_id": 9}),
                    serde_json::json!({}),
                    serde_json::json!({"type": "big", "x": "y".repeat(70_000)}),
                ];
                for body in &bodies {
                    if self.each {
                        ctx.send_to_each(dests, body);
                    } else {
                        for d in dests {
                            ctx.send(d, body.clone());
                        }
                    }
                }
            }
            fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<serde_json::Value>) {}
        }
        let sent = |each| {
            let h = Harness::new(Pusher { each }, "n1", &["n2"]);
            let stats = h.process().stats();
            let outputs: Vec<String> = h.outputs.iter().map(|o| format!("{o:?}")).collect();
            (outputs, stats.sent, stats.oversized)
        };
        let (one_by_one, each) = (sent(false), sent(true));
        assert_eq!(one_by_one.0.len(), 10 + 5, "ten sends and five refusals");
        assert_eq!(one_by_one.2, 5);
        assert_eq!(each, one_by_one);
    }

    #[test]
    fn oversized_sends_are_refused_and_counted() {
        struct Loud;
        impl Node for Loud {
            type Msg = serde_json::Value;
            type Timer = crate::NoTimer;
            fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
                ctx.send(
                    "n2",
                    serde_json::json!({"type": "big", "x": "y".repeat(70_000)}),
                );
            }
            fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<serde_json::Value>) {}
        }
        let h = Harness::new(Loud, "n1", &["n2"]);
        assert_eq!(h.process().stats().oversized, 1);
        assert!(!h.outputs.iter().any(|o| matches!(o, Output::Transmit(_))));
    }

    #[test]
    fn a_reply_over_the_limit_becomes_an_error_reply() {
        /// Echoes what it is sent, plus a little: a request just under the limit makes a
        /// reply just over it.
        struct Echo;
        impl Node for Echo {
            type Msg = serde_json::Value;
            type Timer = crate::NoTimer;
            fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<serde_json::Value>) {
                let echo = msg.body["echo"].clone();
                ctx.reply(&msg, serde_json::json!({"type": "echo_ok", "echo": echo}));
            }
        }
        let mut h = Harness::new(Echo, "n1", &[]);
        let echo = "e".repeat(crate::wire::MAX_MESSAGE_BYTES - 80);
        let request = serde_json::json!({"type": "echo", "echo": echo});
        let sent = h.request("c1", 7, &request);
        assert_eq!(sent.len(), 1, "one answer, and it is no echo_ok: {sent:?}");
        assert_eq!(sent[0].in_reply_to, Some(7));
        assert_eq!(sent[0].body["type"], "error");
        assert_eq!(sent[0].body["code"], 13);
        let text = sent[0].body["text"].as_str().unwrap_or_default();
        assert!(text.contains("too large"), "{text}");
        assert_eq!(h.process().stats().oversized, 1);
    }
}
