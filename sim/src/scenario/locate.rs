//! Where a key is in a scenario file, and which key a position falls in: what lets every
//! error name `file:line:col` and the key, whoever found the problem (the TOML reader, the
//! scenario's own checks, or a system checking its `[config]`).
//!
//! Keys are written as in error messages: dotted, with array entries by index
//! (`faults[2].restart_after`, `network.links[0].loss`, `config.slow.n3`).

use std::ops::Range;
use toml_edit::{ImDocument, Item, Table, Value};

/// The 1-based line and column (in bytes) of byte `offset` of `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let upto = &text[..offset];
    let line = upto.matches('\n').count() + 1;
    let col = upto.len() - upto.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// One step of a key path: a name, or an index into an array.
#[derive(Debug, PartialEq)]
enum Step<'k> {
    Name(&'k str),
    Index(usize),
}

/// `faults[2].at` -> `faults`, `[2]`, `at`. `None` for a key that is not a path.
fn steps(key: &str) -> Option<Vec<Step<'_>>> {
    let mut out = vec![];
    for part in key.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            out.push(Step::Name(name));
        }
        if !rest.is_empty() {
            loop {
                let (index, after) = rest.split_once(']')?;
                out.push(Step::Index(index.parse().ok()?));
                match after.strip_prefix('[') {
                    Some(more) => rest = more,
                    None if after.is_empty() => break,
                    None => return None,
                }
            }
        }
    }
    Some(out)
}

/// The span of `key`'s value in `text` (of its header, for a table), or of its nearest
/// enclosing key that has one; `None` if the text does not parse or names none of them.
pub(crate) fn span_of(text: &str, key: &str) -> Option<Range<usize>> {
    let doc = ImDocument::parse(text).ok()?;
    let steps = steps(key)?;
    let mut item = doc.as_item();
    let mut best = None;
    for step in steps {
        let next = match step {
            Step::Name(name) => item.get(name),
            Step::Index(i) => item.get(i),
        };
        let Some(next) = next else { break };
        item = next;
        if let Some(span) = item.span() {
            best = Some(span);
        }
    }
    best
}

/// The key whose entry (key and value, or table header) most narrowly contains byte
/// `offset` of `text`: for errors that know a position but not a key (a value of the wrong
/// type). When the text does not parse as TOML at all, the key is read off the line itself.
pub(crate) fn key_at(text: &str, offset: usize) -> Option<String> {
    match ImDocument::parse(text) {
        Ok(doc) => {
            let mut best: Option<(usize, String)> = None;
            walk(doc.as_item(), String::new(), offset, &mut best);
            best.map(|(_, key)| key)
        }
        Err(_) => key_on_line(text, offset),
    }
}

/// Considers `path` (whose entry spans `span`) for the key at `offset`, keeping the
/// narrowest entry that contains it.
fn consider(
    span: Option<Range<usize>>,
    path: &str,
    offset: usize,
    best: &mut Option<(usize, String)>,
) {
    let Some(span) = span else { return };
    // An empty span (a missing field's table) still counts at its start.
    if !(span.start <= offset && (offset < span.end || offset == span.start)) {
        return;
    }
    let width = span.end - span.start;
    if best.as_ref().is_none_or(|(w, _)| width <= *w) && !path.is_empty() {
        *best = Some((width, path.to_owned()));
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn walk(item: &Item, path: String, offset: usize, best: &mut Option<(usize, String)>) {
    match item {
        Item::None => {}
        Item::Value(v) => walk_value(v, path, offset, best),
        Item::Table(t) => walk_table(t, path, offset, best),
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                walk_table(t, format!("{path}[{i}]"), offset, best);
            }
        }
    }
}

fn walk_table(t: &Table, path: String, offset: usize, best: &mut Option<(usize, String)>) {
    consider(t.span(), &path, offset, best);
    for (name, child) in t.iter() {
        let child_path = join(&path, name);
        let key_span = t.key(name).and_then(|k| k.span());
        consider(
            entry_span(key_span, child.span()),
            &child_path,
            offset,
            best,
        );
        walk(child, child_path, offset, best);
    }
}

/// Walks an inline table's entries. (An inline array is one value of its key, as in
/// `partition = [["n0"], ["n1"]]`: a problem inside it is the key's.)
fn walk_value(v: &Value, path: String, offset: usize, best: &mut Option<(usize, String)>) {
    let Value::InlineTable(t) = v else { return };
    for (name, child) in t.iter() {
        let child_path = join(&path, name);
        let key_span = t.key(name).and_then(|k| k.span());
        consider(
            entry_span(key_span, child.span()),
            &child_path,
            offset,
            best,
        );
        walk_value(child, child_path, offset, best);
    }
}

