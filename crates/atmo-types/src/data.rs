//! The atproto data model in JSON: its special objects ([`CidLink`],
//! [`Bytes`], [`Blob`]) and a checker for whole values ([`check_data_model`]).
//!
//! The special objects also speak binary serde formats (DAG-CBOR in
//! `atmo-sync`): when the format is not human-readable, [`Bytes`] is a
//! byte string and [`CidLink`] goes through [`CID_LINK_TOKEN`]; [`Blob`]
//! follows from both.
//!
//! The serde impls read maps entry by entry (no buffering through serde's
//! internal `Content`, no `untagged`/`flatten`) and refuse malformed objects
//! with a message saying what is wrong.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::object::{Key, TYPE_KEY};
use crate::syntax::Cid;

const LINK_KEY: &str = "$link";
const BYTES_KEY: &str = "$bytes";

// ---------------------------------------------------------------- base64

/// Standard base64 without padding, as atproto writes `$bytes`
/// (kept under this name for existing callers; see [`crate::base64`]).
pub use crate::base64::encode as base64_encode;

/// Standard base64 as `$bytes` is read: padded or not, stray bits in the last
/// character ignored (see [`crate::base64::decode`];
/// [`crate::base64::decode_strict`] refuses non-canonical text).
pub use crate::base64::decode as base64_decode;

// ---------------------------------------------------------------- binary formats

/// The newtype-struct name through which [`CidLink`] talks to binary
/// (not human-readable) serde formats such as DAG-CBOR: it serializes as
/// `serialize_newtype_struct(CID_LINK_TOKEN, <CID bytes>)`, and deserializes
/// by asking for `deserialize_newtype_struct(CID_LINK_TOKEN, ..)`, to which a
/// DAG-CBOR deserializer answers with the CID's binary bytes (tag 42 without
/// its `0x00` prefix). Formats that know nothing of it see a newtype around
/// bytes.
pub const CID_LINK_TOKEN: &str = "$atproto::cid-link";

/// The binary form of a base32 (`b…`) CID text.
fn cid_binary_from_text(cid: &Cid) -> Result<Vec<u8>, String> {
    let text = cid.as_str();
    let Some(rest) = text.strip_prefix('b') else {
        return Err(format!(
            "CID {text} is not base32 (b…); only such CIDs have a binary form here"
        ));
    };
    crate::base32::decode(rest).map_err(|_| format!("CID {text} is not lower-case base32"))
}

/// A CID's binary bytes as a serde byte string.
struct BinaryCid<'a>(&'a [u8]);

impl Serialize for BinaryCid<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

// ---------------------------------------------------------------- helpers

fn dup<E: de::Error>(key: &str, obj: &str) -> E {
    E::custom(format_args!("duplicate key '{key}' in {obj}"))
}

// ---------------------------------------------------------------- CidLink

/// A link to content by CID, `{"$link": "<cid>"}` in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CidLink {
    /// The CID.
    pub link: Cid,
}

impl CidLink {
    /// A link to `cid`.
    pub fn new(cid: Cid) -> Self {
        CidLink { link: cid }
    }

    /// The CID.
    pub fn cid(&self) -> &Cid {
        &self.link
    }
}

impl From<Cid> for CidLink {
    fn from(cid: Cid) -> Self {
        CidLink::new(cid)
    }
}

impl Serialize for CidLink {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            if let Some(bytes) = self.link.binary_form() {
                return s.serialize_newtype_struct(CID_LINK_TOKEN, &BinaryCid(bytes));
            }
            let bytes = cid_binary_from_text(&self.link).map_err(serde::ser::Error::custom)?;
            return s.serialize_newtype_struct(CID_LINK_TOKEN, &BinaryCid(&bytes));
        }
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(LINK_KEY, &self.link)?;
        map.end()
    }
}

struct CidLinkVisitor;

