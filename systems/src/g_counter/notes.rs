//! What g-counter nodes note in the trace (no checker reads them: they explain a run).

use highstorm_nodes::TypedNote;
use serde::{Deserialize, Serialize};

/// One note of a g-counter node; its kind in the trace is the variant's kebab-case name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum GCounterNote {
    /// The stored counts did not decode after a restart: the node starts from its peers'.
    UnreadableStorage(String),
    /// An add already applied arrived again (the sender and its message id): not counted.
    DuplicateAdd(String, u64),
}

impl TypedNote for GCounterNote {}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::Note;
    use serde_json::json;

    /// Each note reads as it did when the node wrote it untyped, and back.
    #[test]
    fn notes_keep_their_trace_text_and_read_back() {
        let cases = [
            (
                GCounterNote::DuplicateAdd("c1".into(), 4),
                "duplicate-add",
                json!(["c1", 4]),
            ),
            (
                GCounterNote::UnreadableStorage("bad".into()),
                "unreadable-storage",
                json!("bad"),
            ),
        ];
        for (note, kind, data) in cases {
            let written = Note::typed(&note);
            assert_eq!((written.kind.as_str(), &written.data), (kind, &data));
            assert_eq!(written.decode::<GCounterNote>(), Some(Ok(note)));
        }
    }
}
