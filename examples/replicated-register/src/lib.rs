//! A replicated register, written as a highstorm user would write their own system: only the
//! public API of the `highstorm` crate, nothing private.
//!
//! Every node holds a copy of one register: a value and its [`Version`]. A client may ask any
//! node to `write` or `read`. The node coordinates a quorum round (ABD without the read's
//! write-back):
//! - `read`: ask every peer for its copy; with answers from a majority (itself included),
//!   answer the newest;
//! - `write`: first read a majority to learn the newest version, then store the value under
//!   the next version at a majority (each replica persists and syncs it before it answers).
//!
//! Any two majorities intersect, so a read that starts after a write was acknowledged sees that
//! write or a newer one — through partitions, and through crashes, since acknowledged copies are
//! on disk. That is the property [`reads_see_acknowledged_writes`] checks.
//!
//! The variant `local-reads` has a planted bug: a node answers reads from its own copy, which is
//! stale when the node missed writes (cut off by a partition, or just slower than a majority).
//!
//! Storage faults (see `docs/storage-faults.md`): a replica answers `put_ok` only after its sync
//! succeeded; when the sync fails it answers an error and forgets the copy (it never counted).
//! A replica that finds its record damaged at start (torn, corrupted) does not answer as a
//! replica until it has repaired its copy from a majority of the others — answering with an
//! empty copy would let a read majority miss an acknowledged write. Two planted storage bugs:
//! `ignore-sync-failure` acknowledges a put whose sync failed, and `trust-damaged` starts from an
//! empty copy when its record is damaged and answers at once; `scenarios/register-storage-bugs.toml`
//! catches both.

use highstorm::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// How long a coordinator waits for a replica.
const RPC_TIMEOUT: Duration = Duration::from_millis(150);
/// The round number of a damaged replica's repair requests.
const REPAIR_ROUND: u64 = u64::MAX;

/// A value's version: ordered by counter, then by the writer's id (so two writers never make
/// the same version).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version {
    /// The counter.
    pub n: u64,
    /// The node that wrote it.
    pub node: String,
}

/// One copy of the register.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Copy {
    /// The value (`None` before the first write).
    pub value: Option<u64>,
    /// Its version.
    pub version: Version,
}

/// The register's messages: clients' requests and the replicas' protocol.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    /// Client -> any node: write `value`.
    Write {
        /// The value.
        value: u64,
    },
    /// The write is stored at a majority under `version`.
    WriteOk {
        /// Its version.
        version: Version,
    },
    /// Client -> any node: read the register.
    Read,
    /// The newest copy a majority had.
    ReadOk {
        /// The copy.
        #[serde(flatten)]
        copy: Copy,
    },
    /// Coordinator -> replica: your copy?
    Get,
    /// Replica -> coordinator: my copy.
    GetOk {
        /// The copy.
        #[serde(flatten)]
        copy: Copy,
    },
    /// Coordinator -> replica: keep this copy if it is newer than yours.
    Put {
        /// The copy.
        #[serde(flatten)]
        copy: Copy,
    },
    /// Replica -> coordinator: stored (and synced), or already had a newer one.
    PutOk,
}

enum Phase {
    /// Collecting copies from a majority.
    Gather,
    /// Storing the new copy at a majority.
    Store(Copy),
}

/// One client request being coordinated.
struct Round {
    request: Message<Msg>,
    write: Option<u64>,
    phase: Phase,
    newest: Copy,
    acks: usize,
    failures: usize,
}

/// The planted bugs of the register's variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// `local-reads`: reads answered from the local copy.
    LocalReads,
    /// `ignore-sync-failure`: a put is acknowledged although its sync failed.
    IgnoreSyncFailure,
    /// `trust-damaged`: a damaged record is taken for an empty register.
    TrustDamaged,
}

/// One replica of the register.
pub struct Register {
    copy: Copy,
    bug: Option<Bug>,
    /// Repairing a damaged copy: the peers that answered so far (the replica answers as a
    /// replica again once a majority of the others did).
    repairing: Option<std::collections::BTreeSet<String>>,
    rounds: BTreeMap<u64, Round>,
    /// Each request to a replica: its round, and whether it was sent in the store phase.
    rpcs: BTreeMap<MsgId, (u64, bool)>,
    /// The highest version counter this incarnation issued.
    issued: u64,
    /// Repair requests in flight: request -> the peer asked.
    repair_rpcs: BTreeMap<MsgId, String>,
    next_round: u64,
}

