//! A JSON reader for the common case of our own messages, tried before serde_json.
//!
//! Broadcast's messages are mostly lists of small numbers; serde_json reads one element of a
//! `Vec<u64>` in about 190 instructions (its number parser keeps a float fallback and a
//! position for errors at every step), which made decoding a third of a simulated run. This
//! reader handles a strict subset of JSON — unsigned integers that fit a `u64`, strings without
//! escapes, `null`, booleans, arrays and objects — and gives up on anything else: a negative
//! or fractional number, an escape, a byte out of place, a number too large, nesting deeper than
//! [`MAX_DEPTH`], a `char`, bytes, 128-bit integers, a raw value or an externally tagged enum.
//!
//! Giving up is never an answer: [`from_slice`] returns `None` and the caller reads the same
//! bytes with serde_json, which produces the value or the error it always did. Whenever this
//! reader returns a value, serde_json would have returned the same one: it feeds a `Deserialize`
//! the same visitor calls serde_json makes for the same input (`visit_u64` for every number,
//! `visit_borrowed_str` for every string, `visit_some` for a non-null option, a map for an
//! object, a sequence for an array), and it refuses input serde_json refuses. A type whose
//! `Deserialize` recovers from an error (a default on error, an untagged enum trying variants)
//! could see a different error here than there and recover differently, so any error made while
//! reading — ours or the type's own — sends the whole message to serde_json
//! (`fast_path_matches_serde_json` in the tests below checks the agreement on random input).

use serde::de::{self, Deserialize, DeserializeSeed, Visitor};
use std::cell::Cell;
use std::fmt;

/// Deepest nesting this reader follows (serde_json refuses beyond 128).
pub(crate) const MAX_DEPTH: u32 = 100;

thread_local! {
    /// Set when any error is made during a [`from_slice`] on this thread, even one a type's
    /// `Deserialize` then swallowed.
    static ERRED: Cell<bool> = const { Cell::new(false) };
}

/// `bytes` read as a `T`, or `None` when this reader does not handle them (see the module's
/// documentation): then serde_json must read them.
pub(crate) fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Option<T> {
    // Checked once as a whole (serde_json refuses what is not UTF-8): each string is then a
    // slice of it, where checking every short string apart cost more than reading it.
    let text = std::str::from_utf8(bytes).ok()?;
    let outer = ERRED.with(|e| e.replace(false));
    let mut reader = Reader {
        text,
        bytes,
        pos: 0,
        depth: 0,
    };
    let value = T::deserialize(&mut reader).ok().filter(|_| {
        reader.skip_ws();
        reader.pos == bytes.len()
    });
    let erred = ERRED.with(|e| e.replace(outer));
    value.filter(|_| !erred)
}

/// Why this reader stopped; never shown to anyone (serde_json reads the bytes again).
#[derive(Debug)]
pub(crate) struct GaveUp;

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to serde_json")
    }
}

impl std::error::Error for GaveUp {}

impl de::Error for GaveUp {
    fn custom<T: fmt::Display>(_: T) -> Self {
        give_up()
    }
}

/// Notes that this read failed, and says so.
fn give_up() -> GaveUp {
    ERRED.with(|e| e.set(true));
    GaveUp
}

struct Reader<'de> {
    /// The input, which is UTF-8.
    text: &'de str,
    /// The same, as bytes.
    bytes: &'de [u8],
    pos: usize,
    depth: u32,
}

