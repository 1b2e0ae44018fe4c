//! A primary-backup key-value store whose backups forward requests by RPC, written as a
//! highstorm user would write their own system: only the public API of the `highstorm` crate.
//!
//! One node is the fixed primary (`n0` unless `[config] primary` names another). It orders
//! every write with a version from one counter, stores it (`put_json` + `sync`), replicates it
//! to every backup — each of which stores and syncs it before it answers — and acknowledges
//! the write once every backup did. Reads are answered from the primary's copy. A client may
//! ask any node: a backup *forwards* the request to the primary with [`Ctx::rpc`] and answers
//! the client when the RPC ends — with the primary's answer, its error, or, on a timeout, an
//! indefinite error.
//!
//! Forwarding is what makes this a test of the harness as much as of the store: a backup that
//! crashes with forwards in flight and restarts must never hand the old primary answer to a new
//! client request (an RPC reply is for the incarnation that asked). Two properties judge a run
//! ([`reads_return_written_values`] and [`reads_see_acknowledged_writes`]):
//! - a read of key `k` returns a value that was written to `k`, under the version it was
//!   written with;
//! - a read returns a version no older than the last write to `k` acknowledged before the read
//!   was invoked (every acknowledged write is synced on the primary, which orders all writes
//!   and serves all reads, so this holds through crashes of any node).
//!
//! The store keeps no table of requests it already applied, so a duplicated `write` message
//! would be applied twice: its scenario injects loss, partitions, pauses and crashes, not
//! duplication.
//!
//! Storage faults: a node whose sync fails answers an error instead of `write_ok` /
//! `replicate_ok` (and forgets the entry); a node that finds a damaged record at start stops,
//! answering every request with an error that names the record — the primary holds the only
//! copy every read relies on, so it cannot guess. `scenarios/primary-backup-storage.toml`
//! sweeps it on faulty disks, checked by the core's
//! [`no_acknowledged_write_lost_per_key`](highstorm::check::generic::no_acknowledged_write_lost_per_key)
//! too.
//!
//! The variant `async-ack` has a planted bug: nodes acknowledge before they store — the
//! primary answers a write at once and replicates in the background, everyone syncs on a timer
//! — so a primary crash loses acknowledged writes and reads go back in time. The variant
//! `ignore-sync-failure` has a planted storage bug: a node whose sync failed keeps the entry
//! and acknowledges it anyway, so the primary's next start can find the key older than what it
//! acknowledged (`scenarios/primary-backup-storage.toml` catches it).

use highstorm::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// How long the primary waits for a backup to store a write.
const REPLICATE_TIMEOUT: Duration = Duration::from_millis(100);
/// How long a backup waits for the primary's answer to a forwarded request (longer than a
/// write's replication, so the primary's own verdict usually comes back).
const FORWARD_TIMEOUT: Duration = Duration::from_millis(250);
/// How often the `async-ack` variant syncs what it already acknowledged.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Where a key's entry is stored.
const KEY_PREFIX: &str = "kv/";
/// The keys clients use.
pub const KEYS: [&str; 3] = ["x", "y", "z"];

/// A key's value and the version the primary wrote it under (versions grow with every write,
/// over all keys, and are never reused).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The value.
    pub value: u64,
    /// Its version.
    pub version: u64,
}

/// The store's messages: clients' requests, and replication between primary and backups.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    /// Client -> any node (backup -> primary when forwarded): read `key`.
    Read {
        /// The key.
        key: String,
    },
    /// The key's value and version (`None` and 0 before its first write).
    ReadOk {
        /// The value.
        value: Option<u64>,
        /// Its version.
        version: u64,
    },
    /// Client -> any node (backup -> primary when forwarded): write `value` to `key`.
    Write {
        /// The key.
        key: String,
        /// The value.
        value: u64,
    },
    /// The write is stored on the primary and every backup, under `version`.
    WriteOk {
        /// Its version.
        version: u64,
    },
    /// Primary -> backup: store this write (if newer than the key's).
    Replicate {
        /// The key.
        key: String,
        /// The value and its version.
        #[serde(flatten)]
        entry: Entry,
    },
    /// Backup -> primary: stored and synced.
    ReplicateOk,
}

