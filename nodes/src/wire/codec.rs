//! Bytes to messages and back: [`decode`] classifies what it cannot read (so the caller can
//! answer or drop it), [`encode`] never fails.

use super::{Body, Envelope, ErrorBody, ErrorCode, Header, MsgId, MAX_MESSAGE_BYTES};
use serde::de::DeserializeOwned;
use serde::Serialize;

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
    if let Some(env) = decode_plain(bytes) {
        return Ok(env);
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

/// The envelope as [`encode_parts`] writes it (`{"src":"..","dest":"..","body":{..}}`, names
/// without escapes), read without a JSON parser: only the body is parsed, by
/// [`fast_json`](super::fast_json) when it is in that reader's subset, else by serde_json.
/// `None` for anything else, and for a body that does not decode; the caller then reads the
/// bytes the general way, which gives the same envelope whenever this one does (the same
/// names, and the body read by the same code from the same bytes) and classifies failures.
fn decode_plain<P: DeserializeOwned>(bytes: &[u8]) -> Option<Envelope<P>> {
    let rest = bytes.strip_prefix(b"{\"src\":\"")?;
    let (src, rest) = plain_string(rest)?;
    let rest = rest.strip_prefix(b",\"dest\":\"")?;
    let (dest, rest) = plain_string(rest)?;
    let body = rest.strip_prefix(b",\"body\":")?.strip_suffix(b"}")?;
    let body = super::fast_json::from_slice::<Body<P>>(body)
        .or_else(|| serde_json::from_slice::<Body<P>>(body).ok())?;
    Some(Envelope { src, dest, body })
}

/// A JSON string's text up to its closing quote, and what follows the quote, when it needs no
/// unescaping and is valid as JSON text (no escapes, no control characters, UTF-8).
fn plain_string(bytes: &[u8]) -> Option<(String, &[u8])> {
    let end = bytes
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    if bytes[end] != b'"' {
        return None;
    }
    let text = std::str::from_utf8(&bytes[..end]).ok()?;
    Some((text.to_owned(), &bytes[end + 1..]))
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
    let mut out = Vec::with_capacity(128);
    let written = env.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out, Compact,
    ));
    written.map(|()| out).unwrap_or_else(|e| {
        let error = ErrorBody::new(ErrorCode::Crash, format!("cannot encode message: {e}"));
        encode_parts(src, dest, msg_id, in_reply_to, &error)
    })
}

/// serde_json's compact format (the same bytes as `serde_json::to_vec`), with numbers below
/// 1000 written from a table as fixed-size writes: a message's number lists were a call to
/// `memcpy` per number, then two divisions.
struct Compact;

impl serde_json::ser::Formatter for Compact {
    #[inline]
    fn write_u64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, n: u64) -> std::io::Result<()> {
        if n >= 1000 {
            return serde_json::ser::CompactFormatter.write_u64(w, n);
        }
        // Fixed-size writes: a write of a variable length is a call to `memcpy`.
        match super::digits::SMALL[n as usize] {
            [a, _, _, 1] => w.write_all(&[a]),
            [a, b, _, 2] => w.write_all(&[a, b]),
            [a, b, c, _] => w.write_all(&[a, b, c]),
        }
    }
}

