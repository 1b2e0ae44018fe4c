//! Checkers for any system's history, parameterised by operation names: each returns a checker
//! to hand to [`System::check`](crate::system::System::check).
//!
//! Operations are read from the history ([`Operation`]): `f` is the operation's name, and
//! values are picked out of an operation's invocation or completion value with a JSON pointer
//! (`""` for the whole value, `"/id"` for a field). Only operations that completed `ok` count
//! as acknowledged; `fail` means it definitely did not happen, and an operation without a
//! completion or with `info` may or may not have.
//!
//! ```
//! use highstorm::check::generic;
//! use highstorm::system::System;
//! # use highstorm::prelude::{Ctx, Message, NoTimer, Node};
//! # #[derive(Default)]
//! # struct Ids;
//! # impl Node for Ids {
//! #     type Msg = serde_json::Value;
//! #     type Timer = NoTimer;
//! #     fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: Message<serde_json::Value>) {}
//! # }
//!
//! let system = System::new("ids", |_, _| Ok(Ids::default()))
//!     .check(generic::unique("ids-unique", "generate", ""))
//!     .check(generic::completes("generates-answered", "generate"));
//! ```

use super::{Operation, Verdict};
use crate::scenario::Scenario;
use crate::trace::Trace;
use highstorm_nodes::OpPhase;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A checker built here.
pub type Generic = Box<dyn Fn(&Scenario, &Trace, &[Operation]) -> Verdict + Send + Sync>;

impl Operation {
    /// Its result, if it completed `ok`.
    pub fn ok_value(&self) -> Option<&Value> {
        self.completion
            .as_ref()
            .filter(|c| c.phase == OpPhase::Ok)
            .map(|c| &c.value)
    }

    /// Whether it definitely did not happen (completed `fail`).
    pub fn failed(&self) -> bool {
        self.completion
            .as_ref()
            .is_some_and(|c| c.phase == OpPhase::Fail)
    }

    /// Who did what, for messages: `c0 op3 write @n1`.
    pub fn label(&self) -> String {
        format!("{} op{} {} @{}", self.client, self.op, self.f, self.node)
    }
}

fn pick<'v>(v: &'v Value, pointer: &str) -> Option<&'v Value> {
    v.pointer(pointer)
}

fn owned<const N: usize>(strs: [&str; N]) -> [String; N] {
    strs.map(str::to_owned)
}

/// Each client's last acknowledged `read`, with its result at `pointer`.
fn last_reads<'o>(
    ops: &'o [Operation],
    read: &str,
    pointer: &str,
) -> BTreeMap<&'o str, (&'o Operation, &'o Value)> {
    let mut last = BTreeMap::new();
    for op in ops.iter().filter(|o| o.f == read) {
        if let Some(v) = op.ok_value().and_then(|v| pick(v, pointer)) {
            last.insert(op.client.as_str(), (op, v));
        }
    }
    last
}

/// No two acknowledged `f` operations returned the same value (at `pointer` in the result).
pub fn unique(name: &str, f: &str, pointer: &str) -> Generic {
    let [name, f, pointer] = owned([name, f, pointer]);
    Box::new(move |_, _, ops| {
        let mut seen: BTreeMap<String, &Operation> = BTreeMap::new();
        for op in ops.iter().filter(|o| o.f == f) {
            let Some(v) = op.ok_value().and_then(|v| pick(v, &pointer)) else {
                continue;
            };
            if let Some(first) = seen.insert(v.to_string(), op) {
                return Verdict::violation(
                    &name,
                    "duplicate-value",
                    format!("{v} returned twice: {} and {}", first.label(), op.label()),
                );
            }
        }
        Verdict::pass(&name, format!("{} `{f}` results, all distinct", seen.len()))
    })
}