/// The nodes' timers.
#[derive(Debug)]
pub enum Timer {
    /// `async-ack` only: sync what was acknowledged since the last flush.
    Flush,
}

/// The system's `[config]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The primary's id (default `n0`).
    pub primary: Option<String>,
}

/// The planted bugs of the store's variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// `async-ack`: acknowledged before stored; synced on a timer.
    AsyncAck,
    /// `ignore-sync-failure`: acknowledged although its sync failed.
    IgnoreSyncFailure,
}

/// A write the primary is replicating.
struct PendingWrite {
    /// Whom to answer: a client, or a backup that forwarded it.
    request: Message<Msg>,
    version: u64,
    /// Backups yet to confirm.
    waiting: usize,
}

/// One node of the store: the primary or a backup, by its id.
pub struct KvNode {
    primary: String,
    bug: Option<Bug>,
    /// This node's copy (the primary's is the truth).
    kv: BTreeMap<String, Entry>,
    /// The primary's next version.
    next_version: u64,
    /// Primary: writes being replicated, by version.
    writes: BTreeMap<u64, PendingWrite>,
    /// Primary: each replication RPC's write.
    replications: BTreeMap<MsgId, u64>,
    /// Backup: each forwarded RPC's client request.
    forwards: BTreeMap<MsgId, Message<Msg>>,
    /// Why this node stopped, once a damaged record stopped it.
    halted: Option<String>,
}

impl KvNode {
    /// A node of a store whose primary is `primary`; with `bug` it has that planted bug.
    pub fn new(primary: &str, bug: Option<Bug>) -> Self {
        KvNode {
            primary: primary.to_owned(),
            bug,
            kv: BTreeMap::new(),
            next_version: 1,
            writes: BTreeMap::new(),
            replications: BTreeMap::new(),
            forwards: BTreeMap::new(),
            halted: None,
        }
    }

    fn async_ack(&self) -> bool {
        self.bug == Some(Bug::AsyncAck)
    }

    fn is_primary(&self, ctx: &Ctx<'_, Self>) -> bool {
        ctx.id() == self.primary
    }

