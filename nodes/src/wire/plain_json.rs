//! A JSON reader for the plain subset of JSON that messages are made of, much cheaper than
//! serde_json on them: objects, arrays, strings without escapes, non-negative integers that
//! fit a `u64`, `true`, `false` and `null`.
//!
//! It is a shortcut, never the judge: anything outside that subset (an escape, a float, a
//! negative number, deep nesting, an enum, bytes) is an error, and the caller then reads the
//! same bytes with serde_json. Within the subset it hands every visitor what serde_json's
//! deserializer hands it (the same `visit_*` calls with the same values), so whatever it
//! decodes, serde_json decodes to the same value.

use serde::de::{self, DeserializeSeed, Visitor};
use std::fmt;

/// Why the plain reader stopped: the input is outside its subset (or not JSON at all).
#[derive(Debug)]
pub(crate) struct NotPlain(String);

impl fmt::Display for NotPlain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not plain JSON: {}", self.0)
    }
}

impl std::error::Error for NotPlain {}

impl de::Error for NotPlain {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        NotPlain(msg.to_string())
    }
}

/// Nesting allowed (serde_json allows 128; staying below it means that whatever this reader
/// accepts, serde_json accepts too).
const MAX_DEPTH: usize = 100;

/// Decodes a `T` from `bytes`, which must hold one plain JSON value (and whitespace).
pub(crate) fn from_slice<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, NotPlain> {
    let mut r = Reader {
        bytes,
        at: 0,
        depth: 0,
    };
    let value = T::deserialize(&mut r)?;
    r.skip_ws();
    if r.at != bytes.len() {
        return Err(r.stop("trailing characters"));
    }
    Ok(value)
}

struct Reader<'de> {
    bytes: &'de [u8],
    at: usize,
    depth: usize,
}