/// Every `f` operation invoked completed (`ok` or a definite `fail`) by the end of the run.
pub fn completes(name: &str, f: &str) -> Generic {
    let [name, f] = owned([name, f]);
    Box::new(move |_, _, ops| {
        let mine: Vec<&Operation> = ops.iter().filter(|o| o.f == f).collect();
        let open: Vec<&&Operation> = mine
            .iter()
            .filter(|o| o.ok_value().is_none() && !o.failed())
            .collect();
        match open.first() {
            Some(o) => Verdict::violation(
                &name,
                "never-completed",
                format!(
                    "{} of {} `{f}` operations never completed, first {} invoked at {}us",
                    open.len(),
                    mine.len(),
                    o.label(),
                    o.invoke_us
                ),
            ),
            None if mine.is_empty() => Verdict::violation(
                &name,
                "nothing-tested",
                format!("no `{f}` operation ran: the run tested nothing"),
            ),
            None => Verdict::pass(&name, format!("{} `{f}` operations completed", mine.len())),
        }
    })
}

/// Sets converge: each client's last acknowledged `read` (its result at `read_pointer` is an
/// array) contains every value an acknowledged `add` put in (its invocation value at
/// `add_pointer`), and no read ever contains a value no `add` was invoked with.
pub fn sets_converge(
    name: &str,
    add: &str,
    add_pointer: &str,
    read: &str,
    read_pointer: &str,
) -> Generic {
    let [name, add, add_pointer, read, read_pointer] =
        owned([name, add, add_pointer, read, read_pointer]);
    Box::new(move |_, _, ops| {
        let mut invoked = BTreeSet::new();
        let mut acked = BTreeSet::new();
        for op in ops.iter().filter(|o| o.f == add) {
            let Some(v) = pick(&op.value, &add_pointer) else {
                continue;
            };
            invoked.insert(v.to_string());
            if op.ok_value().is_some() {
                acked.insert(v.to_string());
            }
        }
        for op in ops.iter().filter(|o| o.f == read) {
            let Some(items) = op.ok_value().and_then(|v| pick(v, &read_pointer)) else {
                continue;
            };
            if let Some(ghost) = items
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| !invoked.contains(&x.to_string()))
            {
                return Verdict::violation(
                    &name,
                    "phantom-value",
                    format!("{} read {ghost}, which nobody added", op.label()),
                );
            }
        }
        let last = last_reads(ops, &read, &read_pointer);
        if last.is_empty() {
            return Verdict::violation(
                &name,
                "nothing-tested",
                format!("no `{read}` succeeded: nothing to judge"),
            );
        }
        for (op, items) in last.values() {
            let items: BTreeSet<String> = items
                .as_array()
                .into_iter()
                .flatten()
                .map(Value::to_string)
                .collect();
            let missing: Vec<&String> = acked.difference(&items).collect();
            if let Some(m) = missing.first() {
                return Verdict::violation(
                    &name,
                    "missing-value",
                    format!(
                        "{}'s last read ({}) lacks {} acknowledged values, e.g. {m}",
                        op.client,
                        op.label(),
                        missing.len()
                    ),
                );
            }
        }
        Verdict::pass(
            &name,
            format!(
                "{} acknowledged values in every client's last read",
                acked.len()
            ),
        )
    })
}

/// A counter: each client's last acknowledged `read` (a number at `read_pointer`) is at least
/// the sum of acknowledged `add`s (their invocation value at `add_pointer`) and at most that
/// plus every add that may have happened (not definitely failed).
pub fn counter(
    name: &str,
    add: &str,
    add_pointer: &str,
    read: &str,
    read_pointer: &str,
) -> Generic {
    let [name, add, add_pointer, read, read_pointer] =
        owned([name, add, add_pointer, read, read_pointer]);
    Box::new(move |_, _, ops| {
        let (mut low, mut high) = (0i64, 0i64);
        for op in ops.iter().filter(|o| o.f == add) {
            let n = pick(&op.value, &add_pointer)
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if op.ok_value().is_some() {
                low += n;
            }
            if !op.failed() {
                high += n;
            }
        }
        let last = last_reads(ops, &read, &read_pointer);
        if last.is_empty() {
            return Verdict::violation(
                &name,
                "nothing-tested",
                format!("no `{read}` succeeded: nothing to judge"),
            );
        }
        for (op, raw) in last.values() {
            let n = raw.as_i64().unwrap_or(i64::MIN);
            if n < low || n > high {
                return Verdict::violation(
                    &name,
                    "read-out-of-bounds",
                    format!(
                        "{} read {raw}; acknowledged adds sum to {low}, possible ones to {high}",
                        op.label()
                    ),
                );
            }
        }
        Verdict::pass(&name, format!("last reads within [{low}, {high}]"))
    })
}

