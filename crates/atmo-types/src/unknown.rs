//! [`Unknown`]: a lexicon `unknown` value, kept as its JSON text.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// The name serde_json gives the newtype struct that carries raw JSON text
/// (`serde_json::value::RawValue`'s wire protocol).
const RAW_TOKEN: &str = "$serde_json::private::RawValue";

/// A lexicon `unknown` value: any JSON data-model value (most often a record
/// such as the `app.bsky.feed.post` in `postView.record`), kept as the JSON
/// text it was read from and decoded only when asked.
///
/// Decoding a response copies each `unknown` value's text once (no tree of
/// maps is built), and encoding writes that text back unchanged, so data
/// round-trips losslessly, key order and all.
///
/// ```
/// # use atmo_types::Unknown;
/// #[derive(serde::Deserialize)]
/// struct Post { text: String }
///
/// let record: Unknown = serde_json::from_str(r#"{"$type":"app.bsky.feed.post","text":"hi"}"#)?;
/// assert_eq!(record.type_name(), Some("app.bsky.feed.post"));
/// assert_eq!(record.decode::<Post>()?.text, "hi");
/// assert_eq!(record.to_value()?["text"], "hi");
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// From a binary format (DAG-CBOR through `atmo-sync`) the value is held
/// in the data model's JSON form, links as `{"$link": ..}` and bytes as
/// `{"$bytes": ..}`; serializing it back to DAG-CBOR writes real links and
/// byte strings again, so nothing is lost either way.
///
/// Equality is JSON value equality, not text equality: `{"a":1,"b":2}` equals
/// `{ "b": 2, "a": 1 }`. Texts that differ are parsed to compare them, so
/// `==` on large values is not free.
#[derive(Clone)]
pub struct Unknown(Box<RawValue>);

impl Unknown {
    /// Wraps raw JSON text held by serde_json.
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        Unknown(raw)
    }

    /// Checks that `json` is one JSON value and keeps it (surrounding
    /// whitespace is trimmed).
    pub fn from_json(json: impl Into<String>) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json.into()).map(Unknown)
    }

    /// Encodes any serializable value, e.g. a typed record, straight to JSON
    /// text (no intermediate `serde_json::Value`).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Unknown)
    }

    /// The JSON text of a `serde_json::Value`.
    pub fn from_value(value: &Value) -> Self {
        // Writing a `Value` to a string cannot fail: its map keys are strings
        // and its numbers are finite.
        Unknown::from_serialize(value).unwrap_or_else(|_| Unknown::null())
    }

    /// JSON `null`.
    pub fn null() -> Self {
        Unknown::from_json("null").unwrap_or_else(|_| unreachable!("null is JSON"))
    }

    /// The JSON text, exactly as read (or as written by [`Unknown::from_serialize`]).
    pub fn as_raw_str(&self) -> &str {
        self.0.get()
    }

    /// The raw JSON value.
    pub fn as_raw(&self) -> &RawValue {
        &self.0
    }

    /// The raw JSON value, owned.
    pub fn into_raw(self) -> Box<RawValue> {
        self.0
    }

    /// Decodes the value as `T`, e.g. `view.record.decode::<post::Record>()`.
    /// Strings may borrow from `self`.
    pub fn decode<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// Parses the value into a `serde_json::Value` tree.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        self.decode()
    }

    /// The `$type` of an object, without decoding the rest of it when `$type`
    /// is the first key (as every atproto implementation writes it). `None`
    /// for a non-object, an object without a string `$type`, or a `$type`
    /// written with escape sequences (no NSID needs one).
    pub fn type_name(&self) -> Option<&str> {
        let text = self.0.get();
        if let Some(rest) = text.strip_prefix(r#"{"$type":""#) {
            let end = rest.find(['"', '\\'])?;
            if rest.as_bytes()[end] == b'"' {
                return Some(&rest[..end]);
            }
            return None;
        }
        let mut de = serde_json::Deserializer::from_str(text);
        de.deserialize_any(TypeNameVisitor).ok().flatten()
    }

    /// True when the value is JSON `null`.
    pub fn is_null(&self) -> bool {
        self.0.get() == "null"
    }
}

/// Finds a top-level `$type` string, skipping every other value unparsed.
struct TypeNameVisitor;

