//! The wire format: Maelstrom's JSON envelope.
//!
//! ```json
//! {"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hi"}}
//! ```
//!
//! Every system's payload is a serde enum tagged by `type` (`#[serde(tag = "type", rename_all =
//! "snake_case")]`), so matching is exhaustive and the JSON stays Maelstrom-compatible. The
//! envelope is generic over that payload; `msg_id` and `in_reply_to` live beside it in the body.

use serde::de::{self, DeserializeOwned};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;

/// Largest message a node accepts or sends, in bytes (fits a UDP datagram on loopback).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// A message id, unique per sender across its incarnations (see [`Context::next_msg_id`](crate::Context::next_msg_id)).
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

/// One pass over a body object: `msg_id` and `in_reply_to` are taken out wherever they stand,
/// and the payload's `Deserialize` sees the remaining entries as its own object. (A derived
/// `#[serde(flatten)]` buffers every entry into serde's `Content`, and an internally tagged
/// payload then buffers them again: a decode of a large message cost twice as much.)
impl<'de, P: Deserialize<'de>> Deserialize<'de> for Body<P> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(BodyVisitor(PhantomData))
    }
}

struct BodyVisitor<P>(PhantomData<P>);

impl<'de, P: Deserialize<'de>> de::Visitor<'de> for BodyVisitor<P> {
    type Value = Body<P>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message body object")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Body<P>, A::Error> {
        let mut ids = Ids::default();
        let payload = P::deserialize(PayloadDeserializer {
            map: PayloadEntries {
                map: &mut map,
                ids: &mut ids,
            },
        })?;
        // A payload that stopped reading early leaves entries behind; ids may be among them.
        let mut rest = PayloadEntries {
            map: &mut map,
            ids: &mut ids,
        };
        while de::MapAccess::next_key::<de::IgnoredAny>(&mut rest)?.is_some() {
            de::MapAccess::next_value::<de::IgnoredAny>(&mut rest)?;
        }
        Ok(Body {
            msg_id: ids.msg_id,
            in_reply_to: ids.in_reply_to,
            payload,
        })
    }
}

/// The ids found in a body so far.
#[derive(Default)]
struct Ids {
    msg_id: Option<MsgId>,
    in_reply_to: Option<MsgId>,
}

/// The entries of a body object other than its ids.
struct PayloadEntries<'a, A> {
    map: &'a mut A,
    ids: &'a mut Ids,
}

/// A key (or short string) as the input holds it: borrowed when it needs no unescaping.
#[doc(hidden)]
pub enum Key<'de> {
    /// Straight from the input.
    Borrowed(&'de str),
    /// Unescaped.
    Owned(String),
}

impl Key<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for PayloadEntries<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        use serde::de::IntoDeserializer;
        loop {
            let Some(key) = self.map.next_key::<Key<'de>>()? else {
                return Ok(None);
            };
            match key.as_str() {
                "msg_id" => self.ids.msg_id = self.map.next_value()?,
                "in_reply_to" => self.ids.in_reply_to = self.map.next_value()?,
                _ => {
                    return match key {
                        Key::Borrowed(s) => {
                            seed.deserialize(de::value::BorrowedStrDeserializer::new(s))
                        }
                        Key::Owned(s) => seed.deserialize(s.into_deserializer()),
                    }
                    .map(Some)
                }
            }
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// The payload's view of a body: an object without the ids.
struct PayloadDeserializer<'a, A> {
    map: PayloadEntries<'a, A>,
}

