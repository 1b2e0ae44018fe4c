//! Typed notes: the contract between a system's nodes, which write notes into the trace, and
//! its checkers, which read them back.
//!
//! A system declares one serde enum for all its notes, adjacently tagged so that a variant's
//! kebab-case name is the note's kind and its content the note's data:
//!
//! ```
//! use highstorm_nodes::{Note, TypedNote};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! #[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
//! enum CounterNote {
//!     /// A node applied an add.
//!     Applied { delta: u64 },
//!     /// A node learnt values.
//!     Learn(Vec<u64>),
//! }
//! impl TypedNote for CounterNote {}
//!
//! // A node writes `ctx.note_typed(&CounterNote::Applied { delta: 3 })`; the trace shows
//! // `note n1 applied {"delta":3}`, and a checker decodes it back with the same type.
//! let note = Note::typed(&CounterNote::Applied { delta: 3 });
//! assert_eq!((note.kind.as_str(), note.data.to_string()), ("applied", r#"{"delta":3}"#.into()));
//! assert_eq!(note.decode::<CounterNote>(), Some(Ok(CounterNote::Applied { delta: 3 })));
//! assert_eq!(CounterNote::kinds(), ["applied", "learn"]);
//! ```

mod parts;

use crate::node::Note;
use serde::de::value::MapDeserializer;
use serde::de::{self, DeserializeOwned};
use serde::Serialize;
use std::fmt;

/// A system's notes as one type: written by its nodes with
/// [`Context::note_typed`](crate::Context::note_typed), read back by its checkers with the same
/// type (`highstorm::trace::Trace::notes`).
///
/// Implement it (the methods have defaults) for a serde enum with
/// `#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]`: each variant is one
/// kind of note, its content the note's data. The trace text of a note is then exactly what an
/// untyped `ctx.note(kind, data)` with the same kind and data writes.
pub trait TypedNote: Serialize + DeserializeOwned {
    /// The kinds of note this type covers: its variants' names as they appear in the trace.
    /// Empty when the type is not an adjacently tagged enum.
    fn kinds() -> &'static [&'static str] {
        variant_names::<Self>()
    }
}

impl Note {
    /// The note `note` stands for: its variant's name as the kind, its content as the data
    /// (`null` for a variant without content). A value that does not serialize as
    /// `{"kind": .., "data": ..}` becomes an `unserializable-note` whose data says why.
    pub fn typed<N: TypedNote>(note: &N) -> Note {
        // The usual shape, read off directly; anything else takes the general path below.
        if let Some(note) = parts::note(note) {
            return note;
        }
        let shape = |why: String| Note {
            kind: "unserializable-note".into(),
            data: serde_json::Value::String(why),
        };
        let mut object = match serde_json::to_value(note) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(other) => {
                return shape(format!(
                    "{} serialized as {other}, not as {{\"kind\", \"data\"}}",
                    std::any::type_name::<N>()
                ))
            }
            Err(e) => return shape(e.to_string()),
        };
        let data = object.remove("data").unwrap_or(serde_json::Value::Null);
        match (object.remove("kind"), object.is_empty()) {
            (Some(serde_json::Value::String(kind)), true) => Note { kind, data },
            _ => shape(format!(
                "{} does not serialize as {{\"kind\", \"data\"}}",
                std::any::type_name::<N>()
            )),
        }
    }

    /// This note as an `N`: `None` when its kind is not one of `N`'s, `Some(Err(why))` when it
    /// is but its data does not decode (a broken contract between a node and its checker).
    pub fn decode<N: TypedNote>(&self) -> Option<Result<N, String>> {
        decode(&self.kind, &self.data, N::kinds())
    }
}

/// [`Note::decode`] over borrowed parts, given `N::kinds()` (a reader of many notes looks the
/// kinds up once).
pub fn decode<N: TypedNote>(
    kind: &str,
    data: &serde_json::Value,
    kinds: &[&str],
) -> Option<Result<N, String>> {
    if !kinds.contains(&kind) {
        return None;
    }
    let kind = serde_json::Value::String(kind.to_owned());
    let parts = MapDeserializer::new([("kind", &kind), ("data", data)].into_iter());
    Some(N::deserialize(parts).map_err(|e: serde_json::Error| e.to_string()))
}

/// The variant names an adjacently tagged enum `N` accepts as its tag, found by offering it a
/// tag no variant has: serde then reports the names it expected.
fn variant_names<N: DeserializeOwned>() -> &'static [&'static str] {
    let probe = MapDeserializer::new([("kind", "\u{0}")].into_iter());
    match N::deserialize(probe) {
        Err(Probe(Some(names))) => names,
        _ => &[],
    }
}

/// The error of [`variant_names`]' probe: the expected variant names, when serde reported
/// an unknown variant.
#[derive(Debug)]
struct Probe(Option<&'static [&'static str]>);

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "probe for variant names: {:?}", self.0)
    }
}

impl std::error::Error for Probe {}

impl de::Error for Probe {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probe(None)
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Probe(Some(expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
    enum Sample {
        TaskMoved {
            job: u64,
            to: String,
            reason: Option<String>,
        },
        Learn(Vec<u64>),
        Pair(String, u64),
        Quiet,
    }
    impl TypedNote for Sample {}

    /// Not adjacently tagged: has no kinds, and writes an `unserializable-note`.
    #[derive(Debug, Serialize, Deserialize)]
    struct Plain {
        x: u64,
    }
    impl TypedNote for Plain {}

    #[test]
    fn kinds_are_the_variants_names_in_the_trace() {
        assert_eq!(Sample::kinds(), ["task-moved", "learn", "pair", "quiet"]);
        assert!(Plain::kinds().is_empty());
    }

    #[test]
    fn a_typed_note_writes_what_the_untyped_one_wrote_and_reads_back() {
        let cases = [
            (
                Sample::TaskMoved {
                    job: 3,
                    to: "Done".into(),
                    reason: None,
                },
                "task-moved",
                json!({"job": 3, "to": "Done", "reason": null}),
            ),
            (Sample::Learn(vec![1, 2]), "learn", json!([1, 2])),
            (Sample::Pair("c1".into(), 7), "pair", json!(["c1", 7])),
            (Sample::Quiet, "quiet", json!(null)),
        ];
        for (typed, kind, data) in cases {
            let note = Note::typed(&typed);
            assert_eq!((note.kind.as_str(), &note.data), (kind, &data));
            assert_eq!(note.decode::<Sample>(), Some(Ok(typed)));
        }
    }

    #[test]
    fn other_kinds_are_not_mine_and_bad_data_of_mine_is_an_error() {
        let http = Note {
            kind: "http".into(),
            data: json!({"status": 200}),
        };
        assert_eq!(http.decode::<Sample>(), None);
        let broken = Note {
            kind: "task-moved".into(),
            data: json!({"job": "three", "to": "Done"}),
        };
        let why = broken.decode::<Sample>().unwrap().unwrap_err();
        assert!(why.contains("invalid type"), "{why}");
        let missing = Note {
            kind: "learn".into(),
            data: json!(null),
        };
        assert!(matches!(missing.decode::<Sample>(), Some(Err(_))));
    }

    #[test]
    fn a_type_of_the_wrong_shape_is_written_as_such() {
        let note = Note::typed(&Plain { x: 1 });
        assert_eq!(note.kind, "unserializable-note");
        assert!(note.data.as_str().unwrap().contains("Plain"), "{note:?}");
    }
}