impl<'de> Visitor<'de> for TypeNameVisitor {
    type Value = Option<&'de str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(key) = map.next_key::<crate::object::Key<'de>>()? {
            if key.as_str() == crate::object::TYPE_KEY {
                let found = match map.next_value::<crate::object::Key<'de>>() {
                    Ok(crate::object::Key(std::borrow::Cow::Borrowed(s))) => Some(s),
                    Ok(_) => None,
                    Err(_) => return Ok(None),
                };
                // serde_json checks that the object is read to its end.
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                return Ok(found);
            }
            map.next_value::<de::IgnoredAny>()?;
        }
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

impl Default for Unknown {
    /// JSON `null`, like `serde_json::Value::default()`.
    fn default() -> Self {
        Unknown::null()
    }
}

impl PartialEq for Unknown {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.get(), other.0.get());
        a == b
            || match (self.to_value(), other.to_value()) {
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            }
    }
}

impl Eq for Unknown {}

impl PartialEq<Value> for Unknown {
    fn eq(&self, other: &Value) -> bool {
        self.to_value().is_ok_and(|v| v == *other)
    }
}

impl fmt::Debug for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unknown({})", self.0.get())
    }
}

/// The JSON text.
impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

impl From<Value> for Unknown {
    fn from(value: Value) -> Self {
        Unknown::from_value(&value)
    }
}

impl From<&Value> for Unknown {
    fn from(value: &Value) -> Self {
        Unknown::from_value(value)
    }
}

impl From<Box<RawValue>> for Unknown {
    fn from(raw: Box<RawValue>) -> Self {
        Unknown(raw)
    }
}

impl TryFrom<Unknown> for Value {
    type Error = serde_json::Error;
    fn try_from(u: Unknown) -> Result<Value, serde_json::Error> {
        u.to_value()
    }
}

/// True for the serializers that understand serde_json's raw-value protocol:
/// serde_json's own writer (which copies the text) and `serde_json::to_value`
/// (which parses it). Any other serializer gets the value as a
/// `serde_json::Value` tree. If a future compiler names these types
/// differently, every serializer takes the tree path: slower, still right
/// (a test in this module notices).
fn takes_raw_json<S>() -> bool {
    let name = std::any::type_name::<S>();
    name.starts_with("&mut serde_json::ser::Serializer<")
        || name == "serde_json::value::ser::Serializer"
}

