//! The DAG-CBOR reader and writer underneath the value, serde and MST code:
//! item heads with every strictness rule checked at the byte where it breaks.

use std::cmp::Ordering;

use crate::cid::Cid;
use crate::error::{DecodeError, Rule};

/// How strictly to read DAG-CBOR.
///
/// Strict (the default) refuses everything atproto's data model rules out.
/// [`DecodeOptions::lenient`] accepts two things real producers have been
/// seen to write, and nothing else: map keys out of canonical order (older
/// or hand-rolled encoders sorting bytewise only or not at all; duplicates
/// are still refused where the decoder can see them) and integers or lengths
/// not in their shortest form. Floats, indefinite lengths, tags other than
/// 42, non-string keys and non-blessed CIDs are refused in both modes: the
/// data model cannot represent them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Accept unsorted map keys and non-minimal integer and length heads.
    pub lenient: bool,
    /// Deepest nesting of arrays and maps accepted.
    pub max_depth: usize,
}

/// Default nesting limit: deep enough for any record, shallow enough for
/// the stack.
pub const DEFAULT_MAX_DEPTH: usize = 128;

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            lenient: false,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl DecodeOptions {
    /// Strict decoding (the default).
    pub fn strict() -> Self {
        Self::default()
    }

    /// Lenient decoding (see the type's docs for what it relaxes).
    pub fn lenient() -> Self {
        DecodeOptions {
            lenient: true,
            ..Self::default()
        }
    }
}

/// One CBOR item head, as the data model allows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    Uint(u64),
    Nint(u64),
    Bytes(usize),
    Text(usize),
    Array(usize),
    Map(usize),
    Tag(u64),
    Bool(bool),
    Null,
}

