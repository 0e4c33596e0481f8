//! Shared machinery for the `Serialize`/`Deserialize` impls of generated types.
//!
//! Generated objects are plain structs with one field per lexicon property and
//! an [`Extra`] field that keeps properties the lexicon does not (yet) know, so
//! data written by a newer schema round-trips. Their serde impls are generated
//! as straight-line visitors: no `#[serde(flatten)]` and no `untagged` enums,
//! both of which buffer every value through an intermediate tree.
//!
//! Unions are tagged by `$type`. [`deserialize_union`] reads the first key; when
//! it is `$type` (as written by every atproto implementation) it dispatches
//! straight to the member's decoder without buffering. Otherwise it buffers the
//! object once and dispatches from the buffer.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `$type` key.
pub const TYPE_KEY: &str = "$type";

/// Object properties that the lexicon does not declare, kept verbatim.
///
/// Empty in the common case, and then it costs one pointer and no allocation.
#[derive(Clone, Default, PartialEq)]
pub struct Extra(Option<Box<Map<String, Value>>>);

impl Extra {
    /// An empty set of extra properties.
    pub const fn new() -> Self {
        Extra(None)
    }

    /// True when no unknown property was seen or set.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|m| m.is_empty())
    }

    /// The value of an unknown property.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.as_ref()?.get(key)
    }

    /// Sets an unknown property; returns the value it replaces.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.0
            .get_or_insert_with(Default::default)
            .insert(key.into(), value)
    }

    /// Removes an unknown property.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.as_mut()?.remove(key)
    }

    /// Iterates over the unknown properties in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().flat_map(|m| m.iter())
    }

    /// Reads the value of the current map entry as an unknown property.
    /// Called by generated visitors for keys they do not declare.
    pub fn read_entry<'de, A: MapAccess<'de>>(
        &mut self,
        key: Key<'de>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let value: Value = map.next_value()?;
        self.insert(key.0.into_owned(), value);
        Ok(())
    }

    /// Writes the unknown properties into a map being serialized. When the
    /// caller has already written `$type` (union members, records), a `$type`
    /// kept here is skipped so that it is never written twice.
    pub fn serialize_into<M: SerializeMap>(
        &self,
        map: &mut M,
        type_written: bool,
    ) -> Result<(), M::Error> {
        for (k, v) in self.iter() {
            if type_written && k == TYPE_KEY {
                continue;
            }
            map.serialize_entry(k, v)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Extra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl From<Map<String, Value>> for Extra {
    fn from(map: Map<String, Value>) -> Self {
        if map.is_empty() {
            Extra(None)
        } else {
            Extra(Some(Box::new(map)))
        }
    }
}

/// A map key, borrowed from the input where the deserializer allows it.
#[derive(Debug)]
pub struct Key<'de>(pub Cow<'de, str>);

impl Key<'_> {
    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CowStrVisitor).map(Key)
    }
}

struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// Unwraps a required property after a generated visitor has read the map.
#[inline]
pub fn required<T, E: de::Error>(value: Option<T>, name: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(name))
}

/// Fails on a property that occurs twice in one object.
#[inline]
pub fn set_once<T, E: de::Error>(
    slot: &mut Option<T>,
    value: T,
    name: &'static str,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

/// Implemented by every generated object: writes its properties (and its
/// [`Extra`]) into a map that the caller opened and will close. Lets a union
/// or record write `$type` first and the member's fields after it in one map.
pub trait ObjectFields {
    /// Writes the properties. `type_written` tells whether `$type` is already in the map.
    fn serialize_fields<M: SerializeMap>(
        &self,
        map: &mut M,
        type_written: bool,
    ) -> Result<(), M::Error>;
}

/// Serializes an object as a plain map.
pub fn serialize_object<S: Serializer, T: ObjectFields + ?Sized>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    value.serialize_fields(&mut map, false)?;
    map.end()
}

/// Serializes an object with `$type` as its first key: union members and records.
pub fn serialize_typed<S: Serializer, T: ObjectFields + ?Sized>(
    type_name: &str,
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry(TYPE_KEY, type_name)?;
    value.serialize_fields(&mut map, true)?;
    map.end()
}

/// Implemented by every generated union: decodes the member named by `$type`.
pub trait Union: Sized {
    /// The lexicon name of the union, for error messages.
    const NAME: &'static str;

    /// Decodes the member whose `$type` is `type_name` from the rest of the
    /// object. Open unions turn an unlisted `$type` into their `Unknown`
    /// variant; closed unions refuse it.
    fn decode_member<'de, D: Deserializer<'de>>(type_name: &str, rest: D)
        -> Result<Self, D::Error>;
}

