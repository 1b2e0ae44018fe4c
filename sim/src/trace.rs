//! The event trace of one run: what happened, when, in simulated time.
//!
//! A trace renders as stable text, one event a line, and hashes to a 64-bit id computed over
//! that rendering. The same scenario and seed give the same hash; [`first_difference`] finds
//! where two traces part ways.

use crate::check::spread::Holdings;
use highstorm_nodes::{decode_note, ClientOp, MsgId, Note, OpPhase, TypedNote};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};
use std::sync::OnceLock;
use std::time::Duration;

/// One thing that happened, stamped with simulated time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Simulated time since the run started, in microseconds.
    pub at_us: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// The event's simulated time.
    pub fn at(&self) -> Duration {
        Duration::from_micros(self.at_us)
    }
}

/// The kinds of event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum EventKind {
    /// A message was handed to the network.
    Send {
        /// Sender.
        src: String,
        /// Receiver.
        dest: String,
        /// Its id.
        msg_id: Option<MsgId>,
        /// The request it answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<MsgId>,
        /// The body, as JSON text.
        body: String,
    },
    /// A message reached its receiver.
    Deliver {
        /// Sender.
        src: String,
        /// Receiver.
        dest: String,
        /// Its id.
        msg_id: Option<MsgId>,
    },
    /// The network lost a message.
    Drop {
        /// Sender.
        src: String,
        /// Receiver.
        dest: String,
        /// Its id.
        msg_id: Option<MsgId>,
        /// Why: `partition`, `loss`, `down`, ...
        reason: String,
    },
    /// The network delivered a second copy of a message.
    Duplicate {
        /// Sender.
        src: String,
        /// Receiver.
        dest: String,
        /// Its id.
        msg_id: Option<MsgId>,
    },
    /// A node's timer fired.
    Timer {
        /// The node.
        node: String,
        /// The timer.
        timer: String,
    },
    /// A node asked for outside work.
    Work {
        /// The node.
        node: String,
        /// The work's id.
        id: u64,
        /// What kind of work.
        kind: String,
    },
    /// A node discarded input (malformed, unsupported, late).
    Discard {
        /// The node.
        node: String,
        /// Who sent it, if known.
        from: Option<String>,
        /// Why.
        reason: String,
    },
    /// A node noted a state change.
    Note {
        /// The node.
        node: String,
        /// What kind of change.
        kind: String,
        /// Details.
        data: serde_json::Value,
    },
    /// A client invoked or completed an operation.
    Client {
        /// The client.
        client: String,
        /// The history entry.
        #[serde(flatten)]
        op: ClientOp,
    },
    /// A node made its pending storage writes durable.
    Sync {
        /// The node.
        node: String,
        /// How many writes became durable.
        writes: u64,
    },
    /// A storage fault struck a node's disk: `sync-failed`, `torn`, `unsynced-kept`,
    /// `lost-write`, `misdirected`, `corrupt`, `disk-full`, `disk-freed`.
    Storage {
        /// The node.
        node: String,
        /// Which fault.
        fault: String,
        /// The record it struck, when it struck one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Details.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    /// A crash lost storage writes the node had not synced.
    LostWrites {
        /// The node.
        node: String,
        /// How many.
        writes: u64,
    },
    /// A node crashed: its process is gone and its volatile state lost.
    Crash {
        /// The node.
        node: String,
    },
    /// A node restarted from `on_init`.
    Restart {
        /// The node.
        node: String,
        /// Its new boot count.
        boot: u64,
    },
    /// Messages from every node of `from` to every node of `to` are dropped from now on.
    Cut {
        /// Senders.
        from: Vec<String>,
        /// Receivers.
        to: Vec<String>,
        /// The scenario's fault this cut implements (`partition`, `partition-oneway`).
        cause: String,
    },
    /// Links are repaired.
    Heal {
        /// `all`, or the link repaired (`n0<->n1`).
        scope: String,
    },
    /// A node froze: no timers, no messages handled, until it resumes.
    Pause {
        /// The node.
        node: String,
    },
    /// A paused node resumed, with whatever arrived meanwhile.
    Resume {
        /// The node.
        node: String,
    },
    /// Link conditions changed.
    Network {
        /// `all`, or the links changed (`[n0]->[n1]`).
        scope: String,
        /// The new settings.
        change: String,
    },
    /// A node's clock stepped and took a new drift.
    Skew {
        /// The node.
        node: String,
        /// The step, in microseconds.
        offset_us: i64,
        /// The new rate error.
        drift: f64,
    },
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = |m: &Option<MsgId>| m.map_or("-".to_owned(), |m| m.to_string());
        match self {
            EventKind::Send {
                src,
                dest,
                msg_id,
                body,
                ..
            } => write!(f, "send {src}->{dest} #{} {body}", id(msg_id)),
            EventKind::Deliver { src, dest, msg_id } => {
                write!(f, "deliver {src}->{dest} #{}", id(msg_id))
            }
            EventKind::Drop {
                src,
                dest,
                msg_id,
                reason,
            } => write!(f, "drop {src}->{dest} #{} ({reason})", id(msg_id)),
            EventKind::Duplicate { src, dest, msg_id } => {
                write!(f, "duplicate {src}->{dest} #{}", id(msg_id))
            }
            EventKind::Timer { node, timer } => write!(f, "timer {node} {timer}"),
            EventKind::Work { node, id, kind } => write!(f, "work {node} #{id} {kind}"),
            EventKind::Discard { node, from, reason } => write!(
                f,
                "discard {node} from {} ({reason})",
                from.as_deref().unwrap_or("?")
            ),
            EventKind::Note { node, kind, data } => write!(f, "note {node} {kind} {data}"),
            EventKind::Client { client, op } => {
                let phase = match op.phase {
                    OpPhase::Invoke => "invoke",
                    OpPhase::Ok => "ok",
                    OpPhase::Fail => "fail",
                    OpPhase::Info => "info",
                };
                write!(
                    f,
                    "client {client} {phase} op{} {} @{} {}",
                    op.op, op.f, op.node, op.value
                )
            }
            EventKind::Crash { node } => write!(f, "crash {node}"),
            EventKind::Sync { node, writes } => write!(f, "sync {node} {writes} writes"),
            EventKind::LostWrites { node, writes } => {
                write!(f, "lost-writes {node} {writes} unsynced")
            }
            EventKind::Storage {
                node,
                fault,
                key,
                detail,
            } => {
                write!(f, "storage {node} {fault}")?;
                if let Some(k) = key {
                    write!(f, " `{k}`")?;
                }
                if !detail.is_empty() {
                    write!(f, " ({detail})")?;
                }
                Ok(())
            }
            EventKind::Restart { node, boot } => write!(f, "restart {node} boot={boot}"),
            EventKind::Cut { from, to, cause } => {
                write!(f, "{cause} [{}] -x-> [{}]", from.join(","), to.join(","))
            }
            EventKind::Heal { scope } => write!(f, "heal {scope}"),
            EventKind::Pause { node } => write!(f, "pause {node}"),
            EventKind::Resume { node } => write!(f, "resume {node}"),
            EventKind::Network { scope, change } => write!(f, "network {scope} {change}"),
            EventKind::Skew {
                node,
                offset_us,
                drift,
            } => write!(f, "skew {node} {offset_us:+}us drift={drift}"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>5}.{:06}s {}",
            self.at_us / 1_000_000,
            self.at_us % 1_000_000,
            self.kind
        )
    }
}

