//! The node contract: a [`Node`] is a state machine that sees the world only through its
//! [`Context`].
//!
//! A host (the simulator, a UDP driver, the Maelstrom stdio driver) owns the node inside a
//! [`NodeProcess`](crate::NodeProcess) and calls its handlers, one at a time, each with the
//! current local time. Handlers never block and never do I/O: everything a node wants done —
//! send, set a timer, run outside work, note an event — is recorded in the context and carried
//! out by the host after the handler returns.

use crate::time::{Duration, LocalTime};
use crate::timers::{Slot, TimerId, TimerTable};
use crate::wire::{Envelope, ErrorBody, ErrorCode, MsgId, MAX_MESSAGE_BYTES};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// A distributed-system node written against highstorm's abstract network and clock.
///
/// Call order, enforced by the host: [`on_init`](Node::on_init) once, then any number of the
/// other handlers, each with a `ctx.now()` no earlier than the previous one's. A crash simply
/// drops the node; a restart builds a fresh value and calls `on_init` again with a boot count one
/// higher (volatile state is lost, by construction).
pub trait Node: 'static {
    /// The system's messages: a serde enum tagged by `type` (Maelstrom's convention).
    type Msg: Serialize + DeserializeOwned + fmt::Debug;
    /// The node's timers: an enum whose variants say when and why they fire.
    type Timer: fmt::Debug;

    /// The node starts (or restarts after a crash). Set initial timers here.
    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        let _ = ctx;
    }

    /// A message arrived that is not the reply to one of this node's pending RPCs. Replies to
    /// messages this incarnation never sent (an earlier incarnation's) are discarded, not
    /// delivered here.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Self::Msg>);

    /// An RPC sent with [`Context::rpc`] was answered, failed, or timed out. Exactly one call per
    /// RPC; a reply that arrives after the timeout is discarded (and counted), and so is a reply
    /// to an earlier incarnation's request (msg ids never repeat across incarnations).
    fn on_rpc_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: MsgId,
        reply: RpcReply<Self::Msg>,
    ) {
        let _ = (ctx, request, reply);
    }

    /// A timer set with [`Context::set_timer`] fired.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer) {
        let _ = (ctx, timer);
    }

    /// Outside work requested with [`Context::spawn_work`] finished.
    fn on_work_done(&mut self, ctx: &mut Ctx<'_, Self>, work: WorkId, result: WorkResult) {
        let _ = (ctx, work, result);
    }
}

/// The context type a node's handlers receive.
pub type Ctx<'a, N> = Context<'a, <N as Node>::Msg, <N as Node>::Timer>;

/// A decoded message addressed to this node.
#[derive(Clone, Debug, PartialEq)]
pub struct Message<M> {
    /// Sender.
    pub src: String,
    /// Receiver (this node).
    pub dest: String,
    /// The sender's id for this message.
    pub msg_id: Option<MsgId>,
    /// The request this message answers.
    pub in_reply_to: Option<MsgId>,
    /// The typed payload.
    pub body: M,
}

impl<M> From<Envelope<M>> for Message<M> {
    fn from(env: Envelope<M>) -> Self {
        Message {
            src: env.src,
            dest: env.dest,
            msg_id: env.body.msg_id,
            in_reply_to: env.body.in_reply_to,
            body: env.body.payload,
        }
    }
}

/// How an RPC ended.
#[derive(Clone, Debug, PartialEq)]
pub enum RpcReply<M> {
    /// The peer answered.
    Reply(Message<M>),
    /// The peer answered with a Maelstrom error.
    Error(ErrorBody),
    /// No answer within the timeout: the request may or may not have taken effect.
    Timeout,
}

/// Identifies a piece of outside work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkId(pub u64);

/// What outside work produced: a JSON value, or an error message.
pub type WorkResult = Result<serde_json::Value, String>;