    /// Keeps `entry` for `key` if it is newer; durably unless `async-ack` (which syncs later).
    /// A failed sync takes the entry back: it must not be acknowledged.
    fn store(&mut self, ctx: &mut Ctx<'_, Self>, key: &str, entry: Entry) -> Result<(), SyncError> {
        let newer = self.kv.get(key).is_none_or(|e| entry.version > e.version);
        if newer {
            let old = self.kv.insert(key.to_owned(), entry);
            ctx.put_json(&format!("{KEY_PREFIX}{key}"), &entry);
            if !self.async_ack() {
                if let Err(e) = ctx.sync() {
                    if self.bug == Some(Bug::IgnoreSyncFailure) {
                        // The planted bug: the entry stays, to be acknowledged.
                        return Ok(());
                    }
                    match old {
                        Some(old) => self.kv.insert(key.to_owned(), old),
                        None => self.kv.remove(key),
                    };
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Primary: orders, stores and replicates a write; answers once every backup stored it.
    fn write(&mut self, ctx: &mut Ctx<'_, Self>, request: Message<Msg>, key: &str, value: u64) {
        let version = self.next_version;
        self.next_version += 1;
        let entry = Entry { value, version };
        if let Err(e) = self.store(ctx, key, entry) {
            ctx.reply_error(&request, ErrorBody::new(ErrorCode::Crash, e.to_string()));
            return;
        }
        let backups: Vec<String> = ctx.peers().to_vec();
        if self.async_ack() {
            ctx.reply(&request, Msg::WriteOk { version });
            for backup in backups {
                let body = Msg::Replicate {
                    key: key.to_owned(),
                    entry,
                };
                ctx.send(&backup, body);
            }
            return;
        }
        if backups.is_empty() {
            ctx.reply(&request, Msg::WriteOk { version });
            return;
        }
        for backup in &backups {
            let body = Msg::Replicate {
                key: key.to_owned(),
                entry,
            };
            let rpc = ctx.rpc(backup, body, REPLICATE_TIMEOUT);
            self.replications.insert(rpc, version);
        }
        let waiting = backups.len();
        let pending = PendingWrite {
            request,
            version,
            waiting,
        };
        self.writes.insert(version, pending);
    }

    /// Primary: a backup answered (or did not) a replication.
    fn replicated(&mut self, ctx: &mut Ctx<'_, Self>, version: u64, reply: RpcReply<Msg>) {
        let Some(write) = self.writes.get_mut(&version) else {
            return; // already answered (a backup failed it)
        };
        if let RpcReply::Reply(Message {
            body: Msg::ReplicateOk,
            ..
        }) = reply
        {
            write.waiting -= 1;
            if write.waiting == 0 {
                let write = self.writes.remove(&version).expect("present");
                ctx.reply(
                    &write.request,
                    Msg::WriteOk {
                        version: write.version,
                    },
                );
            }
            return;
        }
        // Stored on the primary, perhaps on some backups: the outcome is not definite.
        let write = self.writes.remove(&version).expect("present");
        let error = ErrorBody::new(ErrorCode::Timeout, "a backup did not confirm the write");
        ctx.reply_error(&write.request, error);
    }

    /// Backup: a forwarded request ended; answer the client with what the primary said.
    fn forwarded(&mut self, ctx: &mut Ctx<'_, Self>, client: Message<Msg>, reply: RpcReply<Msg>) {
        match reply {
            RpcReply::Reply(answer) => match answer.body {
                body @ (Msg::ReadOk { .. } | Msg::WriteOk { .. }) => {
                    ctx.reply(&client, body);
                }
                other => {
                    let error = format!("the primary answered {other:?}");
                    ctx.reply_error(&client, ErrorBody::new(ErrorCode::Crash, error));
                }
            },
            RpcReply::Error(e) => {
                ctx.reply_error(&client, e);
            }
            RpcReply::Timeout => {
                let error = ErrorBody::new(ErrorCode::Timeout, "the primary did not answer");
                ctx.reply_error(&client, error);
            }
        }
    }
}

impl Node for KvNode {
    type Msg = Msg;
    type Timer = Timer;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        // A restarted node comes back with what it synced; the primary numbers on from there.
        let damaged = ctx.storage().damaged().next();
        if let Some(e) = damaged {
            ctx.note(
                "storage-halted",
                json!({ "record": e.key(), "error": e.to_string() }),
            );
            self.halted = Some(format!("{} stopped: {e}", ctx.id()));
            return;
        }
        for (key, bytes) in ctx.storage().prefixed(KEY_PREFIX) {
            if let Ok(entry) = serde_json::from_slice::<Entry>(bytes.unwrap_or_default()) {
                self.next_version = self.next_version.max(entry.version + 1);
                let key = key.trim_start_matches(KEY_PREFIX).to_owned();
                self.kv.insert(key, entry);
            }
        }
        if self.async_ack() {
            ctx.set_timer(FLUSH_EVERY, Timer::Flush);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
        let primary = self.is_primary(ctx);
        if let Some(why) = &self.halted {
            if matches!(
                msg.body,
                Msg::Read { .. } | Msg::Write { .. } | Msg::Replicate { .. }
            ) {
                let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, why.clone());
                ctx.reply_error(&msg, e);
            }
            return;
        }
        match &msg.body {
            Msg::Read { .. } | Msg::Write { .. } if !primary => {
                let forward = ctx.rpc(&self.primary, msg.body.clone(), FORWARD_TIMEOUT);
                self.forwards.insert(forward, msg);
            }
            Msg::Read { key } => {
                let entry = self.kv.get(key);
                let (value, version) = (entry.map(|e| e.value), entry.map_or(0, |e| e.version));
                ctx.reply(&msg, Msg::ReadOk { value, version });
            }
            Msg::Write { key, value } => {
                let (key, value) = (key.clone(), *value);
                self.write(ctx, msg, &key, value);
            }
            Msg::Replicate { key, entry } => {
                let (key, entry) = (key.clone(), *entry);
                if self.async_ack() {
                    ctx.reply(&msg, Msg::ReplicateOk);
                    // The planted bug: acknowledged before it is stored (synced later).
                    let _ = self.store(ctx, &key, entry);
                } else {
                    match self.store(ctx, &key, entry) {
                        Ok(()) => ctx.reply(&msg, Msg::ReplicateOk),
                        Err(e) => ctx.reply_error(
                            &msg,
                            ErrorBody::new(ErrorCode::TemporarilyUnavailable, e.to_string()),
                        ),
                    };
                }
            }
            // Answers to RPCs arrive at `on_rpc_reply`; a duplicate or late one is dropped.
            Msg::ReadOk { .. } | Msg::WriteOk { .. } | Msg::ReplicateOk => {}
        }
    }

    fn on_rpc_reply(&mut self, ctx: &mut Ctx<'_, Self>, request: MsgId, reply: RpcReply<Msg>) {
        if let Some(version) = self.replications.remove(&request) {
            self.replicated(ctx, version, reply);
        } else if let Some(client) = self.forwards.remove(&request) {
            self.forwarded(ctx, client, reply);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        match timer {
            Timer::Flush => {
                // The planted bug syncs what it already acknowledged; a failure goes unnoticed.
                let _ = ctx.sync();
                ctx.set_timer(FLUSH_EVERY, Timer::Flush);
            }
        }
    }
}

/// What the clients do: writes of values unique across clients and reads, over [`KEYS`].
#[derive(Debug, Default)]
pub struct KvOps;

impl Operations for KvOps {
    type Msg = Msg;

    fn next(&mut self, client: &str, op: u64, rng: &mut OpsRng) -> (&'static str, Value, Msg) {
        // Keys drawn from the run's seeded stream for this client.
        let key = KEYS[rng.random_range(0..KEYS.len())].to_owned();
        if op % 2 == 0 {
            // Unique across clients: c3's 10th operation writes 3_000_010.
            let c: u64 = client.trim_start_matches('c').parse().unwrap_or(0);
            let value = c * 1_000_000 + op;
            let invoked = json!({ "key": key, "value": value });
            ("write", invoked, Msg::Write { key, value })
        } else {
            ("read", json!({ "key": key }), Msg::Read { key })
        }
    }

    fn result(&self, reply: &Msg) -> Option<Value> {
        match reply {
            Msg::WriteOk { version } => Some(json!({ "version": version })),
            Msg::ReadOk { value, version } => Some(json!({ "value": value, "version": version })),
            _ => None,
        }
    }
}

/// A write as the history shows it.
struct WriteOp<'o> {
    op: &'o Operation,
    key: &'o str,
    value: u64,
    /// `(completed at, version)` when acknowledged.
    acked: Option<(u64, u64)>,
}

/// A successful read as the history shows it.
struct ReadOp<'o> {
    op: &'o Operation,
    key: &'o str,
    value: Option<u64>,
    version: u64,
}

fn writes(ops: &[Operation]) -> Vec<WriteOp<'_>> {
    ops.iter()
        .filter(|o| o.f == "write")
        .filter_map(|op| {
            let key = op.value.get("key")?.as_str()?;
            let value = op.value.get("value")?.as_u64()?;
            let acked = op.ok_value().and_then(|v| {
                let at = op.completion.as_ref()?.at_us;
                Some((at, v.get("version")?.as_u64()?))
            });
            Some(WriteOp {
                op,
                key,
                value,
                acked,
            })
        })
        .collect()
}

fn reads(ops: &[Operation]) -> Vec<ReadOp<'_>> {
    ops.iter()
        .filter(|o| o.f == "read")
        .filter_map(|op| {
            let result = op.ok_value()?;
            Some(ReadOp {
                op,
                key: op.value.get("key")?.as_str()?,
                value: result.get("value")?.as_u64(),
                version: result.get("version")?.as_u64()?,
            })
        })
        .collect()
}