impl<'de> Visitor<'de> for CidLinkVisitor {
    type Value = CidLink;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cid-link object {\"$link\": \"<cid>\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CidLink, A::Error> {
        let mut link = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.as_str() != LINK_KEY {
                return Err(de::Error::custom(format_args!(
                    "unexpected key '{}' in a $link object (only \"$link\" is allowed)",
                    key.as_str()
                )));
            }
            if link.is_some() {
                return Err(dup(LINK_KEY, "a $link object"));
            }
            link = Some(map.next_value::<Cid>()?);
        }
        match link {
            Some(link) => Ok(CidLink { link }),
            None => Err(de::Error::custom("missing \"$link\" in a cid-link object")),
        }
    }

    // Binary formats: the CID's bytes (see `CID_LINK_TOKEN`).
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<CidLink, E> {
        Cid::from_binary(v)
            .map(CidLink::new)
            .map_err(|e| E::custom(format_args!("binary CID is not a valid CID: {e}")))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<CidLink, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Deserialize<'de> for CidLink {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            d.deserialize_map(CidLinkVisitor)
        } else {
            d.deserialize_newtype_struct(CID_LINK_TOKEN, CidLinkVisitor)
        }
    }
}

// ---------------------------------------------------------------- Bytes

/// Raw bytes, `{"$bytes": "<base64>"}` in JSON (standard alphabet, written
/// canonically without padding; read with or without, and ignoring non-zero
/// unused bits in the last character as the interop vectors require).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return s.serialize_bytes(&self.0);
        }
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(BYTES_KEY, &base64_encode(&self.0))?;
        map.end()
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bytes object {\"$bytes\": \"<base64>\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bytes, A::Error> {
        let mut bytes = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.as_str() != BYTES_KEY {
                return Err(de::Error::custom(format_args!(
                    "unexpected key '{}' in a $bytes object (only \"$bytes\" is allowed)",
                    key.as_str()
                )));
            }
            if bytes.is_some() {
                return Err(dup(BYTES_KEY, "a $bytes object"));
            }
            let text = map.next_value::<Key<'de>>()?;
            let data = base64_decode(text.as_str())
                .map_err(|e| de::Error::custom(format_args!("invalid $bytes: {e}")))?;
            bytes = Some(Bytes(data));
        }
        bytes.ok_or_else(|| de::Error::custom("missing \"$bytes\" in a bytes object"))
    }

    // Binary formats carry bytes as bytes.
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes(v))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            d.deserialize_map(BytesVisitor)
        } else {
            d.deserialize_byte_buf(BytesVisitor)
        }
    }
}

// ---------------------------------------------------------------- Blob

/// A reference to a blob. Decodes both JSON forms and re-encodes each in
/// the form it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blob {
    /// `{"$type":"blob","ref":{"$link":cid},"mimeType":..,"size":..}`
    Typed {
        /// The content's CID.
        r#ref: CidLink,
        /// Its MIME type.
        mime_type: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The legacy form `{"cid": "<cid>", "mimeType": ..}`, still found in
    /// old records; read, never written by new code.
    Legacy {
        /// The content's CID.
        cid: Cid,
        /// Its MIME type.
        mime_type: String,
    },
}

impl Blob {
    /// A typed blob reference (the form to write).
    pub fn new(cid: Cid, mime_type: impl Into<String>, size: u64) -> Self {
        Blob::Typed {
            r#ref: CidLink::new(cid),
            mime_type: mime_type.into(),
            size,
        }
    }

    /// The content's CID.
    pub fn cid(&self) -> &Cid {
        match self {
            Blob::Typed { r#ref, .. } => &r#ref.link,
            Blob::Legacy { cid, .. } => cid,
        }
    }

    /// Its MIME type.
    pub fn mime_type(&self) -> &str {
        match self {
            Blob::Typed { mime_type, .. } | Blob::Legacy { mime_type, .. } => mime_type,
        }
    }

    /// Its size in bytes; unknown for legacy references.
    pub fn size(&self) -> Option<u64> {
        match self {
            Blob::Typed { size, .. } => Some(*size),
            Blob::Legacy { .. } => None,
        }
    }

    /// True for the legacy `{"cid", "mimeType"}` form.
    pub fn is_legacy(&self) -> bool {
        matches!(self, Blob::Legacy { .. })
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Blob::Typed {
                r#ref,
                mime_type,
                size,
            } => {
                let mut map = s.serialize_map(Some(4))?;
                map.serialize_entry(TYPE_KEY, "blob")?;
                map.serialize_entry("ref", r#ref)?;
                map.serialize_entry("mimeType", mime_type)?;
                map.serialize_entry("size", size)?;
                map.end()
            }
            Blob::Legacy { cid, mime_type } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("cid", cid)?;
                map.serialize_entry("mimeType", mime_type)?;
                map.end()
            }
        }
    }
}

