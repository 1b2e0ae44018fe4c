//! A tiny primary-backup key-value store, tested with highstorm from outside its workspace.
//!
//! `n0` is the primary: it applies every write under the next version, makes it durable and
//! then acknowledges it, and answers reads from its copy. Every other node forwards clients'
//! requests to the primary by RPC and relays the answer (or an error when the primary does
//! not answer). The variant `async-ack` acknowledges a write before syncing it.
//!
//! Storage faults: a write whose sync fails is taken back and answered with an error; a
//! primary that finds its record damaged at start stops, answering every request with an
//! error naming the record (it holds the only copy).

use highstorm::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The primary, which every other node forwards to.
pub const PRIMARY: &str = "n0";
/// Sometimes-point: a node started with writes its storage kept.
pub const RECOVERED_WRITES: &str = "recovered-writes";
/// Sometimes-point: a forwarded request got no answer from the primary.
pub const PRIMARY_SILENT: &str = "primary-silent";
/// How long a node waits for the primary.
const FORWARD_TIMEOUT: Duration = Duration::from_millis(200);
/// How often the `async-ack` primary syncs what it already acknowledged.
const SYNC_EVERY: Duration = Duration::from_millis(500);

/// The store's messages.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    /// Write `value` under `key`.
    Write {
        /// The key.
        key: String,
        /// The value.
        value: u64,
    },
    /// The write is durable under `version`.
    WriteOk {
        /// Its version.
        version: u64,
    },
    /// Read `key`.
    Read {
        /// The key.
        key: String,
    },
    /// The key's value and version (0 and `None` before any write).
    ReadOk {
        /// The value.
        value: Option<u64>,
        /// Its version.
        version: u64,
    },
}

/// What the primary notes in the trace, read back by [`acknowledged_writes_were_applied`]: the
/// contract between the store and its checker, one type on both sides.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum KvNote {
    /// The primary applied a write to `key` under `version`.
    Applied {
        /// The key.
        key: String,
        /// The version it got.
        version: u64,
    },
    /// The primary took a write back: its sync failed.
    Undone(u64),
}

impl highstorm::nodes::TypedNote for KvNote {}

/// What the primary keeps durable.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Data {
    /// Per key: (value, version).
    keys: BTreeMap<String, (u64, u64)>,
    /// The last version handed out.
    version: u64,
}

/// The `async-ack` primary's timer.
#[derive(Debug)]
pub enum Sync {
    /// Time to sync.
    Now,
}

/// One node of the store.
pub struct Kv {
    data: Data,
    async_ack: bool,
    /// Requests forwarded to the primary, by the forward's id.
    forwarded: BTreeMap<MsgId, Message<Msg>>,
    /// Why this node stopped, once a damaged record stopped it.
    halted: Option<String>,
}

impl Kv {
    /// A node; with `async_ack` the primary has the planted bug.
    pub fn new(async_ack: bool) -> Self {
        Kv {
            data: Data::default(),
            async_ack,
            forwarded: BTreeMap::new(),
            halted: None,
        }
    }

    fn serve(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
        match &msg.body {
            Msg::Write { key, value } => {
                let before = self.data.clone();
                self.data.version += 1;
                let version = self.data.version;
                self.data.keys.insert(key.clone(), (*value, version));
                ctx.put_json("data", &self.data);
                ctx.note_typed(&KvNote::Applied {
                    key: key.clone(),
                    version,
                });
                if !self.async_ack {
                    if let Err(e) = ctx.sync() {
                        // Not durable: not acknowledged (it may be on disk: indefinite).
                        self.data = before;
                        ctx.note_typed(&KvNote::Undone(version));
                        ctx.reply_error(&msg, ErrorBody::new(ErrorCode::Crash, e.to_string()));
                        return;
                    }
                }
                ctx.reply(&msg, Msg::WriteOk { version });
            }
            Msg::Read { key } => {
                let (value, version) = match self.data.keys.get(key) {
                    Some(&(value, version)) => (Some(value), version),
                    None => (None, 0),
                };
                ctx.reply(&msg, Msg::ReadOk { value, version });
            }
            Msg::WriteOk { .. } | Msg::ReadOk { .. } => {}
        }
    }