/// The struct name a union asks for (`deserialize_struct(UNION_TOKEN, ..)`),
/// so that a binary deserializer knows the visitor wants `$type` before the
/// other entries. Canonical DAG-CBOR sorts shorter keys (`cid`, `uri`)
/// before `$type`; atmo-sync's deserializer looks ahead for `$type` only
/// when it sees this name, and hands other maps out in stored order. Other
/// deserializers treat it as any struct name (a map).
pub const UNION_TOKEN: &str = "$atproto::union";

/// The `Deserialize` body of every generated union.
pub fn deserialize_union<'de, U: Union, D: Deserializer<'de>>(d: D) -> Result<U, D::Error> {
    d.deserialize_struct(UNION_TOKEN, &[TYPE_KEY], UnionVisitor(PhantomData))
}

struct UnionVisitor<U>(PhantomData<U>);

impl<'de, U: Union> Visitor<'de> for UnionVisitor<U> {
    type Value = U;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with a $type, member of union {}", U::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<U, A::Error> {
        let Some(first) = map.next_key::<Key<'de>>()? else {
            return Err(de::Error::custom(format_args!(
                "missing $type in an object of union {}",
                U::NAME
            )));
        };
        if first.as_str() == TYPE_KEY {
            let type_name: Key<'de> = map.next_value()?;
            return U::decode_member(
                type_name.as_str(),
                de::value::MapAccessDeserializer::new(map),
            );
        }
        // `$type` is not first: buffer the object once, then dispatch.
        let mut buffered = Map::new();
        buffered.insert(first.0.into_owned(), map.next_value()?);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            buffered.insert(key.0.into_owned(), map.next_value()?);
        }
        let type_name = match buffered.remove(TYPE_KEY) {
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(de::Error::custom(format_args!(
                    "$type of a {} member is not a string",
                    U::NAME
                )))
            }
            None => {
                return Err(de::Error::custom(format_args!(
                    "missing $type in an object of union {}",
                    U::NAME
                )))
            }
        };
        U::decode_member(&type_name, buffered.into_deserializer()).map_err(de::Error::custom)
    }
}

/// An object in an open union whose `$type` this build does not know.
/// Keeps everything, so it is written back exactly as it came.
#[derive(Clone, Debug, PartialEq)]
pub struct UnknownObject {
    /// The `$type` it carried.
    pub type_name: String,
    /// Its other properties.
    pub data: Map<String, Value>,
}

impl UnknownObject {
    /// Decodes the rest of an object whose `$type` was already read.
    pub fn decode_rest<'de, D: Deserializer<'de>>(
        type_name: &str,
        rest: D,
    ) -> Result<Self, D::Error> {
        let data = Map::deserialize(rest)?;
        Ok(UnknownObject {
            type_name: type_name.to_owned(),
            data,
        })
    }
}

impl Serialize for UnknownObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.data.len() + 1))?;
        map.serialize_entry(TYPE_KEY, &self.type_name)?;
        for (k, v) in &self.data {
            if k != TYPE_KEY {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for UnknownObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut data = Map::deserialize(d)?;
        match data.remove(TYPE_KEY) {
            Some(Value::String(type_name)) => Ok(UnknownObject { type_name, data }),
            _ => Err(de::Error::custom("an object without a string $type")),
        }
    }
}

/// The error for an unlisted `$type` in a closed union.
pub fn closed_union_error<E: de::Error>(union_name: &str, type_name: &str) -> E {
    E::custom(format_args!(
        "$type {type_name:?} is not a member of closed union {union_name}"
    ))
}

/// A closed set of string values (a lexicon string `enum`, or the known part of
/// a `knownValues` list). Generated enums implement it; [`Open`] builds the
/// open form on it.
pub trait StringEnum: Sized + Copy + 'static {
    /// The lexicon name, for error messages.
    const NAME: &'static str;
    /// The wire value.
    fn as_str(&self) -> &'static str;
    /// The variant for a wire value.
    fn from_wire(s: &str) -> Option<Self>;
}

/// Serializes a [`StringEnum`] as its wire string.
pub fn serialize_string_enum<S: Serializer, T: StringEnum>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_str())
}

/// Deserializes a closed [`StringEnum`]; an unlisted value is an error.
pub fn deserialize_string_enum<'de, D: Deserializer<'de>, T: StringEnum>(
    d: D,
) -> Result<T, D::Error> {
    let key = Key::deserialize(d)?;
    T::from_wire(key.as_str()).ok_or_else(|| {
        de::Error::custom(format_args!(
            "{:?} is not one of the values of {}",
            key.as_str(),
            T::NAME
        ))
    })
}

