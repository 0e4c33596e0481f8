//! [`Cid`]: the content identifiers atproto uses, in a fixed 36-byte form.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Multicodec of DAG-CBOR data (records, commits, MST nodes).
pub const DAG_CBOR: u8 = 0x71;
/// Multicodec of raw bytes (blobs).
pub const RAW: u8 = 0x55;
/// Multihash code of SHA-256.
const SHA2_256: u8 = 0x12;

/// A CID in atproto's blessed format: version 1, codec DAG-CBOR (`0x71`) or
/// raw (`0x55`), SHA-256 digest. Held as its 36 binary bytes, so it is
/// `Copy`, hashes and compares without allocation; other CID forms (v0,
/// other codecs or hashes) are refused when parsed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid([u8; 36]);

/// Why bytes or text are not a CID this crate accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CidError {
    /// The binary form is not 36 bytes long.
    Length(usize),
    /// Not CID version 1.
    Version(u8),
    /// A codec other than DAG-CBOR or raw.
    Codec(u8),
    /// A hash other than SHA-256 with a 32-byte digest.
    Hash {
        /// Multihash code.
        code: u8,
        /// Digest length.
        length: u8,
    },
    /// Text that does not start with `b` (base32 multibase).
    Multibase,
    /// A character outside lower-case base32 at this position of the text.
    Base32(usize),
}

impl fmt::Display for CidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidError::Length(n) => write!(f, "CID is {n} bytes; atproto CIDs are 36"),
            CidError::Version(v) => write!(f, "CID version byte 0x{v:02x}; only CIDv1 is accepted"),
            CidError::Codec(c) => write!(
                f,
                "CID codec 0x{c:02x}; only dag-cbor (0x71) and raw (0x55) are accepted"
            ),
            CidError::Hash { code, length } => write!(
                f,
                "CID hash 0x{code:02x} of {length} bytes; only sha2-256 (0x12, 32 bytes) is accepted"
            ),
            CidError::Multibase => f.write_str("CID text must start with 'b' (base32)"),
            CidError::Base32(i) => write!(f, "CID text has a non-base32 character at {i}"),
        }
    }
}

impl std::error::Error for CidError {}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

impl Cid {
    /// Parses the binary form (without the DAG-CBOR tag's `0x00` prefix).
    pub fn from_bytes(bytes: &[u8]) -> Result<Cid, CidError> {
        let arr: [u8; 36] = match bytes.try_into() {
            Ok(a) => a,
            Err(_) => {
                // Name the first wrong field when the prefix says why.
                if let Some(&v) = bytes.first() {
                    if v != 1 {
                        return Err(CidError::Version(v));
                    }
                }
                if let Some(&c) = bytes.get(1) {
                    if c != DAG_CBOR && c != RAW {
                        return Err(CidError::Codec(c));
                    }
                }
                if let (Some(&code), Some(&length)) = (bytes.get(2), bytes.get(3)) {
                    if code != SHA2_256 || length != 32 {
                        return Err(CidError::Hash { code, length });
                    }
                }
                return Err(CidError::Length(bytes.len()));
            }
        };
        if arr[0] != 1 {
            return Err(CidError::Version(arr[0]));
        }
        if arr[1] != DAG_CBOR && arr[1] != RAW {
            return Err(CidError::Codec(arr[1]));
        }
        if arr[2] != SHA2_256 || arr[3] != 32 {
            return Err(CidError::Hash {
                code: arr[2],
                length: arr[3],
            });
        }
        Ok(Cid(arr))
    }

    /// Parses a CID that starts `bytes`, returning it and the rest (as CAR
    /// block sections hold them).
    pub fn read_prefix(bytes: &[u8]) -> Result<(Cid, &[u8]), CidError> {
        let head = bytes.get(..36).unwrap_or(bytes);
        let cid = Cid::from_bytes(head)?;
        Ok((cid, bytes.get(36..).unwrap_or_default()))
    }