impl<'de> Reader<'de> {
    #[cold]
    fn stop(&self, what: &str) -> NotPlain {
        NotPlain(format!("{what} at byte {}", self.at))
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.at).copied()
    }

    #[inline]
    fn expect(&mut self, b: u8) -> Result<(), NotPlain> {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.stop("unexpected character"))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), NotPlain> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.stop("invalid literal"))
        }
    }

    /// A string without escapes, the opening quote next.
    fn string(&mut self) -> Result<&'de str, NotPlain> {
        self.expect(b'"')?;
        let start = self.at;
        let rest = &self.bytes[start..];
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .ok_or_else(|| self.stop("unterminated string"))?;
        if rest[len] != b'"' {
            return Err(self.stop("escape or control character in a string"));
        }
        let text = std::str::from_utf8(&rest[..len]).map_err(|_| self.stop("invalid UTF-8"))?;
        self.at = start + len + 1;
        Ok(text)
    }

    /// A non-negative integer that fits a `u64`, its first digit next.
    #[inline]
    fn integer(&mut self) -> Result<u64, NotPlain> {
        let rest = &self.bytes[self.at..];
        let mut n: u64 = 0;
        let mut digits = 0;
        // Up to 19 digits cannot overflow; a 20th is checked.
        while let Some(&b) = rest.get(digits) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            n = if digits < 19 {
                n * 10 + u64::from(d)
            } else {
                match n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d))) {
                    Some(n) => n,
                    None => return Err(self.stop("integer over u64")),
                }
            };
            digits += 1;
        }
        let next = rest.get(digits).copied();
        if digits == 0
            || (digits > 1 && rest[0] == b'0')
            || matches!(next, Some(b'.' | b'e' | b'E'))
        {
            return Err(self.stop("not a plain integer"));
        }
        self.at += digits;
        Ok(n)
    }

    fn nest(&mut self) -> Result<(), NotPlain> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.stop("nested too deep"));
        }
        Ok(())
    }

    /// Skips one value, checking it is plain.
    fn skip(&mut self) -> Result<(), NotPlain> {
        match self.peek() {
            Some(b'{') => {
                self.nest()?;
                self.at += 1;
                let mut first = true;
                loop {
                    if self.peek() == Some(b'}') {
                        self.at += 1;
                        break;
                    }
                    if !first {
                        self.expect(b',')?;
                    }
                    first = false;
                    self.string()?;
                    self.expect(b':')?;
                    self.skip()?;
                }
                self.depth -= 1;
            }
            Some(b'[') => {
                self.nest()?;
                self.at += 1;
                let mut first = true;
                loop {
                    if self.peek() == Some(b']') {
                        self.at += 1;
                        break;
                    }
                    if !first {
                        self.expect(b',')?;
                    }
                    first = false;
                    self.skip()?;
                }
                self.depth -= 1;
            }
            Some(b'"') => {
                self.string()?;
            }
            Some(b'0'..=b'9') => {
                self.integer()?;
            }
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            _ => return Err(self.stop("not a plain value")),
        }
        Ok(())
    }
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = NotPlain;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        match self.peek() {
            Some(b'{') => self.deserialize_map(visitor),
            Some(b'[') => self.deserialize_seq(visitor),
            Some(b'"') => visitor.visit_borrowed_str(self.string()?),
            Some(b'0'..=b'9') => visitor.visit_u64(self.integer()?),
            Some(b't') => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            Some(b'n') => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            _ => Err(self.stop("not a plain value")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        match self.peek() {
            Some(b't' | b'f') => self.deserialize_any(visitor),
            _ => Err(self.stop("not a boolean")),
        }
    }

    /// Every integer type, as serde_json reads them: the number goes to `visit_u64`, and the
    /// visitor checks its range.
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        match self.peek() {
            Some(b'0'..=b'9') => visitor.visit_u64(self.integer()?),
            _ => Err(self.stop("not a plain integer")),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        match self.peek() {
            Some(b'"') => visitor.visit_borrowed_str(self.string()?),
            _ => Err(self.stop("not a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            visitor.visit_unit()
        } else {
            Err(self.stop("not null"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, NotPlain> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, NotPlain> {
        // serde_json reads its own raw-value type differently.
        if name.starts_with("$serde_json") {
            return Err(self.stop("a serde_json special type"));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.expect(b'[')?;
        self.nest()?;
        let value = visitor.visit_seq(Elements {
            r: &mut *self,
            first: true,
        })?;
        // Elements the visitor left unread make serde_json fail: stop here too.
        self.expect(b']')?;
        self.depth -= 1;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, NotPlain> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, NotPlain> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.expect(b'{')?;
        self.nest()?;
        let value = visitor.visit_map(Entries {
            r: &mut *self,
            first: true,
        })?;
        self.expect(b'}')?;
        self.depth -= 1;
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NotPlain> {
        // (serde_json also reads a struct from an array; that is left to it.)
        self.deserialize_map(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.skip()?;
        visitor.visit_unit()
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, NotPlain> {
        Err(self.stop("an enum (left to serde_json)"))
    }

    fn deserialize_char<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, NotPlain> {
        Err(self.stop("a char (left to serde_json)"))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, NotPlain> {
        Err(self.stop("bytes (left to serde_json)"))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, NotPlain> {
        Err(self.stop("bytes (left to serde_json)"))
    }
}

/// The elements of an array, after its `[`.
struct Elements<'a, 'de> {
    r: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, 'de> {
    type Error = NotPlain;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, NotPlain> {
        if self.r.peek() == Some(b']') {
            return Ok(None);
        }
        if !self.first {
            self.r.expect(b',')?;
        }
        self.first = false;
        seed.deserialize(&mut *self.r).map(Some)
    }
}

/// The entries of an object, after its `{`.
struct Entries<'a, 'de> {
    r: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> de::MapAccess<'de> for Entries<'_, 'de> {
    type Error = NotPlain;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, NotPlain> {
        if self.r.peek() == Some(b'}') {
            return Ok(None);
        }
        if !self.first {
            self.r.expect(b',')?;
        }
        self.first = false;
        if self.r.peek() != Some(b'"') {
            return Err(self.r.stop("a key that is not a string"));
        }
        seed.deserialize(Key(&mut *self.r)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, NotPlain> {
        self.r.expect(b':')?;
        seed.deserialize(&mut *self.r)
    }
}

/// What a key read as anything but a string is (serde_json parses numbers and booleans inside
/// the quotes, and more; all that is left to it).
const KEY_AS_OTHER: &str = "a key read as another type than a string";

/// Key methods that refuse, leaving the input to serde_json.
macro_rules! left_to_serde_json {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, NotPlain> {
                Err(self.0.stop(KEY_AS_OTHER))
            }
        )*
    };
}

/// An object's key: a string, handed over as serde_json hands keys to string-like types
/// (other uses, such as integer keys, are left to serde_json).
struct Key<'a, 'de>(&'a mut Reader<'de>);

impl<'de> de::Deserializer<'de> for Key<'_, 'de> {
    type Error = NotPlain;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        visitor.visit_borrowed_str(self.0.string()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_any(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_any(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.deserialize_any(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NotPlain> {
        self.0.string()?;
        visitor.visit_unit()
    }

    left_to_serde_json! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, NotPlain> {
        Err(self.0.stop(KEY_AS_OTHER))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, NotPlain> {
        Err(self.0.stop(KEY_AS_OTHER))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, NotPlain> {
        Err(self.0.stop(KEY_AS_OTHER))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, NotPlain> {
        Err(self.0.stop(KEY_AS_OTHER))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, NotPlain> {
        Err(self.0.stop(KEY_AS_OTHER))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, NotPlain> {
        Err(self.0.stop(KEY_AS_OTHER))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Payload;
    use super::super::Body;
    use rand::{Rng, SeedableRng};
    use serde::de::DeserializeOwned;
    use serde::Deserialize;
    use std::collections::BTreeMap;
    use std::fmt::Debug;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Fields {
        n: u32,
        name: String,
        maybe: Option<u64>,
        #[serde(default)]
        flag: bool,
        list: Vec<u8>,
        pair: (u64, String),
        score: f64,
        nested: BTreeMap<String, Vec<String>>,
    }

    /// Whatever the plain reader decodes, serde_json decodes to the same value.
    fn agrees<T: DeserializeOwned + PartialEq + Debug>(input: &[u8]) -> bool {
        let plain = super::from_slice::<T>(input);
        if let Ok(plain) = &plain {
            let general = serde_json::from_slice::<T>(input);
            assert_eq!(
                general.as_ref().ok(),
                Some(plain),
                "{}: {general:?}",
                String::from_utf8_lossy(input)
            );
        }
        plain.is_ok()
    }

    fn all_agree(input: &[u8]) -> [bool; 6] {
        [
            agrees::<serde_json::Value>(input),
            agrees::<Body<Payload>>(input),
            agrees::<Body<serde_json::Value>>(input),
            agrees::<Vec<u64>>(input),
            agrees::<Option<Vec<Option<u64>>>>(input),
            agrees::<Fields>(input),
        ]
    }

    const SAMPLES: &[&str] = &[
        r#"{"msg_id":1,"type":"echo","echo":"hi"}"#,
        r#" { "in_reply_to" : 3 , "type" : "echo_ok" , "echo" : "h\u00e9" } "#,
        r#"{"type":"echo","echo":"a\"b","msg_id":2}"#,
        r#"{"n":7,"name":"x","maybe":null,"list":[1,2,255],"pair":[9,"y"],"score":3,"nested":{"a":["b"]}}"#,
        r#"{"n":7,"name":"x","list":[],"pair":[0,""],"score":2.5,"nested":{},"flag":true,"extra":[{"k":[null,false]}]}"#,
        r#"{"n":70000,"name":"x","list":[256],"pair":[1,"y"],"score":1,"nested":{}}"#,
        "[1,2,3]",
        "[0,18446744073709551615]",
        "[18446744073709551616]",
        "[01]",
        "[-1]",
        "[1.0]",
        "[1e3]",
        "[1,]",
        "[null,4]",
        r#"{"a":1,}"#,
        r#"{"a":1}x"#,
        "null",
        "",
        "{\"a\":\"\u{7f}\u{e9}\"}",
        "{\"a\":\"\t\"}",
    ];

    #[test]
    fn plain_messages_are_read_and_agree_with_serde_json() {
        for sample in SAMPLES {
            all_agree(sample.as_bytes());
        }
        // The shapes messages take are read here, not left to serde_json.
        assert_eq!(
            all_agree(SAMPLES[0].as_bytes()),
            [true, true, true, false, false, false]
        );
        assert!(
            agrees::<Fields>(SAMPLES[3].as_bytes()),
            "an integer read as a float"
        );
        assert!(
            !agrees::<Fields>(SAMPLES[4].as_bytes()),
            "a float is left to serde_json"
        );
        assert!(agrees::<Vec<u64>>(b"[1,2,3]"));
        assert!(agrees::<Vec<u64>>(b"[0,18446744073709551615]"));
        // Escapes, floats, negatives, overflow and trailing junk are left to serde_json.
        for sample in [
            SAMPLES[2],
            "[-1]",
            "[1.0]",
            "[18446744073709551616]",
            "[1]x",
        ] {
            assert!(!agrees::<serde_json::Value>(sample.as_bytes()), "{sample}");
        }
    }

    #[test]
    fn damaged_messages_never_read_differently() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(22);
        let alphabet = b"{}[]\":,0123456789 -.eEtrufalsn\\xy\t";
        let mut read = 0;
        for _ in 0..20_000 {
            let mut input = SAMPLES[rng.random_range(0..SAMPLES.len())]
                .as_bytes()
                .to_vec();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..=input.len());
                match rng.random_range(0..3) {
                    0 if at < input.len() => {
                        input.remove(at);
                    }
                    1 if at < input.len() => {
                        input[at] = alphabet[rng.random_range(0..alphabet.len())];
                    }
                    _ => input.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                }
            }
            read += all_agree(&input).iter().filter(|ok| **ok).count();
        }
        assert!(read > 1000, "only {read} damaged inputs were plain");
    }
}
