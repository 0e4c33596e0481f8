//! CAR v1 files read from a byte slice, every block checked against its CID.
//!
//! A CAR file is a varint-prefixed DAG-CBOR header `{version: 1, roots:
//! [cid, ..]}` followed by sections, each a varint length, a CID and the
//! block's bytes. Blocks are lent from the input (no copies); a block whose
//! SHA-256 does not match its CID is an error that names the block.

use std::collections::HashMap;
use std::fmt;

use crate::cid::{Cid, CidError};
use crate::error::DecodeError;
use crate::value::Value;

/// Size caps applied while reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarLimits {
    /// Largest file accepted, in bytes.
    pub max_file: usize,
    /// Largest block accepted, in bytes.
    pub max_block: usize,
}

impl Default for CarLimits {
    /// 1 GiB files, 2 MiB blocks (atproto records are at most 1 MiB; an
    /// event-stream frame at most 5 MB).
    fn default() -> Self {
        CarLimits {
            max_file: 1 << 30,
            max_block: 2 << 20,
        }
    }
}

/// Why a CAR file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CarError {
    /// The file is larger than [`CarLimits::max_file`].
    FileTooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// A varint that is malformed or runs past the end, at this offset.
    Varint(usize),
    /// The header is not valid DAG-CBOR (offsets are within the header).
    Header(DecodeError),
    /// The header is DAG-CBOR but not `{version: 1, roots: [..]}`.
    HeaderShape(String),
    /// A section runs past the end of the file.
    Truncated {
        /// Offset of the section.
        offset: usize,
        /// Its announced length.
        length: u64,
    },
    /// A block larger than [`CarLimits::max_block`].
    BlockTooLarge {
        /// Offset of the section.
        offset: usize,
        /// The block's length.
        length: u64,
        /// The cap.
        max: usize,
    },
    /// A section's CID is not acceptable.
    Cid {
        /// Offset of the section.
        offset: usize,
        /// Why.
        error: CidError,
    },
    /// A block whose bytes do not hash to its CID.
    HashMismatch {
        /// Offset of the section.
        offset: usize,
        /// The CID it claims.
        cid: Cid,
    },
    /// Reading failed (async reader only).
    Io {
        /// Bytes read before the failure.
        offset: usize,
        /// The I/O error's message.
        message: String,
    },
}

impl fmt::Display for CarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CarError::FileTooLarge { size, max } => {
                write!(f, "CAR file of {size} bytes is over the {max}-byte cap")
            }
            CarError::Varint(at) => write!(f, "CAR: bad varint at byte {at}"),
            CarError::Header(e) => write!(f, "CAR header: {e}"),
            CarError::HeaderShape(why) => write!(f, "CAR header: {why}"),
            CarError::Truncated { offset, length } => write!(
                f,
                "CAR section at byte {offset} announces {length} bytes past the end of the file"
            ),
            CarError::BlockTooLarge {
                offset,
                length,
                max,
            } => write!(
                f,
                "CAR block at byte {offset} is {length} bytes, over the {max}-byte cap"
            ),
            CarError::Cid { offset, error } => {
                write!(f, "CAR section at byte {offset}: {error}")
            }
            CarError::HashMismatch { offset, cid } => write!(
                f,
                "CAR block {cid} at byte {offset} does not hash to its CID"
            ),
            CarError::Io { offset, message } => {
                write!(f, "CAR: reading failed after {offset} bytes: {message}")
            }
        }
    }
}

impl std::error::Error for CarError {}

/// Reads an unsigned LEB128 varint of at most 9 bytes (as multiformats
/// allows), minimal.
fn varint(bytes: &[u8], at: usize) -> Result<(u64, usize), CarError> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let b = *bytes.get(at + i).ok_or(CarError::Varint(at))?;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(CarError::Varint(at));
            }
            return Ok((v, i + 1));
        }
    }
    Err(CarError::Varint(at))
}

/// One block of a CAR file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block<'a> {
    /// Its CID (checked against `data`).
    pub cid: Cid,
    /// Its bytes, lent from the file.
    pub data: &'a [u8],
    /// Offset of its section in the file.
    pub offset: usize,
}

/// Iterates over the blocks of a CAR file after its header, checking each.
pub struct Blocks<'a> {
    bytes: &'a [u8],
    pos: usize,
    limits: CarLimits,
    failed: bool,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<Block<'a>, CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let r = self.read();
        self.failed = r.is_err();
        Some(r)
    }
}