impl<'de> Reader<'de> {
    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Result<u8, GaveUp> {
        self.skip_ws();
        self.bytes.get(self.pos).copied().ok_or_else(give_up)
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> Result<(), GaveUp> {
        if self.peek()? == byte {
            self.pos += 1;
            Ok(())
        } else {
            Err(give_up())
        }
    }

    /// The literal `word` (`null`, `true`, `false`) at the current position.
    fn literal(&mut self, word: &[u8]) -> Result<(), GaveUp> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(give_up())
        }
    }

    /// An unsigned integer starting at the current position (a digit).
    #[inline]
    fn integer(&mut self) -> Result<u64, GaveUp> {
        let bytes = self.bytes;
        let mut pos = self.pos;
        let first = bytes[pos];
        pos += 1;
        let mut n = u64::from(first - b'0');
        while let Some(&c) = bytes.get(pos) {
            let digit = c.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            // One leading zero only, as in serde_json.
            if first == b'0' {
                return Err(give_up());
            }
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(digit)))
            {
                Some(n) => n,
                None => return Err(give_up()),
            };
            pos += 1;
        }
        // A fraction or an exponent makes it a float: serde_json's to read.
        if matches!(bytes.get(pos), Some(b'.' | b'e' | b'E')) {
            return Err(give_up());
        }
        self.pos = pos;
        Ok(n)
    }

    /// A string's text after its opening quote (consumed), when it has no escapes and no
    /// control characters.
    #[inline]
    fn string(&mut self) -> Result<&'de str, GaveUp> {
        let bytes = self.bytes;
        let start = self.pos;
        let len = bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .ok_or_else(give_up)?;
        if bytes[start + len] != b'"' {
            return Err(give_up());
        }
        self.pos = start + len + 1;
        // Between two ASCII quotes: both ends are character boundaries.
        self.text.get(start..start + len).ok_or_else(give_up)
    }

    /// A string value at the current position (after whitespace).
    fn string_value(&mut self) -> Result<&'de str, GaveUp> {
        self.eat(b'"')?;
        self.string()
    }

    fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, GaveUp>,
    ) -> Result<T, GaveUp> {
        if self.depth >= MAX_DEPTH {
            return Err(give_up());
        }
        self.depth += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }

    /// An array's elements to `visitor`, then its closing bracket (the opening one is next).
    fn seq<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, GaveUp> {
        self.pos += 1;
        self.nested(|r| {
            let value = visitor.visit_seq(Elements {
                reader: r,
                first: true,
            })?;
            r.eat(b']')?;
            Ok(value)
        })
    }

    /// An object's entries to `visitor`, then its closing brace (the opening one is next).
    fn map<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, GaveUp> {
        self.pos += 1;
        self.nested(|r| {
            let value = visitor.visit_map(Entries {
                reader: r,
                first: true,
            })?;
            r.eat(b'}')?;
            Ok(value)
        })
    }

    /// Whether an array's or object's next item follows (its separating comma consumed), or
    /// `close`, its closing bracket, is next (not consumed). `first`: no item read yet.
    #[inline]
    fn next_item(&mut self, close: u8, first: &mut bool) -> Result<bool, GaveUp> {
        match self.peek()? {
            c if c == close => return Ok(false),
            b',' if !*first => {
                self.pos += 1;
                // `[1,]` and `{"a":1,}` are not JSON.
                if self.peek()? == close {
                    return Err(give_up());
                }
            }
            _ if *first => {}
            _ => return Err(give_up()),
        }
        *first = false;
        Ok(true)
    }

    /// Skips one value, checking it is JSON of the subset.
    fn skip(&mut self) -> Result<(), GaveUp> {
        match self.peek()? {
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'0'..=b'9' => self.integer().map(drop),
            b'"' => {
                self.pos += 1;
                self.string().map(drop)
            }
            b'[' => self.seq(de::IgnoredAny).map(drop),
            b'{' => self.map(de::IgnoredAny).map(drop),
            _ => Err(give_up()),
        }
    }
}

/// `deserialize_*` methods that read what `deserialize_u64` (or another named method) reads.
macro_rules! forward_to {
    ($to:ident: $($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
                self.$to(visitor)
            }
        )*
    };
}

