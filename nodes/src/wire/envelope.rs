//! The shapes on the wire: the envelope, its body, the routing header every message can be
//! read as, and Maelstrom's handshake.

use super::MsgId;
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
#[derive(Clone, Debug, Deserialize)]
pub struct HeaderBody {
    /// The payload's `type` tag.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The message id, if any.
    #[serde(default)]
    pub msg_id: Option<MsgId>,
    /// The request this answers, if any.
    #[serde(default)]
    pub in_reply_to: Option<MsgId>,
}