/// Work a node asks its host to run outside the node (read a file, run a task).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkRequest {
    /// Reported back with the result.
    pub id: WorkId,
    /// What to do; the host's work runner interprets it.
    pub kind: String,
    /// Its input.
    pub input: serde_json::Value,
}

/// A structured event a node wants in the trace, e.g. `task-status {"task":3,"to":"InProgress"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// What happened, as a short kebab-case word.
    pub kind: String,
    /// Details.
    pub data: serde_json::Value,
}

/// The phase of a client operation in a history (Jepsen's vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpPhase {
    /// The client sent the request.
    Invoke,
    /// It certainly happened, with this result.
    Ok,
    /// It certainly did not happen.
    Fail,
    /// Unknown: it may or may not have happened (timeouts, crashes).
    Info,
}

/// One entry of a client's history, recorded by workload clients with [`Context::record_op`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientOp {
    /// The operation's number, unique per client.
    pub op: u64,
    /// Which phase this entry records.
    pub phase: OpPhase,
    /// The node the request went to.
    pub node: String,
    /// The operation's name (`echo`, `generate`, `broadcast`, ...).
    pub f: String,
    /// Its value: the request at `invoke`, the result at completion.
    pub value: serde_json::Value,
    /// The `msg_id` of the request that carried it, so checkers can follow it through the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<MsgId>,
}

/// A message ready for the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Transmit {
    /// Sender (this node).
    pub src: String,
    /// Receiver.
    pub dest: String,
    /// The message's id.
    pub msg_id: Option<MsgId>,
    /// The request it answers.
    pub in_reply_to: Option<MsgId>,
    /// The encoded envelope.
    pub bytes: Vec<u8>,
}

/// Something a node asked for, for its host to carry out in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send these bytes.
    Transmit(Transmit),
    /// A timer fired (recorded before its handler's own outputs).
    TimerFired {
        /// The timer, as its `Debug` rendering.
        timer: String,
    },
    /// A structured event for the trace.
    Note(Note),
    /// A client history entry.
    Client(ClientOp),
    /// Run outside work and report back with [`Process::handle_work_done`](crate::Process::handle_work_done).
    Work(WorkRequest),
    /// A write to the node's durable storage, pending until the next [`Output::Sync`].
    Store(crate::storage::Write),
    /// Make every pending write durable.
    Sync,
    /// A sometimes-assertion was evaluated ([`Context::sometimes`]). Not part of the trace: the
    /// host tallies it into the run's coverage report.
    Sometimes {
        /// The point's name.
        point: &'static str,
        /// Whether its condition held this time.
        hit: bool,
    },
    /// A sync failed: the writes pending before it are neither known durable nor known lost
    /// (the host settles them, as a crash would).
    SyncFailed(SyncError),
    /// Input that was not delivered to the node: malformed, oversized, unsolicited or late.
    Discarded {
        /// Who sent it, when known.
        from: Option<String>,
        /// Why it was discarded.
        reason: String,
    },
}

/// The per-incarnation state a [`Context`] works on. Owned by the host's
/// [`NodeProcess`](crate::NodeProcess).
pub(crate) struct Core<M, T> {
    pub(crate) id: String,
    pub(crate) peers: crate::Peers,
    pub(crate) boot: u64,
    pub(crate) rng: ChaCha8Rng,
    /// This incarnation's message ids (unique across incarnations: see `msg_ids`).
    pub(crate) msg_ids: crate::msg_ids::MsgIds,
    pub(crate) next_work_id: u64,
    pub(crate) timers: TimerTable<T>,
    /// Pending RPCs: request id -> its timeout timer.
    pub(crate) rpcs: BTreeMap<MsgId, TimerId>,
    /// Recently timed-out RPCs, so late replies are discarded rather than delivered.
    pub(crate) expired_rpcs: VecDeque<MsgId>,
    pub(crate) outputs: VecDeque<Output>,
    /// Messages that could not be encoded within the size limit.
    pub(crate) oversized_sends: u64,
    /// Durable storage as this incarnation sees it (synced state plus its own writes).
    pub(crate) storage: crate::storage::Storage,
    /// Writes since the last sync.
    pub(crate) unsynced: usize,
    /// Buggify sites of this run, when buggify is on.
    pub(crate) buggify: Option<crate::buggify::Sites>,
    /// What the host says about this node's disk.
    pub(crate) disk: Disk,
    _msg: std::marker::PhantomData<fn(M)>,
}

