//! The wire format: Maelstrom's JSON envelope.
//!
//! ```json
//! {"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hi"}}
//! ```
//!
//! Every system's payload is a serde enum tagged by `type` (`#[serde(tag = "type", rename_all =
//! "snake_case")]`), so matching is exhaustive and the JSON stays Maelstrom-compatible. The
//! envelope is generic over that payload; `msg_id` and `in_reply_to` live beside it in the body.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest message a node accepts or sends, in bytes (fits a UDP datagram on loopback).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// A message id, unique per sender incarnation.
pub type MsgId = u64;

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// Maelstrom's error codes (<https://github.com/jepsen-io/maelstrom/blob/main/doc/protocol.md>).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorCode {
    /// 0: the request timed out; it may or may not have happened.
    Timeout,
    /// 1: the node does not exist.
    NodeNotFound,
    /// 10: the request type is not supported by this node.
    NotSupported,
    /// 11: the node cannot serve the request right now (definite: it did not happen).
    TemporarilyUnavailable,
    /// 12: the request is malformed.
    MalformedRequest,
    /// 13: the node crashed while handling the request (indefinite).
    Crash,
    /// 14: the request was aborted (definite).
    Abort,
    /// 20: the key does not exist.
    KeyDoesNotExist,
    /// 21: the key already exists.
    KeyAlreadyExists,
    /// 22: a precondition failed.
    PreconditionFailed,
    /// 30: a transaction conflicted.
    TxnConflict,
    /// Any other code.
    Other(u32),
}

impl ErrorCode {
    /// The numeric code on the wire.
    pub fn code(self) -> u32 {
        match self {
            ErrorCode::Timeout => 0,
            ErrorCode::NodeNotFound => 1,
            ErrorCode::NotSupported => 10,
            ErrorCode::TemporarilyUnavailable => 11,
            ErrorCode::MalformedRequest => 12,
            ErrorCode::Crash => 13,
            ErrorCode::Abort => 14,
            ErrorCode::KeyDoesNotExist => 20,
            ErrorCode::KeyAlreadyExists => 21,
            ErrorCode::PreconditionFailed => 22,
            ErrorCode::TxnConflict => 30,
            ErrorCode::Other(c) => c,
        }
    }

    /// The code for a number.
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => ErrorCode::Timeout,
            1 => ErrorCode::NodeNotFound,
            10 => ErrorCode::NotSupported,
            11 => ErrorCode::TemporarilyUnavailable,
            12 => ErrorCode::MalformedRequest,
            13 => ErrorCode::Crash,
            14 => ErrorCode::Abort,
            20 => ErrorCode::KeyDoesNotExist,
            21 => ErrorCode::KeyAlreadyExists,
            22 => ErrorCode::PreconditionFailed,
            30 => ErrorCode::TxnConflict,
            c => ErrorCode::Other(c),
        }
    }

    /// Whether the failed operation certainly did not take effect (Maelstrom's "definite").
    pub fn is_definite(self) -> bool {
        !matches!(
            self,
            ErrorCode::Timeout | ErrorCode::Crash | ErrorCode::Other(_)
        )
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(ErrorCode::from_code)
    }
}

/// The payload of a Maelstrom error reply: `{"type":"error","code":12,"text":"..."}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "error")]
pub struct ErrorBody {
    /// What went wrong, as a Maelstrom code.
    pub code: ErrorCode,
    /// A human-readable explanation.
    #[serde(default)]
    pub text: String,
}

impl ErrorBody {
    /// An error with a code and an explanation.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        ErrorBody {
            code,
            text: text.into(),
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {}: {}", self.code.code(), self.text)
    }
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

/// Why bytes could not be turned into a message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Over [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")]
    Oversized(usize),
    /// Not a JSON envelope at all: nobody to answer.
    #[error("not a message envelope: {0}")]
    NotAnEnvelope(serde_json::Error),
    /// An envelope whose body has a `type` this node does not handle.
    #[error("unsupported message type `{kind}`")]
    Unsupported {
        /// The envelope's routing header.
        header: Box<Header>,
        /// The unknown type.
        kind: String,
    },
    /// An envelope whose body does not match its type.
    #[error("malformed `{}` message: {error}", header.body.kind)]
    Malformed {
        /// The envelope's routing header.
        header: Box<Header>,
        /// What serde said.
        error: serde_json::Error,
    },
}