impl Event {
    /// Appends the event's line (its `Display` and a newline) to `out`, the same bytes
    /// `writeln!(out, "{event}")` would write, without the formatting machinery for the
    /// frequent kinds: hashing a trace renders every event of it.
    pub fn render_line(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        fn num(out: &mut Vec<u8>, n: u64) {
            small_u64(out, n, &mut itoa::Buffer::new());
        }
        fn id(out: &mut Vec<u8>, m: &Option<MsgId>) {
            match m {
                Some(m) => num(out, *m),
                None => out.push(b'-'),
            }
        }
        fn link(out: &mut Vec<u8>, word: &str, src: &str, dest: &str, m: &Option<MsgId>) {
            out.extend_from_slice(word.as_bytes());
            out.extend_from_slice(src.as_bytes());
            out.extend_from_slice(b"->");
            out.extend_from_slice(dest.as_bytes());
            out.extend_from_slice(b" #");
            id(out, m);
        }
        // `{:>5}.{:06}s `
        let (secs, micros) = (self.at_us / 1_000_000, self.at_us % 1_000_000);
        let mut itoa = itoa::Buffer::new();
        let secs = itoa.format(secs).as_bytes();
        out.extend_from_slice(&b"    "[..5usize.saturating_sub(secs.len())]);
        out.extend_from_slice(secs);
        // The six digits of `micros` (below a million), zero-padded.
        let mut digits = [b'0'; 8];
        digits[0] = b'.';
        let mut m = micros;
        for d in digits[1..7].iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        digits[7] = b's';
        out.extend_from_slice(&digits);
        out.push(b' ');
        match &self.kind {
            EventKind::Send {
                src,
                dest,
                msg_id,
                body,
                ..
            } => {
                link(out, "send ", src, dest, msg_id);
                out.push(b' ');
                out.extend_from_slice(body.as_bytes());
            }
            EventKind::Deliver { src, dest, msg_id } => link(out, "deliver ", src, dest, msg_id),
            EventKind::Duplicate { src, dest, msg_id } => {
                link(out, "duplicate ", src, dest, msg_id)
            }
            EventKind::Timer { node, timer } => {
                out.extend_from_slice(b"timer ");
                out.extend_from_slice(node.as_bytes());
                out.push(b' ');
                out.extend_from_slice(timer.as_bytes());
            }
            EventKind::Note { node, kind, data } => {
                out.extend_from_slice(b"note ");
                out.extend_from_slice(node.as_bytes());
                out.push(b' ');
                out.extend_from_slice(kind.as_bytes());
                out.push(b' ');
                write_json(out, data);
            }
            EventKind::Client { client, op } => {
                out.extend_from_slice(b"client ");
                out.extend_from_slice(client.as_bytes());
                out.extend_from_slice(match op.phase {
                    OpPhase::Invoke => b" invoke op",
                    OpPhase::Ok => b" ok op",
                    OpPhase::Fail => b" fail op",
                    OpPhase::Info => b" info op",
                });
                num(out, op.op);
                out.push(b' ');
                out.extend_from_slice(op.f.as_bytes());
                out.extend_from_slice(b" @");
                out.extend_from_slice(op.node.as_bytes());
                out.push(b' ');
                write_json(out, &op.value);
            }
            other => {
                let _ = write!(out, "{other}");
            }
        }
        out.push(b'\n');
    }
}