/// A lexicon `knownValues` string: one of the values known when the code was
/// generated, or any other string (the list is open by definition).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Open<T> {
    /// A value listed in the lexicon.
    Known(T),
    /// A value this build does not know.
    Other(String),
}

impl<T: StringEnum> Open<T> {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Open::Known(k) => k.as_str(),
            Open::Other(s) => s,
        }
    }

    /// The known variant, if it is one.
    pub fn known(&self) -> Option<T> {
        match self {
            Open::Known(k) => Some(*k),
            Open::Other(_) => None,
        }
    }
}

impl<T: StringEnum> From<T> for Open<T> {
    fn from(v: T) -> Self {
        Open::Known(v)
    }
}

impl<T: StringEnum> From<&str> for Open<T> {
    fn from(s: &str) -> Self {
        T::from_wire(s).map_or_else(|| Open::Other(s.to_owned()), Open::Known)
    }
}

impl<T: StringEnum> From<String> for Open<T> {
    fn from(s: String) -> Self {
        T::from_wire(&s).map_or(Open::Other(s), Open::Known)
    }
}

impl<T: StringEnum> fmt::Display for Open<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<T: StringEnum> fmt::Debug for Open<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<T: StringEnum> Serialize for Open<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, T: StringEnum> Deserialize<'de> for Open<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = Key::deserialize(d)?;
        Ok(match T::from_wire(key.as_str()) {
            Some(k) => Open::Known(k),
            None => Open::Other(key.0.into_owned()),
        })
    }
}

/// Reads a property that is both optional and nullable: absent is `None`,
/// `null` is `Some(None)`.
pub struct NullableSeed<T>(PhantomData<T>);

impl<T> Default for NullableSeed<T> {
    fn default() -> Self {
        NullableSeed(PhantomData)
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for NullableSeed<T> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        Option::<T>::deserialize(d)
    }
}

/// Records: objects stored in a repository under a collection NSID.
pub trait Record: Serialize + for<'de> Deserialize<'de> {
    /// The collection NSID, also the record's `$type`.
    const NSID: &'static str;
    /// The lexicon's record-key type: `tid`, `nsid`, `any` or `literal:<value>`.
    const KEY: &'static str;

    /// Checks the record against its lexicon's constraints (every violation,
    /// with its path). Generated records override it with their
    /// [`crate::validate::Validate`] impl; `$type` needs no check here, since
    /// encoding always writes `NSID`.
    fn validate_record(&self) -> Result<(), crate::validate::ValidationError> {
        Ok(())
    }
}

/// `Debug` of a secret field (password, JWT, one-time token): `***` in place
/// of the value, `None` when absent. Generated `Debug` impls use it.
pub struct Redacted<'a, T: ?Sized>(pub &'a T);

/// Values a [`Redacted`] can hide.
pub trait RedactDebug {
    /// Writes the redacted form.
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl RedactDebug for String {
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T: RedactDebug> RedactDebug for Option<T> {
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Some(v) => f.debug_tuple("Some").field(&Redacted(v)).finish(),
            None => f.write_str("None"),
        }
    }
}

impl<T: RedactDebug + ?Sized> fmt::Debug for Redacted<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_redacted(f)
    }
}

/// Implemented by every generated object: reads its properties from a map.
/// [`deserialize_object`] wraps it into a `Deserialize` body, so generated
/// code needs no visitor type of its own.
pub trait DecodeObject<'de>: Sized {
    /// What the value is, for "invalid type" messages, e.g. `app.bsky.feed.post#main`.
    const EXPECTING: &'static str;
    /// Reads the object's properties (loop over `next_key::<Key>()`, `set_once`,
    /// `Extra::read_entry`, `required`).
    fn decode_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// The `Deserialize` body of every generated object.
pub fn deserialize_object<'de, T: DecodeObject<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<T, D::Error> {
    d.deserialize_map(ObjectVisitor(PhantomData))
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: DecodeObject<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object ({})", T::EXPECTING)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::decode_map(map)
    }
}

