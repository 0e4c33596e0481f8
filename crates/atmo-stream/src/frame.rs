//! Event-stream frames: a DAG-CBOR header `{op, t}` followed by a DAG-CBOR
//! body, both in one binary WebSocket message.
//!
//! Decoding needs no network: [`decode_frame`] turns the bytes of one
//! message into a [`Frame`] of the subscription's generated message union.
//!
//! The frame rules (the size cap, the header, error frames, unknown ops,
//! the errors and their offsets) have one implementation,
//! [`atmo_sync::event`]: this module reads the header and error bodies
//! with it and decodes message bodies straight into the generated types,
//! in one pass and without an intermediate value.

use std::borrow::Cow;
use std::fmt;

use atmo_sync::event::{body_error, read_error_body, read_header};
use atmo_sync::{Deserializer, Value};
use atmo_types::object::Union;

pub use atmo_sync::event::{FrameError, Part, OP_ERROR, OP_MESSAGE};

use crate::subscription::Subscription;

/// The default largest frame accepted ([`atmo_sync::event::MAX_FRAME`]):
/// the specification caps frames at 5 MB; a little room above that for
/// producers that round up.
pub const DEFAULT_MAX_FRAME_SIZE: usize = atmo_sync::event::MAX_FRAME;

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
        <S::Error as atmo_types::xrpc::EndpointError>::from_xrpc(&self.error, self.message.clone())
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

/// A frame header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// 1 for a message, -1 for an error.
    pub op: i64,
    /// The message type (`#commit`), required when `op` is 1.
    pub t: Option<String>,
}

/// Reads only the header of a frame (after the size check); unknown
/// header fields are ignored ([`atmo_sync::event::read_header`], which
/// also lends `t` and gives the body's offset).
pub fn decode_header(bytes: &[u8], max_size: usize) -> Result<Header, FrameError> {
    let h = read_header(bytes, max_size)?;
    Ok(Header {
        op: h.op,
        t: h.t.map(str::to_owned),
    })
}

/// The full `$type` of a header's `t`: `#commit` is short for
/// `<nsid>#commit`; a `t` with an NSID of its own is kept.
pub fn full_type(nsid: &str, t: &str) -> String {
    full_type_in(nsid, t, &mut [0; FULL_TYPE_BUF]).into_owned()
}

/// Room for a full message type built without allocating (an NSID is at
/// most 317 bytes; the official ones and their `#name`s fit in far less).
const FULL_TYPE_BUF: usize = 128;

/// [`full_type`] in `buf` when it fits (every frame's type is built, so
/// this spares an allocation per frame), else in a new `String`.
fn full_type_in<'b>(nsid: &str, t: &'b str, buf: &'b mut [u8; FULL_TYPE_BUF]) -> Cow<'b, str> {
    if !t.starts_with('#') {
        return Cow::Borrowed(t);
    }
    let n = nsid.len() + t.len();
    if n <= buf.len() {
        buf[..nsid.len()].copy_from_slice(nsid.as_bytes());
        buf[nsid.len()..n].copy_from_slice(t.as_bytes());
        // Two `str`s one after the other are UTF-8.
        if let Ok(full) = std::str::from_utf8(&buf[..n]) {
            return Cow::Borrowed(full);
        }
    }
    Cow::Owned(format!("{nsid}{t}"))
}

/// Decodes one frame of subscription `S` (at most `max_size` bytes).
///
/// - `op = 1` decodes the body into `S::Message` by its `t`: an unknown `t`
///   becomes the union's `Unknown` member and unknown fields are kept in
///   each message's `extra`.
/// - `op = -1` gives the [`ErrorFrame`].
/// - Any other `op` is [`Frame::UnknownOp`] (its body is not read).
/// - Bytes after the body, a header without `op`, a message without `t`
///   and invalid DAG-CBOR anywhere are errors saying what and where
///   (offsets count from the frame's first byte).
///
/// The size cap, the header and the error body follow
/// [`atmo_sync::event`], the same rules as
/// [`atmo_sync::event::read_frame`].
pub fn decode_frame<S: Subscription>(
    bytes: &[u8],
    max_size: usize,
) -> Result<Frame<S::Message>, FrameError> {
    let header = read_header(bytes, max_size)?;
    match header.op {
        OP_MESSAGE => {
            let t = header.message_type()?;
            let mut de = Deserializer::from_slice(header.body(bytes));
            let mut buf = [0; FULL_TYPE_BUF];
            let full = full_type_in(S::NSID, t, &mut buf);
            S::Message::decode_member(&full, &mut de)
                .and_then(|m| {
                    de.end()?;
                    Ok(Frame::Message(m))
                })
                .map_err(|source| body_error(bytes, &header, source))
        }
        OP_ERROR => {
            let e = read_error_body(bytes, &header)?;
            Ok(Frame::Error(ErrorFrame {
                error: e.error.to_owned(),
                message: e.message.map(str::to_owned),
            }))
        }
        op => Ok(Frame::UnknownOp(op)),
    }
}

/// Encodes a frame: header `{op, t}` (no `t` when `None`) followed by
/// `body`, which must already be DAG-CBOR. For servers, mock servers and
/// tests.
pub fn encode_frame(op: i64, t: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut header = atmo_sync::Map::new();
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
    let mut body = atmo_sync::Map::new();
    body.insert("error", Value::String(error.into()));
    if let Some(m) = message {
        body.insert("message", Value::String(m.into()));
    }
    encode_frame(OP_ERROR, None, &Value::Map(body).to_cbor())
}