/// Appends `value` as compact JSON, the bytes `serde_json::to_writer` writes, with integers
/// written directly: the values in a trace are mostly lists of integers (reads, learnt
/// values), and going through serde's serializer per element was most of what rendering a
/// trace cost. Strings and floats are still written by serde_json (escaping, shortest float).
fn write_json(out: &mut Vec<u8>, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            } else {
                let _ = serde_json::to_writer(&mut *out, n);
            }
        }
        Value::String(s) => {
            let _ = serde_json::to_writer(&mut *out, s);
        }
        Value::Array(items) => {
            out.push(b'[');
            write_items(out, items);
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_json(out, v);
            }
            out.push(b'}');
        }
    }
}

/// Appends the items of an array, comma-separated. Runs of numbers below 1000 (a read's or a
/// `learn` note's values, the bulk of a trace's bytes) are written into a buffer on the stack
/// a separator and three digits at a time and copied out in blocks: growing the output per
/// number cost more than the digits did. Anything else goes through [`write_json`].
fn write_items(out: &mut Vec<u8>, items: &[serde_json::Value]) {
    const BLOCK: usize = 1024;
    let mut block = [0u8; BLOCK];
    let mut used = 0;
    for (i, item) in items.iter().enumerate() {
        match item.as_u64() {
            Some(n) if n < 1000 => {
                if used + 4 > BLOCK {
                    out.extend_from_slice(&block[..used]);
                    used = 0;
                }
                let [a, b, c, len] = highstorm_nodes::wire::digits::SMALL[n as usize];
                // The separator (none before the first item), then the digits.
                let start = usize::from(i == 0);
                let word = [b',', a, b, c];
                block[used..used + 4 - start].copy_from_slice(&word[start..]);
                used += 1 - start + usize::from(len);
            }
            _ => {
                out.extend_from_slice(&block[..used]);
                used = 0;
                if i > 0 {
                    out.push(b',');
                }
                match item.as_u64() {
                    Some(n) => small_u64(out, n, &mut itoa::Buffer::new()),
                    None => write_json(out, item),
                }
            }
        }
    }
    out.extend_from_slice(&block[..used]);
}