/// Reads the value of a record's `$type` property and checks that it names
/// the record's own NSID. Generated record decoders call it for `$type`; the
/// value is not kept, since serializing a record always writes its own `$type`.
pub fn expect_type<'de, A: MapAccess<'de>>(map: &mut A, expected: &str) -> Result<(), A::Error> {
    let found: Key<'de> = map.next_value()?;
    if found.as_str() == expected {
        Ok(())
    } else {
        Err(de::Error::custom(format_args!(
            "$type is {:?}, expected {expected:?}",
            found.as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Point {
        x: i64,
        extra: Extra,
    }

    impl ObjectFields for Point {
        fn serialize_fields<M: SerializeMap>(
            &self,
            map: &mut M,
            type_written: bool,
        ) -> Result<(), M::Error> {
            map.serialize_entry("x", &self.x)?;
            self.extra.serialize_into(map, type_written)
        }
    }

    impl<'de> Deserialize<'de> for Point {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Point;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a point")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Point, A::Error> {
                    let mut x = None;
                    let mut extra = Extra::new();
                    while let Some(key) = map.next_key::<Key<'de>>()? {
                        match key.as_str() {
                            "x" => set_once(&mut x, map.next_value()?, "x")?,
                            _ => extra.read_entry(key, &mut map)?,
                        }
                    }
                    Ok(Point {
                        x: required(x, "x")?,
                        extra,
                    })
                }
            }
            d.deserialize_map(V)
        }
    }

    #[derive(Debug, PartialEq)]
    enum Shape {
        Point(Box<Point>),
        Unknown(UnknownObject),
    }

    impl Union for Shape {
        const NAME: &'static str = "test.shape";
        fn decode_member<'de, D: Deserializer<'de>>(t: &str, rest: D) -> Result<Self, D::Error> {
            Ok(match t {
                "test.point" => Shape::Point(Box::new(Point::deserialize(rest)?)),
                _ => Shape::Unknown(UnknownObject::decode_rest(t, rest)?),
            })
        }
    }

    impl<'de> Deserialize<'de> for Shape {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize_union(d)
        }
    }

    impl Serialize for Shape {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Shape::Point(p) => serialize_typed("test.point", &**p, s),
                Shape::Unknown(u) => u.serialize(s),
            }
        }
    }

    fn round_trip(json: &str) -> Value {
        let shape: Shape = serde_json::from_str(json).unwrap();
        serde_json::to_value(&shape).unwrap()
    }

    #[test]
    fn union_with_type_first_round_trips_with_extras() {
        let json = r#"{"$type":"test.point","x":3,"later":[1,2]}"#;
        assert_eq!(
            round_trip(json),
            serde_json::from_str::<Value>(json).unwrap()
        );
    }

    #[test]
    fn union_with_type_later_is_buffered_and_still_decodes() {
        let json = r#"{"x":3,"$type":"test.point"}"#;
        let shape: Shape = serde_json::from_str(json).unwrap();
        assert!(matches!(&shape, Shape::Point(p) if p.x == 3));
        assert_eq!(serde_json::to_value(&shape).unwrap()["$type"], "test.point");
        assert_eq!(
            serde_json::to_string(&shape)
                .unwrap()
                .matches("$type")
                .count(),
            1
        );
    }

    #[test]
    fn unknown_member_is_kept_verbatim() {
        let json = r#"{"$type":"test.circle","r":2.5,"nested":{"a":null}}"#;
        assert!(matches!(
            serde_json::from_str::<Shape>(json).unwrap(),
            Shape::Unknown(_)
        ));
        assert_eq!(
            round_trip(json),
            serde_json::from_str::<Value>(json).unwrap()
        );
    }

    #[test]
    fn malformed_known_member_is_an_error_not_unknown() {
        let err = serde_json::from_str::<Shape>(r#"{"$type":"test.point","y":1}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `x`"), "{err}");
    }

    #[test]
    fn missing_type_is_an_error() {
        let err = serde_json::from_str::<Shape>(r#"{"x":1}"#).unwrap_err();
        assert!(err.to_string().contains("missing $type"), "{err}");
        assert!(serde_json::from_str::<Shape>("{}").is_err());
    }

    #[test]
    fn duplicate_property_is_an_error() {
        let err = serde_json::from_str::<Point>(r#"{"x":1,"x":2}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate field"), "{err}");
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Color {
        Red,
    }
    impl StringEnum for Color {
        const NAME: &'static str = "test.color";
        fn as_str(&self) -> &'static str {
            "red"
        }
        fn from_wire(s: &str) -> Option<Self> {
            (s == "red").then_some(Color::Red)
        }
    }

    #[test]
    fn open_string_keeps_unknown_values() {
        let v: Vec<Open<Color>> = serde_json::from_str(r#"["red","blue"]"#).unwrap();
        assert_eq!(v[0], Open::Known(Color::Red));
        assert_eq!(v[1], Open::Other("blue".into()));
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"["red","blue"]"#);
    }
}
