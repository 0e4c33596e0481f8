//! Decoding a CID's string form: the multibase text, then the CIDv1 binary
//! layout `<version><codec><multihash code><digest length><digest>` (all but
//! the digest unsigned varints).
//!
//! The `cid` *syntax* check ([`super::Cid::new`]) is only the character-level
//! rule of the interop syntax vectors, which accept strings that decode to
//! nothing. [`Cid::decode`](super::Cid::decode) is what lexicon validation
//! asks for: base32 (`b…`) or base58btc (`z…`) text that decodes to a CIDv1
//! whose multihash is exactly as long as it says.

use super::{err, Cid, SyntaxError};

const F: &str = "cid";

/// The multihash code of SHA-256, whose digest is 32 bytes.
const SHA2_256: u64 = 0x12;

/// What a decoded CID says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CidParts {
    /// The CID version (always 1: CIDv0 strings are refused by the syntax).
    pub version: u64,
    /// The content codec, e.g. `0x71` (dag-cbor) or `0x55` (raw).
    pub codec: u64,
    /// The multihash function code, e.g. `0x12` (sha2-256).
    pub hash: u64,
    /// The digest length in bytes.
    pub digest_len: usize,
}

impl Cid {
    /// Decodes the CID: its multibase text (base32 `b…` or base58btc `z…`,
    /// the two that CIDs are written in), then version 1, a codec, and a
    /// multihash whose digest is as long as it declares (32 bytes for
    /// sha2-256), with nothing after it.
    pub fn decode(&self) -> Result<CidParts, SyntaxError> {
        let s = self.as_str();
        let bytes = match s.as_bytes().first() {
            Some(b'b') => crate::base32::decode(&s[1..]).map_err(|_| {
                err(F, format!("CID {s:?} is not lower-case base32 after its 'b' prefix"))
            })?,
            Some(b'z') => base58btc(&s[1..])
                .ok_or_else(|| err(F, format!("CID {s:?} is not base58btc after its 'z' prefix")))?,
            _ => {
                return Err(err(
                    F,
                    format!(
                        "CID {s:?} is not in base32 ('b…') or base58btc ('z…'), the multibases CIDs are written in"
                    ),
                ))
            }
        };
        parts(s, &bytes)
    }
}

/// The fields of a binary CIDv1.
fn parts(s: &str, bytes: &[u8]) -> Result<CidParts, SyntaxError> {
    let mut rest = bytes;
    let mut field = |what: &str| {
        varint(&mut rest).ok_or_else(|| {
            err(
                F,
                format!("CID {s:?} ends (or is malformed) where its {what} should be"),
            )
        })
    };
    let version = field("version")?;
    if version != 1 {
        return Err(err(
            F,
            format!("CID {s:?} has version {version}; only CIDv1 is supported"),
        ));
    }
    let codec = field("codec")?;
    let hash = field("multihash code")?;
    let len = field("multihash length")?;
    let digest_len = usize::try_from(len).unwrap_or(usize::MAX);
    if rest.len() != digest_len {
        return Err(err(
            F,
            format!(
                "CID {s:?} declares a {len}-byte digest but holds {} byte(s)",
                rest.len()
            ),
        ));
    }
    if hash == SHA2_256 && digest_len != 32 {
        return Err(err(
            F,
            format!("CID {s:?} has a sha2-256 digest of {len} bytes; it is 32"),
        ));
    }
    Ok(CidParts {
        version,
        codec,
        hash,
        digest_len,
    })
}

/// An unsigned LEB128 varint of at most 9 bytes (multiformats' limit), taken
/// off the front of `rest`.
fn varint(rest: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &b) in rest.iter().enumerate().take(9) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *rest = rest.get(i + 1..)?;
            return Some(value);
        }
    }
    None
}

/// Bitcoin's base58; leading `1`s are zero bytes.
fn base58btc(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    // Big-endian base-256 digits of the number, least significant last.
    let mut num: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes() {
        let mut carry = u32::try_from(ALPHABET.iter().position(|&a| a == c)?).ok()?;
        for d in num.iter_mut().rev() {
            carry += u32::from(*d) * 58;
            *d = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            num.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    let mut out = vec![0u8; zeros];
    out.extend(num);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<CidParts, SyntaxError> {
        Cid::new(s).unwrap().decode()
    }

    #[test]
    fn base32_and_base58_cids_decode() {
        let p = decode("bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a").unwrap();
        assert_eq!(
            (p.version, p.codec, p.hash, p.digest_len),
            (1, 0x71, 0x12, 32)
        );
        let raw = decode("bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy").unwrap();
        assert_eq!(raw.codec, 0x55);
        let p = decode("zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7").unwrap();
        assert_eq!(
            (p.version, p.codec, p.hash, p.digest_len),
            (1, 0x70, 0x12, 32)
        );
    }

    #[test]
    fn cids_that_do_not_decode_say_why() {
        let e = decode("bafyreia").unwrap_err();
        assert!(
            e.reason.contains("declares a 32-byte digest but holds 0"),
            "{e}"
        );
        let e = decode("bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz").unwrap_err();
        assert!(
            e.reason.contains("declares a 32-byte digest but holds 31"),
            "{e}"
        );
        // The right alphabet, but no valid multihash.
        let e = decode("z7x3CtScH765HvShXT").unwrap_err();
        assert!(
            e.reason.contains("CIDv1") || e.reason.contains("digest"),
            "{e}"
        );
        let e = decode("bAFYREIDF").unwrap_err();
        assert!(e.reason.contains("lower-case base32"), "{e}");
        let e = decode("mBcDxtdWx0aWhhc2g+").unwrap_err();
        assert!(e.reason.contains("base32 ('b…') or base58btc"), "{e}");
        // Version 2.
        let e = decode(&format!("b{}", encode32(&[2, 0x71, 0x12, 0, 0]))).unwrap_err();
        assert!(e.reason.contains("version 2"), "{e}");
    }

    #[test]
    fn sha256_digests_are_32_bytes() {
        // CIDv1, dag-cbor, sha2-256 with a declared and actual 4-byte digest.
        let text = format!("b{}", encode32(&[1, 0x71, 0x12, 4, 1, 2, 3, 4]));
        let e = decode(&text).unwrap_err();
        assert!(e.reason.contains("sha2-256 digest of 4 bytes"), "{e}");
        // Another hash function may have any declared length.
        let text = format!("b{}", encode32(&[1, 0x55, 0x13, 4, 1, 2, 3, 4]));
        assert_eq!(decode(&text).unwrap().digest_len, 4);
    }

    fn encode32(bytes: &[u8]) -> String {
        let mut out = String::new();
        crate::base32::encode(bytes, &mut out);
        out
    }
}