/// A blob's `size`: any JSON integer, so that negative or fractional values
/// get a clear message instead of serde's generic one.
struct BlobSize(Result<u64, String>);

impl<'de> Deserialize<'de> for BlobSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BlobSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer blob size")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BlobSize, E> {
                Ok(BlobSize(Ok(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BlobSize, E> {
                Ok(BlobSize(
                    u64::try_from(v).map_err(|_| format!("blob size {v} is negative")),
                ))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<BlobSize, E> {
                // `100.0` is the integer 100, as everywhere in the data model.
                Ok(BlobSize(match integral_float(v) {
                    Some(n) => u64::try_from(n).map_err(|_| format!("blob size {v} is negative")),
                    None => Err(format!("blob size {v} is not an integer")),
                }))
            }
        }
        d.deserialize_any(V)
    }
}

struct BlobVisitor;

impl<'de> Visitor<'de> for BlobVisitor {
    type Value = Blob;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a blob object {\"$type\":\"blob\",\"ref\":{\"$link\":..},\"mimeType\":..,\"size\":..}",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Blob, A::Error> {
        let mut typed = false;
        let mut r#ref: Option<CidLink> = None;
        let mut mime_type: Option<String> = None;
        let mut size: Option<u64> = None;
        let mut cid: Option<Cid> = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let k = key.as_str();
            let seen = match k {
                TYPE_KEY => {
                    let t = map.next_value::<Key<'de>>()?;
                    if t.as_str() != "blob" {
                        return Err(de::Error::custom(format_args!(
                            "blob has \"$type\": {:?}; expected \"blob\"",
                            t.as_str()
                        )));
                    }
                    std::mem::replace(&mut typed, true)
                }
                "ref" => r#ref.replace(map.next_value()?).is_some(),
                "mimeType" => {
                    let m: String = map.next_value()?;
                    if m.is_empty() {
                        return Err(de::Error::custom("blob \"mimeType\" is empty"));
                    }
                    mime_type.replace(m).is_some()
                }
                "size" => {
                    let BlobSize(v) = map.next_value()?;
                    size.replace(v.map_err(de::Error::custom)?).is_some()
                }
                "cid" => cid.replace(map.next_value()?).is_some(),
                // Other keys are skipped (and not written back). The
                // TypeScript lexicon validator refuses them; decoding here
                // stays lenient so one odd blob does not fail a whole
                // answer, and `check_data_model` is where they are judged.
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                    false
                }
            };
            if seen {
                return Err(dup(k, "a blob"));
            }
        }
        let missing = |what: &str| de::Error::custom(format_args!("blob is missing \"{what}\""));
        if typed {
            Ok(Blob::Typed {
                r#ref: r#ref.ok_or_else(|| missing("ref"))?,
                mime_type: mime_type.ok_or_else(|| missing("mimeType"))?,
                size: size.ok_or_else(|| missing("size"))?,
            })
        } else if let Some(cid) = cid {
            Ok(Blob::Legacy {
                cid,
                mime_type: mime_type.ok_or_else(|| missing("mimeType"))?,
            })
        } else {
            Err(de::Error::custom(
                "blob has neither \"$type\": \"blob\" nor a legacy \"cid\"",
            ))
        }
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(BlobVisitor)
    }
}

// ---------------------------------------------------------------- checker

/// A JSON value that breaks the atproto data model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataModelError {
    /// Where, as a path from the root: `$`, `$.embed.images[0].image`.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for DataModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.reason)
    }
}

impl std::error::Error for DataModelError {}

/// Deepest nesting accepted; deeper values are refused rather than risking
/// the stack.
pub const MAX_DEPTH: usize = 256;

/// Largest magnitude at which a float is accepted as an integer: 2^53, where
/// integers stop being exact in a double.
pub const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

/// The integer a JSON number written as a float stands for, when it is
/// integral and exact (`100.0`, `1e2`): the data model's one rule for
/// integral floats, used wherever an integer is read.
pub fn integral_float(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() <= MAX_EXACT_FLOAT).then_some(f as i64)
}

/// Checks a top-level data-model value (a record, an XRPC body): it must be
/// an object, and everything inside must follow the data model.
pub fn check_data_model(value: &Value) -> Result<(), DataModelError> {
    if !value.is_object() {
        return Err(DataModelError {
            path: "$".to_owned(),
            reason: format!("top level must be an object, found {}", kind(value)),
        });
    }
    check_data_model_value(value)
}