    /// A CID that names no content (all-zero digest), for slots that must
    /// hold some CID before the real one is known.
    pub(crate) const fn placeholder() -> Cid {
        let mut arr = [0u8; 36];
        arr[0] = 1;
        arr[1] = DAG_CBOR;
        arr[2] = SHA2_256;
        arr[3] = 32;
        Cid(arr)
    }

    /// The CID of `data` under `codec` ([`DAG_CBOR`] or [`RAW`]; other
    /// values are treated as raw).
    pub fn compute(codec: u8, data: &[u8]) -> Cid {
        let codec = if codec == DAG_CBOR { DAG_CBOR } else { RAW };
        let digest = Sha256::digest(data);
        let mut arr = [0u8; 36];
        arr[..4].copy_from_slice(&[1, codec, SHA2_256, 32]);
        arr[4..].copy_from_slice(&digest);
        Cid(arr)
    }

    /// The CID of a DAG-CBOR block.
    pub fn for_dag_cbor(data: &[u8]) -> Cid {
        Cid::compute(DAG_CBOR, data)
    }

    /// The CID of a blob's raw bytes.
    pub fn for_raw(data: &[u8]) -> Cid {
        Cid::compute(RAW, data)
    }

    /// True when `data` hashes to this CID's digest.
    pub fn matches(&self, data: &[u8]) -> bool {
        Sha256::digest(data).as_slice() == self.digest()
    }

    /// The 36 binary bytes.
    pub fn as_bytes(&self) -> &[u8; 36] {
        &self.0
    }

    /// The codec: [`DAG_CBOR`] or [`RAW`].
    pub fn codec(&self) -> u8 {
        self.0[1]
    }

    /// The SHA-256 digest.
    pub fn digest(&self) -> &[u8] {
        &self.0[4..]
    }

    /// The text form as `atmo_types`' string newtype.
    pub fn to_types_cid(&self) -> atmo_types::Cid {
        // 36 bytes are always accepted (held as bytes, text made on demand).
        atmo_types::Cid::from_binary(&self.0)
            .unwrap_or_else(|_| unreachable!("a 36-byte CID is a valid types Cid"))
    }