impl Serialize for Unknown {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if takes_raw_json::<S>() {
            self.0.serialize(serializer)
        } else {
            self.to_value()
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Unknown {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde_json's `Deserializer` and its `Value` deserializers answer the
        // raw-value token with the text (a map with one entry, which
        // `RawValue` reads); other formats visit a newtype or a plain value,
        // which is built as a `Value` and written out as text.
        d.deserialize_newtype_struct(RAW_TOKEN, UnknownVisitor)
    }
}

struct UnknownVisitor;

impl UnknownVisitor {
    fn from_value<E: de::Error>(value: Value) -> Result<Unknown, E> {
        Unknown::from_serialize(&value).map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for UnknownVisitor {
    type Value = Unknown;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Unknown, A::Error> {
        // serde_json's raw-value protocol.
        Box::<RawValue>::deserialize(de::value::MapAccessDeserializer::new(map)).map(Unknown)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Unknown, D::Error> {
        Self::from_value(Value::deserialize(d)?)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Unknown, A::Error> {
        Self::from_value(Value::deserialize(de::value::SeqAccessDeserializer::new(
            seq,
        ))?)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Unknown, E> {
        Self::from_value(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Unknown, E> {
        Self::from_value(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Unknown, E> {
        Self::from_value(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Unknown, E> {
        Self::from_value(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Unknown, E> {
        Self::from_value(Value::from(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Unknown, E> {
        Ok(Unknown::null())
    }

    fn visit_none<E: de::Error>(self) -> Result<Unknown, E> {
        Ok(Unknown::null())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Unknown, D::Error> {
        Unknown::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POST: &str = r#"{"$type":"app.bsky.feed.post","text":"héllo\n","createdAt":"2024-01-01T00:00:00Z","langs":["en"],"n":-3,"z":{"b":1,"a":[null,true]}}"#;

    #[derive(Debug, PartialEq, Deserialize, Serialize)]
    struct Holder {
        record: Unknown,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        other: Option<Unknown>,
    }

    #[test]
    fn keeps_the_text_and_writes_it_back_verbatim() {
        let json = format!(r#"{{"record":{POST}}}"#);
        let h: Holder = serde_json::from_str(&json).unwrap();
        assert_eq!(h.record.as_raw_str(), POST);
        // serde_json's writer takes the raw path: key order kept ("b" before "a").
        assert_eq!(serde_json::to_string(&h).unwrap(), json);
        assert!(takes_raw_json::<&mut serde_json::Serializer<Vec<u8>>>());
        assert!(takes_raw_json::<serde_json::value::Serializer>());
        let mut pretty = Vec::new();
        h.serialize(&mut serde_json::Serializer::pretty(&mut pretty))
            .unwrap();
        assert!(String::from_utf8(pretty).unwrap().contains(POST));
    }

    #[test]
    fn decodes_from_values_and_other_deserializers() {
        let value =
            json!({"record": serde_json::from_str::<Value>(POST).unwrap(), "other": [1, "x"]});
        // serde_json::from_value (owned and borrowed Value deserializers).
        let h: Holder = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(h.record, serde_json::from_str::<Unknown>(POST).unwrap());
        assert_eq!(h.other.as_ref().unwrap().as_raw_str(), r#"[1,"x"]"#);
        let h2 = Holder::deserialize(&value).unwrap();
        assert_eq!(h, h2);
        // A serde buffer (what untagged enums and flatten use) visits plain values.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            H(Holder),
        }
        let Either::H(h3) =
            serde_json::from_str::<Either>(&format!(r#"{{"record":{POST}}}"#)).unwrap();
        assert_eq!(h3.record, h.record);
        // serde_path_to_error wraps the deserializer and still passes the raw text.
        let mut de = serde_json::Deserializer::from_str(POST);
        let u: Unknown = serde_path_to_error::deserialize(&mut de).unwrap();
        assert_eq!(u.as_raw_str(), POST);
        // to_value goes through serde_json's value serializer.
        assert_eq!(serde_json::to_value(&h).unwrap(), value);
    }

    #[test]
    fn any_serializer_gets_the_value() {
        // A serializer that is not serde_json's own (a wrapper around it)
        // gets the value as a tree.
        let u = Unknown::from_json(r#"{"b":1,"a":[true,null,"x",-2]}"#).unwrap();
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::new(&mut out);
        serde_path_to_error::serialize(&u, &mut ser).unwrap();
        let back: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, json!({"a":[true,null,"x",-2],"b":1}));
    }

    #[test]
    fn type_name_peeks() {
        let u = Unknown::from_json(POST).unwrap();
        assert_eq!(u.type_name(), Some("app.bsky.feed.post"));
        let later = Unknown::from_json(r#"{ "text": {"$type":"no"}, "$type" : "a.b.c" }"#).unwrap();
        assert_eq!(later.type_name(), Some("a.b.c"));
        let middle =
            Unknown::from_json(r#"{"text":"x","$type":"a.b.c","n":[1,{"$type":"d"}]}"#).unwrap();
        assert_eq!(middle.type_name(), Some("a.b.c"));
        for none in [
            r#"{"text":"x"}"#,
            "[1]",
            "null",
            "3",
            r#""s""#,
            r#"{"$type":3}"#,
        ] {
            assert_eq!(
                Unknown::from_json(none).unwrap().type_name(),
                None,
                "{none}"
            );
        }
        assert_eq!(
            Unknown::from_json(r#"{"$type":"a\u002eb"}"#)
                .unwrap()
                .type_name(),
            None
        );
    }

    #[test]
    fn equality_is_json_equality() {
        let a = Unknown::from_json(r#"{"a":1,"b":[2]}"#).unwrap();
        let b = Unknown::from_json(r#"{ "b" : [ 2 ], "a" : 1 }"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Unknown::from_json(r#"{"a":1}"#).unwrap());
        assert_eq!(a, json!({"b":[2],"a":1}));
        assert_eq!(format!("{a:?}"), r#"Unknown({"a":1,"b":[2]})"#);
        assert_eq!(a.to_string(), r#"{"a":1,"b":[2]}"#);
        assert!(Unknown::default().is_null());
        assert!(Unknown::from_json("{").is_err());
        assert!(Unknown::from_json("1 2").is_err());
    }

    #[test]
    fn from_serialize_and_decode() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct R<'a> {
            #[serde(rename = "$type")]
            ty: &'a str,
            text: String,
        }
        let r = R {
            ty: "x.y.z",
            text: "a\"b".into(),
        };
        let u = Unknown::from_serialize(&r).unwrap();
        assert_eq!(u.as_raw_str(), r#"{"$type":"x.y.z","text":"a\"b"}"#);
        assert_eq!(u.decode::<R>().unwrap(), r);
        assert_eq!(
            Value::try_from(u.clone()).unwrap(),
            json!({"$type":"x.y.z","text":"a\"b"})
        );
        assert_eq!(Unknown::from(json!([1])).as_raw_str(), "[1]");
    }
}