/// Checks any data-model value (of any kind at the top).
///
/// Refused: floats with a fractional part (or beyond ±2^53; integral floats
/// such as `123.0` count as integers), integers outside the signed 64-bit
/// range, `$type` that is not a non-empty string, `$link` / `$bytes` objects
/// that are malformed or have other keys, and `"$type": "blob"` objects that
/// are not valid blobs or have keys beyond the four of a blob.
pub fn check_data_model_value(value: &Value) -> Result<(), DataModelError> {
    let mut path = String::from("$");
    walk(value, &mut path, 0)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn fail(path: &str, reason: impl Into<String>) -> Result<(), DataModelError> {
    Err(DataModelError {
        path: path.to_owned(),
        reason: reason.into(),
    })
}

fn walk(value: &Value, path: &mut String, depth: usize) -> Result<(), DataModelError> {
    if depth > MAX_DEPTH {
        return fail(path, format!("nested deeper than {MAX_DEPTH} levels"));
    }
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
        Value::Number(n) => {
            if n.is_i64() {
                Ok(())
            } else if n.is_u64() {
                fail(
                    path,
                    format!("integer {n} is beyond the signed 64-bit range"),
                )
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if integral_float(f).is_some() {
                    Ok(())
                } else {
                    fail(
                        path,
                        format!("float {n} is not allowed (the data model has only integers)"),
                    )
                }
            }
        }
        Value::Array(items) => {
            let len = path.len();
            for (i, item) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                walk(item, path, depth + 1)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            if map.contains_key(LINK_KEY) {
                return CidLink::deserialize(value)
                    .map(|_| ())
                    .or_else(|e| fail(path, format!("invalid $link object: {e}")));
            }
            if map.contains_key(BYTES_KEY) {
                return Bytes::deserialize(value)
                    .map(|_| ())
                    .or_else(|e| fail(path, format!("invalid $bytes object: {e}")));
            }
            if let Some(t) = map.get(TYPE_KEY) {
                match t {
                    Value::String(s) if s.is_empty() => {
                        return fail(path, "\"$type\" is an empty string")
                    }
                    Value::String(s) if s == "blob" => {
                        // A blob is exactly these four keys (decoding skips
                        // others; the data model does not allow them).
                        if let Some(k) = map
                            .keys()
                            .find(|k| !matches!(k.as_str(), "$type" | "ref" | "mimeType" | "size"))
                        {
                            return fail(path, format!("invalid blob: unexpected key {k:?}"));
                        }
                        return Blob::deserialize(value)
                            .map(|_| ())
                            .or_else(|e| fail(path, format!("invalid blob: {e}")));
                    }
                    Value::String(_) => {}
                    other => {
                        return fail(
                            path,
                            format!("\"$type\" must be a string, found {}", kind(other)),
                        )
                    }
                }
            }
            let len = path.len();
            for (key, item) in map {
                path.push('.');
                path.push_str(key);
                walk(item, path, depth + 1)?;
                path.truncate(len);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CID: &str = "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity";

    #[test]
    fn base64_round_trip() {
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            let text = base64_encode(&data);
            assert!(!text.contains('='));
            assert_eq!(base64_decode(&text).unwrap(), data);
        }
        assert_eq!(base64_encode(b"hello"), "aGVsbG8");
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbA==").unwrap(), b"hell");
        assert_eq!(base64_decode("aGVsbA").unwrap(), b"hell");
        for bad in [
            "a", "aGVsb", "aGV=bG8", "aGVs bG8", "aGVsbG8-", "a===", "====",
        ] {
            assert!(base64_decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn special_objects_round_trip() {
        let v = json!({"$link": CID});
        let l: CidLink = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&l).unwrap(), v);

        let v = json!({"$bytes": "nFERjvLLiw9qm45JrqH9QTzyC2Lu1Xb4ne6+sBrCzI0"});
        let b: Bytes = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(b.0.len(), 32);
        assert_eq!(serde_json::to_value(&b).unwrap(), v);
        // Non-zero unused bits in the last character (the interop vectors'
        // lexicon record "full" has {"$bytes": "123"}): read as the bytes of
        // the canonical text, written back canonically.
        let stray: Bytes = serde_json::from_str(r#"{"$bytes":"123"}"#).unwrap();
        let canonical: Bytes = serde_json::from_str(r#"{"$bytes":"120"}"#).unwrap();
        assert_eq!(stray, canonical);
        assert_eq!(
            serde_json::to_value(&stray).unwrap(),
            json!({"$bytes": "120"})
        );
        check_data_model(&json!({"rcrd": {"$type": "x.y.z", "b": {"$bytes": "123"}}})).unwrap();
        let padded: Bytes = serde_json::from_str(r#"{"$bytes":"aGVsbA=="}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&padded).unwrap(),
            r#"{"$bytes":"aGVsbA"}"#
        );

        let v = json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "image/jpeg", "size": 10000});
        let blob: Blob = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            (blob.cid().as_str(), blob.mime_type(), blob.size()),
            (CID, "image/jpeg", Some(10000))
        );
        assert_eq!(serde_json::to_value(&blob).unwrap(), v);

        let v = json!({"cid": CID, "mimeType": "image/png"});
        let blob: Blob = serde_json::from_value(v.clone()).unwrap();
        assert!(blob.is_legacy());
        assert_eq!(blob.size(), None);
        assert_eq!(serde_json::to_value(&blob).unwrap(), v);

        // Streaming decode from text, keys in any order.
        let blob: Blob = serde_json::from_str(&format!(
            r#"{{"size":3,"mimeType":"a/b","ref":{{"$link":"{CID}"}},"$type":"blob"}}"#
        ))
        .unwrap();
        assert_eq!(blob.size(), Some(3));
    }

    #[test]
    fn malformed_special_objects_refused() {
        let bad = [
            json!({"$link": CID, "other": 1}),
            json!({"$link": "."}),
            json!({"$link": 1234}),
            json!({}),
            json!({"$bytes": [1, 2]}),
            json!({"$bytes": "!!"}),
            json!({"$bytes": "aGVsbA", "x": 1}),
        ];
        for v in &bad {
            let link = serde_json::from_value::<CidLink>(v.clone()).is_err();
            let bytes = serde_json::from_value::<Bytes>(v.clone()).is_err();
            assert!(link && bytes, "{v}");
        }
        let blobs = [
            json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "a/b", "size": -1}),
            json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "a/b", "size": 1.5}),
            json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "a/b", "size": "1"}),
            json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "a/b"}),
            json!({"$type": "blob", "mimeType": "a/b", "size": 1}),
            json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "", "size": 1}),
            json!({"$type": "image", "ref": {"$link": CID}, "mimeType": "a/b", "size": 1}),
            json!({"cid": CID}),
            json!({"mimeType": "a/b"}),
            json!("blob"),
        ];
        for v in &blobs {
            let e = serde_json::from_value::<Blob>(v.clone()).unwrap_err();
            assert!(!e.to_string().is_empty(), "{v}");
        }
        let e = serde_json::from_value::<Blob>(blobs[0].clone()).unwrap_err();
        assert!(e.to_string().contains("negative"), "{e}");
        // Integral floats are integers here as everywhere in the data model.
        for size in [json!(100.0), json!(1e2), json!(100)] {
            let v =
                json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "a/b", "size": size});
            let blob = serde_json::from_value::<Blob>(v.clone()).unwrap();
            assert_eq!(blob.size(), Some(100), "{v}");
            assert!(check_data_model(&v).is_ok(), "{v}");
        }
        let extra =
            json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "a/b", "size": 1, "x": 1});
        assert!(serde_json::from_value::<Blob>(extra.clone()).is_ok());
        let e = check_data_model(&extra).unwrap_err();
        assert!(e.to_string().contains("unexpected key \"x\""), "{e}");
        for size in [json!(-1.0), json!(1e300)] {
            let v =
                json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "a/b", "size": size});
            assert!(serde_json::from_value::<Blob>(v.clone()).is_err(), "{v}");
        }
    }

    #[test]
    fn checker_paths_and_depth() {
        let v = json!({"a": [1, {"b": 1.5}]});
        let e = check_data_model(&v).unwrap_err();
        assert_eq!(e.path, "$.a[1].b");
        let mut deep = json!(1);
        for _ in 0..(MAX_DEPTH + 5) {
            deep = json!([deep]);
        }
        assert!(check_data_model_value(&deep).is_err());
        assert!(check_data_model(&json!({"n": u64::MAX})).is_err());
        assert!(check_data_model(&json!({"n": i64::MIN, "f": 2.0})).is_ok());
    }
}
