//! Event-stream frames: a DAG-CBOR header `{op, t}` followed by a DAG-CBOR
//! body, both in one binary WebSocket message.
//!
//! Decoding needs no network: [`decode_frame`] turns the bytes of one
//! message into a [`Frame`] of the subscription's generated message union.

use std::fmt;

use atproto_sync::{DecodeError, Deserializer, Value};
use atproto_types::object::Union;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::subscription::Subscription;

/// The default largest frame accepted: the specification caps frames at
/// 5 MB; a little room above that for producers that round up.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 6 * 1024 * 1024;

/// The header's `op` of a message frame.
pub const OP_MESSAGE: i64 = 1;
/// The header's `op` of an error frame.
pub const OP_ERROR: i64 = -1;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame<M> {
    /// `op = 1`: a message. A `t` this build does not know decodes to the
    /// union's `Unknown` member, never to an error.
    Message(M),
    /// `op = -1`: the server's error; the stream closes after it.
    Error(ErrorFrame),
    /// An `op` other than 1 and -1, which the specification says to ignore.
    UnknownOp(i64),
}

/// The body of an error frame (`{error, message?}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFrame {
    /// The error name (`FutureCursor`, `ConsumerTooSlow`, …).
    pub error: String,
    /// The server's explanation, if any.
    pub message: Option<String>,
}

impl ErrorFrame {
    /// The subscription's typed error, when the name is one it declares.
    pub fn typed<S: Subscription>(&self) -> Option<S::Error> {
        <S::Error as atproto_types::xrpc::EndpointError>::from_xrpc(
            &self.error,
            self.message.clone(),
        )
    }
}

impl fmt::Display for ErrorFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.error),
            None => f.write_str(&self.error),
        }
    }
}

/// Which part of a frame was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The `{op, t}` header.
    Header,
    /// The body after it.
    Body,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Body => "body",
        })
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame is larger than the configured cap.
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// The header or body is not valid DAG-CBOR (or the body does not fit
    /// its message type); the offset in `source` counts from the frame's
    /// first byte.
    Decode {
        /// Which part.
        part: Part,
        /// The message type being read (`#commit`), when known.
        t: Option<String>,
        /// The body's `seq`, when it could still be read: a consumer that
        /// skips the frame resumes after it.
        seq: Option<i64>,
        /// What was wrong.
        source: DecodeError,
    },
    /// The header or error body is well-formed CBOR of the wrong shape.
    Shape {
        /// Which part.
        part: Part,
        /// What is wrong.
        why: String,
    },
}

