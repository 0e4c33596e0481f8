//! Base32 (RFC 4648 §6) in lower case without padding: the multibase `b`
//! form of CIDs, the only base32 atproto uses.
//!
//! [`encode`] turns five bytes into eight characters at a time (every CID
//! link decoded from DAG-CBOR becomes text through it); [`decode`] is
//! strict: only `a–z 2–7`, and no stray bits in the last character, so
//! every byte string has exactly one accepted text.

use std::fmt;

/// The alphabet (RFC 4648, lower case).
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Appends the base32 text of `bytes` to `out` (no multibase prefix).
pub fn encode(bytes: &[u8], out: &mut String) {
    let mut text = std::mem::take(out).into_bytes();
    text.reserve(bytes.len().div_ceil(5) * 8);
    let mut chunks = bytes.chunks_exact(5);
    for c in chunks.by_ref() {
        let n = c.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
        let mut eight = [0u8; 8];
        for (i, ch) in eight.iter_mut().enumerate() {
            *ch = ALPHABET[((n >> (35 - 5 * i)) & 31) as usize];
        }
        text.extend_from_slice(&eight);
    }
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in chunks.remainder() {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(ALPHABET[((acc >> bits) & 31) as usize]);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        text.push(ALPHABET[((acc << (5 - bits)) & 31) as usize]);
    }
    // `out` was a `String` and every byte added is from the ASCII
    // alphabet above, so this never takes the lossy branch.
    *out = match String::from_utf8(text) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
}

/// Text that is not strict base32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Base32Error {
    /// Byte offset of the first character outside the alphabet, or the
    /// text's length when its last character carries stray bits or the
    /// length is one no byte string encodes to.
    pub at: usize,
}

impl fmt::Display for Base32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not lower-case base32 at byte {}", self.at)
    }
}

impl std::error::Error for Base32Error {}

/// The bytes of base32 `text` (no multibase prefix).
pub fn decode(text: &str) -> Result<Vec<u8>, Base32Error> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (i, c) in text.bytes().enumerate() {
        let v = match c {
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return Err(Base32Error { at: i }),
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits >= 5 || acc != 0 {
        return Err(Base32Error { at: text.len() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        // A bit-at-a-time reference for the chunked encoder.
        fn reference(bytes: &[u8]) -> String {
            let bits: Vec<u8> = bytes
                .iter()
                .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
                .collect();
            bits.chunks(5)
                .map(|c| {
                    let v = c.iter().chain(std::iter::repeat(&0)).take(5);
                    let n = v.fold(0usize, |n, &b| (n << 1) | usize::from(b));
                    char::from(ALPHABET[n])
                })
                .collect()
        }
        let data: Vec<u8> = (0u16..64).map(|i| (i * 37 + 11) as u8).collect();
        for len in 0..data.len() {
            let mut text = String::new();
            encode(&data[..len], &mut text);
            assert_eq!(text, reference(&data[..len]), "{len}");
            assert_eq!(decode(&text).as_deref(), Ok(&data[..len]), "{len}");
            // Appending keeps what `out` already held.
            let mut after = String::from("bé");
            encode(&data[..len], &mut after);
            assert_eq!(after, format!("bé{text}"), "{len}");
        }
    }

    #[test]
    fn refuses_what_is_not_strict_base32() {
        assert_eq!(decode("mfrgg=="), Err(Base32Error { at: 5 }));
        assert_eq!(decode("MFRGG"), Err(Base32Error { at: 0 }));
        assert_eq!(decode("mfrg1"), Err(Base32Error { at: 4 }));
        // "a" is 5 bits: no byte; "mb" leaves stray bits in its last character.
        assert_eq!(decode("a"), Err(Base32Error { at: 1 }));
        assert_eq!(decode("mb"), Err(Base32Error { at: 2 }));
        assert_eq!(decode("my").as_deref(), Ok(&b"f"[..]));
    }
}
