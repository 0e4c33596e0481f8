//! A serde [`Serializer`] that writes canonical DAG-CBOR.

use serde::ser::{self, Impossible, Serialize};

use atmo_types::data::CID_LINK_TOKEN;

use crate::cbor::{self, DecodeOptions, Head, Reader};
use crate::cid::Cid;
use crate::error::EncodeError;

impl ser::Error for EncodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

/// Writes canonical DAG-CBOR: shortest heads, map keys sorted length first
/// then bytewise whatever order the value writes them in (duplicates are an
/// error), no floats (an error), integers within the signed 64-bit range.
///
/// [`atmo_types::CidLink`] becomes a tag-42 link and
/// [`atmo_types::Bytes`] a byte string. Values that carry the data
/// model's JSON form instead (a `serde_json::Value`, unknown fields kept as
/// JSON) are translated the same way: a map whose only key is `$link` with
/// a CID string becomes a link, one whose only key is `$bytes` with base64
/// text becomes bytes.
///
/// `is_human_readable()` is false.
#[derive(Default)]
pub struct Serializer {
    out: Vec<u8>,
    cid_next: bool,
}

impl Serializer {
    /// A serializer writing into a new buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes written so far.
    pub fn into_inner(self) -> Vec<u8> {
        self.out
    }
}

/// Encodes `value` as canonical DAG-CBOR.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut s = Serializer::new();
    value.serialize(&mut s)?;
    Ok(s.out)
}

/// The CID of `value`'s canonical DAG-CBOR encoding.
pub fn cid_of<T: Serialize + ?Sized>(value: &T) -> Result<Cid, EncodeError> {
    to_vec(value).map(|b| Cid::for_dag_cbor(&b))
}

fn err<T>(msg: &str) -> Result<T, EncodeError> {
    Err(EncodeError(msg.to_owned()))
}

/// Inserts a head for `count` items of `major` at `start`.
fn insert_head(out: &mut Vec<u8>, start: usize, major: u8, count: usize) {
    let mut head = Vec::with_capacity(9);
    cbor::write_head(&mut head, major, count as u64);
    out.splice(start..start, head);
}

impl<'s> ser::Serializer for &'s mut Serializer {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Seq<'s>;
    type SerializeTuple = Seq<'s>;
    type SerializeTupleStruct = Seq<'s>;
    type SerializeTupleVariant = Impossible<(), EncodeError>;
    type SerializeMap = MapWriter<'s>;
    type SerializeStruct = MapWriter<'s>;
    type SerializeStructVariant = Impossible<(), EncodeError>;