/// Every acknowledged read of key `k` returns nothing (version 0) or a value some client wrote
/// to `k` — never another key's — and, when that write was acknowledged, under its version.
pub fn reads_return_written_values(_: &Scenario, _: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "reads-return-written-values";
    let writes = writes(ops);
    let by_value: BTreeMap<u64, &WriteOp<'_>> = writes.iter().map(|w| (w.value, w)).collect();
    let reads = reads(ops);
    for r in &reads {
        let problem = match (r.value, by_value.get(&r.value.unwrap_or(0))) {
            (None, _) if r.version == 0 => continue,
            (None, _) => format!("nothing under version {}", r.version),
            (Some(v), None) => format!("{v}, a value no client wrote"),
            (Some(v), Some(w)) if w.key != r.key => {
                format!("{v}, which {} wrote to key {}", w.op.label(), w.key)
            }
            (Some(v), Some(w)) => match w.acked {
                Some((_, version)) if version != r.version => format!(
                    "{v} under version {}, but {} wrote it under version {version}",
                    r.version,
                    w.op.label()
                ),
                _ => continue,
            },
        };
        return Verdict::fail(
            NAME,
            format!(
                "{} of key {} at {}us returned {problem}",
                r.op.label(),
                r.key,
                r.op.invoke_us
            ),
        );
    }
    if reads.is_empty() {
        return Verdict::fail(NAME, "no read succeeded: the run tested nothing");
    }
    Verdict::pass(
        NAME,
        format!("{} reads, each of a value written to its key", reads.len()),
    )
}

