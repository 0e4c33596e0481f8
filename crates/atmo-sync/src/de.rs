//! A serde [`Deserializer`] over strict DAG-CBOR bytes.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use atmo_types::data::CID_LINK_TOKEN;
use atmo_types::object::UNION_TOKEN;

use crate::cbor::{DecodeOptions, Head, Reader};
use crate::error::{DecodeError, Rule};

/// Marks an error raised by a visitor (serde's `custom`), whose offset the
/// deserializer fills in with the item it was reading.
const UNKNOWN_OFFSET: usize = usize::MAX;

impl de::Error for DecodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        DecodeError::new(UNKNOWN_OFFSET, Rule::Message(msg.to_string()))
    }
}

/// Reads an atproto data-model value from DAG-CBOR into any
/// `Deserialize` type; strings and byte strings are lent from the input.
///
/// Generic visitors (`serde_json::Value`, unknown-field maps, buffered
/// unions) see CID links as `{"$link": "<cid>"}` and byte strings as
/// `{"$bytes": "<base64>"}`, the data model's JSON form, so they keep
/// working unchanged; [`atmo_types::CidLink`] and [`atmo_types::Bytes`]
/// ask for the binary forms directly. When a generated union reads a map
/// (it asks for [`atmo_types::object::UNION_TOKEN`]) whose `$type` comes
/// after shorter keys (canonical order puts `cid`, `uri` and the like
/// first), the `$type` entry is handed to it first, so unions dispatch
/// without buffering; every other map is handed out in stored order.
///
/// `is_human_readable()` is false.
pub struct Deserializer<'a> {
    r: Reader<'a>,
    depth: usize,
    last: usize,
}

impl<'a> Deserializer<'a> {
    /// A deserializer reading `bytes` from the start, strictly.
    pub fn from_slice(bytes: &'a [u8]) -> Self {
        Self::with_options(bytes, DecodeOptions::default())
    }

    /// A deserializer with the given options.
    pub fn with_options(bytes: &'a [u8], opts: DecodeOptions) -> Self {
        Deserializer {
            r: Reader::new(bytes, opts),
            depth: 0,
            last: 0,
        }
    }

    /// Offset of the next unread byte (e.g. where a second object starts in
    /// an event-stream frame).
    pub fn position(&self) -> usize {
        self.r.pos
    }

    /// Fails unless every byte has been read.
    pub fn end(&self) -> Result<(), DecodeError> {
        self.r.finish()
    }

    /// Decodes the next value, with visitor errors placed at the item being
    /// read when they occurred.
    pub fn decode<T: Deserialize<'a>>(&mut self) -> Result<T, DecodeError> {
        T::deserialize(&mut *self).map_err(|mut e| {
            if e.offset == UNKNOWN_OFFSET {
                e.offset = self.last;
            }
            e
        })
    }

    #[inline]
    fn head(&mut self) -> Result<(Head, usize), DecodeError> {
        let (h, at) = self.r.head()?;
        self.last = at;
        Ok((h, at))
    }

    /// Hands a map of `n` entries, its head read at `at`, to `visitor`:
    /// `$type` first when `type_first` (see [`Entries`]), else in stored
    /// order.
    fn map<V: Visitor<'a>>(
        &mut self,
        at: usize,
        n: usize,
        type_first: bool,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.enter(at)?;
        let mut map = Entries::new(self, n, type_first);
        let v = visitor.visit_map(&mut map)?;
        let left = map.left;
        self.leave(at, left, "map", "entries")?;
        Ok(v)
    }

    /// Leaves the array or map (`kind`, counted in `unit`s) whose head is
    /// at `at`; an error when the visitor stopped `left` short of its end.
    fn leave(&mut self, at: usize, left: usize, kind: &str, unit: &str) -> Result<(), DecodeError> {
        self.depth -= 1;
        if left > 0 {
            return Err(self.r.err(
                at,
                Rule::Message(format!("{kind} has {left} more {unit} than expected")),
            ));
        }
        Ok(())
    }

    fn enter(&mut self, at: usize) -> Result<(), DecodeError> {
        if self.depth >= self.r.opts.max_depth {
            return Err(self.r.err(at, Rule::TooDeep(self.r.opts.max_depth)));
        }
        self.depth += 1;
        Ok(())
    }
}

/// Decodes one value that fills `bytes` (strict DAG-CBOR).
pub fn from_slice<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    from_slice_with(bytes, DecodeOptions::default())
}

/// Decodes one value that fills `bytes` with the given options.
pub fn from_slice_with<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    opts: DecodeOptions,
) -> Result<T, DecodeError> {
    let mut de = Deserializer::with_options(bytes, opts);
    let v = de.decode()?;
    de.end()?;
    Ok(v)
}

