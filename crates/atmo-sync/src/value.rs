//! [`Value`]: any atproto data-model value, for what no lexicon describes
//! (commits, MST nodes, records of unknown collections), with its DAG-CBOR
//! and JSON forms.

use std::borrow::Cow;
use std::fmt;

use crate::cbor::{self, key_cmp, DecodeOptions, Head, Reader};
use crate::cid::Cid;
use crate::error::{DecodeError, EncodeError, Rule};

/// A data-model value. Strings and bytes borrow from the decoded input
/// where they can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer (the data model has no floats).
    Integer(i64),
    /// A UTF-8 string.
    String(Cow<'a, str>),
    /// Bytes (`{"$bytes": ..}` in JSON).
    Bytes(Cow<'a, [u8]>),
    /// A CID link (`{"$link": ..}` in JSON).
    Link(Cid),
    /// An array.
    Array(Vec<Value<'a>>),
    /// A map with string keys.
    Map(Map<'a>),
}

/// A map with string keys, kept in DAG-CBOR's canonical order (shorter keys
/// first, then bytewise), so encoding needs no sort.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Map<'a>(Vec<(Cow<'a, str>, Value<'a>)>);

impl<'a> Map<'a> {
    /// An empty map.
    pub fn new() -> Self {
        Map(Vec::new())
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0
            .binary_search_by(|(k, _)| key_cmp(k.as_bytes(), key.as_bytes()))
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// Sets `key`; returns the value it replaces.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) -> Option<Value<'a>> {
        let key = key.into();
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Map<'static> {
        Map(self
            .0
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
            .collect())
    }
}

impl<'a> Value<'a> {
    /// Decodes one value that fills `bytes`, strictly.
    pub fn from_cbor(bytes: &'a [u8]) -> Result<Value<'a>, DecodeError> {
        Value::from_cbor_with(bytes, DecodeOptions::default())
    }

    /// Decodes one value that fills `bytes` with the given options.
    pub fn from_cbor_with(bytes: &'a [u8], opts: DecodeOptions) -> Result<Value<'a>, DecodeError> {
        let mut r = Reader::new(bytes, opts);
        let v = read_value(&mut r, 0)?;
        r.finish()?;
        Ok(v)
    }

    /// Checks that `bytes` hold exactly one value that [`Value::from_cbor`]
    /// would accept (every strict rule), without building it.
    pub fn check_cbor(bytes: &[u8]) -> Result<(), DecodeError> {
        let mut r = Reader::new(bytes, DecodeOptions::default());
        r.skip(0)?;
        r.finish()
    }

    /// The canonical DAG-CBOR encoding.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_cbor(&mut out);
        out
    }

    /// Appends the canonical DAG-CBOR encoding to `out`.
    pub fn write_cbor(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.push(0xf6),
            Value::Bool(false) => out.push(0xf4),
            Value::Bool(true) => out.push(0xf5),
            Value::Integer(i) => cbor::write_int(out, *i),
            Value::String(s) => cbor::write_text(out, s),
            Value::Bytes(b) => cbor::write_bytes(out, b),
            Value::Link(c) => cbor::write_cid(out, c),
            Value::Array(items) => {
                cbor::write_head(out, 4, items.len() as u64);
                for v in items {
                    v.write_cbor(out);
                }
            }
            Value::Map(m) => {
                cbor::write_head(out, 5, m.0.len() as u64);
                for (k, v) in &m.0 {
                    cbor::write_text(out, k);
                    v.write_cbor(out);
                }
            }
        }
    }

    /// The CID of this value's DAG-CBOR encoding.
    pub fn cid(&self) -> Cid {
        Cid::for_dag_cbor(&self.to_cbor())
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Integer(i) => Value::Integer(i),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
            Value::Link(c) => Value::Link(c),
            Value::Array(a) => Value::Array(a.into_iter().map(Value::into_owned).collect()),
            Value::Map(m) => Value::Map(m.into_owned()),
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&Map<'a>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The CID, if this is a link.
    pub fn as_link(&self) -> Option<Cid> {
        match self {
            Value::Link(c) => Some(*c),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The `$type` of a map.
    pub fn type_name(&self) -> Option<&str> {
        self.as_map()?.get("$type")?.as_str()
    }

    /// Checks the data model's rules that the CBOR shape alone does not:
    /// every `$type` is a non-empty string, and a `$type: "blob"` map has a
    /// link `ref`, a non-empty string `mimeType` and a non-negative integer
    /// `size`. The error names the path (`$.embed.images[0].image`).
    pub fn check_data_model(&self) -> Result<(), String> {
        let mut path = String::from("$");
        check_at(self, &mut path)
    }

    /// The JSON form: links as `{"$link": ..}`, bytes as `{"$bytes": ..}`
    /// (standard base64, unpadded).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Integer(i) => J::from(*i),
            Value::String(s) => J::String(s.to_string()),
            Value::Bytes(b) => {
                let mut m = serde_json::Map::new();
                m.insert("$bytes".into(), J::String(atmo_types::base64::encode(b)));
                J::Object(m)
            }
            Value::Link(c) => {
                let mut m = serde_json::Map::new();
                m.insert("$link".into(), J::String(c.to_string()));
                J::Object(m)
            }
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Map(m) => {
                J::Object(m.iter().map(|(k, v)| (k.to_owned(), v.to_json())).collect())
            }
        }
    }

    /// Reads the JSON form. Refuses floats with a fractional part (an
    /// integral float such as `2.0` reads as the integer, up to ±2^53),
    /// integers beyond the signed 64-bit range, and malformed `$link` / `$bytes` objects; `path` in the
    /// error says where.
    pub fn from_json(json: &serde_json::Value) -> Result<Value<'static>, EncodeError> {
        let mut path = String::from("$");
        from_json_at(json, &mut path, 0)
    }
}

/// Largest magnitude at which a JSON float is taken as an integer.
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

fn from_json_at(
    json: &serde_json::Value,
    path: &mut String,
    depth: usize,
) -> Result<Value<'static>, EncodeError> {
    use serde_json::Value as J;
    let fail = |path: &str, why: String| Err(EncodeError(format!("at {path}: {why}")));
    if depth > cbor::DEFAULT_MAX_DEPTH {
        return fail(path, "nested too deeply".into());
    }
    Ok(match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Integer(i),
            // An integral float such as `123.0` is the integer it spells.
            (None, Some(f)) if !n.is_u64() && f.fract() == 0.0 && f.abs() <= MAX_EXACT_FLOAT => {
                Value::Integer(f as i64)
            }
            _ => return fail(path, format!("{n} is not a signed 64-bit integer")),
        },
        J::String(s) => Value::String(Cow::Owned(s.clone())),
        J::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let len = path.len();
            for (i, item) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                out.push(from_json_at(item, path, depth + 1)?);
                path.truncate(len);
            }
            Value::Array(out)
        }
        J::Object(obj) => {
            if let Some(link) = obj.get("$link") {
                return match (link, obj.len()) {
                    (J::String(s), 1) => s
                        .parse::<Cid>()
                        .map(Value::Link)
                        .or_else(|e| fail(path, format!("bad $link: {e}"))),
                    _ => fail(path, "a $link object must be {\"$link\": \"<cid>\"}".into()),
                };
            }
            if let Some(b) = obj.get("$bytes") {
                return match (b, obj.len()) {
                    (J::String(s), 1) => atmo_types::base64::decode(s)
                        .map(|b| Value::Bytes(Cow::Owned(b)))
                        .or_else(|e| fail(path, format!("bad $bytes: {e}"))),
                    _ => fail(
                        path,
                        "a $bytes object must be {\"$bytes\": \"<base64>\"}".into(),
                    ),
                };
            }
            let mut entries: Vec<(Cow<'static, str>, Value<'static>)> =
                Vec::with_capacity(obj.len());
            let len = path.len();
            for (k, v) in obj {
                path.push('.');
                path.push_str(k);
                entries.push((Cow::Owned(k.clone()), from_json_at(v, path, depth + 1)?));
                path.truncate(len);
            }
            entries.sort_by(|a, b| key_cmp(a.0.as_bytes(), b.0.as_bytes()));
            Value::Map(Map(entries))
        }
    })
}