impl Register {
    /// A replica; with `bug` it has that planted bug.
    pub fn new(bug: Option<Bug>) -> Self {
        Register {
            copy: Copy::default(),
            bug,
            repairing: None,
            rounds: BTreeMap::new(),
            rpcs: BTreeMap::new(),
            repair_rpcs: BTreeMap::new(),
            issued: 0,
            next_round: 0,
        }
    }

    /// Keeps `copy` if it is newer, durably (synced before anyone is told). When the sync
    /// fails the copy is not kept (and must not be acknowledged): this replica goes on with
    /// its old copy, and its disk holds the old or the new one or a damaged record, each of
    /// which it handles at its next start.
    fn keep(&mut self, ctx: &mut Ctx<'_, Self>, copy: &Copy) -> Result<(), SyncError> {
        if copy.version <= self.copy.version {
            return Ok(());
        }
        let old = std::mem::replace(&mut self.copy, copy.clone());
        ctx.put_json("register", &self.copy);
        match ctx.sync() {
            Ok(()) => Ok(()),
            Err(_) if self.bug == Some(Bug::IgnoreSyncFailure) => Ok(()),
            Err(e) => {
                self.copy = old;
                ctx.note(
                    "sync-failed",
                    json!({ "record": "register", "error": e.to_string() }),
                );
                Err(e)
            }
        }
    }

    /// Asks every peer not yet heard from, and not being asked, for its copy, to repair a
    /// damaged one.
    fn ask_for_repair(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Some(heard) = &self.repairing else {
            return;
        };
        let missing: Vec<String> = ctx
            .peers()
            .iter()
            .filter(|p| !heard.contains(*p) && !self.repair_rpcs.values().any(|a| a == *p))
            .cloned()
            .collect();
        for peer in missing {
            let rpc = ctx.rpc(&peer, Msg::Get, RPC_TIMEOUT);
            self.rpcs.insert(rpc, (REPAIR_ROUND, false));
            self.repair_rpcs.insert(rpc, peer);
        }
    }

    /// A peer's answer to a repair request (`None`: it failed or timed out; the peer is asked
    /// again).
    fn repair_answer(&mut self, ctx: &mut Ctx<'_, Self>, from: Option<(String, Copy)>) {
        let Some(heard) = &mut self.repairing else {
            return;
        };
        if let Some((peer, copy)) = from {
            heard.insert(peer);
            if copy.version > self.copy.version {
                self.copy = copy;
            }
        }
        let answered = heard.len();
        if answered < Self::majority(ctx) {
            return self.ask_for_repair(ctx);
        }
        // A majority of the others answered: every acknowledged write is among their copies.
        ctx.put_json("register", &self.copy);
        if ctx.sync().is_err() {
            // Still not durable: ask again (the answers are kept).
            heard.clear();
            return self.ask_for_repair(ctx);
        }
        self.repairing = None;
        ctx.note(
            "repaired",
            json!({ "record": "register", "version": self.copy.version, "from": answered }),
        );
    }

    fn majority(ctx: &Ctx<'_, Self>) -> usize {
        let nodes = ctx.peers().len() + 1;
        nodes / 2 + 1
    }

    /// Starts a round: this node counts as the first answer.
    fn start(&mut self, ctx: &mut Ctx<'_, Self>, request: Message<Msg>, write: Option<u64>) {
        let id = self.next_round;
        self.next_round += 1;
        self.rounds.insert(
            id,
            Round {
                request,
                write,
                phase: Phase::Gather,
                newest: self.copy.clone(),
                acks: 1,
                failures: 0,
            },
        );
        self.broadcast(ctx, id, || Msg::Get);
        self.advance(ctx, id);
    }

    fn broadcast(&mut self, ctx: &mut Ctx<'_, Self>, id: u64, body: impl Fn() -> Msg) {
        for peer in ctx.peers().to_vec() {
            let msg = body();
            let store = matches!(msg, Msg::Put { .. });
            let rpc = ctx.rpc(&peer, msg, RPC_TIMEOUT);
            self.rpcs.insert(rpc, (id, store));
        }
    }