fn json_form<'de, V: Visitor<'de>>(
    visitor: V,
    key: &'static str,
    text: String,
) -> Result<V::Value, DecodeError> {
    let mut map = de::value::MapDeserializer::<_, DecodeError>::new(std::iter::once((key, text)));
    let v = visitor.visit_map(&mut map)?;
    map.end()?;
    Ok(v)
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let (head, at) = self.head()?;
        match head {
            Head::Uint(v) => {
                if v > i64::MAX as u64 {
                    return Err(self.r.err(at, Rule::IntegerRange));
                }
                visitor.visit_u64(v)
            }
            Head::Nint(_) => visitor.visit_i64(self.r.int(head, at)?),
            Head::Bool(b) => visitor.visit_bool(b),
            Head::Null => visitor.visit_unit(),
            Head::Text(len) => visitor.visit_borrowed_str(self.r.text(len, at)?),
            Head::Bytes(len) => {
                let b = self.r.take(len)?;
                json_form(visitor, "$bytes", atmo_types::base64::encode(b))
            }
            Head::Tag(tag) => {
                let cid = self.r.cid_after_tag(tag, at)?;
                json_form(visitor, "$link", cid.to_string())
            }
            Head::Array(n) => {
                self.enter(at)?;
                let mut seq = Seq { de: self, left: n };
                let v = visitor.visit_seq(&mut seq)?;
                let left = seq.left;
                self.leave(at, left, "array", "items")?;
                Ok(v)
            }
            Head::Map(n) => self.map(at, n, false, visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        // A union wants `$type` first; every other struct takes stored order.
        if name == UNION_TOKEN && self.r.peek().is_some_and(|b| b >> 5 == 5) {
            let (head, at) = self.head()?;
            if let Head::Map(n) = head {
                return self.map(at, n, true, visitor);
            }
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.r.peek() == Some(0xf6) {
            self.last = self.r.pos;
            self.r.pos += 1;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        if name == CID_LINK_TOKEN {
            let (head, at) = self.head()?;
            let Head::Tag(tag) = head else {
                return Err(self
                    .r
                    .err(at, Rule::Message("expected a CID link (tag 42)".to_owned())));
            };
            let cid = self.r.cid_after_tag(tag, at)?;
            return visitor.visit_bytes(cid.as_bytes());
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let (head, at) = self.head()?;
        match head {
            Head::Bytes(len) => visitor.visit_borrowed_bytes(self.r.take(len)?),
            _ => Err(self
                .r
                .err(at, Rule::Message("expected a byte string".to_owned()))),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let (head, at) = self.head()?;
        match head {
            Head::Text(len) => {
                let s = self.r.text(len, at)?;
                visitor.visit_enum(s.into_deserializer())
            }
            _ => Err(self.r.err(
                at,
                Rule::Message("expected a string naming an enum variant".to_owned()),
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.last = self.r.pos;
        let depth = self.depth;
        self.r.skip(depth)?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct seq tuple tuple_struct map identifier
    }
}

struct Seq<'b, 'de> {
    de: &'b mut Deserializer<'de>,
    left: usize,
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// Where a map's `$type` entry lies when it is handed out first.
#[derive(Clone, Copy)]
struct TypeEntry<'de> {
    key: &'static str,
    _input: std::marker::PhantomData<&'de ()>,
    key_at: usize,
    value_at: usize,
    value_end: usize,
}

enum TypeState<'de> {
    /// Entries are handed out in stored order.
    InOrder,
    /// `$type` goes first: its key is next.
    Key(TypeEntry<'de>),
    /// `$type`'s key was handed out; its value is next.
    Value(TypeEntry<'de>),
    /// `$type` was handed out; skip it when the stored order reaches it.
    Done(TypeEntry<'de>),
}

/// How many bytes of values before `$type` a map may skip looking for it;
/// past that the visitor gets stored order (and buffers, if it must).
const TYPE_LOOKAHEAD_BUDGET: usize = 4096;

struct Entries<'b, 'de> {
    de: &'b mut Deserializer<'de>,
    left: usize,
    prev: Option<&'de [u8]>,
    ty: TypeState<'de>,
}

impl<'b, 'de> Entries<'b, 'de> {
    fn new(de: &'b mut Deserializer<'de>, n: usize, type_first: bool) -> Self {
        let ty = if type_first && n >= 2 {
            find_type(&de.r, n, de.depth)
        } else {
            None
        };
        Entries {
            de,
            left: n,
            prev: None,
            ty: ty.map_or(TypeState::InOrder, TypeState::Key),
        }
    }
}

/// Looks for `$type` among the keys that sort before it; `None` when it
/// is first, absent, or too far in.
fn find_type<'de>(r: &Reader<'de>, n: usize, depth: usize) -> Option<TypeEntry<'de>> {
    let mut look = r.clone();
    let start = look.pos;
    for i in 0..n {
        let key_at = look.pos;
        let key = look.key_bytes().ok()?;
        if key == b"$type" {
            if i == 0 {
                return None;
            }
            let value_at = look.pos;
            look.skip(depth).ok()?;
            return Some(TypeEntry {
                key: "$type",
                _input: std::marker::PhantomData,
                key_at,
                value_at,
                value_end: look.pos,
            });
        }
        // In canonical order nothing after a key that sorts above `$type`
        // can be `$type` (keys of six bytes or more, most of them).
        if crate::cbor::key_cmp(key, b"$type").is_gt() {
            return None;
        }
        look.skip(depth).ok()?;
        if look.pos - start > TYPE_LOOKAHEAD_BUDGET {
            return None;
        }
    }
    None
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        if let TypeState::Key(t) = self.ty {
            self.ty = TypeState::Value(t);
            return seed
                .deserialize(de::value::BorrowedStrDeserializer::new(t.key))
                .map(Some);
        }
        loop {
            if self.left == 0 {
                return Ok(None);
            }
            let (key, at) = self.de.r.key()?;
            self.de.last = at;
            if let Some(p) = self.prev {
                self.de.r.key_order(p, key.as_bytes(), at)?;
            }
            self.prev = Some(key.as_bytes());
            if let TypeState::Done(t) = self.ty {
                if t.key_at == at {
                    self.de.r.pos = t.value_end;
                    self.left -= 1;
                    continue;
                }
            }
            return seed
                .deserialize(de::value::BorrowedStrDeserializer::new(key))
                .map(Some);
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        if let TypeState::Value(t) = self.ty {
            self.ty = TypeState::Done(t);
            let resume = self.de.r.pos;
            self.de.r.pos = t.value_at;
            let v = seed.deserialize(&mut *self.de)?;
            self.de.r.pos = resume;
            return Ok(v);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}