impl FrameError {
    /// The body's `seq`, when the frame was readable far enough to find it.
    pub fn seq(&self) -> Option<i64> {
        match self {
            FrameError::Decode { seq, .. } => *seq,
            _ => None,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { size, max } => {
                write!(f, "frame of {size} bytes is over the {max}-byte limit")
            }
            FrameError::Decode {
                part,
                t,
                seq,
                source,
            } => {
                write!(f, "frame {part}")?;
                if let Some(t) = t {
                    write!(f, " ({t}")?;
                    if let Some(s) = seq {
                        write!(f, ", seq {s}")?;
                    }
                    f.write_str(")")?;
                }
                write!(f, ": {source}")
            }
            FrameError::Shape { part, why } => write!(f, "frame {part}: {why}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Decode { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A frame header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// 1 for a message, -1 for an error.
    pub op: i64,
    /// The message type (`#commit`), required when `op` is 1.
    pub t: Option<String>,
}

/// Reads the header at the start of `bytes`; returns it with the
/// deserializer placed at the body. Unknown header fields are ignored.
fn read_header(bytes: &[u8]) -> Result<(Header, Deserializer<'_>), FrameError> {
    let mut de = Deserializer::from_slice(bytes);
    let fields: Fields = de.decode().map_err(|source| FrameError::Decode {
        part: Part::Header,
        t: None,
        seq: None,
        source,
    })?;
    let shape = |why: &str| FrameError::Shape {
        part: Part::Header,
        why: why.to_owned(),
    };
    let op = match fields.get("op") {
        Some(Scalar::Int(op)) => *op,
        Some(_) => return Err(shape("\"op\" is not an integer")),
        None => return Err(shape("no \"op\"")),
    };
    let t = match fields.get("t") {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Str(t)) => Some(t.clone()),
        Some(_) => return Err(shape("\"t\" is not a string")),
    };
    Ok((Header { op, t }, de))
}

/// Reads only the header of a frame (after the size check).
pub fn decode_header(bytes: &[u8], max_size: usize) -> Result<Header, FrameError> {
    check_size(bytes, max_size)?;
    read_header(bytes).map(|(h, _)| h)
}

fn check_size(bytes: &[u8], max: usize) -> Result<(), FrameError> {
    if bytes.len() > max {
        return Err(FrameError::TooLarge {
            size: bytes.len(),
            max,
        });
    }
    Ok(())
}

/// The full `$type` of a header's `t`: `#commit` is short for
/// `<nsid>#commit`; a `t` with an NSID of its own is kept.
pub fn full_type(nsid: &str, t: &str) -> String {
    if t.starts_with('#') {
        format!("{nsid}{t}")
    } else {
        t.to_owned()
    }
}

/// Decodes one frame of subscription `S` (at most `max_size` bytes).
///
/// - `op = 1` decodes the body into `S::Message` by its `t`: an unknown `t`
///   becomes the union's `Unknown` member and unknown fields are kept in
///   each message's `extra`.
/// - `op = -1` gives the [`ErrorFrame`].
/// - Any other `op` is [`Frame::UnknownOp`] (its body is not read).
/// - Bytes after the body, a header without `op`, a message without `t`
///   and invalid DAG-CBOR anywhere are errors saying what and where.
pub fn decode_frame<S: Subscription>(
    bytes: &[u8],
    max_size: usize,
) -> Result<Frame<S::Message>, FrameError> {
    check_size(bytes, max_size)?;
    let (header, mut de) = read_header(bytes)?;
    match header.op {
        OP_MESSAGE => {
            let Some(t) = header.t else {
                return Err(FrameError::Shape {
                    part: Part::Header,
                    why: "message frame (op 1) without \"t\"".into(),
                });
            };
            let body_at = de.position();
            let full = full_type(S::NSID, &t);
            let decoded = S::Message::decode_member(&full, &mut de).and_then(|m| {
                de.end()?;
                Ok(m)
            });
            match decoded {
                Ok(m) => Ok(Frame::Message(m)),
                Err(mut source) => {
                    if source.offset == usize::MAX {
                        source.offset = body_at;
                    }
                    Err(FrameError::Decode {
                        part: Part::Body,
                        seq: bytes.get(body_at..).and_then(seq_of),
                        t: Some(t),
                        source,
                    })
                }
            }
        }
        OP_ERROR => {
            let fields: Fields = de
                .decode()
                .and_then(|v| {
                    de.end()?;
                    Ok(v)
                })
                .map_err(|source| FrameError::Decode {
                    part: Part::Body,
                    t: None,
                    seq: None,
                    source,
                })?;
            let shape = |why: &str| FrameError::Shape {
                part: Part::Body,
                why: why.to_owned(),
            };
            let error = match fields.get("error") {
                Some(Scalar::Str(e)) => e.clone(),
                _ => return Err(shape("error body has no \"error\" string")),
            };
            let message = match fields.get("message") {
                None | Some(Scalar::Null) => None,
                Some(Scalar::Str(m)) => Some(m.clone()),
                Some(_) => return Err(shape("error \"message\" is not a string")),
            };
            Ok(Frame::Error(ErrorFrame { error, message }))
        }
        op => Ok(Frame::UnknownOp(op)),
    }
}

/// The `seq` of a body that failed to decode as its type, if it is still
/// a DAG-CBOR map with an integer `seq` (prefix decoding: trailing bytes
/// are allowed).
fn seq_of(body: &[u8]) -> Option<i64> {
    let mut de = Deserializer::from_slice(body);
    let fields: Fields = de.decode().ok()?;
    match fields.get("seq") {
        Some(Scalar::Int(s)) => Some(*s),
        _ => None,
    }
}

/// A map's entries whose values are integers, strings or null, with other
/// values noted as [`Scalar::Other`] (read and checked, not kept).
struct Fields(Vec<(String, Scalar)>);

impl Fields {
    fn get(&self, key: &str) -> Option<&Scalar> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

enum Scalar {
    Int(i64),
    Str(String),
    Null,
    Other,
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v = map.next_value::<Scalar>()?;
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(i64::try_from(v).map_or(Scalar::Other, Scalar::Int))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Encodes a frame: header `{op, t}` (no `t` when `None`) followed by
/// `body`, which must already be DAG-CBOR. For servers, mock servers and
/// tests.
pub fn encode_frame(op: i64, t: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut header = atproto_sync::Map::new();
    header.insert("op", Value::Integer(op));
    if let Some(t) = t {
        header.insert("t", Value::String(t.into()));
    }
    let mut out = Value::Map(header).to_cbor();
    out.extend_from_slice(body);
    out
}

/// Encodes an error frame `{op: -1}` + `{error, message?}`.
pub fn encode_error_frame(error: &str, message: Option<&str>) -> Vec<u8> {
    let mut body = atproto_sync::Map::new();
    body.insert("error", Value::String(error.into()));
    if let Some(m) = message {
        body.insert("message", Value::String(m.into()));
    }
    encode_frame(OP_ERROR, None, &Value::Map(body).to_cbor())
}
