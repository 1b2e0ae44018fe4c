//! Maelstrom's error replies: a code with its meaning, and the payload that carries it.

use serde::{Deserialize, Serialize};
use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

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