/// Appends to `out` the head of what [`encode_parts`] writes for a message with a `msg_id`, up
/// to and including that id: `{"src":"n1","dest":"n2","body":{"msg_id":7`. Everything after it
/// depends only on `in_reply_to` and the payload, so one encoding serves many destinations.
pub fn envelope_head(out: &mut Vec<u8>, src: &str, dest: &str, msg_id: MsgId) {
    out.extend_from_slice(b"{\"src\":");
    json_string(out, src);
    out.extend_from_slice(b",\"dest\":");
    json_string(out, dest);
    out.extend_from_slice(b",\"body\":{\"msg_id\":");
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = msg_id;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `s` as a JSON string, escaped exactly as serde_json escapes it (which it does to
/// quotes, backslashes and control characters only).
fn json_string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b != b'"' && b != b'\\' && b >= 0x20) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let written = serde_json::to_writer(&mut *out, s);
        debug_assert!(written.is_ok(), "writing a string into a Vec cannot fail");
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Payload;
    use super::*;

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        #[derive(Serialize)]
        struct Numbers {
            values: Vec<u64>,
            small: u8,
            signed: i64,
            float: f64,
        }
        let values = vec![0, 9, 10, 99, 100, 999, 1000, 65_535, 123_456_789, u64::MAX];
        for (msg_id, values) in [
            (None, vec![]),
            (Some(0), values.clone()),
            (Some(1000), values),
        ] {
            let payload = Numbers {
                values,
                small: 7,
                signed: -12,
                float: 0.5,
            };
            let env = Envelope {
                src: "n1".to_owned(),
                dest: "c\"2".to_owned(),
                body: Body {
                    msg_id,
                    in_reply_to: Some(99),
                    payload: &payload,
                },
            };
            assert_eq!(
                String::from_utf8(encode_parts("n1", "c\"2", msg_id, Some(99), &payload)).unwrap(),
                serde_json::to_string(&env).unwrap()
            );
        }
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
    fn the_plain_envelope_reads_as_the_general_decoder_does() {
        let json = |s: &str| serde_json::to_string(s).unwrap();
        let canonical = |src: &str, dest: &str, body: &str| {
            format!(
                r#"{{"src":{},"dest":{},"body":{body}}}"#,
                json(src),
                json(dest)
            )
        };
        let echo = r#"{"msg_id":1,"in_reply_to":4,"type":"echo","echo":"hi"}"#;
        let plain = [
            canonical("c1", "n1", echo),
            canonical(
                "n\u{e9}",
                "n1",
                r#"{"type":"echo_ok","echo":"\"","msg_id":2}"#,
            ),
            canonical(
                "c1",
                "n1",
                r#" {"in_reply_to":3,"echo":"x","type":"echo_ok"} "#,
            ),
            canonical("c1", "", r#"{"msg\u005fid":9,"type":"echo","echo":""}"#),
        ];
        for bytes in &plain {
            let fast = decode_plain::<Payload>(bytes.as_bytes());
            assert!(fast.is_some(), "{bytes}");
            let general: Envelope<Payload> = serde_json::from_slice(bytes.as_bytes()).unwrap();
            assert_eq!(fast.unwrap(), general, "{bytes}");
        }
        // Everything else goes the general way, with the same outcome.
        let other = [
            canonical("a\"b", "n1", echo),
            canonical("c\\1", "n1", echo),
            canonical("c\n1", "n1", echo),
            format!("{} ", canonical("c1", "n1", echo)),
            canonical("c1", "n1", echo).replace("}}", r#"},"x":1}"#),
            canonical("c1", "n1", echo).replace("}}", r#"},"src":"c2"}"#),
            r#"{"dest":"n1","src":"c1","body":{"type":"echo","echo":"a"}}"#.to_owned(),
            canonical("c1", "n1", r#"{"type":"nope"}"#),
            canonical("c1", "n1", r#"{"type":"echo"}"#),
        ];
        for bytes in &other {
            let bytes = bytes.as_bytes();
            let general = serde_json::from_slice::<Envelope<Payload>>(bytes);
            match (decode_plain::<Payload>(bytes), &general) {
                (None, _) => {}
                (Some(fast), Ok(general)) => assert_eq!(&fast, general),
                (Some(fast), Err(e)) => panic!("{fast:?} where the general way fails: {e}"),
            }
            assert_eq!(
                decode::<Payload>(bytes).ok(),
                general.ok(),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert!(decode_plain::<Payload>(other[0].as_bytes()).is_none());
    }

    #[test]
    fn the_envelope_head_is_what_encode_parts_writes_first() {
        let payload = Payload::Echo { echo: "x".into() };
        for (src, dest) in [
            ("n1", "n2"),
            ("a\"b", "c\\d"),
            ("\u{7f}\u{e9}", "\n"),
            ("", ""),
        ] {
            for msg_id in [0, 7, 10, 99, 4_294_967_297, u64::MAX] {
                let mut head = vec![];
                envelope_head(&mut head, src, dest, msg_id);
                let whole = encode_parts(src, dest, Some(msg_id), Some(3), &payload);
                assert!(
                    whole.starts_with(&head) && whole[head.len()] == b',',
                    "{} / {}",
                    String::from_utf8_lossy(&head),
                    String::from_utf8_lossy(&whole)
                );
            }
        }
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
}