/// Appends `n` in decimal: numbers below 1000 (most values in a trace's lists) from a table,
/// as one fixed-size write (a call to `memcpy` per short number was a third of the cost, and
/// the divisions most of the rest), the others through itoa.
#[inline]
fn small_u64(out: &mut Vec<u8>, n: u64, itoa: &mut itoa::Buffer) {
    if n < 1000 {
        let [a, b, c, len] = highstorm_nodes::wire::digits::SMALL[n as usize];
        out.extend_from_slice(&[a, b, c]);
        out.truncate(out.len() - 3 + usize::from(len));
    } else {
        out.extend_from_slice(itoa.format(n).as_bytes());
    }
}

/// Every event of one run, in the order they happened.
#[derive(Clone, Default)]
pub struct Trace {
    events: Vec<Event>,
    /// [`Trace::holdings`], read on first use (a run's checks and metrics ask for it more than
    /// once); any change to `events` forgets it.
    holdings: OnceLock<Holdings>,
}

impl PartialEq for Trace {
    fn eq(&self, other: &Trace) -> bool {
        self.events == other.events
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("events", &self.events)
            .finish()
    }
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Trace::default()
    }

    /// An empty trace with room for `events` events before it grows (an engine that knows
    /// about how long its run will be saves copying a large trace as it doubles).
    pub fn with_capacity(events: usize) -> Self {
        Trace {
            events: Vec::with_capacity(events),
            holdings: OnceLock::new(),
        }
    }

    /// Appends an event at simulated time `at`.
    pub fn push(&mut self, at: Duration, kind: EventKind) {
        let at_us = u64::try_from(at.as_micros()).unwrap_or(u64::MAX);
        self.events.push(Event { at_us, kind });
        self.forget_derived();
    }

    /// Forgets every event, keeping the room they took (an engine comparing a rerun with an
    /// earlier trace as it goes keeps only the events not yet compared).
    pub fn clear(&mut self) {
        self.events.clear();
        self.forget_derived();
    }

    /// Forgets what was read from the events (they changed).
    #[inline]
    fn forget_derived(&mut self) {
        if self.holdings.get().is_some() {
            self.holdings = OnceLock::new();
        }
    }

    /// The events.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// When each node came to hold each value (see [`holdings`](crate::check::spread::holdings)),
    /// read from the events once and kept until they change.
    pub fn holdings(&self) -> &Holdings {
        self.holdings
            .get_or_init(|| crate::check::spread::read_holdings(self))
    }

    /// The stable text rendering: one event a line.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        for e in &self.events {
            e.render_line(&mut out);
        }
        // Every part of a line is UTF-8 (strings, and JSON written by serde_json).
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }

    /// A readable summary: every fault, discard and unsuccessful client operation as its own
    /// line, and the routine (sends, deliveries, drops by reason, duplicates, timers,
    /// successful operations, storage syncs, notes by kind) counted per second of simulated
    /// time. Syncs are listed only in seconds that have some, so the outline of a run without
    /// durable writes does not mention them.
    pub fn outline(&self) -> String {
        #[derive(Default)]
        struct Counts {
            sends: usize,
            delivers: usize,
            duplicates: usize,
            timers: usize,
            ok: usize,
            syncs: usize,
            drops: std::collections::BTreeMap<String, usize>,
            notes: std::collections::BTreeMap<String, usize>,
        }
        fn flush(out: &mut String, second: u64, c: &Counts) {
            let list = |m: &std::collections::BTreeMap<String, usize>| {
                m.iter()
                    .map(|(k, n)| format!("{k}={n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let _ = writeln!(
                out,
                "  [{second}s..{}s] sends={} delivers={} drops={{{}}} duplicates={} timers={} ops_ok={} notes={{{}}}",
                second + 1,
                c.sends,
                c.delivers,
                list(&c.drops),
                c.duplicates,
                c.timers,
                c.ok,
                list(&c.notes)
            );
            if c.syncs > 0 {
                // Inserted before the line's end so the common case stays one `writeln!`.
                out.pop();
                let _ = writeln!(out, " syncs={}", c.syncs);
            }
        }
        let mut out = String::new();
        let mut second = 0;
        let mut counts = Counts::default();
        for e in &self.events {
            let s = e.at_us / 1_000_000;
            if s != second {
                flush(&mut out, second, &counts);
                counts = Counts::default();
                second = s;
            }
            match &e.kind {
                EventKind::Send { .. } => counts.sends += 1,
                EventKind::Deliver { .. } => counts.delivers += 1,
                EventKind::Duplicate { .. } => counts.duplicates += 1,
                EventKind::Timer { .. } => counts.timers += 1,
                EventKind::Sync { .. } => counts.syncs += 1,
                EventKind::Drop { reason, .. } => {
                    *counts.drops.entry(reason.clone()).or_default() += 1
                }
                EventKind::Note { kind, .. } => *counts.notes.entry(kind.clone()).or_default() += 1,
                EventKind::Client { op, .. } if matches!(op.phase, OpPhase::Invoke) => {}
                EventKind::Client { op, .. } if matches!(op.phase, OpPhase::Ok) => counts.ok += 1,
                _ => {
                    let _ = writeln!(out, "{e}");
                }
            }
        }
        flush(&mut out, second, &counts);
        out
    }

    /// The trace's 64-bit id: xxh3 of its rendering.
    pub fn hash(&self) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut line = Vec::with_capacity(256);
        for e in &self.events {
            line.clear();
            e.render_line(&mut line);
            hasher.update(&line);
        }
        hasher.digest()
    }

    /// JSON Lines: one event object a line.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            out.push_str(&serde_json::to_string(e).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// Appends a typed note `note` by `node` at simulated time `at` (what a node's
    /// [`note_typed`](highstorm_nodes::Context::note_typed) puts in the trace).
    pub fn push_note<N: TypedNote>(&mut self, at: Duration, node: &str, note: &N) {
        let Note { kind, data } = Note::typed(note);
        let node = node.to_owned();
        self.push(at, EventKind::Note { node, kind, data });
    }

    /// The notes of type `N`, in trace order: every note of one of `N`'s kinds, decoded. Notes
    /// of other kinds (the harness's own, another type's) are not `N`'s and are skipped; a
    /// note of one of `N`'s kinds whose data does not decode is an error naming the event,
    /// never skipped (a checker that meets one should fail).
    pub fn notes<N: TypedNote>(&self) -> impl Iterator<Item = Result<Noted<'_, N>, NoteError>> {
        let kinds = N::kinds();
        let ty = std::any::type_name::<N>();
        let no_kinds = kinds.is_empty().then_some(Err(NoteError::NoKinds { ty }));
        let notes = self
            .events
            .iter()
            .enumerate()
            .filter_map(move |(index, e)| {
                let EventKind::Note { node, kind, data } = &e.kind else {
                    return None;
                };
                Some(match decode_note::<N>(kind, data, kinds)? {
                    Ok(note) => Ok(Noted {
                        index,
                        at_us: e.at_us,
                        node: node.as_str(),
                        note,
                    }),
                    Err(reason) => Err(NoteError::Undecodable {
                        index,
                        at_us: e.at_us,
                        note: format!("{node} {kind} {data}"),
                        ty,
                        reason,
                    }),
                })
            });
        no_kinds.into_iter().chain(notes)
    }

    /// Reads JSON Lines written by [`to_jsonl`](Trace::to_jsonl).
    pub fn from_jsonl(text: &str) -> Result<Trace, TraceError> {
        let mut events = vec![];
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let event = serde_json::from_str(line).map_err(|source| TraceError {
                line: n + 1,
                source,
            })?;
            events.push(event);
        }
        Ok(Trace {
            events,
            holdings: OnceLock::new(),
        })
    }
}