impl<'a> Blocks<'a> {
    /// The same blocks with the hashing left to the caller: each comes as
    /// an [`UncheckedBlock`], which becomes a [`Block`] only through
    /// [`UncheckedBlock::check`]. For a reader that uses a few blocks of
    /// many (a firehose commit's records, not its tree nodes): it hashes
    /// what it hands on and nothing else. Framing, CID syntax and the size
    /// caps are still checked as the blocks are read.
    pub fn unchecked(self) -> UncheckedBlocks<'a> {
        UncheckedBlocks(self)
    }

    fn read(&mut self) -> Result<Block<'a>, CarError> {
        self.read_unchecked()?.check()
    }

    fn read_unchecked(&mut self) -> Result<UncheckedBlock<'a>, CarError> {
        let offset = self.pos;
        let (length, n) = varint(self.bytes, offset)?;
        let start = offset + n;
        let rest = (self.bytes.len() - start) as u64;
        if length > rest {
            return Err(CarError::Truncated { offset, length });
        }
        let section = &self.bytes[start..start + length as usize];
        let (cid, data) =
            Cid::read_prefix(section).map_err(|error| CarError::Cid { offset, error })?;
        if data.len() > self.limits.max_block {
            return Err(CarError::BlockTooLarge {
                offset,
                length: data.len() as u64,
                max: self.limits.max_block,
            });
        }
        self.pos = start + length as usize;
        Ok(UncheckedBlock { cid, data, offset })
    }
}

/// A block read from a CAR file whose bytes have not been hashed yet (see
/// [`Blocks::unchecked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UncheckedBlock<'a> {
    /// The CID its section claims.
    pub cid: Cid,
    /// Its bytes, lent from the file, not yet checked against `cid`.
    pub data: &'a [u8],
    /// Offset of its section in the file.
    pub offset: usize,
}

impl<'a> UncheckedBlock<'a> {
    /// Hashes the bytes: the block if they match its CID,
    /// [`CarError::HashMismatch`] if not.
    pub fn check(self) -> Result<Block<'a>, CarError> {
        if !self.cid.matches(self.data) {
            return Err(CarError::HashMismatch {
                offset: self.offset,
                cid: self.cid,
            });
        }
        Ok(Block {
            cid: self.cid,
            data: self.data,
            offset: self.offset,
        })
    }
}

/// The blocks of a CAR file, framing checked, hashing left to the caller
/// ([`Blocks::unchecked`]).
pub struct UncheckedBlocks<'a>(Blocks<'a>);

impl<'a> Iterator for UncheckedBlocks<'a> {
    type Item = Result<UncheckedBlock<'a>, CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = &mut self.0;
        if b.failed || b.pos >= b.bytes.len() {
            return None;
        }
        let r = b.read_unchecked();
        b.failed = r.is_err();
        Some(r)
    }
}

/// Reads a CAR header; returns the roots and the blocks that follow.
pub fn read_car(bytes: &[u8], limits: CarLimits) -> Result<(Vec<Cid>, Blocks<'_>), CarError> {
    if bytes.len() > limits.max_file {
        return Err(CarError::FileTooLarge {
            size: bytes.len(),
            max: limits.max_file,
        });
    }
    let (length, n) = varint(bytes, 0)?;
    let rest = (bytes.len() - n) as u64;
    if length > rest {
        return Err(CarError::Truncated { offset: 0, length });
    }
    let roots = parse_header(&bytes[n..n + length as usize])?;
    Ok((
        roots,
        Blocks {
            bytes,
            pos: n + length as usize,
            limits,
            failed: false,
        },
    ))
}

fn parse_header(bytes: &[u8]) -> Result<Vec<Cid>, CarError> {
    let header = Value::from_cbor(bytes).map_err(CarError::Header)?;
    let shape = |why: &str| CarError::HeaderShape(why.to_owned());
    let map = header.as_map().ok_or_else(|| shape("not a map"))?;
    if map.get("version").and_then(Value::as_i64) != Some(1) {
        return Err(shape("version is not 1"));
    }
    let Some(Value::Array(roots)) = map.get("roots") else {
        return Err(shape("roots is not an array"));
    };
    roots
        .iter()
        .map(|r| r.as_link().ok_or_else(|| shape("a root is not a CID link")))
        .collect()
}

/// A whole CAR file: its roots and its blocks by CID, lent from the input.
#[derive(Clone, Debug)]
pub struct Car<'a> {
    /// The header's roots, in order.
    pub roots: Vec<Cid>,
    /// Blocks by CID.
    pub blocks: HashMap<Cid, &'a [u8]>,
}

impl<'a> Car<'a> {
    /// Reads and checks every block, with default limits.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, CarError> {
        Self::with_limits(bytes, CarLimits::default())
    }

    /// Reads and checks every block.
    pub fn with_limits(bytes: &'a [u8], limits: CarLimits) -> Result<Self, CarError> {
        let (roots, iter) = read_car(bytes, limits)?;
        let mut blocks = HashMap::new();
        for b in iter {
            let b = b?;
            blocks.insert(b.cid, b.data);
        }
        Ok(Car { roots, blocks })
    }

    /// The block with this CID.
    pub fn get(&self, cid: &Cid) -> Option<&'a [u8]> {
        self.blocks.get(cid).copied()
    }
}