/// Statuses only move forward: for each key (at `key_pointer` in the invocation value), the
/// statuses acknowledged `f` operations observed (at `status_pointer` in the result), in the
/// order they completed, never go back in `order` — except the moves listed in `allowed_back`
/// (`("reserved", "queued")`, say). A status not in `order` is a violation too.
pub fn monotonic(
    name: &str,
    f: &str,
    key_pointer: &str,
    status_pointer: &str,
    order: &[&str],
    allowed_back: &[(&str, &str)],
) -> Generic {
    let [name, f, key_pointer, status_pointer] = owned([name, f, key_pointer, status_pointer]);
    let order: Vec<String> = order.iter().map(|s| (*s).to_owned()).collect();
    let back: BTreeSet<(String, String)> = allowed_back
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    Box::new(move |_, _, ops| {
        let mut seen: Vec<(u64, String, String, &Operation)> = vec![];
        for op in ops.iter().filter(|o| o.f == f) {
            let (Some(c), Some(key)) = (
                op.completion.as_ref().filter(|c| c.phase == OpPhase::Ok),
                pick(&op.value, &key_pointer),
            ) else {
                continue;
            };
            let Some(status) = pick(&c.value, &status_pointer).and_then(Value::as_str) else {
                continue;
            };
            seen.push((c.at_us, key.to_string(), status.to_owned(), op));
        }
        seen.sort_by_key(|(at, ..)| *at);
        let rank = |s: &str| order.iter().position(|o| o == s);
        let mut last: BTreeMap<&str, (&str, &Operation)> = BTreeMap::new();
        for (_, key, status, op) in &seen {
            let Some(now) = rank(status) else {
                return Verdict::violation(
                    &name,
                    "unknown-status",
                    format!("{} saw unknown status {status:?}", op.label()),
                );
            };
            if let Some((before, first)) = last.get(key.as_str()) {
                let was = rank(before).unwrap_or(0);
                if now < was && !back.contains(&((*before).to_owned(), status.clone())) {
                    return Verdict::violation(
                        &name,
                        "status-backwards",
                        format!(
                            "{key} went back from {before} ({}) to {status} ({})",
                            first.label(),
                            op.label()
                        ),
                    );
                }
            }
            last.insert(key, (status, op));
        }
        Verdict::pass(
            &name,
            format!(
                "{} observations of {} keys, none backwards",
                seen.len(),
                last.len()
            ),
        )
    })
}

/// The storage fault that loses a write a sync reported durable (see `docs/storage-faults.md`).
const LOST_WRITE: &str = "lost-write";

