//! [`DecodeError`]: why DAG-CBOR input was refused, and where.

use std::fmt;

use crate::cid::CidError;

/// A DAG-CBOR rule that input broke (or a plain decoding failure).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The input ended inside a value.
    UnexpectedEnd,
    /// Bytes follow the value.
    TrailingBytes,
    /// An integer or length written with more bytes than it needs.
    NonMinimal,
    /// An indefinite-length string, array or map (or a stray "break").
    IndefiniteLength,
    /// Additional-information values 28–30, reserved by CBOR.
    Reserved,
    /// A floating-point number: the atproto data model has none.
    Float,
    /// A simple value other than `false`, `true` and `null` (e.g. `undefined`).
    SimpleValue(u8),
    /// A tag other than 42.
    Tag(u64),
    /// A tag-42 CID whose byte string does not start with `0x00`.
    CidPrefix,
    /// A tag-42 payload that is not an acceptable CID.
    Cid(CidError),
    /// A tag-42 payload that is not a byte string.
    CidNotBytes,
    /// A map key that is not a text string.
    NonStringKey,
    /// A map key that does not sort after the previous one (length first,
    /// then bytewise).
    KeyOrder {
        /// The previous key.
        previous: String,
        /// The key out of place.
        key: String,
    },
    /// The same key twice in one map.
    DuplicateKey(String),
    /// A text string that is not UTF-8.
    Utf8,
    /// An integer outside the signed 64-bit range.
    IntegerRange,
    /// Nested deeper than the decoder allows.
    TooDeep(usize),
    /// A length larger than the rest of the input.
    LengthTooLong(u64),
    /// The value's shape does not match what was asked for (from serde).
    Message(String),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::UnexpectedEnd => f.write_str("input ends inside a value"),
            Rule::TrailingBytes => f.write_str("bytes follow the value"),
            Rule::NonMinimal => f.write_str("integer or length not in its shortest form"),
            Rule::IndefiniteLength => f.write_str("indefinite lengths are not allowed"),
            Rule::Reserved => f.write_str("reserved additional information (28-30)"),
            Rule::Float => f.write_str("floats are not allowed in the atproto data model"),
            Rule::SimpleValue(v) => write!(f, "simple value {v} is not allowed"),
            Rule::Tag(t) => write!(f, "tag {t} is not allowed (only 42, a CID)"),
            Rule::CidPrefix => f.write_str("tag-42 CID does not start with the 0x00 prefix"),
            Rule::Cid(e) => write!(f, "bad CID: {e}"),
            Rule::CidNotBytes => f.write_str("tag 42 must hold a byte string"),
            Rule::NonStringKey => f.write_str("map keys must be text strings"),
            Rule::KeyOrder { previous, key } => write!(
                f,
                "map key {key:?} sorts before {previous:?} (keys must be sorted length first, then bytewise)"
            ),
            Rule::DuplicateKey(k) => write!(f, "map key {k:?} appears twice"),
            Rule::Utf8 => f.write_str("text string is not valid UTF-8"),
            Rule::IntegerRange => f.write_str("integer outside the signed 64-bit range"),
            Rule::TooDeep(n) => write!(f, "nested deeper than {n} levels"),
            Rule::LengthTooLong(n) => write!(f, "length {n} runs past the end of the input"),
            Rule::Message(m) => f.write_str(m),
        }
    }
}

/// DAG-CBOR input refused: the byte offset of the item at fault and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset from the start of the input of the item that broke the rule.
    pub offset: usize,
    /// What was wrong.
    pub rule: Rule,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, rule: Rule) -> Self {
        DecodeError { offset, rule }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DAG-CBOR at byte {}: {}", self.offset, self.rule)
    }
}

impl std::error::Error for DecodeError {}

/// A value that cannot be written as DAG-CBOR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode as DAG-CBOR: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}