    /// Moves round `id` on once a majority answered, or gives up once one cannot.
    fn advance(&mut self, ctx: &mut Ctx<'_, Self>, id: u64) {
        let majority = Self::majority(ctx);
        let everyone = ctx.peers().len() + 1;
        let Some(round) = self.rounds.get_mut(&id) else {
            return;
        };
        if round.acks < majority {
            if everyone - round.failures < majority {
                let round = self.rounds.remove(&id).expect("present");
                // Once copies went out, the write may still show up later: not definite.
                let code = match round.phase {
                    Phase::Gather => ErrorCode::TemporarilyUnavailable,
                    Phase::Store(_) => ErrorCode::Timeout,
                };
                ctx.reply_error(&round.request, ErrorBody::new(code, "no majority answered"));
            }
            return;
        }
        match (&round.phase, round.write) {
            (Phase::Gather, None) => {
                let round = self.rounds.remove(&id).expect("present");
                ctx.reply(&round.request, Msg::ReadOk { copy: round.newest });
            }
            (Phase::Gather, Some(value)) => {
                // Above every version this incarnation issued too: a copy it failed to keep
                // (its sync failed) may still be acknowledged by a majority of the others.
                let n = round
                    .newest
                    .version
                    .n
                    .max(self.copy.version.n)
                    .max(self.issued)
                    + 1;
                self.issued = n;
                let copy = Copy {
                    value: Some(value),
                    version: Version {
                        n,
                        node: ctx.id().to_owned(),
                    },
                };
                round.phase = Phase::Store(copy.clone());
                round.acks = 1;
                round.failures = 0;
                if self.keep(ctx, &copy).is_err() {
                    // This replica's own copy does not count.
                    if let Some(round) = self.rounds.get_mut(&id) {
                        round.acks = 0;
                        round.failures = 1;
                    }
                }
                self.broadcast(ctx, id, || Msg::Put { copy: copy.clone() });
                self.advance(ctx, id);
            }
            (Phase::Store(copy), _) => {
                let version = copy.version.clone();
                let round = self.rounds.remove(&id).expect("present");
                ctx.reply(&round.request, Msg::WriteOk { version });
            }
        }
    }
}

impl Node for Register {
    type Msg = Msg;
    type Timer = NoTimer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        // A restarted replica comes back with what it synced.
        match ctx.storage().get_json::<Copy>("register") {
            None => {}
            Some(Ok(copy)) => self.copy = copy,
            Some(Err(_)) if self.bug == Some(Bug::TrustDamaged) => {}
            Some(Err(e)) => {
                // Damaged: what it held is unknown, so this replica is no replica until it
                // has the newest copy of a majority of the others.
                ctx.note(
                    "damaged",
                    json!({ "record": e.key(), "error": e.to_string() }),
                );
                self.repairing = Some(Default::default());
                self.ask_for_repair(ctx);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
        if self.repairing.is_some() {
            let e = ErrorBody::new(
                ErrorCode::TemporarilyUnavailable,
                format!("{} is repairing its damaged copy", ctx.id()),
            );
            if !matches!(
                msg.body,
                Msg::WriteOk { .. } | Msg::ReadOk { .. } | Msg::GetOk { .. } | Msg::PutOk
            ) {
                ctx.reply_error(&msg, e);
            }
            return;
        }
        match &msg.body {
            Msg::Write { value } => {
                let value = *value;
                self.start(ctx, msg, Some(value));
            }
            Msg::Read if self.bug == Some(Bug::LocalReads) => {
                let copy = self.copy.clone();
                ctx.reply(&msg, Msg::ReadOk { copy });
            }
            Msg::Read => self.start(ctx, msg, None),
            Msg::Get => {
                let copy = self.copy.clone();
                ctx.reply(&msg, Msg::GetOk { copy });
            }
            Msg::Put { copy } => {
                let copy = copy.clone();
                match self.keep(ctx, &copy) {
                    Ok(()) => {
                        ctx.reply(&msg, Msg::PutOk);
                    }
                    Err(e) => {
                        let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, e.to_string());
                        ctx.reply_error(&msg, e);
                    }
                }
            }
            Msg::WriteOk { .. } | Msg::ReadOk { .. } | Msg::GetOk { .. } | Msg::PutOk => {}
        }
    }

    fn on_rpc_reply(&mut self, ctx: &mut Ctx<'_, Self>, request: MsgId, reply: RpcReply<Msg>) {
        let Some((id, store)) = self.rpcs.remove(&request) else {
            return;
        };
        if id == REPAIR_ROUND {
            self.repair_rpcs.remove(&request);
            let answer = match reply {
                RpcReply::Reply(Message {
                    src,
                    body: Msg::GetOk { copy },
                    ..
                }) => Some((src, copy)),
                _ => None,
            };
            return self.repair_answer(ctx, answer);
        }
        let Some(round) = self.rounds.get_mut(&id) else {
            return;
        };
        if store != matches!(round.phase, Phase::Store(_)) {
            // A late answer to the gather phase of a round now storing: it no longer counts.
            return;
        }
        match (reply, &round.phase) {
            (RpcReply::Reply(m), Phase::Gather) => match m.body {
                Msg::GetOk { copy } => {
                    if copy.version > round.newest.version {
                        round.newest = copy;
                    }
                    round.acks += 1;
                }
                _ => round.failures += 1,
            },
            (RpcReply::Reply(m), Phase::Store(_)) => match m.body {
                Msg::PutOk => round.acks += 1,
                _ => round.failures += 1,
            },
            (RpcReply::Error(_) | RpcReply::Timeout, _) => round.failures += 1,
        }
        self.advance(ctx, id);
    }
}