/// From the start of a key to the end of its value (either alone when the other is unknown).
fn entry_span(key: Option<Range<usize>>, value: Option<Range<usize>>) -> Option<Range<usize>> {
    match (key, value) {
        (Some(k), Some(v)) => Some(k.start.min(v.start)..k.end.max(v.end)),
        (k, v) => k.or(v),
    }
}

/// The key on the line of `offset`, read as text: the `key = ...` before the `=` (under the
/// nearest table header above it), or the header itself. For text that is not TOML.
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let (line, _) = line_col(text, offset);
    let lines: Vec<&str> = text.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?.trim();
    // The header on line `i` (0-based), as a key: `[[faults]]` is `faults[k]`, the k-th one.
    let header = |i: usize| -> Option<String> {
        let l = lines[i].trim();
        if let Some((inner, _)) = l.strip_prefix("[[").and_then(|r| r.split_once("]]")) {
            let name = inner.trim();
            let nth = lines[..i]
                .iter()
                .filter(|p| {
                    p.trim()
                        .strip_prefix("[[")
                        .and_then(|r| r.split_once("]]"))
                        .is_some_and(|(n, _)| n.trim() == name)
                })
                .count();
            return is_key(name).then(|| format!("{name}[{nth}]"));
        }
        let (inner, _) = l.strip_prefix('[').and_then(|r| r.split_once(']'))?;
        let name = inner.trim();
        is_key(name).then(|| name.to_owned())
    };
    if let Some(h) = header(line - 1) {
        return Some(h);
    }
    let table = (0..line - 1).rev().find_map(header);
    let own = this
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| is_key(k));
    match (table, own) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_owned()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// Whether `s` looks like a bare (possibly dotted) TOML key.
fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"name = "t"
nodes = 3
[workload]
clients = 2
[[faults]]
at = "1s"
heal = "all"
[[faults]]
at = "2s"
crash = "n1"
[config]
slow = { n3 = 2.0 }
"#;

    fn at(text: &str, span: Option<Range<usize>>) -> (usize, usize) {
        line_col(text, span.expect("found").start)
    }

    #[test]
    fn keys_are_found_by_path() {
        assert_eq!(at(TEXT, span_of(TEXT, "nodes")), (2, 9));
        assert_eq!(at(TEXT, span_of(TEXT, "workload.clients")), (4, 11));
        assert_eq!(at(TEXT, span_of(TEXT, "faults[1].crash")), (10, 9));
        assert_eq!(at(TEXT, span_of(TEXT, "config.slow.n3")), (12, 15));
        // Unknown below a known key: the nearest enclosing one.
        assert_eq!(at(TEXT, span_of(TEXT, "config.slow.n9")), (12, 8));
        assert_eq!(at(TEXT, span_of(TEXT, "faults[1].restart_after")), (8, 1));
        assert_eq!(span_of(TEXT, "nemesis.every"), None);
    }

    #[test]
    fn positions_map_back_to_keys() {
        let offset = |needle: &str| TEXT.find(needle).unwrap();
        assert_eq!(key_at(TEXT, offset("3\n")).as_deref(), Some("nodes"));
        assert_eq!(
            key_at(TEXT, offset("\"n1\"")).as_deref(),
            Some("faults[1].crash")
        );
        assert_eq!(
            key_at(TEXT, offset("2.0")).as_deref(),
            Some("config.slow.n3")
        );
        assert_eq!(
            key_at(TEXT, offset("[workload]")).as_deref(),
            Some("workload")
        );
        // Not TOML (a duplicated key): read off the line.
        let broken = format!("{TEXT}slow = 1\n");
        let o = broken.rfind("slow = 1").unwrap();
        assert_eq!(key_at(&broken, o).as_deref(), Some("config.slow"));
        let broken = TEXT.replace("crash = \"n1\"", "crash = \"n1\"\ncrash = \"n2\"");
        let o = broken.find("crash = \"n2\"").unwrap();
        assert_eq!(key_at(&broken, o).as_deref(), Some("faults[1].crash"));
    }

    #[test]
    fn key_paths_split_into_names_and_indices() {
        assert_eq!(
            steps("faults[2].at"),
            Some(vec![Step::Name("faults"), Step::Index(2), Step::Name("at")])
        );
        assert_eq!(steps("a[1][2]").map(|s| s.len()), Some(3));
        assert_eq!(steps("a[x]"), None);
    }
}