impl<'de, A: de::MapAccess<'de>> de::Deserializer<'de> for PayloadDeserializer<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self.map)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Implements `Deserialize` for an internally tagged message enum (`{"type": "...", fields}`)
/// without serde's buffering, for the hot messages of a busy system.
///
/// A derived `#[serde(tag = "type")]` enum buffers every field into serde's `Content` before it
/// knows the variant, whatever the order of the keys. Messages this crate encodes put `type`
/// first among the payload's keys (the ids are taken out by [`Body`]), so the implementation
/// this macro writes reads the tag and then each field straight into its type. A message whose
/// `type` comes later (another implementation's) is buffered as JSON and decoded the same way.
/// It behaves as the derive does: unknown fields are ignored, a missing field is an error unless
/// it is an `Option` (then `None`) or marked `= default` (for `#[serde(default)]` fields), and
/// an unknown tag is an "unknown variant" error (answered as Maelstrom's `not-supported`).
///
/// Derive `Serialize` with `#[serde(tag = "type")]` as usual, leave out `Deserialize`, and list
/// every variant with its tag and field names:
///
/// ```
/// use serde::Serialize;
///
/// #[derive(Debug, PartialEq, Serialize)]
/// #[serde(tag = "type", rename_all = "snake_case")]
/// enum Msg {
///     Ping,
///     Push { values: Vec<u64>, #[serde(default)] relay: bool, note: Option<String> },
/// }
/// highstorm_nodes::tagged_deserialize!(Msg {
///     "ping" => Ping,
///     "push" => Push { values, relay = default, note },
/// });
///
/// let m: Msg = serde_json::from_str(r#"{"type":"push","values":[1,2]}"#).unwrap();
/// assert_eq!(m, Msg::Push { values: vec![1, 2], relay: false, note: None });
/// let m: Msg = serde_json::from_str(r#"{"values":[3],"relay":true,"type":"push"}"#).unwrap();
/// assert_eq!(m, Msg::Push { values: vec![3], relay: true, note: None });
/// assert!(serde_json::from_str::<Msg>(r#"{"type":"push"}"#).is_err());
/// ```
#[macro_export]
macro_rules! tagged_deserialize {
    ($ty:ident { $( $tag:literal => $variant:ident $({ $($field:ident $(= $default:ident)?),* $(,)? })? ),* $(,)? }) => {
        const _: () = {
            use $crate::wire::__tagged as t;
            use t::de;

            const VARIANTS: &[&str] = &[$($tag),*];

            fn variant<'de, A: de::MapAccess<'de>>(tag: &str, mut map: A) -> Result<$ty, A::Error> {
                match tag {
                    $( $tag => $crate::tagged_deserialize!(@variant map, $ty, $variant $({ $($field $(= $default)?),* })?), )*
                    other => Err(de::Error::unknown_variant(other, VARIANTS)),
                }
            }

            fn slow(tag: &str, rest: t::Object) -> Result<$ty, t::JsonError> {
                variant(tag, t::buffered(rest))
            }

            struct Visitor;
            impl<'de> de::Visitor<'de> for Visitor {
                type Value = $ty;
                fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(concat!("a `", stringify!($ty), "` message object"))
                }
                fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                    t::tagged(&mut map, |tag, map| variant(tag, map), slow)
                }
            }

            impl<'de> t::de::Deserialize<'de> for $ty {
                fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    d.deserialize_map(Visitor)
                }
            }
        };
    };
    (@variant $map:ident, $ty:ident, $variant:ident) => {{
        t::drain(&mut $map)?;
        Ok($ty::$variant)
    }};
    (@variant $map:ident, $ty:ident, $variant:ident { $($field:ident $(= $default:ident)?),* }) => {{
        $( let mut $field = None; )*
        while let Some(key) = $map.next_key::<t::Key<'de>>()? {
            match key.as_str() {
                $( stringify!($field) => $field = Some($map.next_value()?), )*
                _ => {
                    $map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok($ty::$variant {
            $( $field: match $field {
                Some(v) => v,
                None => $crate::tagged_deserialize!(@missing $field $(= $default)?),
            }, )*
        })
    }};
    (@missing $field:ident = default) => { ::std::default::Default::default() };
    (@missing $field:ident) => {
        de::Deserialize::deserialize(t::Missing(stringify!($field))).map_err(de::Error::custom)?
    };
}

/// What [`tagged_deserialize!`] expands to uses (not API).
#[doc(hidden)]
pub mod __tagged {
    pub use super::Key;
    pub use serde::de;
    use serde::de::MapAccess;
    pub use serde_json::Error as JsonError;

    /// A buffered JSON object.
    pub type Object = serde_json::Map<String, serde_json::Value>;

    /// Reads the tag (first, or from the buffered object when it comes later) and decodes the
    /// variant: `fast` reads the remaining entries straight from `map`, `slow` from the
    /// buffered rest.
    pub fn tagged<'de, A: MapAccess<'de>, T>(
        map: &mut A,
        fast: impl FnOnce(&str, &mut A) -> Result<T, A::Error>,
        slow: fn(&str, Object) -> Result<T, JsonError>,
    ) -> Result<T, A::Error> {
        let mut rest = serde_json::Map::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.as_str() == "type" {
                let tag: Key<'de> = map.next_value()?;
                if rest.is_empty() {
                    return fast(tag.as_str(), map);
                }
                // Fields came before the tag: finish buffering, then decode the buffer.
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    rest.insert(k, v);
                }
                return slow(tag.as_str(), rest).map_err(de::Error::custom);
            }
            let value: serde_json::Value = map.next_value()?;
            rest.insert(key.as_str().to_owned(), value);
        }
        Err(de::Error::missing_field("type"))
    }

    /// The buffered fields of a message whose tag came late, as a map to decode a variant from.
    pub fn buffered(rest: Object) -> impl MapAccess<'static, Error = JsonError> {
        de::value::MapDeserializer::new(rest.into_iter())
    }

    /// Skips the remaining entries.
    pub fn drain<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(())
    }

    /// The value of a field that is absent: `None` for an `Option`, else "missing field".
    pub struct Missing(pub &'static str);

    impl<'de> de::Deserializer<'de> for Missing {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::missing_field(self.0))
        }
        fn deserialize_option<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            v.visit_none()
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf unit unit_struct newtype_struct seq tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }
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
    /// An envelope whose body does not match its type (or whose ids or type are invalid).
    #[error("malformed {} message: {error}", describe_kind(&header.body.kind))]
    Malformed {
        /// The envelope's routing header.
        header: Box<Header>,
        /// What is wrong.
        error: String,
    },
}