/// Canonical map-key order: shorter first, then bytewise.
#[inline]
pub(crate) fn key_cmp(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A cursor over DAG-CBOR bytes.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub opts: DecodeOptions,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], opts: DecodeOptions) -> Self {
        Reader { buf, pos: 0, opts }
    }

    #[inline]
    pub fn err(&self, offset: usize, rule: Rule) -> DecodeError {
        DecodeError::new(offset, rule)
    }

    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(self.pos, Rule::TrailingBytes))
        }
    }

    /// The next byte without consuming it.
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err(self.pos, Rule::UnexpectedEnd))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    #[inline]
    fn argument(&mut self, info: u8, start: usize) -> Result<u64, DecodeError> {
        let (v, min) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (u64::from(self.take(1)?[0]), 24),
            25 => {
                let b = self.take(2)?;
                (u64::from(u16::from_be_bytes([b[0], b[1]])), 0x100)
            }
            26 => {
                let b = self.take(4)?;
                (
                    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    0x1_0000,
                )
            }
            27 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 0x1_0000_0000)
            }
            28..=30 => return Err(self.err(start, Rule::Reserved)),
            _ => return Err(self.err(start, Rule::IndefiniteLength)),
        };
        if v < min && !self.opts.lenient {
            return Err(self.err(start, Rule::NonMinimal));
        }
        Ok(v)
    }

    /// A length that must fit in the rest of the input (`unit` bytes per
    /// element at least).
    #[inline]
    fn length(&self, v: u64, start: usize) -> Result<usize, DecodeError> {
        let rest = (self.buf.len() - self.pos) as u64;
        if v > rest {
            return Err(self.err(start, Rule::LengthTooLong(v)));
        }
        Ok(v as usize)
    }

    /// Reads one item head; returns it and its offset.
    #[inline]
    pub fn head(&mut self) -> Result<(Head, usize), DecodeError> {
        let start = self.pos;
        let Some(&b) = self.buf.get(self.pos) else {
            return Err(self.err(start, Rule::UnexpectedEnd));
        };
        self.pos += 1;
        let major = b >> 5;
        let info = b & 0x1f;
        let head = match major {
            0 => Head::Uint(self.argument(info, start)?),
            1 => Head::Nint(self.argument(info, start)?),
            2 => {
                let v = self.argument(info, start)?;
                Head::Bytes(self.length(v, start)?)
            }
            3 => {
                let v = self.argument(info, start)?;
                Head::Text(self.length(v, start)?)
            }
            4 => {
                let v = self.argument(info, start)?;
                Head::Array(self.length(v, start)?)
            }
            5 => {
                let v = self.argument(info, start)?;
                // Each entry takes at least two bytes.
                Head::Map(self.length(v.saturating_mul(2), start)? / 2)
            }
            6 => {
                let tag = self.argument(info, start)?;
                Head::Tag(tag)
            }
            _ => match info {
                20 => Head::Bool(false),
                21 => Head::Bool(true),
                22 => Head::Null,
                25..=27 => return Err(self.err(start, Rule::Float)),
                31 => return Err(self.err(start, Rule::IndefiniteLength)),
                24 => {
                    let v = self.take(1)?[0];
                    return Err(self.err(start, Rule::SimpleValue(v)));
                }
                28..=30 => return Err(self.err(start, Rule::Reserved)),
                v => return Err(self.err(start, Rule::SimpleValue(v))),
            },
        };
        Ok((head, start))
    }

    /// The text of a string whose head was just read.
    #[inline]
    pub fn text(&mut self, len: usize, start: usize) -> Result<&'a str, DecodeError> {
        let b = self.take(len)?;
        std::str::from_utf8(b).map_err(|_| self.err(start, Rule::Utf8))
    }

    /// The CID of a tag 42 whose head (at `start`) was just read.
    pub fn cid_after_tag(&mut self, tag: u64, start: usize) -> Result<Cid, DecodeError> {
        if tag != 42 {
            return Err(self.err(start, Rule::Tag(tag)));
        }
        let (head, at) = self.head()?;
        let Head::Bytes(len) = head else {
            return Err(self.err(at, Rule::CidNotBytes));
        };
        let b = self.take(len)?;
        match b.split_first() {
            Some((0, rest)) => Cid::from_bytes(rest).map_err(|e| self.err(at, Rule::Cid(e))),
            _ => Err(self.err(at, Rule::CidPrefix)),
        }
    }

    /// The integer of an integer head.
    #[inline]
    pub fn int(&self, head: Head, start: usize) -> Result<i64, DecodeError> {
        match head {
            Head::Uint(v) => i64::try_from(v).map_err(|_| self.err(start, Rule::IntegerRange)),
            Head::Nint(v) => i64::try_from(v)
                .map(|n| -1 - n)
                .map_err(|_| self.err(start, Rule::IntegerRange)),
            _ => Err(self.err(start, Rule::Message("expected an integer".into()))),
        }
    }

    /// Checks that `key` may follow `previous` in a map.
    #[inline]
    pub fn key_order(&self, previous: &[u8], key: &[u8], at: usize) -> Result<(), DecodeError> {
        match key_cmp(previous, key) {
            Ordering::Less => Ok(()),
            Ordering::Equal => Err(self.err(
                at,
                Rule::DuplicateKey(String::from_utf8_lossy(key).into_owned()),
            )),
            Ordering::Greater if self.opts.lenient => Ok(()),
            Ordering::Greater => Err(self.err(
                at,
                Rule::KeyOrder {
                    previous: String::from_utf8_lossy(previous).into_owned(),
                    key: String::from_utf8_lossy(key).into_owned(),
                },
            )),
        }
    }

    /// A map key: a text string.
    #[inline]
    pub fn key(&mut self) -> Result<(&'a str, usize), DecodeError> {
        let (head, at) = self.head()?;
        match head {
            Head::Text(len) => Ok((self.text(len, at)?, at)),
            _ => Err(self.err(at, Rule::NonStringKey)),
        }
    }

    /// A map key's raw bytes, without the UTF-8 check (for look-ahead).
    #[inline]
    pub fn key_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let (head, at) = self.head()?;
        match head {
            Head::Text(len) => self.take(len),
            _ => Err(self.err(at, Rule::NonStringKey)),
        }
    }

    /// Skips one whole item, checking every rule on the way.
    pub fn skip(&mut self, depth: usize) -> Result<(), DecodeError> {
        let (head, at) = self.head()?;
        match head {
            Head::Uint(_) | Head::Nint(_) => {
                self.int(head, at)?;
            }
            Head::Bool(_) | Head::Null => {}
            Head::Bytes(len) => {
                self.take(len)?;
            }
            Head::Text(len) => {
                self.text(len, at)?;
            }
            Head::Tag(tag) => {
                self.cid_after_tag(tag, at)?;
            }
            Head::Array(n) => {
                if depth >= self.opts.max_depth {
                    return Err(self.err(at, Rule::TooDeep(self.opts.max_depth)));
                }
                for _ in 0..n {
                    self.skip(depth + 1)?;
                }
            }
            Head::Map(n) => {
                if depth >= self.opts.max_depth {
                    return Err(self.err(at, Rule::TooDeep(self.opts.max_depth)));
                }
                let mut prev: Option<&[u8]> = None;
                for _ in 0..n {
                    let (k, kat) = self.key()?;
                    if let Some(p) = prev {
                        self.key_order(p, k.as_bytes(), kat)?;
                    }
                    prev = Some(k.as_bytes());
                    self.skip(depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

/// Appends a minimal item head.
#[inline]
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, v: u64) {
    let m = major << 5;
    if v < 24 {
        out.push(m | v as u8);
    } else if v <= 0xff {
        out.extend_from_slice(&[m | 24, v as u8]);
    } else if v <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Appends an integer.
#[inline]
pub(crate) fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_head(out, 0, v as u64);
    } else {
        write_head(out, 1, (-1 - v) as u64);
    }
}

/// Appends a text string.
#[inline]
pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    write_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends a byte string.
#[inline]
pub(crate) fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends a CID link (tag 42, `0x00` prefix).
#[inline]
pub(crate) fn write_cid(out: &mut Vec<u8>, cid: &Cid) {
    out.extend_from_slice(&[0xd8, 42, 0x58, 37, 0]);
    out.extend_from_slice(cid.as_bytes());
}