    fn write_base32(&self, out: &mut String) {
        out.push('b');
        atmo_types::base32::encode(&self.0, out);
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(59);
        self.write_base32(&mut s);
        f.write_str(&s)
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = CidError;

    /// Parses the base32 multibase text (`b…`, lower case, no padding).
    fn from_str(s: &str) -> Result<Cid, CidError> {
        let rest = s.strip_prefix('b').ok_or(CidError::Multibase)?;
        if rest.len() == 58 {
            return from_base32_36(rest.as_bytes());
        }
        let out = atmo_types::base32::decode(rest).map_err(|e| CidError::Base32(e.at + 1))?;
        Cid::from_bytes(&out)
    }
}

/// Each base32 character's value; 0xff for bytes that are not one.
const BASE32_VALUE: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 32 {
        t[BASE32[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// The 58 base32 characters of a 36-byte CID (290 bits, the last two
/// zero), decoded eight characters (five bytes) at a time; the same
/// errors as the general loop of `from_str`.
fn from_base32_36(text: &[u8]) -> Result<Cid, CidError> {
    let mut out = [0u8; 40];
    for (k, (chunk, bytes)) in text.chunks(8).zip(out.chunks_mut(5)).enumerate() {
        let mut v: u64 = 0;
        for (j, &c) in chunk.iter().enumerate() {
            let d = BASE32_VALUE[usize::from(c)];
            if d > 31 {
                return Err(CidError::Base32(k * 8 + j + 1));
            }
            v = (v << 5) | u64::from(d);
        }
        v <<= 5 * (8 - chunk.len());
        bytes.copy_from_slice(&v.to_be_bytes()[3..]);
    }
    // Bits past the 36th byte must be zero padding.
    if out[36] != 0 {
        return Err(CidError::Base32(text.len() + 1));
    }
    Cid::from_bytes(&out[..36])
}

impl TryFrom<&atmo_types::Cid> for Cid {
    type Error = CidError;
    fn try_from(c: &atmo_types::Cid) -> Result<Cid, CidError> {
        match c.binary_form() {
            // Read from DAG-CBOR: its bytes, without making and parsing text.
            Some(bytes) => Cid::from_bytes(bytes),
            None => c.as_str().parse(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The CID of the empty DAG-CBOR map `{}` (0xa0).
    const EMPTY_MAP: &str = "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua";

    #[test]
    fn computes_prints_and_parses() {
        let cid = Cid::for_dag_cbor(&[0xa0]);
        assert_eq!(cid.to_string(), EMPTY_MAP);
        assert_eq!(EMPTY_MAP.parse::<Cid>().unwrap(), cid);
        assert_eq!(cid.codec(), DAG_CBOR);
        assert!(cid.matches(&[0xa0]));
        assert!(!cid.matches(&[0xa1]));
        let raw = Cid::for_raw(b"hello");
        assert!(raw.to_string().starts_with("bafkrei"));
        assert_eq!(raw.to_string().parse::<Cid>().unwrap(), raw);
        assert_eq!(raw.to_types_cid().as_str(), raw.to_string());
        assert_ne!(raw, Cid::for_dag_cbor(b"hello"));
    }

    #[test]
    fn refuses_other_forms() {
        let good = *Cid::for_dag_cbor(b"x").as_bytes();
        let mut b = good;
        b[0] = 0x12;
        assert_eq!(Cid::from_bytes(&b), Err(CidError::Version(0x12)));
        b = good;
        b[1] = 0x70;
        assert_eq!(Cid::from_bytes(&b), Err(CidError::Codec(0x70)));
        b = good;
        b[2] = 0x13;
        assert!(matches!(
            Cid::from_bytes(&b),
            Err(CidError::Hash { code: 0x13, .. })
        ));
        assert_eq!(Cid::from_bytes(&good[..35]), Err(CidError::Length(35)));
        assert_eq!(Cid::from_bytes(&[]), Err(CidError::Length(0)));
        assert_eq!(
            "QmY7Yh4UquoXHLPFo2XbhXkhBvFoPwmQUSa92pxnxjQuPU".parse::<Cid>(),
            Err(CidError::Multibase)
        );
        assert_eq!(
            "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swuA".parse::<Cid>(),
            Err(CidError::Base32(58))
        );
        assert!("b".parse::<Cid>().is_err());
        assert!(format!("{EMPTY_MAP}a").parse::<Cid>().is_err());
    }

    /// The general base32 decoder, for comparison with the 36-byte fast path.
    fn slow(s: &str) -> Result<Cid, CidError> {
        let rest = s.strip_prefix('b').ok_or(CidError::Multibase)?;
        let out = atmo_types::base32::decode(rest).map_err(|e| CidError::Base32(e.at + 1))?;
        Cid::from_bytes(&out)
    }

    #[test]
    fn fast_path_parses_and_fails_as_the_general_loop() {
        let good = Cid::for_dag_cbor(b"\xa0").to_string();
        assert_eq!(good.len(), 59);
        let mut inputs = vec![good.clone(), Cid::for_raw(b"x").to_string()];
        // Every character changed to each of a few others, in every place:
        // invalid characters, other valid ones, the zero padding broken.
        for i in 1..good.len() {
            for c in ['a', 'z', '2', '7', '8', 'A', '=', '0'] {
                let mut s: Vec<char> = good.chars().collect();
                s[i] = c;
                inputs.push(s.into_iter().collect());
            }
        }
        for s in &inputs {
            assert_eq!(s.parse::<Cid>(), slow(s), "{s}");
        }
        assert!(inputs.iter().any(|s| s.parse::<Cid>().is_err()));
    }
}