    fn forward(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
        // A rare path: refuse the request outright (definitely not done), as a busy node may.
        if ctx.buggify("forward-refused") {
            let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, "busy, try again");
            ctx.reply_error(&msg, e);
            return;
        }
        let copy = match &msg.body {
            Msg::Write { key, value } => Msg::Write {
                key: key.clone(),
                value: *value,
            },
            Msg::Read { key } => Msg::Read { key: key.clone() },
            Msg::WriteOk { .. } | Msg::ReadOk { .. } => return,
        };
        let id = ctx.rpc(PRIMARY, copy, FORWARD_TIMEOUT);
        self.forwarded.insert(id, msg);
    }
}

impl Node for Kv {
    type Msg = Msg;
    type Timer = Sync;

    fn on_init(&mut self, ctx: &mut Ctx<'_, Self>) {
        match ctx.storage().get_json::<Data>("data") {
            None => {}
            Some(Ok(data)) => self.data = data,
            Some(Err(e)) => {
                ctx.note(
                    "storage-halted",
                    json!({ "record": e.key(), "error": e.to_string() }),
                );
                self.halted = Some(format!("{} stopped: {e}", ctx.id()));
            }
        }
        ctx.sometimes(RECOVERED_WRITES, self.data.version > 0);
        if self.async_ack && ctx.id() == PRIMARY {
            ctx.set_timer(SYNC_EVERY, Sync::Now);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
        if let Some(why) = &self.halted {
            if matches!(msg.body, Msg::Read { .. } | Msg::Write { .. }) {
                let e = ErrorBody::new(ErrorCode::TemporarilyUnavailable, why.clone());
                ctx.reply_error(&msg, e);
            }
        } else if ctx.id() == PRIMARY {
            self.serve(ctx, msg);
        } else {
            self.forward(ctx, msg);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, Sync::Now: Sync) {
        // The planted bug syncs what it already acknowledged; a failure goes unnoticed.
        let _ = ctx.sync();
        ctx.set_timer(SYNC_EVERY, Sync::Now);
    }

    fn on_rpc_reply(&mut self, ctx: &mut Ctx<'_, Self>, request: MsgId, reply: RpcReply<Msg>) {
        let Some(client) = self.forwarded.remove(&request) else {
            return;
        };
        match reply {
            RpcReply::Reply(answer) => {
                ctx.reply(&client, answer.body);
            }
            RpcReply::Error(e) => {
                ctx.reply_error(&client, e);
            }
            // The primary may have applied a write it never confirmed: not definite.
            RpcReply::Timeout => {
                ctx.reachable(PRIMARY_SILENT);
                let e = ErrorBody::new(ErrorCode::Timeout, "the primary did not answer");
                ctx.reply_error(&client, e);
            }
        }
    }
}

/// Clients write unique values to and read three keys, picked from the seeded rng.
#[derive(Debug, Default)]
pub struct KvOps;

impl Operations for KvOps {
    type Msg = Msg;

    fn next(&mut self, client: &str, op: u64, rng: &mut OpsRng) -> (&'static str, Value, Msg) {
        let key = ["x", "y", "z"][rng.random_range(0..3)].to_owned();
        if rng.random_bool(0.5) {
            let c: u64 = client.trim_start_matches('c').parse().unwrap_or(0);
            let value = c * 1_000_000 + op;
            let v = json!({ "key": key, "value": value });
            ("write", v, Msg::Write { key, value })
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

fn key_of(op: &Operation) -> Option<&str> {
    op.value.get("key")?.as_str()
}

fn version_of(op: &Operation) -> Option<u64> {
    op.ok_value()?.get("version")?.as_u64()
}

fn key_in<'t>(op: &OpRef<'t>) -> Option<&'t str> {
    op.value.get("key")?.as_str()
}

fn version_in(op: &OpRef<'_>) -> Option<u64> {
    op.ok_value()?.get("version")?.as_u64()
}

/// The store's promise: a read returns a version at least as new as every write to its key
/// acknowledged before the read began. It reads the history where the trace holds it
/// (`OpRef`s, registered with `System::check_refs`): nothing is copied out for it.
pub fn reads_see_acknowledged_writes(_: &Scenario, _: &Trace, ops: &[OpRef<'_>]) -> Verdict {
    const NAME: &str = "reads-see-acknowledged-writes";
    let mut reads = 0;
    for read in ops.iter().filter(|o| o.f == "read") {
        let (Some(key), Some(seen)) = (key_in(read), version_in(read)) else {
            continue;
        };
        reads += 1;
        let acked_before = ops.iter().filter(|w| {
            w.f == "write"
                && key_in(w) == Some(key)
                && w.completion.is_some_and(|c| c.at_us < read.invoke_us)
        });
        if let Some((w, v)) = acked_before
            .filter_map(|w| Some((w, version_in(w)?)))
            .max_by_key(|(_, v)| *v)
        {
            if seen < v {
                return Verdict::fail(
                    NAME,
                    format!(
                        "{} of {key} at {}us returned version {seen}, but {} was acknowledged \
                         with version {v} before it",
                        read.label(),
                        read.invoke_us,
                        w.label()
                    ),
                );
            }
        }
    }
    if reads == 0 {
        return Verdict::fail(NAME, "no read succeeded: the run tested nothing");
    }
    Verdict::pass(
        NAME,
        format!("{reads} reads, none older than an acknowledged write"),
    )
}

/// Every acknowledged write was applied by the primary, to its key and under the version the
/// client was told, before the client heard of it (read from the primary's typed notes).
pub fn acknowledged_writes_were_applied(_: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "acknowledged-writes-were-applied";
    let mut applied: Vec<(&str, String, u64, u64)> = vec![];
    for noted in trace.notes::<KvNote>() {
        match noted {
            Ok(n) => {
                if let KvNote::Applied { key, version } = n.note {
                    applied.push((n.node, key, version, n.at_us));
                }
            }
            Err(e) => return Verdict::fail(NAME, e.to_string()),
        }
    }
    let mut acked = 0;
    for w in ops.iter().filter(|o| o.f == "write") {
        let (Some(key), Some(version), Some(done)) = (key_of(w), version_of(w), &w.completion)
        else {
            continue;
        };
        acked += 1;
        let found = applied.iter().any(|(node, k, v, at)| {
            *node == PRIMARY && k == key && *v == version && *at <= done.at_us
        });
        if !found {
            return Verdict::fail(
                NAME,
                format!(
                    "{} was acknowledged with version {version} of {key}, which the primary \
                     never noted applying",
                    w.label()
                ),
            );
        }
    }
    Verdict::pass(
        NAME,
        format!(
            "{acked} acknowledged writes, each noted by the primary ({} notes)",
            applied.len()
        ),
    )
}

/// The store, ready to sweep ([`Sweep::new`](highstorm::testing::Sweep::new)) or to add to a
/// [`Registry`](highstorm::system::Registry).
pub fn system() -> System {
    System::new("outside-kv", |variant, _config| {
        Ok(Kv::new(variant == "async-ack"))
    })
    .variants(&["default", "async-ack"])
    .sometimes(&[RECOVERED_WRITES, PRIMARY_SILENT])
    .client(|c| c.steady(KvOps))
    .check_refs(reads_see_acknowledged_writes)
    .check(acknowledged_writes_were_applied)
    .check(generic::unique("versions-unique", "write", "/version"))
    // Once every fault is undone, the store serves again: every request is answered.
    .liveness(highstorm::check::liveness::requests_answered)
}