/// A note of a system's [`TypedNote`] type, read back from a trace by [`Trace::notes`].
#[derive(Clone, Debug, PartialEq)]
pub struct Noted<'a, N> {
    /// The note's event's index in the trace (0-based, as rendered).
    pub index: usize,
    /// When it was noted (µs of simulated time).
    pub at_us: u64,
    /// The node that noted it.
    pub node: &'a str,
    /// The note.
    pub note: N,
}

/// Why [`Trace::notes`] could not read a note: the contract between a node and its checker is
/// broken.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NoteError {
    /// The note type has no kinds: it is not an adjacently tagged enum.
    #[error("{ty} has no note kinds: it must be an enum with #[serde(tag = \"kind\", content = \"data\")]")]
    NoKinds {
        /// The note type.
        ty: &'static str,
    },
    /// A note of one of the type's kinds whose data does not decode as that kind.
    #[error("event {index} at {at_us}us (note {note}) is not a {ty}: {reason}")]
    Undecodable {
        /// The event's index in the trace (0-based, as rendered).
        index: usize,
        /// Its simulated time.
        at_us: u64,
        /// The note as the trace renders it: node, kind, data.
        note: String,
        /// The note type.
        ty: &'static str,
        /// What serde said.
        reason: String,
    },
}

/// A line of a JSON Lines trace that is not an event.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: not a trace event: {source}")]
pub struct TraceError {
    /// 1-based line number.
    pub line: usize,
    /// What serde said.
    pub source: serde_json::Error,
}