impl<M: Serialize, T> Core<M, T> {
    pub(crate) fn new(
        id: String,
        peers: crate::Peers,
        boot: u64,
        rng: ChaCha8Rng,
        storage: crate::storage::Storage,
        buggify: Option<crate::buggify::Sites>,
    ) -> Self {
        Core {
            id,
            peers,
            boot,
            rng,
            msg_ids: crate::msg_ids::MsgIds::for_boot(boot),
            next_work_id: 1,
            timers: TimerTable::default(),
            rpcs: BTreeMap::new(),
            expired_rpcs: VecDeque::new(),
            outputs: VecDeque::new(),
            oversized_sends: 0,
            storage,
            unsynced: 0,
            buggify,
            disk: Disk::default(),
            _msg: std::marker::PhantomData,
        }
    }

    pub(crate) fn transmit(
        &mut self,
        dest: &str,
        in_reply_to: Option<MsgId>,
        payload: &impl Serialize,
    ) -> MsgId {
        let msg_id = self.msg_ids.take();
        let bytes = crate::wire::encode_parts(&self.id, dest, Some(msg_id), in_reply_to, payload);
        self.push_transmit(dest, msg_id, in_reply_to, bytes);
        msg_id
    }

    /// Sends `payload` to each of `dests` in turn, as [`transmit`](Core::transmit) would one
    /// by one (the same ids, in order, and the same bytes), but serializes the payload once:
    /// every later message is the first one's bytes under its own envelope head.
    pub(crate) fn transmit_each<'d>(
        &mut self,
        dests: impl IntoIterator<Item = &'d str>,
        payload: &impl Serialize,
    ) {
        // The first message's bytes and the length of their head (src, dest, msg_id).
        let mut first: Option<(Vec<u8>, usize)> = None;
        for dest in dests {
            let msg_id = self.msg_ids.take();
            let bytes = match &first {
                Some((bytes, head)) => {
                    let tail = &bytes[*head..];
                    let mut b = Vec::with_capacity(*head + dest.len() + tail.len());
                    crate::wire::envelope_head(&mut b, &self.id, dest, msg_id);
                    b.extend_from_slice(tail);
                    b
                }
                None => {
                    let b = crate::wire::encode_parts(&self.id, dest, Some(msg_id), None, payload);
                    let mut head = vec![];
                    crate::wire::envelope_head(&mut head, &self.id, dest, msg_id);
                    // (Always true for what `encode_parts` writes; if not, each is encoded.)
                    if b.starts_with(&head) {
                        first = Some((b.clone(), head.len()));
                    }
                    b
                }
            };
            self.push_transmit(dest, msg_id, None, bytes);
        }
    }

    /// Queues a message encoded as `bytes` for sending, or refuses it when it is over the
    /// size limit (a reply then becomes an error reply).
    fn push_transmit(
        &mut self,
        dest: &str,
        msg_id: MsgId,
        in_reply_to: Option<MsgId>,
        mut bytes: Vec<u8>,
    ) {
        if bytes.len() > MAX_MESSAGE_BYTES {
            self.oversized_sends += 1;
            let reason = format!(
                "outgoing message of {} bytes to {dest} exceeds the {MAX_MESSAGE_BYTES}-byte limit",
                bytes.len()
            );
            tracing::warn!(node = %self.id, dest, bytes = bytes.len(), "message over the size limit not sent");
            self.outputs.push_back(Output::Discarded {
                from: Some(self.id.clone()),
                reason: reason.clone(),
            });
            // A request still gets an answer: an error in place of the reply that cannot go
            // out (indefinite: the handler may have changed state before replying).
            if in_reply_to.is_none() {
                return;
            }
            let error = ErrorBody::new(
                ErrorCode::Crash,
                format!("the reply is too large: {reason}"),
            );
            bytes = crate::wire::encode_parts(&self.id, dest, Some(msg_id), in_reply_to, &error);
        }
        self.outputs.push_back(Output::Transmit(Transmit {
            src: self.id.clone(),
            dest: dest.to_owned(),
            msg_id: Some(msg_id),
            in_reply_to,
            bytes,
        }));
    }
}