/// `deserialize_*` methods for what this reader leaves to serde_json.
macro_rules! give_up_on {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GaveUp> {
                Err(give_up())
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = GaveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self.peek()? {
            b'n' => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            b't' => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            b'0'..=b'9' => visitor.visit_u64(self.integer()?),
            b'"' => {
                self.pos += 1;
                visitor.visit_borrowed_str(self.string()?)
            }
            b'[' => self.seq(visitor),
            b'{' => self.map(visitor),
            _ => Err(give_up()),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self.peek()? {
            b't' | b'f' => self.deserialize_any(visitor),
            _ => Err(give_up()),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self.peek()? {
            // serde_json's numbers go to `visit_u64` whatever the type asked for.
            b'0'..=b'9' => visitor.visit_u64(self.integer()?),
            _ => Err(give_up()),
        }
    }

    forward_to!(deserialize_u64: deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_f32 deserialize_f64);

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        visitor.visit_borrowed_str(self.string_value()?)
    }
    forward_to!(deserialize_str: deserialize_string deserialize_identifier);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self.peek()? {
            b'n' => self.deserialize_any(visitor),
            _ => Err(give_up()),
        }
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        // serde_json's raw values are read by serde_json.
        if name.starts_with("$serde_json::") {
            return Err(give_up());
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self.peek()? {
            b'[' => self.seq(visitor),
            _ => Err(give_up()),
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, GaveUp> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        match self.peek()? {
            b'{' => self.map(visitor),
            _ => Err(give_up()),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        // serde_json reads a struct from an array too.
        match self.peek()? {
            b'[' => self.seq(visitor),
            b'{' => self.map(visitor),
            _ => Err(give_up()),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        // A unit variant by name; `{"Variant": value}` is serde_json's to read.
        visitor.visit_enum(UnitVariant(self.string_value()?))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        self.skip()?;
        visitor.visit_unit()
    }

    give_up_on!(deserialize_i128 deserialize_u128 deserialize_char deserialize_bytes
        deserialize_byte_buf);
}

/// An array's elements.
struct Elements<'a, 'de> {
    reader: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, 'de> {
    type Error = GaveUp;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GaveUp> {
        if !self.reader.next_item(b']', &mut self.first)? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

/// An object's entries.
struct Entries<'a, 'de> {
    reader: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> de::MapAccess<'de> for Entries<'_, 'de> {
    type Error = GaveUp;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GaveUp> {
        if !self.reader.next_item(b'}', &mut self.first)? {
            return Ok(None);
        }
        let key = self.reader.string_value()?;
        seed.deserialize(Key(key)).map(Some)
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GaveUp> {
        self.reader.eat(b':')?;
        seed.deserialize(&mut *self.reader)
    }
}

/// An object's key, as serde_json gives it to a type: a borrowed string, or `Some` of it.
struct Key<'de>(&'de str);

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = GaveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GaveUp> {
        if name.starts_with("$serde_json::") {
            return Err(give_up());
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GaveUp> {
        visitor.visit_unit()
    }

    // serde_json reads numbers, booleans, characters and bytes out of keys its own way, and
    // enums from them.
    give_up_on!(deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_bytes
        deserialize_byte_buf);

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, GaveUp> {
        Err(give_up())
    }

    serde::forward_to_deserialize_any! {
        str string unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// A unit variant named by a string.
struct UnitVariant<'de>(&'de str);

impl<'de> de::EnumAccess<'de> for UnitVariant<'de> {
    type Error = GaveUp;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), GaveUp> {
        let variant =
            seed.deserialize(de::value::BorrowedStrDeserializer::<GaveUp>::new(self.0))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'de> {
    type Error = GaveUp;

    fn unit_variant(self) -> Result<(), GaveUp> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, GaveUp> {
        Err(give_up())
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, GaveUp> {
        Err(give_up())
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, GaveUp> {
        Err(give_up())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Body, MsgId};
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Serialize};
    use serde_json::Value;
    use std::fmt::Debug;

    /// A message payload with what our systems' payloads hold, derived the usual way.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Payload {
        Broadcast {
            message: u64,
        },
        ReadOk {
            messages: Vec<u64>,
        },
        Gossip {
            values: Vec<u64>,
            #[serde(default)]
            round: Option<u32>,
            peer: String,
        },
        Status {
            small: u8,
            signed: i64,
            ratio: f64,
            mode: Mode,
            nested: Inner,
            tuple: (u16, bool),
        },
        Either {
            value: Either,
        },
        Strict {
            inner: StrictInner,
        },
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Fast,
        Slow(u64),
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Inner {
        flag: bool,
        unit: (),
        #[serde(default)]
        keys: std::collections::BTreeMap<String, u64>,
    }

    /// Tries `Small` first and recovers from its error: the fast path must not answer
    /// differently from serde_json because of an error the type swallowed.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Either {
        Small(u8),
        Big(u64),
        Text(String),
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct StrictInner {
        a: u64,
    }

    /// Whenever the fast path reads `bytes` as a `T`, serde_json reads the same `T`.
    fn agrees<T: DeserializeOwned + PartialEq + Debug>(bytes: &[u8]) -> Result<(), String> {
        if let Some(fast) = from_slice::<T>(bytes) {
            match serde_json::from_slice::<T>(bytes) {
                Ok(slow) if slow == fast => {}
                other => {
                    return Err(format!(
                        "{:?}: fast path read {fast:?}, serde_json {other:?}",
                        String::from_utf8_lossy(bytes)
                    ))
                }
            }
        }
        Ok(())
    }

    fn agrees_all(bytes: &[u8]) -> Result<(), String> {
        agrees::<Value>(bytes)?;
        agrees::<Vec<u64>>(bytes)?;
        agrees::<Option<Vec<Option<u32>>>>(bytes)?;
        agrees::<Body<Payload>>(bytes)?;
        agrees::<Payload>(bytes)?;
        agrees::<Either>(bytes)?;
        agrees::<(u8, String, bool)>(bytes)?;
        agrees::<std::collections::BTreeMap<String, Value>>(bytes)?;
        agrees::<StrictInner>(bytes)
    }

    #[test]
    fn reads_our_messages_without_serde_json() {
        let body: Body<Payload> = from_slice(
            br#"{"type":"read_ok","messages":[1,20,300,18446744073709551615],"in_reply_to":7}"#,
        )
        .expect("the fast path reads a plain message");
        assert_eq!(
            body,
            Body {
                msg_id: None,
                in_reply_to: Some(7 as MsgId),
                payload: Payload::ReadOk {
                    messages: vec![1, 20, 300, u64::MAX]
                }
            }
        );
        let status = br#" { "msg_id" : 3 , "type":"status","small":255,"signed":5,"ratio":2,
            "mode":"fast","nested":{"flag":true,"unit":null,"keys":{"x":1}},"tuple":[9,false]} "#;
        assert_eq!(
            from_slice::<Body<Payload>>(status),
            Some(serde_json::from_slice(status).unwrap())
        );
        assert_eq!(
            from_slice::<Value>(br#"{"a":[null,true,false,"\u00e9",{}],"b":[]}"#),
            None,
            "an escape is serde_json's to read"
        );
        assert!(
            from_slice::<Value>("{\"é\":[null,true,false,\"ü\",{}],\"b\":[]}".as_bytes()).is_some()
        );
    }

    #[test]
    fn gives_up_where_serde_json_has_something_to_say() {
        for input in [
            "",
            " ",
            "01",
            "-1",
            "1.0",
            "1e3",
            "1E3",
            "+1",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[",
            "]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":1 \"b\":2}",
            "{1:2}",
            "{\"a\":1}}",
            "[1]x",
            "nul",
            "nullx",
            "tru",
            "[truefalse]",
            "\"a\\nb\"",
            "\"tab\there\"",
            "18446744073709551616",
            "99999999999999999999999",
            "[\"\u{1}\"]",
            "{\"a\":-0}",
            "[1,2,3,]",
        ] {
            assert_eq!(from_slice::<Value>(input.as_bytes()), None, "{input:?}");
            agrees_all(input.as_bytes()).unwrap();
        }
        assert_eq!(from_slice::<Value>(b"[\"\xff\"]"), None, "invalid UTF-8");
        assert_eq!(from_slice::<u64>(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(from_slice::<u8>(b"256"), None, "out of range for the type");
        assert_eq!(from_slice::<u8>(b"255"), Some(255));
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_DEPTH as usize + 1),
            "]".repeat(MAX_DEPTH as usize + 1)
        );
        assert_eq!(from_slice::<Value>(deep.as_bytes()), None, "too deep");
        let shallow = format!(
            "{}{}",
            "[".repeat(MAX_DEPTH as usize),
            "]".repeat(MAX_DEPTH as usize)
        );
        assert!(from_slice::<Value>(shallow.as_bytes()).is_some());
        // Errors a type recovers from still send the message to serde_json.
        assert_eq!(from_slice::<Either>(b"300"), None);
        assert_eq!(from_slice::<Either>(b"200"), Some(Either::Small(200)));
        assert_eq!(
            from_slice::<Body<Payload>>(br#"{"type":"strict","inner":{"a":1,"b":2}}"#),
            None
        );
        assert_eq!(
            from_slice::<StrictInner>(br#"{"a":1,"a":2}"#),
            None,
            "a duplicate field"
        );
        assert_eq!(
            from_slice::<Mode>(br#"{"slow":3}"#),
            None,
            "a variant with data"
        );
        assert_eq!(from_slice::<Mode>(br#""fast""#), Some(Mode::Fast));
        for input in [r#"{"slow":3}"#, r#""slow""#, r#""medium""#] {
            agrees::<Mode>(input.as_bytes()).unwrap();
        }
    }

    /// JSON values, most of them in the subset this reader handles.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0u64..2000).prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-z_]{0,8}".prop_map(Value::from),
            ".{0,4}".prop_map(Value::from),
            Just(Value::from("type")),
            Just(Value::from("read_ok")),
            Just(Value::from("gossip")),
            Just(Value::from("fast")),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("type".to_owned()),
                            Just("messages".to_owned()),
                            Just("values".to_owned()),
                            Just("msg_id".to_owned()),
                            Just("in_reply_to".to_owned()),
                            Just("a".to_owned()),
                            "[a-z]{1,6}",
                            ".{0,3}",
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// Our messages' payloads, as JSON.
    fn message() -> impl Strategy<Value = Value> {
        let numbers = prop::collection::vec(prop_oneof![0u64..1000, any::<u64>()], 0..20);
        prop_oneof![
            any::<u64>().prop_map(|message| serde_json::json!({"type": "broadcast", "message": message})),
            numbers.clone().prop_map(|messages| serde_json::json!({"type": "read_ok", "messages": messages})),
            (numbers, any::<Option<u32>>(), "[a-z0-9]{0,4}").prop_map(|(values, round, peer)| {
                serde_json::json!({"type": "gossip", "values": values, "round": round, "peer": peer})
            }),
            (any::<u16>(), any::<bool>(), any::<u8>()).prop_map(|(a, flag, small)| {
                serde_json::json!({"type": "status", "small": small, "signed": a, "ratio": a,
                    "mode": if flag { "fast" } else { "slow" },
                    "nested": {"flag": flag, "unit": null, "keys": {"k": a}}, "tuple": [a, flag]})
            }),
            (0u64..300).prop_map(|value| serde_json::json!({"type": "either", "value": value})),
            (any::<u64>(), any::<bool>()).prop_map(|(a, extra)| if extra {
                serde_json::json!({"type": "strict", "inner": {"a": a, "b": 1}})
            } else {
                serde_json::json!({"type": "strict", "inner": {"a": a}})
            }),
        ]
        .prop_flat_map(|message| {
            (any::<Option<u64>>(), any::<Option<u64>>(), any::<bool>()).prop_map(move |(id, re, first)| {
                let mut message = message.clone();
                let map = message.as_object_mut().expect("an object");
                if let Some(id) = id {
                    map.insert("msg_id".to_owned(), id.into());
                }
                if let Some(re) = re {
                    map.insert("in_reply_to".to_owned(), re.into());
                }
                if first {
                    // The tag somewhere other than first (serde_json's maps keep keys sorted).
                    map.insert("aaa".to_owned(), Value::Null);
                }
                message
            })
        })
    }

    /// `bytes` changed at one place, towards what trips a JSON reader: a byte replaced, removed
    /// or inserted, a comma before a closing bracket or after an opening one, or a number's first digit replaced by
    /// the start of a number serde_json reads differently or refuses.
    fn mutate(bytes: &[u8], at: usize, op: u8, pick: u8) -> Vec<u8> {
        const TRICKY: &[u8] = b"[]{},:\"\\-+.eE0123456789 \tntf\x00\x1f\x7f\xc3\xff";
        const NUMBERS: &[&[u8]] = &[b"01", b"-1", b"1.5", b"1e2", b"18446744073709551616", b"-0"];
        let mut out = bytes.to_vec();
        let at = at % (out.len() + 1);
        let byte = TRICKY[usize::from(pick) % TRICKY.len()];
        // The first position at or after `at` (wrapping) whose byte is one of `of`.
        let find = |of: &[u8]| {
            (0..out.len())
                .map(|i| (at + i) % out.len())
                .find(|&i| of.contains(&out[i]))
        };
        match op % 5 {
            0 if at < out.len() => out[at] = byte,
            1 if at < out.len() => {
                out.remove(at);
            }
            2 if pick % 2 == 0 => {
                if let Some(i) = find(b"]}") {
                    out.insert(i, b',');
                }
            }
            2 => {
                if let Some(i) = find(b"[{") {
                    out.insert(i + 1, b',');
                }
            }
            3 => {
                if let Some(i) = find(b"0123456789") {
                    let number = NUMBERS[usize::from(pick) % NUMBERS.len()];
                    out.splice(i..=i, number.iter().copied());
                }
            }
            _ => out.insert(at, byte),
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn fast_path_matches_serde_json(value in value(), pretty in any::<bool>()) {
            let bytes = if pretty {
                serde_json::to_vec_pretty(&value).unwrap()
            } else {
                serde_json::to_vec(&value).unwrap()
            };
            agrees_all(&bytes).map_err(TestCaseError::fail)?;
        }

        #[test]
        fn fast_path_reads_messages_as_serde_json_does(message in message()) {
            let bytes = serde_json::to_vec(&message).unwrap();
            agrees_all(&bytes).map_err(TestCaseError::fail)?;
            // A well-formed message of the subset is read by the fast path itself.
            if serde_json::from_slice::<Body<Payload>>(&bytes).is_ok()
                && !matches!(message["type"].as_str(), Some("either" | "strict"))
            {
                prop_assert!(from_slice::<Body<Payload>>(&bytes).is_some(), "{message}");
            }
        }

        #[test]
        fn fast_path_matches_serde_json_on_damaged_input(
            message in message(),
            edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = serde_json::to_vec(&message).unwrap();
            for (at, op, byte) in edits {
                bytes = mutate(&bytes, at, op, byte);
            }
            agrees_all(&bytes).map_err(TestCaseError::fail)?;
        }
    }
}