/// Where two traces part ways.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// Index of the first differing event.
    pub index: usize,
    /// That event in each trace (`None` past its end).
    pub left: Option<Event>,
    /// That event in the other trace.
    pub right: Option<Event>,
    /// Up to `context` events before it, common to both.
    pub before: Vec<Event>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "traces diverge at event {}:", self.index)?;
        for e in &self.before {
            writeln!(f, "    {e}")?;
        }
        let show = |e: &Option<Event>| {
            e.as_ref()
                .map_or("<end of trace>".into(), |e| e.to_string())
        };
        writeln!(f, "  - {}", show(&self.left))?;
        write!(f, "  + {}", show(&self.right))
    }
}

/// The first event at which `a` and `b` differ (by rendering), with `context` common events
/// before it; `None` if they are identical.
pub fn first_difference(a: &Trace, b: &Trace, context: usize) -> Option<Divergence> {
    let differs = |i: usize| match (a.events.get(i), b.events.get(i)) {
        (Some(x), Some(y)) => x.to_string() != y.to_string(),
        (None, None) => false,
        _ => true,
    };
    let len = a.events.len().max(b.events.len());
    let index = (0..len).find(|&i| differs(i))?;
    Some(Divergence {
        index,
        left: a.events.get(index).cloned(),
        right: b.events.get(index).cloned(),
        before: a.events[index.saturating_sub(context)..index].to_vec(),
    })
}