/// A node's only window on the world, valid for the duration of one handler call.
pub struct Context<'a, M, T> {
    pub(crate) core: &'a mut Core<M, T>,
    pub(crate) now: LocalTime,
}

impl<M: Serialize, T> Context<'_, M, T> {
    /// This node's id (`n1`).
    pub fn id(&self) -> &str {
        &self.core.id
    }

    /// Every other node of the cluster, in a stable order.
    pub fn peers(&self) -> &crate::Peers {
        &self.core.peers
    }

    /// How many times this node has started before (0 on the first start). Together with
    /// [`id`](Context::id) it names one incarnation.
    pub fn boot(&self) -> u64 {
        self.core.boot
    }

    /// The node-local clock. Never decreases within one incarnation.
    pub fn now(&self) -> LocalTime {
        self.now
    }

    /// This incarnation's random number generator, seeded from (run seed, node id, boot count).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.core.rng
    }

    /// A peer chosen with [`rng`](Context::rng); `None` when the node has no peers.
    pub fn random_peer(&mut self) -> Option<String> {
        use rand::Rng;
        if self.core.peers.is_empty() {
            return None;
        }
        let i = self.core.rng.random_range(0..self.core.peers.len());
        Some(self.core.peers[i].clone())
    }

    /// The `msg_id` the next `send`, `reply` or `rpc` will carry.
    ///
    /// Ids are unique across this node's incarnations: boot 0 counts 1, 2, 3, ... (as Maelstrom
    /// nodes do); boot `b` counts from `(b mod 2^21) << 32 | 1`. Every id stays below 2^53, an
    /// exact JSON integer in every language.
    pub fn next_msg_id(&self) -> MsgId {
        self.core.msg_ids.peek()
    }

    /// Sends `body` to `dest`; returns the message's id.
    pub fn send(&mut self, dest: &str, body: M) -> MsgId {
        self.core.transmit(dest, None, &body)
    }

    /// Sends the same `body` to each of `dests`, in order: the same messages, ids and bytes as
    /// calling [`send`](Context::send) for each, but the body is serialized once (a hub's
    /// push to a thousand nodes costs one encoding, not a thousand).
    pub fn send_to_each<'d>(&mut self, dests: impl IntoIterator<Item = &'d str>, body: &M) {
        self.core.transmit_each(dests, body);
    }

    /// Answers `request` with `body`, setting `in_reply_to`.
    pub fn reply(&mut self, request: &Message<M>, body: M) -> MsgId {
        self.core.transmit(&request.src, request.msg_id, &body)
    }

    /// Answers `request` with a Maelstrom error.
    pub fn reply_error(&mut self, request: &Message<M>, error: ErrorBody) -> MsgId {
        self.core.transmit(&request.src, request.msg_id, &error)
    }

    /// Sends a request whose outcome arrives, exactly once, at
    /// [`Node::on_rpc_reply`]: the reply, an error, or [`RpcReply::Timeout`] after `timeout`.
    /// A crash ends every pending RPC without an outcome; their replies, should they reach a
    /// later incarnation, are discarded as stale.
    pub fn rpc(&mut self, dest: &str, body: M, timeout: Duration) -> MsgId {
        let id = self.core.transmit(dest, None, &body);
        let timer = self
            .core
            .timers
            .insert(self.now + timeout, Slot::RpcTimeout(id));
        self.core.rpcs.insert(id, timer);
        id
    }

    /// Fires `timer` at `now() + after`.
    pub fn set_timer(&mut self, after: Duration, timer: T) -> TimerId {
        self.core.timers.insert(self.now + after, Slot::User(timer))
    }

    /// Cancels a timer; returns whether it was still pending.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.core.timers.remove(id)
    }

    /// Asks the host to run outside work; the result arrives at [`Node::on_work_done`].
    pub fn spawn_work(&mut self, kind: &str, input: serde_json::Value) -> WorkId {
        let id = WorkId(self.core.next_work_id);
        self.core.next_work_id += 1;
        self.core.outputs.push_back(Output::Work(WorkRequest {
            id,
            kind: kind.to_owned(),
            input,
        }));
        id
    }

    /// Durable storage as this node sees it: what survived its last crash, plus its own writes
    /// since (synced or not).
    pub fn storage(&self) -> &crate::storage::Storage {
        &self.core.storage
    }

    /// Writes `value` under `key`. It is durable only after [`sync`](Context::sync): a crash
    /// before then loses it.
    pub fn put(&mut self, key: &str, value: Vec<u8>) {
        self.store(crate::storage::Write {
            key: key.to_owned(),
            value: Some(value),
        });
    }

    /// Writes `value` as JSON under `key` (see [`put`](Context::put)).
    pub fn put_json(&mut self, key: &str, value: &impl Serialize) {
        self.put(key, crate::storage::json_bytes(value));
    }

    /// Deletes `key` (durable after [`sync`](Context::sync)).
    pub fn delete(&mut self, key: &str) {
        self.store(crate::storage::Write {
            key: key.to_owned(),
            value: None,
        });
    }

    /// Makes every write so far durable (an fsync). Does nothing (and succeeds) when nothing
    /// is pending.
    ///
    /// It can fail, as a real fsync can: the disk is full ([`SyncError::DiskFull`]) or reports
    /// an I/O error ([`SyncError::Io`]). After a failure the writes since the last successful
    /// sync are in an unknown state: each may be durable, lost, or torn (a damaged record),
    /// and a later sync does not retry them. This incarnation still reads them back through
    /// [`storage`](Context::storage), but a restart may not. A node must therefore never
    /// acknowledge what the failed sync covered: write it again and sync again, or refuse.
    #[must_use = "a failed sync leaves the writes it covered neither durable nor lost: never \
                  acknowledge them after an error"]
    pub fn sync(&mut self) -> Result<(), SyncError> {
        if self.core.unsynced == 0 {
            return Ok(());
        }
        self.core.unsynced = 0;
        match self.core.disk.sync_outcome() {
            Ok(()) => {
                self.core.outputs.push_back(Output::Sync);
                Ok(())
            }
            Err(e) => {
                self.core.outputs.push_back(Output::SyncFailed(e.clone()));
                Err(e)
            }
        }
    }

    /// Whether this node's disk is full now: a [`sync`](Context::sync) of new writes would
    /// fail with [`SyncError::DiskFull`]. (Writes themselves are buffered and never fail.)
    pub fn disk_full(&self) -> bool {
        self.core.disk.full
    }

    fn store(&mut self, w: crate::storage::Write) {
        self.core.storage.apply(&w);
        self.core.unsynced += 1;
        self.core.outputs.push_back(Output::Store(w));
    }

    /// Records a typed note in the trace: the contract between this node and its checkers,
    /// which read it back with the same type (see [`TypedNote`](crate::TypedNote)).
    pub fn note_typed<N: crate::TypedNote>(&mut self, note: &N) {
        self.core.outputs.push_back(Output::Note(Note::typed(note)));
    }

    /// Records an untyped structured event in the trace. Prefer
    /// [`note_typed`](Context::note_typed) for anything a checker reads.
    pub fn note(&mut self, kind: &str, data: impl Serialize) {
        let data = serde_json::to_value(data).unwrap_or_else(|e| serde_json::json!(e.to_string()));
        self.core.outputs.push_back(Output::Note(Note {
            kind: kind.to_owned(),
            data,
        }));
    }

    /// Whether to take the rare path at buggify site `site` (FoundationDB's `BUGGIFY`): delay a
    /// step, shrink a batch, drop optional work. Always `false` unless the run turned buggify
    /// on (`[checks] buggify = true` in the simulator; never in real mode). In such a run a site
    /// is enabled with probability [`SITE_ENABLED`](crate::buggify::SITE_ENABLED), the same on
    /// every node, and an enabled site fires with probability
    /// [`FIRES`](crate::buggify::FIRES) per call; a firing site notes
    /// `buggify {"site": site}` in the trace. It never draws from [`rng`](Context::rng).
    pub fn buggify(&mut self, site: &'static str) -> bool {
        let Some(sites) = self.core.buggify.as_mut() else {
            return false;
        };
        if !sites.enabled(site) || !sites.fires() {
            return false;
        }
        self.core.outputs.push_back(Output::Note(Note {
            kind: crate::buggify::NOTE_KIND.to_owned(),
            data: serde_json::json!({ "site": site }),
        }));
        true
    }

    /// A sometimes-assertion: `cond` should hold at `point` in some run, not in every one
    /// (Antithesis' `Sometimes`). It never fails a run; a sweep reports how often each point
    /// was reached and held, and which declared points never held. Returns `cond`, so it can
    /// wrap a condition in place: `if ctx.sometimes("stepped-down", term > mine) { .. }`.
    /// Nothing is written into the trace.
    pub fn sometimes(&mut self, point: &'static str, cond: bool) -> bool {
        self.core
            .outputs
            .push_back(Output::Sometimes { point, hit: cond });
        cond
    }

    /// This code ran: a [`sometimes`](Context::sometimes) point whose condition always holds.
    pub fn reachable(&mut self, point: &'static str) {
        self.sometimes(point, true);
    }

    /// Records a client history entry (used by workload clients, read by checkers).
    pub fn record_op(&mut self, op: ClientOp) {
        self.core.outputs.push_back(Output::Client(op));
    }
}