fn describe_kind(kind: &str) -> String {
    if kind.is_empty() {
        "untyped".to_owned()
    } else {
        format!("`{kind}`")
    }
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
            if let Some(problem) = header.body.problem.clone() {
                return Err(DecodeError::Malformed {
                    header,
                    error: problem,
                });
            }
            let kind = header.body.kind.clone();
            if error.to_string().contains("unknown variant") {
                Err(DecodeError::Unsupported { header, kind })
            } else {
                Err(DecodeError::Malformed {
                    header,
                    error: error.to_string(),
                })
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
    fn body_ids_are_found_wherever_they_stand() {
        let env = |body: &str| format!(r#"{{"src":"c1","dest":"n1","body":{body}}}"#);
        let want = |msg_id, in_reply_to| Body {
            msg_id,
            in_reply_to,
            payload: Payload::EchoOk {
                echo: "a\"b".into(),
            },
        };
        for (body, msg_id, in_reply_to) in [
            (
                r#"{"type":"echo_ok","echo":"a\"b","msg_id":7,"in_reply_to":3}"#,
                Some(7),
                Some(3),
            ),
            (
                r#"{"in_reply_to":3,"echo":"a\"b","type":"echo_ok"}"#,
                None,
                Some(3),
            ),
            (
                r#"{"msg_id":null,"type":"echo_ok","echo":"a\"b"}"#,
                None,
                None,
            ),
            // An escaped key is still the key it spells.
            (
                r#"{"msg\u005fid":9,"type":"echo_ok","echo":"a\"b"}"#,
                Some(9),
                None,
            ),
        ] {
            let got = decode::<Payload>(env(body).as_bytes()).unwrap();
            assert_eq!(got.body, want(msg_id, in_reply_to), "{body}");
        }
        // Ids never reach a payload that refuses unknown fields.
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(tag = "type", deny_unknown_fields)]
        enum Strict {
            #[serde(rename = "ping")]
            Ping { n: u64 },
        }
        let got = decode::<Strict>(env(r#"{"msg_id":1,"type":"ping","n":2}"#).as_bytes());
        assert_eq!(got.unwrap().body.payload, Strict::Ping { n: 2 });
        // A bad id is a malformed message, not a panic.
        let bad = decode::<Payload>(env(r#"{"msg_id":"x","type":"echo","echo":""}"#).as_bytes());
        assert!(bad.is_err());
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

        // Ids and types of the wrong kind: still answerable, as malformed requests.
        for (body, problem) in [
            (
                r#"{"type":"echo","msg_id":"x","echo":""}"#,
                "`msg_id` must be",
            ),
            (
                r#"{"type":"echo","msg_id":-1,"echo":""}"#,
                "`msg_id` must be",
            ),
            (
                r#"{"type":"echo","msg_id":1.5,"echo":""}"#,
                "`msg_id` must be",
            ),
            (r#"{"type":5,"msg_id":7}"#, "`type` must be a string"),
            (r#"{"type":null,"msg_id":7}"#, "malformed untyped message"),
        ] {
            let bytes = format!(r#"{{"src":"c1","dest":"n1","body":{body}}}"#);
            let err = decode::<Payload>(bytes.as_bytes()).unwrap_err();
            assert!(
                matches!(err, DecodeError::Malformed { .. }),
                "{body}: {err}"
            );
            assert!(err.to_string().contains(problem), "{body}: {err}");
            assert_eq!(err.reply().unwrap().code, ErrorCode::MalformedRequest);
            assert!(err.header().unwrap().body.is_answerable(), "{body}");
        }
        // A reply with a bad `in_reply_to` is still a reply: never answered.
        let bad_reply = br#"{"src":"n2","dest":"n1","body":{"type":"echo_ok","in_reply_to":"x"}}"#;
        let err = decode::<Payload>(bad_reply).unwrap_err();
        assert!(!err.header().unwrap().body.is_answerable(), "{err}");
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