/// Whether a process name is a client's (`c0`, `c1`, ...).
fn is_client(name: &str) -> bool {
    name.starts_with('c')
}

/// Messages sent: (node-to-node, all).
pub fn message_counts(trace: &Trace) -> (usize, usize) {
    let (mut server, mut all) = (0usize, 0usize);
    for e in trace.events() {
        if let EventKind::Send { src, dest, .. } = &e.kind {
            all += 1;
            if !is_client(src) && !is_client(dest) {
                server += 1;
            }
        }
    }
    (server, all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_are_written_as_itoa_writes_them() {
        let mut itoa = itoa::Buffer::new();
        for n in (0..2000).chain([9_999, 10_000, u64::MAX - 1, u64::MAX]) {
            let mut out = b"x".to_vec();
            small_u64(&mut out, n, &mut itoa);
            assert_eq!(out, format!("x{n}").into_bytes(), "{n}");
        }
    }

    fn sample() -> Trace {
        let mut t = Trace::new();
        t.push(
            Duration::from_millis(1),
            EventKind::Send {
                src: "c0".into(),
                dest: "n1".into(),
                msg_id: Some(1),
                in_reply_to: None,
                body: r#"{"type":"ping"}"#.into(),
            },
        );
        t.push(
            Duration::from_millis(3),
            EventKind::Crash { node: "n1".into() },
        );
        t
    }

    #[test]
    fn renders_one_stable_line_per_event() {
        assert_eq!(
            sample().render(),
            "    0.001000s send c0->n1 #1 {\"type\":\"ping\"}\n    0.003000s crash n1\n"
        );
    }

    #[test]
    fn fast_lines_equal_the_display_of_every_kind() {
        use highstorm_nodes::ClientOp;
        let op = |phase| ClientOp {
            op: 12,
            phase,
            node: "n3".into(),
            f: "read".into(),
            value: serde_json::json!({"messages": [1, 2, 3], "s": "a\"b\u{e9}"}),
            request: Some(4),
        };
        let kinds = vec![
            EventKind::Send {
                src: "c0".into(),
                dest: "n1".into(),
                msg_id: None,
                in_reply_to: Some(3),
                body: "{\"type\":\"read\"}".into(),
            },
            EventKind::Deliver {
                src: "n10".into(),
                dest: "n2".into(),
                msg_id: Some(u64::MAX),
            },
            EventKind::Duplicate {
                src: "a".into(),
                dest: "b".into(),
                msg_id: Some(0),
            },
            EventKind::Drop {
                src: "a".into(),
                dest: "b".into(),
                msg_id: Some(9),
                reason: "loss".into(),
            },
            EventKind::Timer {
                node: "n0".into(),
                timer: "Batch".into(),
            },
            EventKind::Note {
                node: "n0".into(),
                kind: "status".into(),
                data: serde_json::json!({"to": "InProgress", "x": [1.5, null, true]}),
            },
            EventKind::Client {
                client: "c1".into(),
                op: op(OpPhase::Invoke),
            },
            EventKind::Client {
                client: "c1".into(),
                op: op(OpPhase::Ok),
            },
            EventKind::Client {
                client: "c1".into(),
                op: op(OpPhase::Fail),
            },
            EventKind::Client {
                client: "c1".into(),
                op: op(OpPhase::Info),
            },
            EventKind::Skew {
                node: "n1".into(),
                offset_us: -5,
                drift: 0.01,
            },
        ];
        for at_us in [
            0,
            7,
            999_999,
            1_000_000,
            12_345_678,
            99_999_000_001,
            u64::MAX,
        ] {
            for kind in &kinds {
                let e = Event {
                    at_us,
                    kind: kind.clone(),
                };
                let mut fast = vec![];
                e.render_line(&mut fast);
                assert_eq!(String::from_utf8(fast).unwrap(), format!("{e}\n"));
            }
        }
    }

    #[test]
    fn json_in_lines_is_what_serde_json_writes() {
        use serde_json::json;
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-7),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
            json!(0.1),
            json!("a\"b\\c\n\u{1}\u{e9}\u{1F600}"),
            json!([]),
            json!({}),
            json!([1, 2, 3, u64::MAX, -1, 2.5, "x", null, [4, [5]], {"k": [6]}]),
            json!([0, 9, 10, 99, 100, 999, 1000, 9999, 123_456_789]),
            json!({"z": 1, "a": {"\"q": [true, false]}, "m": -3, "f": 0.25, "s": ""}),
        ];
        for v in &values {
            let mut fast = vec![];
            write_json(&mut fast, v);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                serde_json::to_string(v).unwrap(),
                "{v:?}"
            );
        }
    }

    #[test]
    fn jsonl_round_trips_and_keeps_the_hash() {
        let t = sample();
        let back = Trace::from_jsonl(&t.to_jsonl()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.hash(), t.hash());
        let err =
            Trace::from_jsonl("{\"at_us\":1,\"ev\":\"crash\",\"node\":\"n1\"}\nnope").unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
    enum Moves {
        Moved { to: String },
        Learn(Vec<u64>),
    }
    impl TypedNote for Moves {}

    #[test]
    fn typed_notes_read_back_skipping_other_kinds_and_failing_on_broken_ones() {
        let mut t = Trace::new();
        t.push_note(Duration::from_millis(1), "n0", &Moves::Learn(vec![4]));
        t.push(
            Duration::from_millis(2),
            EventKind::Note {
                node: "c0".into(),
                kind: "http".into(),
                data: serde_json::json!({"status": 200}),
            },
        );
        t.push_note(
            Duration::from_millis(3),
            "n1",
            &Moves::Moved { to: "b".into() },
        );
        assert!(t
            .render()
            .contains("0.003000s note n1 moved {\"to\":\"b\"}"));
        let read: Vec<_> = t.notes::<Moves>().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            read,
            [
                Noted {
                    index: 0,
                    at_us: 1000,
                    node: "n0",
                    note: Moves::Learn(vec![4])
                },
                Noted {
                    index: 2,
                    at_us: 3000,
                    node: "n1",
                    note: Moves::Moved { to: "b".into() }
                }
            ]
        );
        t.push(
            Duration::from_millis(4),
            EventKind::Note {
                node: "n2".into(),
                kind: "moved".into(),
                data: serde_json::json!({"to": 5}),
            },
        );
        let err = t.notes::<Moves>().find_map(Result::err).unwrap();
        assert!(
            matches!(err, NoteError::Undecodable { index: 3, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("note n2 moved {\"to\":5}"),
            "{err}"
        );
        #[derive(Serialize, Deserialize)]
        struct NotAnEnum {}
        impl TypedNote for NotAnEnum {}
        let first = t.notes::<NotAnEnum>().next();
        assert!(matches!(first, Some(Err(NoteError::NoKinds { .. }))));
    }

    #[test]
    fn finds_the_first_difference() {
        let a = sample();
        let mut b = sample();
        assert!(first_difference(&a, &b, 3).is_none());
        b.push(
            Duration::from_millis(4),
            EventKind::Heal {
                scope: "all".into(),
            },
        );
        let d = first_difference(&a, &b, 1).unwrap();
        assert_eq!(d.index, 2);
        assert!(d.left.is_none());
        assert_eq!(d.before.len(), 1);
        assert_ne!(a.hash(), b.hash());
    }
}