/// Writes a CAR v1 file (used by tests and tools that build repositories).
pub fn write_car<'b>(roots: &[Cid], blocks: impl IntoIterator<Item = &'b [u8]>) -> Vec<u8> {
    let header = {
        let mut m = crate::value::Map::new();
        m.insert(
            "roots",
            Value::Array(roots.iter().map(|c| Value::Link(*c)).collect()),
        );
        m.insert("version", Value::Integer(1));
        Value::Map(m).to_cbor()
    };
    let mut out = Vec::new();
    write_varint(&mut out, header.len() as u64);
    out.extend_from_slice(&header);
    for data in blocks {
        let cid = Cid::for_dag_cbor(data);
        write_varint(&mut out, (36 + data.len()) as u64);
        out.extend_from_slice(cid.as_bytes());
        out.extend_from_slice(data);
    }
    out
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Largest CAR header accepted from a stream.
#[cfg(feature = "async")]
const MAX_HEADER: u64 = 1 << 20;

/// A CAR file read from an async reader block by block (feature `async`):
/// memory holds one block at a time. The same checks and caps as the slice
/// reader apply; [`CarLimits::max_file`] caps the bytes read in total.
#[cfg(feature = "async")]
pub struct CarStream<R> {
    reader: R,
    limits: CarLimits,
    offset: usize,
    roots: Vec<Cid>,
}

/// A block read from a stream (owned).
#[cfg(feature = "async")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedBlock {
    /// Its CID (checked against `data`).
    pub cid: Cid,
    /// Its bytes.
    pub data: Vec<u8>,
    /// Offset of its section in the stream.
    pub offset: usize,
}

#[cfg(feature = "async")]
impl<R: tokio::io::AsyncRead + Unpin> CarStream<R> {
    /// Reads the header.
    pub async fn new(reader: R, limits: CarLimits) -> Result<Self, CarError> {
        let mut s = CarStream {
            reader,
            limits,
            offset: 0,
            roots: Vec::new(),
        };
        let Some(length) = s.varint().await? else {
            return Err(CarError::Varint(0));
        };
        if length > MAX_HEADER {
            return Err(CarError::HeaderShape(format!(
                "header of {length} bytes is over {MAX_HEADER}"
            )));
        }
        let header = s.exact(length as usize, 0, length).await?;
        s.roots = parse_header(&header)?;
        Ok(s)
    }

    /// The header's roots.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// The next block, checked against its CID; `None` at the end.
    pub async fn next_block(&mut self) -> Result<Option<OwnedBlock>, CarError> {
        let offset = self.offset;
        let Some(length) = self.varint().await? else {
            return Ok(None);
        };
        // A section is a 36-byte CID and the block.
        let data_len = length.saturating_sub(36);
        if data_len > self.limits.max_block as u64 {
            return Err(CarError::BlockTooLarge {
                offset,
                length: data_len,
                max: self.limits.max_block,
            });
        }
        let section = self.exact(length as usize, offset, length).await?;
        let (cid, data) =
            Cid::read_prefix(&section).map_err(|error| CarError::Cid { offset, error })?;
        if !cid.matches(data) {
            return Err(CarError::HashMismatch { offset, cid });
        }
        Ok(Some(OwnedBlock {
            cid,
            data: data.to_vec(),
            offset,
        }))
    }

    fn count(&mut self, n: usize) -> Result<(), CarError> {
        self.offset += n;
        if self.offset > self.limits.max_file {
            return Err(CarError::FileTooLarge {
                size: self.offset,
                max: self.limits.max_file,
            });
        }
        Ok(())
    }

    /// A varint, or `None` at a clean end of the stream.
    async fn varint(&mut self) -> Result<Option<u64>, CarError> {
        use tokio::io::AsyncReadExt;
        let start = self.offset;
        let mut v: u64 = 0;
        for i in 0..9 {
            let mut b = [0u8; 1];
            let n = self.reader.read(&mut b).await.map_err(|e| CarError::Io {
                offset: self.offset,
                message: e.to_string(),
            })?;
            if n == 0 {
                return if i == 0 {
                    Ok(None)
                } else {
                    Err(CarError::Varint(start))
                };
            }
            self.count(1)?;
            v |= u64::from(b[0] & 0x7f) << (7 * i);
            if b[0] & 0x80 == 0 {
                if b[0] == 0 && i > 0 {
                    return Err(CarError::Varint(start));
                }
                return Ok(Some(v));
            }
        }
        Err(CarError::Varint(start))
    }

    async fn exact(&mut self, n: usize, offset: usize, length: u64) -> Result<Vec<u8>, CarError> {
        use tokio::io::AsyncReadExt;
        if self.offset.saturating_add(n) > self.limits.max_file {
            return Err(CarError::FileTooLarge {
                size: self.offset.saturating_add(n),
                max: self.limits.max_file,
            });
        }
        let mut buf = vec![0u8; n];
        match self.reader.read_exact(&mut buf).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(CarError::Truncated { offset, length });
            }
            Err(e) => {
                return Err(CarError::Io {
                    offset: self.offset,
                    message: e.to_string(),
                })
            }
        }
        self.count(n)?;
        Ok(buf)
    }
}