/// Every acknowledged read of key `k` returns a version no older than that of the last write to
/// `k` acknowledged before the read was invoked.
pub fn reads_see_acknowledged_writes(_: &Scenario, _: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "reads-see-acknowledged-writes";
    let writes = writes(ops);
    let reads = reads(ops);
    for r in &reads {
        let before = writes.iter().filter(|w| w.key == r.key).filter_map(|w| {
            w.acked
                .filter(|(at, _)| *at < r.op.invoke_us)
                .map(|a| (a, w))
        });
        if let Some(((at, version), w)) = before.max_by_key(|((_, version), _)| *version) {
            if r.version < version {
                return Verdict::fail(
                    NAME,
                    format!(
                        "{} of key {} at {}us returned version {}, but {} was acknowledged \
                         with version {version} at {at}us",
                        r.op.label(),
                        r.key,
                        r.op.invoke_us,
                        r.version,
                        w.op.label()
                    ),
                );
            }
        }
    }
    let acked = writes.iter().filter(|w| w.acked.is_some()).count();
    if acked == 0 {
        return Verdict::fail(NAME, "no write was acknowledged: the run tested nothing");
    }
    Verdict::pass(
        NAME,
        format!(
            "{} reads, none older than the {acked} writes acknowledged before them",
            reads.len()
        ),
    )
}

/// The system, ready to sweep or to add to a [`Registry`](highstorm::system::Registry): its
/// nodes (variant `default`, and the planted bugs `async-ack` and `ignore-sync-failure`), its
/// clients and its checkers.
pub fn system() -> System {
    System::new("primary-backup", |variant, config| {
        let config: Config = highstorm::prelude::config("primary-backup", config)?;
        let primary = config.primary.as_deref().unwrap_or("n0");
        let bug = match variant {
            "async-ack" => Some(Bug::AsyncAck),
            "ignore-sync-failure" => Some(Bug::IgnoreSyncFailure),
            _ => None,
        };
        Ok(KvNode::new(primary, bug))
    })
    .variants(&["default", "async-ack", "ignore-sync-failure"])
    .client(|c| c.steady(KvOps))
    .check(reads_return_written_values)
    .check(reads_see_acknowledged_writes)
    .check(generic::unique("versions-unique", "write", "/version"))
    .check(generic::no_acknowledged_write_lost_per_key(
        "no-acknowledged-write-lost",
        "write",
        "read",
        "/key",
        "/version",
    ))
    .check(highstorm::check::requests_answered_unless_faulted)
}
