//! Base58btc (the multibase `z` form) and unsigned varints (multicodec
//! prefixes): the two encodings atproto public keys are written in.
//!
//! Only base58btc is implemented: it is the one multibase encoding atproto
//! uses for keys. Decoding is quadratic in the input length, so inputs are
//! capped at [`MAX_BASE58_LEN`] characters, far above any key.

use std::fmt;

/// The Bitcoin base58 alphabet.
const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Longest base58 text [`decode_base58btc`] accepts (a compressed key with
/// its multicodec prefix is 48 characters; uncompressed, 91).
pub const MAX_BASE58_LEN: usize = 256;

/// Why base58/multibase text could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultibaseError {
    /// The text is empty (or only the `z` prefix).
    Empty,
    /// The multibase prefix is not `z` (base58btc); holds the prefix found.
    UnsupportedBase(char),
    /// A character outside the base58 alphabet, at this byte offset of the
    /// base58 text (after the multibase prefix).
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its byte offset.
        offset: usize,
    },
    /// Longer than [`MAX_BASE58_LEN`]; holds the length.
    TooLong(usize),
}

impl fmt::Display for MultibaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultibaseError::Empty => f.write_str("empty multibase text"),
            MultibaseError::UnsupportedBase(c) => write!(
                f,
                "multibase prefix {c:?} is not supported (only 'z', base58btc)"
            ),
            MultibaseError::InvalidCharacter { character, offset } => write!(
                f,
                "{character:?} at offset {offset} is not a base58btc character"
            ),
            MultibaseError::TooLong(n) => write!(
                f,
                "base58 text of {n} characters is longer than the {MAX_BASE58_LEN} accepted"
            ),
        }
    }
}

impl std::error::Error for MultibaseError {}

/// Decodes base58btc text (without a multibase prefix).
pub fn decode_base58btc(text: &str) -> Result<Vec<u8>, MultibaseError> {
    if text.is_empty() {
        return Err(MultibaseError::Empty);
    }
    if text.len() > MAX_BASE58_LEN {
        return Err(MultibaseError::TooLong(text.len()));
    }
    // Big-endian base-256 digits of the number read so far.
    let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
    for (offset, character) in text.char_indices() {
        let digit = u8::try_from(character)
            .ok()
            .and_then(|b| ALPHABET.iter().position(|a| *a == b))
            .ok_or(MultibaseError::InvalidCharacter { character, offset })?;
        let mut carry = digit as u32;
        for byte in bytes.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    // Each leading '1' stands for one leading zero byte.
    let zeros = text.bytes().take_while(|b| *b == b'1').count();
    let mut out = vec![0u8; zeros];
    out.extend_from_slice(&bytes);
    Ok(out)
}

/// Encodes `bytes` as base58btc (without a multibase prefix).
pub fn encode_base58btc(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    // Little-endian base-58 digits.
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for byte in bytes.iter().skip(zeros) {
        let mut carry = u32::from(*byte);
        for digit in digits.iter_mut() {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(
        digits
            .iter()
            .rev()
            .map(|d| ALPHABET[usize::from(*d) % 58] as char),
    );
    out
}

/// Decodes multibase text, which must use the base58btc (`z`) base.
pub fn decode_multibase(text: &str) -> Result<Vec<u8>, MultibaseError> {
    let mut chars = text.chars();
    match chars.next() {
        None => Err(MultibaseError::Empty),
        Some('z') => decode_base58btc(chars.as_str()),
        Some(other) => Err(MultibaseError::UnsupportedBase(other)),
    }
}

/// Encodes `bytes` as multibase base58btc: `z` followed by base58.
pub fn encode_multibase(bytes: &[u8]) -> String {
    let mut out = String::from("z");
    out.push_str(&encode_base58btc(bytes));
    out
}

/// Reads an unsigned LEB128 varint (multicodec style, at most 9 bytes, no
/// redundant trailing zero groups) from the start of `bytes`; returns the
/// value and the rest. `None` when it is truncated, too long or not minimal.
pub fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, byte) in bytes.iter().enumerate().take(9) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && *byte == 0 {
                return None;
            }
            return Some((value, bytes.get(i + 1..)?));
        }
    }
    None
}

/// Appends `value` as an unsigned LEB128 varint.
pub fn write_varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_known_values() {
        // Vectors from the base58 draft specification.
        assert_eq!(encode_base58btc(b"Hello World!"), "2NEpo7TZRRrLZSi2U");
        assert_eq!(
            decode_base58btc("2NEpo7TZRRrLZSi2U").unwrap(),
            b"Hello World!"
        );
        assert_eq!(
            encode_base58btc(&[0, 0, 0x28, 0x7f, 0xb4, 0xcd]),
            "11233QC4"
        );
        assert_eq!(
            decode_base58btc("11233QC4").unwrap(),
            [0, 0, 0x28, 0x7f, 0xb4, 0xcd]
        );
        assert_eq!(encode_base58btc(&[]), "");
        assert_eq!(encode_base58btc(&[0]), "1");
        assert_eq!(decode_base58btc("1").unwrap(), [0]);
    }

    #[test]
    fn base58_round_trips() {
        let mut state = 0x1234_5678_u32;
        for len in 0..80 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    if i < len / 10 {
                        0
                    } else {
                        (state >> 16) as u8
                    }
                })
                .collect();
            let text = encode_base58btc(&bytes);
            if !bytes.is_empty() {
                assert_eq!(decode_base58btc(&text).unwrap(), bytes, "{text}");
            }
        }
    }

    #[test]
    fn base58_refusals() {
        assert_eq!(decode_base58btc(""), Err(MultibaseError::Empty));
        assert_eq!(
            decode_base58btc("abc0def"),
            Err(MultibaseError::InvalidCharacter {
                character: '0',
                offset: 3
            })
        );
        assert_eq!(
            decode_base58btc("abé"),
            Err(MultibaseError::InvalidCharacter {
                character: 'é',
                offset: 2
            })
        );
        for bad in ['O', 'I', 'l', '+', '/'] {
            assert!(decode_base58btc(&format!("a{bad}")).is_err(), "{bad}");
        }
        let long = "2".repeat(MAX_BASE58_LEN + 1);
        assert_eq!(
            decode_base58btc(&long),
            Err(MultibaseError::TooLong(MAX_BASE58_LEN + 1))
        );
        assert_eq!(
            decode_multibase("f00ff"),
            Err(MultibaseError::UnsupportedBase('f'))
        );
        assert_eq!(decode_multibase(""), Err(MultibaseError::Empty));
        assert_eq!(decode_multibase("z"), Err(MultibaseError::Empty));
        assert!(decode_multibase("zabc0")
            .unwrap_err()
            .to_string()
            .contains("offset 3"));
    }

    #[test]
    fn varints() {
        for (value, bytes) in [
            (0u64, &[0u8][..]),
            (0x7f, &[0x7f]),
            (0xe7, &[0xe7, 0x01]),
            (0x1200, &[0x80, 0x24]),
            (300, &[0xac, 0x02]),
        ] {
            let mut out = Vec::new();
            write_varint(value, &mut out);
            assert_eq!(out, bytes);
            let mut with_rest = out.clone();
            with_rest.push(9);
            assert_eq!(read_varint(&with_rest), Some((value, &[9u8][..])));
        }
        assert_eq!(read_varint(&[]), None);
        assert_eq!(read_varint(&[0x80]), None, "truncated");
        assert_eq!(read_varint(&[0xe7, 0x00]), None, "not minimal");
        assert_eq!(read_varint(&[0xff; 12]), None, "too long");
    }
}
