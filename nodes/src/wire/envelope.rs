//! The shapes on the wire: the envelope, its body, the routing header every message can be
//! read as, and Maelstrom's handshake.

use super::MsgId;
use serde::de;
use serde::{Deserialize, Serialize};

/// A message on the wire: who sent it, to whom, and its body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<P> {
    /// Sender's node id (`n1`) or client id (`c1`).
    pub src: String,
    /// Receiver's id.
    pub dest: String,
    /// The body: ids plus the typed payload.
    pub body: Body<P>,
}

/// A message body: the typed payload plus Maelstrom's message ids.
///
/// It serializes with the payload's fields flattened beside the ids. It deserializes in one
/// pass (see [`Body`]'s `Deserialize`): the ids are taken out of the object wherever they
/// stand and everything else goes to the payload, which a derived `#[serde(flatten)]` would
/// buffer twice.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Body<P> {
    /// The sender's id for this message, if it expects replies to refer to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<MsgId>,
    /// The `msg_id` of the request this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<MsgId>,
    /// The payload, tagged with `type`.
    #[serde(flatten)]
    pub payload: P,
}

/// Maelstrom's handshake, sent once to a node started under `--maelstrom`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InitPayload {
    /// `{"type":"init","node_id":"n1","node_ids":["n1","n2"]}`
    Init {
        /// The id this node is to use.
        node_id: String,
        /// Every node in the cluster, this one included.
        node_ids: Vec<String>,
    },
    /// The reply to `init`.
    InitOk,
}

/// Just enough of any message to route it and to answer it with an error.
///
/// It reads leniently: a `type` that is not a string, or ids that are not non-negative
/// integers, do not make it fail (they are reported in [`HeaderBody::problem`]), so a request
/// with a bad id can still be answered with an error.
#[derive(Clone, Debug, Deserialize)]
pub struct Header {
    /// Sender.
    pub src: String,
    /// Receiver.
    #[serde(default)]
    pub dest: String,
    /// Ids and type.
    pub body: HeaderBody,
}

/// The routing part of a body.
#[derive(Clone, Debug)]
pub struct HeaderBody {
    /// The payload's `type` tag (empty when it is missing or not a string).
    pub kind: String,
    /// The message id, if any (and valid).
    pub msg_id: Option<MsgId>,
    /// The request this answers, if any (and valid).
    pub in_reply_to: Option<MsgId>,
    /// What is wrong with the `type` or the ids, if anything.
    pub problem: Option<String>,
    /// Whether the body has an `in_reply_to` at all (valid or not): such a message is a reply,
    /// and replies are never answered.
    pub is_reply: bool,
}

impl HeaderBody {
    /// Whether an error reply may answer this message: it is no reply and no error itself
    /// (answering those could start an error ping-pong).
    pub fn is_answerable(&self) -> bool {
        !self.is_reply && self.kind != "error"
    }
}

impl<'de> Deserialize<'de> for HeaderBody {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type", default)]
            kind: Option<serde_json::Value>,
            #[serde(default)]
            msg_id: Option<serde_json::Value>,
            #[serde(default)]
            in_reply_to: Option<serde_json::Value>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let mut problems = vec![];
        let kind = match raw.kind {
            None => String::new(),
            Some(serde_json::Value::String(s)) => s,
            Some(other) => {
                problems.push(format!("`type` must be a string, not {other}"));
                String::new()
            }
        };
        let mut id = |name: &str, v: Option<serde_json::Value>| match v {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(id) => Some(id),
                None => {
                    problems.push(format!("`{name}` must be a non-negative integer, not {v}"));
                    None
                }
            },
        };
        let is_reply = !matches!(raw.in_reply_to, None | Some(serde_json::Value::Null));
        let msg_id = id("msg_id", raw.msg_id);
        let in_reply_to = id("in_reply_to", raw.in_reply_to);
        Ok(HeaderBody {
            kind,
            msg_id,
            in_reply_to,
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
            is_reply,
        })
    }
}