pub(crate) fn read_value<'a>(r: &mut Reader<'a>, depth: usize) -> Result<Value<'a>, DecodeError> {
    let (head, at) = r.head()?;
    Ok(match head {
        Head::Uint(_) | Head::Nint(_) => Value::Integer(r.int(head, at)?),
        Head::Bool(b) => Value::Bool(b),
        Head::Null => Value::Null,
        Head::Bytes(len) => Value::Bytes(Cow::Borrowed(r.take(len)?)),
        Head::Text(len) => Value::String(Cow::Borrowed(r.text(len, at)?)),
        Head::Tag(tag) => Value::Link(r.cid_after_tag(tag, at)?),
        Head::Array(n) => {
            if depth >= r.opts.max_depth {
                return Err(r.err(at, Rule::TooDeep(r.opts.max_depth)));
            }
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(read_value(r, depth + 1)?);
            }
            Value::Array(items)
        }
        Head::Map(n) => {
            if depth >= r.opts.max_depth {
                return Err(r.err(at, Rule::TooDeep(r.opts.max_depth)));
            }
            let mut entries: Vec<(Cow<'a, str>, Value<'a>)> = Vec::with_capacity(n);
            let mut sorted = true;
            for _ in 0..n {
                let (k, kat) = r.key()?;
                if let Some((p, _)) = entries.last() {
                    r.key_order(p.as_bytes(), k.as_bytes(), kat)?;
                    sorted &= key_cmp(p.as_bytes(), k.as_bytes()).is_lt();
                }
                entries.push((Cow::Borrowed(k), read_value(r, depth + 1)?));
            }
            if !sorted {
                // Lenient input: restore canonical order, refuse duplicates.
                entries.sort_by(|a, b| key_cmp(a.0.as_bytes(), b.0.as_bytes()));
                if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
                    return Err(r.err(at, Rule::DuplicateKey(w[0].0.to_string())));
                }
            }
            Value::Map(Map(entries))
        }
    })
}