impl DecodeError {
    /// The routing header, when the bytes were an envelope.
    pub fn header(&self) -> Option<&Header> {
        match self {
            DecodeError::Unsupported { header, .. } | DecodeError::Malformed { header, .. } => {
                Some(header)
            }
            _ => None,
        }
    }

    /// The Maelstrom error to answer with, when someone can be answered.
    pub fn reply(&self) -> Option<ErrorBody> {
        match self {
            DecodeError::Unsupported { .. } => {
                Some(ErrorBody::new(ErrorCode::NotSupported, self.to_string()))
            }
            DecodeError::Malformed { .. } => Some(ErrorBody::new(
                ErrorCode::MalformedRequest,
                self.to_string(),
            )),
            _ => None,
        }
    }
}

/// Decodes one message, classifying failures so the caller can answer or drop them.
pub fn decode<P: DeserializeOwned>(bytes: &[u8]) -> Result<Envelope<P>, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::Oversized(bytes.len()));
    }
    match serde_json::from_slice::<Envelope<P>>(bytes) {
        Ok(env) => Ok(env),
        Err(error) => {
            let header: Box<Header> =
                serde_json::from_slice(bytes).map_err(DecodeError::NotAnEnvelope)?;
            let kind = header.body.kind.clone();
            if error.to_string().contains("unknown variant") {
                Err(DecodeError::Unsupported { header, kind })
            } else {
                Err(DecodeError::Malformed { header, error })
            }
        }
    }
}

/// Encodes one message as JSON bytes.
pub fn encode<P: Serialize>(env: &Envelope<P>) -> Vec<u8> {
    encode_parts(
        &env.src,
        &env.dest,
        env.body.msg_id,
        env.body.in_reply_to,
        &env.body.payload,
    )
}

/// Encodes one message from its parts, without building an [`Envelope`] first.
pub fn encode_parts<P: Serialize + ?Sized>(
    src: &str,
    dest: &str,
    msg_id: Option<MsgId>,
    in_reply_to: Option<MsgId>,
    payload: &P,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Borrowed<'a, P: ?Sized> {
        src: &'a str,
        dest: &'a str,
        body: Body<&'a P>,
    }
    let env = Borrowed {
        src,
        dest,
        body: Body {
            msg_id,
            in_reply_to,
            payload,
        },
    };
    // Serializing derived types into a Vec cannot fail; a hand-written Serialize that fails
    // yields an error body instead of a panic.
    serde_json::to_vec(&env).unwrap_or_else(|e| {
        let error = ErrorBody::new(ErrorCode::Crash, format!("cannot encode message: {e}"));
        encode_parts(src, dest, msg_id, in_reply_to, &error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Payload {
        Echo { echo: String },
        EchoOk { echo: String },
    }

    #[test]
    fn envelope_round_trips_in_maelstrom_shape() {
        let env = Envelope {
            src: "c1".into(),
            dest: "n1".into(),
            body: Body {
                msg_id: Some(1),
                in_reply_to: None,
                payload: Payload::Echo { echo: "hi".into() },
            },
        };
        let bytes = encode(&env);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"src":"c1","dest":"n1","body":{"msg_id":1,"type":"echo","echo":"hi"}}"#
        );
        assert_eq!(decode::<Payload>(&bytes).unwrap(), env);
    }

    #[test]
    fn classifies_bad_input() {
        let unknown = br#"{"src":"c1","dest":"n1","body":{"type":"nope","msg_id":3}}"#;
        let err = decode::<Payload>(unknown).unwrap_err();
        assert!(matches!(err, DecodeError::Unsupported { .. }), "{err}");
        assert_eq!(err.reply().unwrap().code, ErrorCode::NotSupported);
        assert_eq!(err.header().unwrap().body.msg_id, Some(3));

        let malformed = br#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":4}}"#;
        let err = decode::<Payload>(malformed).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed { .. }), "{err}");
        assert_eq!(err.reply().unwrap().code, ErrorCode::MalformedRequest);

        assert!(matches!(
            decode::<Payload>(b"{not json"),
            Err(DecodeError::NotAnEnvelope(_))
        ));
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(
            decode::<Payload>(&big),
            Err(DecodeError::Oversized(_))
        ));
    }

    #[test]
    fn error_bodies_use_maelstrom_codes() {
        let body = ErrorBody::new(ErrorCode::MalformedRequest, "bad");
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"type":"error","code":12,"text":"bad"}"#
        );
        assert!(ErrorCode::NotSupported.is_definite());
        assert!(!ErrorCode::Crash.is_definite());
        assert_eq!(ErrorCode::from_code(13), ErrorCode::Crash);
    }
}
