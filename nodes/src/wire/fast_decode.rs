//! Decoding in one pass: a [`Body`]'s ids are taken out wherever they stand while its payload
//! reads the rest, and [`tagged_deserialize!`](crate::tagged_deserialize) decodes a tagged
//! payload without serde's buffering. Behaviour is the derive's; only the cost differs.

use super::{Body, MsgId};
use serde::de::{self, Deserialize};
use std::fmt;
use std::marker::PhantomData;

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

#[cfg(test)]
mod tests {
    use super::super::tests::Payload;
    use super::super::{decode, Body};
    use serde::Deserialize;

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
}