impl fmt::Display for Value<'_> {
    /// The JSON form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

fn check_at(v: &Value<'_>, path: &mut String) -> Result<(), String> {
    match v {
        Value::Array(items) => {
            let len = path.len();
            for (i, item) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                check_at(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Map(m) => {
            if let Some(t) = m.get("$type") {
                match t {
                    Value::String(s) if s.is_empty() => {
                        return Err(format!("at {path}: \"$type\" is an empty string"))
                    }
                    Value::String(s) if s == "blob" => {
                        let ok = m.get("ref").and_then(Value::as_link).is_some()
                            && m.get("mimeType")
                                .and_then(Value::as_str)
                                .is_some_and(|s| !s.is_empty())
                            && m.get("size")
                                .and_then(Value::as_i64)
                                .is_some_and(|n| n >= 0);
                        if !ok {
                            return Err(format!(
                                "at {path}: a blob needs a link \"ref\", a \"mimeType\" and a non-negative integer \"size\""
                            ));
                        }
                    }
                    Value::String(_) => {}
                    _ => return Err(format!("at {path}: \"$type\" must be a string")),
                }
            }
            let len = path.len();
            for (k, item) in m.iter() {
                path.push('.');
                path.push_str(k);
                check_at(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check_cbor` accepts and refuses exactly what `from_cbor` does, with
    /// the same error.
    #[test]
    fn check_cbor_agrees_with_from_cbor() {
        let cid = Cid::for_raw(b"x");
        let mut valid = Map::new();
        valid.insert("a", Value::Integer(-5));
        valid.insert("bb", Value::Array(vec![Value::Link(cid), Value::Null]));
        valid.insert("ccc", Value::Bytes(Cow::Borrowed(b"\x00\x01")));
        valid.insert("text", Value::String("héllo".into()));
        let valid = Value::Map(valid).to_cbor();
        let mut trailing = valid.clone();
        trailing.push(0x00);
        let inputs: Vec<Vec<u8>> = vec![
            valid,
            trailing,
            vec![],
            vec![0x18, 0x05],                               // non-minimal integer
            vec![0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02], // keys out of order
            vec![0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02], // duplicate key
            vec![0xfb, 0, 0, 0, 0, 0, 0, 0, 0],             // a float
            vec![0x9f, 0xff],                               // indefinite length
            vec![0xc1, 0x00],                               // a tag other than 42
            vec![0x62, 0xff, 0xfe],                         // invalid UTF-8
            vec![0xa1, 0x01, 0x01],                         // integer key
            vec![0x82, 0x01],                               // truncated array
        ];
        for bytes in &inputs {
            assert_eq!(
                Value::check_cbor(bytes),
                Value::from_cbor(bytes).map(drop),
                "{bytes:02x?}"
            );
        }
        assert!(Value::check_cbor(&inputs[0]).is_ok());
        assert!(inputs[1..].iter().all(|b| Value::check_cbor(b).is_err()));
    }
}