    fn serialize_bool(self, v: bool) -> Result<(), EncodeError> {
        self.out.push(if v { 0xf5 } else { 0xf4 });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), EncodeError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), EncodeError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), EncodeError> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), EncodeError> {
        cbor::write_int(&mut self.out, v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), EncodeError> {
        self.serialize_i64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), EncodeError> {
        self.serialize_i64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), EncodeError> {
        self.serialize_i64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), EncodeError> {
        match i64::try_from(v) {
            Ok(v) => self.serialize_i64(v),
            Err(_) => Err(EncodeError(format!(
                "integer {v} is beyond the signed 64-bit range"
            ))),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<(), EncodeError> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), EncodeError> {
        Err(EncodeError(format!(
            "float {v}: the atproto data model has no floats"
        )))
    }
    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        cbor::write_text(&mut self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeError> {
        if std::mem::take(&mut self.cid_next) {
            let cid = Cid::from_bytes(v).map_err(|e| EncodeError(format!("bad CID link: {e}")))?;
            cbor::write_cid(&mut self.out, &cid);
        } else {
            cbor::write_bytes(&mut self.out, v);
        }
        Ok(())
    }
    fn serialize_none(self) -> Result<(), EncodeError> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), EncodeError> {
        self.out.push(0xf6);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), EncodeError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), EncodeError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        if name == CID_LINK_TOKEN {
            self.cid_next = true;
            value.serialize(&mut *self)?;
            if std::mem::take(&mut self.cid_next) {
                return err("a CID link must serialize as bytes");
            }
            return Ok(());
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.out.push(0xa1);
        cbor::write_text(&mut self.out, variant);
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'s>, EncodeError> {
        let start = self.out.len();
        if let Some(n) = len {
            cbor::write_head(&mut self.out, 4, n as u64);
        }
        Ok(Seq {
            ser: self,
            start,
            known: len,
            count: 0,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'s>, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'s>, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeError> {
        Err(EncodeError(format!(
            "tuple variant {name}::{variant} has no DAG-CBOR form"
        )))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapWriter<'s>, EncodeError> {
        let start = self.out.len();
        Ok(MapWriter {
            ser: self,
            start,
            entries: Vec::new(),
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapWriter<'s>, EncodeError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeError> {
        Err(EncodeError(format!(
            "struct variant {name}::{variant} has no DAG-CBOR form"
        )))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// An array being written.
pub struct Seq<'s> {
    ser: &'s mut Serializer,
    start: usize,
    known: Option<usize>,
    count: usize,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.count += 1;
        value.serialize(&mut *self.ser)
    }

    fn finish(self) -> Result<(), EncodeError> {
        match self.known {
            Some(n) if n == self.count => Ok(()),
            Some(n) => Err(EncodeError(format!(
                "sequence announced {n} items and wrote {}",
                self.count
            ))),
            None => {
                insert_head(&mut self.ser.out, self.start, 4, self.count);
                Ok(())
            }
        }
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

/// A map being written: entries go to the output as they come, and are
/// put in canonical order (and given their head) at the end.
pub struct MapWriter<'s> {
    ser: &'s mut Serializer,
    start: usize,
    /// Offsets of each entry's key and value.
    entries: Vec<(usize, usize)>,
}

impl MapWriter<'_> {
    fn key(&mut self, key: &str) {
        let at = self.ser.out.len();
        cbor::write_text(&mut self.ser.out, key);
        self.entries.push((at, self.ser.out.len()));
    }

    fn finish(self) -> Result<(), EncodeError> {
        let MapWriter {
            ser,
            start,
            mut entries,
        } = self;
        let out = &mut ser.out;
        let end = out.len();
        let n = entries.len();
        if n == 1 && json_form(out, entries[0].0, entries[0].1)? {
            return Ok(());
        }
        // Entry i spans from its key to the next entry's key.
        let span = |i: usize, e: &[(usize, usize)]| -> (usize, usize, usize) {
            let next = e.get(i + 1).map_or(end, |x| x.0);
            (e[i].0, e[i].1, next)
        };
        let mut sorted = true;
        for i in 1..n {
            let a = &out[entries[i - 1].0..entries[i - 1].1];
            let b = &out[entries[i].0..entries[i].1];
            match a.cmp(b) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Err(duplicate(b)),
                std::cmp::Ordering::Greater => sorted = false,
            }
        }
        if !sorted {
            let mut spans: Vec<(usize, usize, usize)> = (0..n).map(|i| span(i, &entries)).collect();
            // Encoded text keys compare bytewise exactly as DAG-CBOR orders
            // them: the minimal head puts shorter keys first.
            spans.sort_by(|x, y| out[x.0..x.1].cmp(&out[y.0..y.1]));
            if let Some(w) = spans
                .windows(2)
                .find(|w| out[w[0].0..w[0].1] == out[w[1].0..w[1].1])
            {
                return Err(duplicate(&out[w[1].0..w[1].1]));
            }
            let mut content = Vec::with_capacity(end - start);
            for (k, _, e) in &spans {
                content.extend_from_slice(&out[*k..*e]);
            }
            out.truncate(start);
            out.extend_from_slice(&content);
            entries.clear();
        }
        insert_head(out, start, 5, n);
        Ok(())
    }
}

fn duplicate(encoded_key: &[u8]) -> EncodeError {
    let key = Reader::new(encoded_key, DecodeOptions::default())
        .key()
        .map(|(k, _)| k.to_owned())
        .unwrap_or_default();
    EncodeError(format!("map key {key:?} written twice"))
}

/// Rewrites a one-entry map in the data model's JSON form (`{"$link": cid}`,
/// `{"$bytes": base64}`) as a link or byte string. Returns whether it did.
fn json_form(out: &mut Vec<u8>, key_at: usize, value_at: usize) -> Result<bool, EncodeError> {
    let key = &out[key_at..value_at];
    let is_link = key == b"\x65$link";
    if !is_link && key != b"\x66$bytes" {
        return Ok(false);
    }
    let mut r = Reader::new(&out[value_at..], DecodeOptions::default());
    let Ok((Head::Text(len), at)) = r.head() else {
        return Ok(false);
    };
    let Ok(text) = r.text(len, at) else {
        return Ok(false);
    };
    let mut encoded = Vec::new();
    if is_link {
        let cid: Cid = text
            .parse()
            .map_err(|e| EncodeError(format!("bad $link {text:?}: {e}")))?;
        cbor::write_cid(&mut encoded, &cid);
    } else {
        let bytes = atmo_types::base64::decode(text)
            .map_err(|e| EncodeError(format!("bad $bytes: {e}")))?;
        cbor::write_bytes(&mut encoded, &bytes);
    }
    // The map started at `key_at` (its head is not written yet).
    out.truncate(key_at);
    out.extend_from_slice(&encoded);
    Ok(true)
}

impl ser::SerializeMap for MapWriter<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        let at = self.ser.out.len();
        key.serialize(KeyCapture(&mut self.ser.out))?;
        self.entries.push((at, self.ser.out.len()));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut *self.ser)
    }
    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), EncodeError> {
        ser::SerializeMap::serialize_key(self, key)?;
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeStruct for MapWriter<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.key(key);
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

/// Takes a map key, which must be a string.
struct KeyCapture<'o>(&'o mut Vec<u8>);

impl ser::Serializer for KeyCapture<'_> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Impossible<(), EncodeError>;
    type SerializeTuple = Impossible<(), EncodeError>;
    type SerializeTupleStruct = Impossible<(), EncodeError>;
    type SerializeTupleVariant = Impossible<(), EncodeError>;
    type SerializeMap = Impossible<(), EncodeError>;
    type SerializeStruct = Impossible<(), EncodeError>;
    type SerializeStructVariant = Impossible<(), EncodeError>;

    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        cbor::write_text(self.0, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<(), EncodeError> {
        self.serialize_str(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        value.serialize(self)
    }
    fn serialize_bool(self, _: bool) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_i8(self, _: i8) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_i16(self, _: i16) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_i32(self, _: i32) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_i64(self, _: i64) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_u8(self, _: u8) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_u16(self, _: u16) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_u32(self, _: u32) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_u64(self, _: u64) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_f32(self, _: f32) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_f64(self, _: f64) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_none(self) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_unit(self) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, EncodeError> {
        err("map keys must be strings")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeError> {
        err("map keys must be strings")
    }
}
