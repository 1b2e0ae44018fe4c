//! A note's kind and data read straight off its adjacently tagged serialization, without first
//! building the `{"kind": .., "data": ..}` object: [`Note::typed`](crate::Note::typed) writes a
//! note per state change, and the object (a map, two keys, a string value, then taking them out
//! again) was most of what a small note cost.
//!
//! Only the shape serde's `#[serde(tag = "kind", content = "data")]` writes is taken: a struct
//! whose fields are `kind` (a unit variant's name, or a string) and, unless the variant has no
//! content, `data`. Anything else is refused, and `Note::typed` then takes its general path,
//! which gives the same note (or says why there is none).

use crate::node::Note;
use serde::ser::{self, Impossible, Serialize};
use std::fmt;

/// Why this path refused a value (never shown: the general path takes over).
#[derive(Debug)]
pub(super) struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a {kind, data} struct")
    }
}

impl std::error::Error for Refused {}

impl ser::Error for Refused {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Refused
    }
}

/// The note `value` serializes as, if it has the adjacently tagged shape.
pub(super) fn note<T: Serialize + ?Sized>(value: &T) -> Option<Note> {
    value.serialize(Shape).ok()
}

/// Refuses every shape but a struct.
struct Shape;

/// The struct's fields so far.
struct Fields {
    kind: Option<String>,
    data: Option<serde_json::Value>,
}

impl ser::SerializeStruct for Fields {
    type Ok = Note;
    type Error = Refused;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Refused> {
        match key {
            "kind" if self.kind.is_none() => self.kind = Some(value.serialize(Kind)?),
            "data" if self.data.is_none() => {
                self.data = Some(serde_json::to_value(value).map_err(|_| Refused)?)
            }
            _ => return Err(Refused),
        }
        Ok(())
    }

    fn end(self) -> Result<Note, Refused> {
        Ok(Note {
            kind: self.kind.ok_or(Refused)?,
            data: self.data.unwrap_or(serde_json::Value::Null),
        })
    }
}

/// Refuses every value of a serializer's method, in one line each.
macro_rules! refuse {
    ($($name:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $arg),*) -> Result<Self::Ok, Refused> {
            Err(Refused)
        })*
    };
}

/// Refuses every value but a string, a unit variant and a struct (each serializer says what
/// it does with those).
macro_rules! refuse_others {
    () => {
        refuse!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_f32(f32),
            serialize_f64(f64),
            serialize_char(char),
            serialize_bytes(&[u8]),
            serialize_none(),
            serialize_unit(),
            serialize_unit_struct(&'static str),
        );
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Self::Ok, Refused> {
            Err(Refused)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: &T,
        ) -> Result<Self::Ok, Refused> {
            Err(Refused)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<Self::Ok, Refused> {
            Err(Refused)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Refused> {
            Err(Refused)
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Refused> {
            Err(Refused)
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Refused> {
            Err(Refused)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Refused> {
            Err(Refused)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Refused> {
            Err(Refused)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Refused> {
            Err(Refused)
        }
    };
}

impl ser::Serializer for Shape {
    type Ok = Note;
    type Error = Refused;
    type SerializeSeq = Impossible<Note, Refused>;
    type SerializeTuple = Impossible<Note, Refused>;
    type SerializeTupleStruct = Impossible<Note, Refused>;
    type SerializeTupleVariant = Impossible<Note, Refused>;
    type SerializeMap = Impossible<Note, Refused>;
    type SerializeStruct = Fields;
    type SerializeStructVariant = Impossible<Note, Refused>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields, Refused> {
        Ok(Fields {
            kind: None,
            data: None,
        })
    }

    refuse_others!();
    refuse!(
        serialize_str(&str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );
}

/// The `kind` field: a unit variant's name (what serde writes for the tag) or a string.
struct Kind;

impl ser::Serializer for Kind {
    type Ok = String;
    type Error = Refused;
    type SerializeSeq = Impossible<String, Refused>;
    type SerializeTuple = Impossible<String, Refused>;
    type SerializeTupleStruct = Impossible<String, Refused>;
    type SerializeTupleVariant = Impossible<String, Refused>;
    type SerializeMap = Impossible<String, Refused>;
    type SerializeStruct = Impossible<String, Refused>;
    type SerializeStructVariant = Impossible<String, Refused>;

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, Refused> {
        Ok(variant.to_owned())
    }

    fn serialize_str(self, s: &str) -> Result<String, Refused> {
        Ok(s.to_owned())
    }

    refuse_others!();

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Refused> {
        Err(Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::json;

    /// The general path's answer: the note the `{kind, data}` object holds.
    fn general<T: Serialize>(value: &T) -> Option<Note> {
        let serde_json::Value::Object(mut object) = serde_json::to_value(value).ok()? else {
            return None;
        };
        let data = object.remove("data").unwrap_or(serde_json::Value::Null);
        match (object.remove("kind"), object.is_empty()) {
            (Some(serde_json::Value::String(kind)), true) => Some(Note { kind, data }),
            _ => None,
        }
    }

    #[derive(Serialize)]
    #[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
    enum Tagged {
        Learn(Vec<u64>),
        Applied { delta: u64, from: Option<String> },
        Reset,
        Pair(u8, String),
    }

    #[derive(Serialize)]
    struct Loose {
        kind: String,
        data: u64,
    }

    #[derive(Serialize)]
    struct Extra {
        kind: &'static str,
        data: u64,
        more: u64,
    }

    #[derive(Serialize)]
    struct NumberKind {
        kind: u64,
    }

    #[test]
    fn takes_the_adjacently_tagged_shape_as_the_general_path_does() {
        fn same<T: Serialize>(value: &T) {
            let fast = note(value);
            assert!(fast.is_some());
            assert_eq!(fast, general(value));
        }
        same(&Tagged::Learn(vec![1, 2, 300]));
        same(&Tagged::Applied {
            delta: 3,
            from: None,
        });
        same(&Tagged::Reset);
        same(&Tagged::Pair(7, "x".into()));
        same(&Loose {
            kind: "k".into(),
            data: 4,
        });
        assert_eq!(
            note(&Tagged::Reset).map(|n| (n.kind, n.data)),
            Some(("reset".into(), json!(null)))
        );
    }

    #[test]
    fn refuses_every_other_shape() {
        let extra = Extra {
            kind: "k",
            data: 1,
            more: 2,
        };
        assert!(note(&extra).is_none());
        assert!(note(&NumberKind { kind: 3 }).is_none());
        assert!(note(&json!({"kind": "k", "data": 1})).is_none(), "a map");
        assert!(note(&5u64).is_none());
        assert!(note(&vec![1u8]).is_none());
    }
}