/// What the clients do: alternate writes of values unique to the client and reads.
#[derive(Debug, Default)]
pub struct RegisterOps;

impl Operations for RegisterOps {
    type Msg = Msg;

    fn next(&mut self, client: &str, op: u64, _: &mut OpsRng) -> (&'static str, Value, Msg) {
        if op % 2 == 0 {
            // Unique across clients: c3's 10th write is 3_000_010.
            let c: u64 = client.trim_start_matches('c').parse().unwrap_or(0);
            let value = c * 1_000_000 + op;
            ("write", json!({ "value": value }), Msg::Write { value })
        } else {
            ("read", Value::Null, Msg::Read)
        }
    }

    fn result(&self, reply: &Msg) -> Option<Value> {
        match reply {
            Msg::WriteOk { version } => Some(json!({ "version": version })),
            Msg::ReadOk { copy } => Some(json!({ "value": copy.value, "version": copy.version })),
            _ => None,
        }
    }
}

fn version_of(v: Option<&Value>) -> Option<Version> {
    serde_json::from_value(v?.get("version")?.clone()).ok()
}

/// The register's promise, as a plain function over the history: a read that starts after a
/// write was acknowledged returns that write's version or a newer one.
pub fn reads_see_acknowledged_writes(_: &Scenario, _: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "reads-see-acknowledged-writes";
    // Acknowledged writes by completion time: (completed at, version, op).
    let mut writes: Vec<(u64, Version, &Operation)> = ops
        .iter()
        .filter(|o| o.f == "write")
        .filter_map(|o| {
            let at = o.completion.as_ref()?.at_us;
            Some((at, version_of(o.ok_value())?, o))
        })
        .collect();
    writes.sort_by_key(|(at, ..)| *at);
    let mut reads = 0;
    for read in ops.iter().filter(|o| o.f == "read") {
        let Some(seen) = version_of(read.ok_value()) else {
            continue;
        };
        reads += 1;
        // The newest write acknowledged before this read began.
        let before = writes.iter().filter(|(at, ..)| *at < read.invoke_us);
        if let Some((at, v, w)) = before.max_by(|a, b| a.1.cmp(&b.1)) {
            if seen < *v {
                return Verdict::violation(
                    NAME,
                    "stale-read",
                    format!(
                        "{} at {}us returned version {}/{}, but {} was acknowledged with \
                         version {}/{} at {at}us",
                        read.label(),
                        read.invoke_us,
                        seen.n,
                        seen.node,
                        w.label(),
                        v.n,
                        v.node
                    ),
                );
            }
        }
    }
    if reads == 0 {
        return Verdict::violation(
            NAME,
            "nothing-tested",
            "no read succeeded: the run tested nothing",
        );
    }
    Verdict::pass(
        NAME,
        format!("{reads} reads, none older than a write acknowledged before it"),
    )
}

/// The system, ready to sweep or to add to a [`Registry`](highstorm::system::Registry): its
/// nodes (variants `default`, and the planted bugs `local-reads`, `ignore-sync-failure` and
/// `trust-damaged`), its
/// clients and its checkers.
pub fn system() -> System {
    System::new("replicated-register", |variant, _config| {
        let bug = match variant {
            "local-reads" => Some(Bug::LocalReads),
            "ignore-sync-failure" => Some(Bug::IgnoreSyncFailure),
            "trust-damaged" => Some(Bug::TrustDamaged),
            _ => None,
        };
        Ok(Register::new(bug))
    })
    .variants(&[
        "default",
        "local-reads",
        "ignore-sync-failure",
        "trust-damaged",
    ])
    .client(|c| c.steady(RegisterOps))
    .check(reads_see_acknowledged_writes)
    .check(generic::unique("versions-unique", "write", "/version"))
    .check(generic::no_acknowledged_write_lost(
        "no-acknowledged-write-lost",
        "write",
        "read",
        "/version",
    ))
}