/// Why a [`Context::sync`] failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The disk is full: nothing more can be made durable until space is freed.
    #[error("sync failed: the disk is full")]
    DiskFull,
    /// The disk reported an I/O error (EIO).
    #[error("sync failed: the disk reported an I/O error")]
    Io,
}

/// The storage faults a host injects into a node's syncs (the simulator's storage fault
/// model; real hosts leave it off). Default: off.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SyncFaults {
    /// Probability that a sync of pending writes fails with [`SyncError::Io`], in [0, 1].
    pub failure: f64,
    /// The seed of the draws (the host derives it from the run seed, node and boot).
    pub seed: u64,
}

/// A node's disk as its host describes it: whether it is full, and how often syncs fail.
#[derive(Debug, Default)]
pub(crate) struct Disk {
    pub(crate) full: bool,
    failure: f64,
    rng: Option<ChaCha8Rng>,
}

impl Disk {
    pub(crate) fn set_faults(&mut self, faults: SyncFaults) {
        use rand::SeedableRng;
        self.failure = faults.failure;
        self.rng = (faults.failure > 0.0).then(|| ChaCha8Rng::seed_from_u64(faults.seed));
    }

    fn sync_outcome(&mut self) -> Result<(), SyncError> {
        use rand::Rng;
        if self.full {
            return Err(SyncError::DiskFull);
        }
        let failure = self.failure.clamp(0.0, 1.0);
        match &mut self.rng {
            Some(rng) => {
                if rng.random_bool(failure) {
                    Err(SyncError::Io)
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }
}

/// Derives a deterministic seed for one incarnation's rng from the run seed.
pub fn derive_seed(run_seed: u64, label: &str, n: u64) -> u64 {
    let mut bytes = Vec::with_capacity(label.len() + 9);
    bytes.extend_from_slice(label.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&n.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, run_seed)
}