/// Orders two JSON values the way versions compare: numbers numerically, strings, arrays and
/// objects (field by field, in key order) lexicographically; across types, null < bool <
/// number < string < array < object.
fn cmp_json(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                x.partial_cmp(&y).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(x, y)| cmp_json(x, y))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .zip(y)
            .map(|((kx, vx), (ky, vy))| kx.cmp(ky).then_with(|| cmp_json(vx, vy)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// No acknowledged write lost: an acknowledged `read` that began after a `write` was
/// acknowledged returns that write's version or a newer one (each at `version_pointer` in the
/// results; versions compare as JSON: numbers numerically, objects field by field in key order,
/// so `{"n": 3, "node": "n1"}` orders by `n` first). For a system that keeps a copy of every
/// write on every node: a lost write the scenario injected (storage fault `lost-write`) on
/// every node before the read began excuses it — no copy was left to read — and nothing else
/// does. A run where no read succeeded tested nothing and fails.
pub fn no_acknowledged_write_lost(
    name: &str,
    write: &str,
    read: &str,
    version_pointer: &str,
) -> Generic {
    let [name, write, read, version] = owned([name, write, read, version_pointer]);
    let check = LostWrites {
        name,
        write,
        read,
        key: None,
        version,
    };
    Box::new(move |scenario, trace, ops| check.verdict(scenario, trace, ops))
}

/// [`no_acknowledged_write_lost`] for a store of many keys: a `read` is held only to the
/// `write`s of its own key, the value at `key_pointer` in each operation's invocation
/// (`{"key": "x", ..}` with `"/key"`). Versions may be shared by all keys (one counter) or
/// be each key's own. An operation whose invocation has no key counts for no key.
pub fn no_acknowledged_write_lost_per_key(
    name: &str,
    write: &str,
    read: &str,
    key_pointer: &str,
    version_pointer: &str,
) -> Generic {
    let [name, write, read, key, version] =
        owned([name, write, read, key_pointer, version_pointer]);
    let check = LostWrites {
        name,
        write,
        read,
        key: Some(key),
        version,
    };
    Box::new(move |scenario, trace, ops| check.verdict(scenario, trace, ops))
}

/// Both lost-write checkers: operation names and pointers.
struct LostWrites {
    name: String,
    write: String,
    read: String,
    /// The key's pointer in an invocation, when reads and writes are held to their key.
    key: Option<String>,
    /// The version's pointer in a result.
    version: String,
}

impl LostWrites {
    fn verdict(&self, scenario: &Scenario, trace: &Trace, ops: &[Operation]) -> Verdict {
        let (name, write, read, pointer) = (&*self.name, &*self.write, &*self.read, &*self.version);
        let key = self.key.as_deref();
        // When each node's disk first lost a write.
        let mut lost: BTreeMap<&str, u64> = BTreeMap::new();
        for e in trace.events() {
            if let crate::trace::EventKind::Storage { node, fault, .. } = &e.kind {
                if fault == LOST_WRITE {
                    lost.entry(node.as_str()).or_insert(e.at_us);
                }
            }
        }
        let all_lost_by = (lost.len() >= scenario.nodes.max(1))
            .then(|| lost.values().copied().max())
            .flatten();
        // The key an operation is about (`Null` for all when keys do not count).
        const ANY: &Value = &Value::Null;
        fn key_of<'o>(o: &'o Operation, key: Option<&str>) -> Option<&'o Value> {
            match key {
                None => Some(ANY),
                Some(k) => pick(&o.value, k),
            }
        }
        let mut writes: Vec<(u64, &Value, &Value, &Operation)> = ops
            .iter()
            .filter(|o| o.f == write)
            .filter_map(|o| {
                let at = o.completion.as_ref()?.at_us;
                let version = o.ok_value().and_then(|v| pick(v, pointer))?;
                Some((at, key_of(o, key)?, version, o))
            })
            .collect();
        writes.sort_by_key(|(at, ..)| *at);
        let (mut reads, mut excused) = (0, 0);
        for r in ops.iter().filter(|o| o.f == read) {
            let Some(seen) = r.ok_value().and_then(|v| pick(v, pointer)) else {
                continue;
            };
            let Some(k) = key_of(r, key) else {
                continue;
            };
            reads += 1;
            let newest = writes
                .iter()
                .take_while(|(at, ..)| *at < r.invoke_us)
                .filter(|(_, wk, ..)| *wk == k)
                .max_by(|a, b| cmp_json(a.2, b.2));
            let Some((at, _, v, w)) = newest else {
                continue;
            };
            if cmp_json(seen, v).is_ge() {
                continue;
            }
            if all_lost_by.is_some_and(|by| by < r.invoke_us) {
                excused += 1;
                continue;
            }
            let of_key = key.map_or(String::new(), |_| format!(" of key {k}"));
            return Verdict::violation(
                name,
                "acknowledged-write-lost",
                format!(
                    "{}{of_key} at {}us returned version {seen}, but {} was acknowledged with \
                 version {v} at {at}us (no lost-write fault struck every node)",
                    r.label(),
                    r.invoke_us,
                    w.label()
                ),
            );
        }
        if reads == 0 {
            return Verdict::violation(
                name,
                "nothing-tested",
                format!("no `{read}` succeeded: the run tested nothing"),
            );
        }
        Verdict::pass(
            name,
            format!(
                "{reads} `{read}`s, none older than a `{write}` acknowledged before it \
             ({excused} excused: a lost write struck every node)"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Completion;
    use serde_json::json;

    fn op(
        client: &str,
        n: u64,
        f: &str,
        value: Value,
        done: Option<(OpPhase, Value)>,
    ) -> Operation {
        Operation {
            client: client.into(),
            op: n,
            node: "n0".into(),
            f: f.into(),
            invoke_us: n * 10,
            value,
            request: None,
            completion: done.map(|(phase, value)| Completion {
                at_us: n * 10 + 5,
                phase,
                value,
            }),
        }
    }

    fn run(c: &Generic, ops: &[Operation]) -> Verdict {
        c(&Scenario::new("t", "ids"), &Trace::new(), ops)
    }

    #[test]
    fn unique_finds_a_repeat() {
        let c = unique("u", "gen", "/id");
        let ok = |v| Some((OpPhase::Ok, json!({ "id": v })));
        let good = [
            op("c0", 0, "gen", json!(null), ok(1)),
            op("c1", 1, "gen", json!(null), ok(2)),
        ];
        assert!(run(&c, &good).ok);
        let bad = [
            op("c0", 0, "gen", json!(null), ok(1)),
            op("c1", 1, "gen", json!(null), ok(1)),
        ];
        let v = run(&c, &bad);
        assert!(!v.ok && v.detail.contains("c1 op1"), "{v:?}");
    }

    #[test]
    fn completes_finds_an_open_operation() {
        let c = completes("done", "put");
        let ops = [
            op("c0", 0, "put", json!(1), Some((OpPhase::Ok, json!(null)))),
            op("c0", 1, "put", json!(2), Some((OpPhase::Fail, json!("no")))),
        ];
        assert!(run(&c, &ops).ok);
        let open = [op(
            "c0",
            0,
            "put",
            json!(1),
            Some((OpPhase::Info, json!("timeout"))),
        )];
        assert!(!run(&c, &open).ok);
        assert!(!run(&c, &[]).ok, "an empty history tests nothing");
    }

    #[test]
    fn sets_converge_finds_lost_and_ghost_values() {
        let c = sets_converge("sets", "add", "", "read", "");
        let ok = |v: Value| Some((OpPhase::Ok, v));
        let adds = [
            op("c0", 0, "add", json!(1), ok(json!(null))),
            op("c0", 1, "add", json!(2), None),
        ];
        let good = [
            &adds[..],
            &[op("c0", 2, "read", json!(null), ok(json!([1, 2])))],
        ]
        .concat();
        assert!(run(&c, &good).ok);
        let lost = [
            &adds[..],
            &[op("c0", 2, "read", json!(null), ok(json!([2])))],
        ]
        .concat();
        assert!(!run(&c, &lost).ok);
        let ghost = [
            &adds[..],
            &[op("c0", 2, "read", json!(null), ok(json!([1, 9])))],
        ]
        .concat();
        assert!(!run(&c, &ghost).ok);
    }

    #[test]
    fn counter_bounds_reads() {
        let c = counter("count", "add", "/n", "read", "/value");
        let ok = |v: Value| Some((OpPhase::Ok, v));
        let adds = [
            op("c0", 0, "add", json!({"n": 2}), ok(json!(null))),
            op(
                "c0",
                1,
                "add",
                json!({"n": 5}),
                Some((OpPhase::Info, json!("timeout"))),
            ),
            op(
                "c0",
                2,
                "add",
                json!({"n": 7}),
                Some((OpPhase::Fail, json!("refused"))),
            ),
        ];
        for (read, pass) in [(2, true), (7, true), (1, false), (9, false)] {
            let ops = [
                &adds[..],
                &[op("c1", 3, "read", json!(null), ok(json!({"value": read})))],
            ]
            .concat();
            assert_eq!(run(&c, &ops).ok, pass, "read {read}");
        }
    }

    #[test]
    fn monotonic_allows_only_the_listed_step_back() {
        let c = monotonic(
            "fwd",
            "get",
            "/id",
            "/status",
            &["queued", "reserved", "completed"],
            &[("reserved", "queued")],
        );
        let get = |n, s: &str| {
            op(
                "c0",
                n,
                "get",
                json!({"id": 1}),
                Some((OpPhase::Ok, json!({"status": s}))),
            )
        };
        assert!(
            run(
                &c,
                &[
                    get(0, "queued"),
                    get(1, "reserved"),
                    get(2, "queued"),
                    get(3, "completed")
                ]
            )
            .ok
        );
        let v = run(&c, &[get(0, "completed"), get(1, "queued")]);
        assert!(!v.ok && v.detail.contains("went back"), "{v:?}");
        assert!(!run(&c, &[get(0, "lost")]).ok);
    }
    #[test]
    fn no_acknowledged_write_lost_finds_an_old_read_unless_every_copy_was_lost() {
        let c = no_acknowledged_write_lost("lost", "write", "read", "/version");
        let ok = |v: Value| Some((OpPhase::Ok, v));
        let version = |n: u64, node: &str| json!({ "version": { "n": n, "node": node } });
        let ops = [
            op("c0", 0, "write", json!(1), ok(version(1, "n0"))),
            op("c0", 1, "write", json!(2), ok(version(2, "n0"))),
            op("c1", 2, "read", json!(null), ok(version(2, "n0"))),
        ];
        assert!(run(&c, &ops).ok);
        let stale = [
            &ops[..2],
            &[op("c1", 2, "read", json!(null), ok(version(1, "n1")))],
        ]
        .concat();
        let v = run(&c, &stale);
        assert!(!v.ok && v.detail.contains("c1 op2"), "{v:?}");
        // A read that began before the write was acknowledged may return the older one.
        let early = [
            &ops[..2],
            &[op("c1", 1, "read", json!(null), ok(version(1, "n1")))],
        ]
        .concat();
        assert!(run(&c, &early).ok);
        // A lost write on every node's disk excuses it; on some of them, not.
        let lost_on = |nodes: &[&str]| {
            let mut t = Trace::new();
            for n in nodes {
                t.push(
                    std::time::Duration::from_micros(12),
                    crate::trace::EventKind::Storage {
                        node: (*n).into(),
                        fault: LOST_WRITE.into(),
                        key: Some("value".into()),
                        detail: String::new(),
                    },
                );
            }
            t
        };
        let s = Scenario::new("t", "kv").nodes(2);
        assert!(c(&s, &lost_on(&["n0", "n1"]), &stale).ok);
        assert!(!c(&s, &lost_on(&["n0"]), &stale).ok);
        assert!(!run(&c, &ops[..2]).ok, "no read: nothing tested");
    }

    #[test]
    fn no_acknowledged_write_lost_per_key_holds_a_read_to_its_own_key() {
        let c = no_acknowledged_write_lost_per_key("lost", "write", "read", "/key", "/version");
        let ok = |v: u64| Some((OpPhase::Ok, json!({ "version": v })));
        let write = |n, key: &str, v| op("c0", n, "write", json!({ "key": key }), ok(v));
        let read = |n, key: &str, v| op("c1", n, "read", json!({ "key": key }), ok(v));
        // One counter for all keys: x's read of version 1 is not stale after y's write 2.
        let ops = [write(0, "x", 1), write(1, "y", 2), read(2, "x", 1)];
        assert!(run(&c, &ops).ok, "{:?}", run(&c, &ops));
        // The keyless checker would take it for a lost write.
        let keyless = no_acknowledged_write_lost("lost", "write", "read", "/version");
        assert!(!run(&keyless, &ops).ok);
        // x's read older than x's acknowledged write is.
        let stale = [write(0, "x", 1), write(1, "x", 2), read(2, "x", 1)];
        let v = run(&c, &stale);
        assert!(!v.ok && v.detail.contains("of key \"x\""), "{v:?}");
        assert_eq!(v.kind, "acknowledged-write-lost");
    }
}
