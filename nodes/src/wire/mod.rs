//! The wire format: Maelstrom's JSON envelope.
//!
//! ```json
//! {"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hi"}}
//! ```
//!
//! Every system's payload is a serde enum tagged by `type` (`#[serde(tag = "type", rename_all =
//! "snake_case")]`), so matching is exhaustive and the JSON stays Maelstrom-compatible. The
//! envelope is generic over that payload; `msg_id` and `in_reply_to` live beside it in the body.
//!
//! One file per job: `envelope` (the shapes on the wire: [`Envelope`], [`Body`], [`Header`],
//! Maelstrom's handshake), `codec` ([`decode`] and [`encode`], with the size limit and
//! [`DecodeError`]), `error_body` (Maelstrom's error replies: [`ErrorBody`], [`ErrorCode`]) and
//! `fast_decode` (a body and a tagged payload decoded in one pass, without serde's buffering:
//! [`tagged_deserialize!`](crate::tagged_deserialize)).

mod codec;
#[doc(hidden)]
pub mod digits;
mod envelope;
mod error_body;
mod fast_decode;
mod fast_json;

pub use codec::{decode, encode, encode_parts, envelope_head, DecodeError};
pub use envelope::{Body, Envelope, Header, HeaderBody, InitPayload};
pub use error_body::{ErrorBody, ErrorCode};
#[doc(hidden)]
pub use fast_decode::__tagged;

/// Largest message a node accepts or sends, in bytes (fits a UDP datagram on loopback).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// A message id, unique per sender across its incarnations (see [`Context::next_msg_id`](crate::Context::next_msg_id)).
pub type MsgId = u64;

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    /// A payload for the wire's tests.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub(super) enum Payload {
        Echo { echo: String },
        EchoOk { echo: String },
    }
}
