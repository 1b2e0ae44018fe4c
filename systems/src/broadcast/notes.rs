//! What broadcast nodes note in the trace. `learn` is the harness's convention for values
//! that spread to every node (`highstorm::check::spread` reads it for convergence and stable
//! latency, see `System::spreads`): its data is the list of values a node came to hold.

use highstorm_nodes::TypedNote;
use serde::{Deserialize, Serialize};

/// One note of a broadcast node; its kind in the trace is the variant's kebab-case name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum BroadcastNote {
    /// The node came to hold these values (ascending), for the first time in this
    /// incarnation.
    Learn(Vec<u64>),
    /// Storage keys an earlier incarnation wrote that do not name a value.
    UnreadableStorage(Vec<String>),
}

impl TypedNote for BroadcastNote {}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::Note;
    use serde_json::json;

    /// Each note reads as it did when the node wrote it untyped, and back.
    #[test]
    fn notes_keep_their_trace_text_and_read_back() {
        let cases = [
            (BroadcastNote::Learn(vec![3, 9]), "learn", json!([3, 9])),
            (
                BroadcastNote::UnreadableStorage(vec!["held/x".into()]),
                "unreadable-storage",
                json!(["held/x"]),
            ),
        ];
        for (note, kind, data) in cases {
            let written = Note::typed(&note);
            assert_eq!((written.kind.as_str(), &written.data), (kind, &data));
            assert_eq!(written.decode::<BroadcastNote>(), Some(Ok(note)));
        }
    }
}
