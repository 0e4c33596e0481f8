//! Base64 (RFC 4648) in the two alphabets atproto uses.
//!
//! - **Standard** (`A–Z a–z 0–9 + /`, §4): the data model's `{"$bytes": ..}`
//!   (written without padding; [`encode_padded`] adds `=` for the places that
//!   want it, such as HTTP Basic credentials). [`decode`] accepts the text
//!   with or without padding, but padding, when present, must be exactly
//!   what the length calls for.
//! - **URL-safe** (`A–Z a–z 0–9 - _`, §5), never padded: JWT segments and
//!   other URL parts. [`decode_url`] refuses `=`.
//!
//! Writing is canonical: the encoders never set the unused bits of the last
//! character. Reading the data model's text ([`decode`]) ignores those bits,
//! as the atproto interop vectors and the reference TypeScript implementation
//! do: a record whose `$bytes` ends in a character such as `"123"` (where
//! `'3'` carries two stray low bits) is valid and decodes to the same bytes
//! as its canonical form `"120"`. Everything else stays strict: no
//! whitespace, no characters of the other alphabet, no impossible lengths,
//! no wrong padding. [`decode_strict`] and [`decode_url`] also refuse stray
//! bits, so that every byte string has exactly one accepted text; use them
//! where a text must be canonical. Errors say what was wrong and at which
//! character.

use std::fmt;

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Marks a byte that is not in the alphabet.
const INVALID: u8 = 0xff;

const fn reverse(alphabet: &[u8; 64]) -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
}

static STANDARD_REV: [u8; 256] = reverse(STANDARD);
static URL_SAFE_REV: [u8; 256] = reverse(URL_SAFE);

/// Why a base64 text was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base64Error {
    /// A character outside the alphabet (or `=` where padding cannot be).
    InvalidCharacter {
        /// Index of the character in the text.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The unpadded length is 1 more than a multiple of 4, which no byte
    /// string encodes to.
    InvalidLength {
        /// Length of the text without padding.
        length: usize,
    },
    /// Padding present but not the amount the length calls for (or any
    /// padding in the URL-safe form, which has none).
    InvalidPadding {
        /// Index of the first `=`.
        position: usize,
    },
    /// The last character carries bits that no encoder would set.
    TrailingBits {
        /// Index of the last data character.
        position: usize,
    },
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Base64Error::InvalidCharacter { position, byte } => {
                if byte.is_ascii_graphic() {
                    write!(f, "'{}' at position {position} is not base64", byte as char)
                } else {
                    write!(f, "byte 0x{byte:02x} at position {position} is not base64")
                }
            }
            Base64Error::InvalidLength { length } => write!(
                f,
                "base64 length {length} is impossible (a multiple of 4 plus 1)"
            ),
            Base64Error::InvalidPadding { position } => {
                write!(f, "base64 padding at position {position} is wrong")
            }
            Base64Error::TrailingBits { position } => write!(
                f,
                "base64 character at position {position} has non-zero unused bits"
            ),
        }
    }
}

impl std::error::Error for Base64Error {}

fn encode_with(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[
            alphabet[(n >> 18) as usize & 63],
            alphabet[(n >> 12) as usize & 63],
            alphabet[(n >> 6) as usize & 63],
            alphabet[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.push(alphabet[(n >> 18) as usize & 63]);
            out.push(alphabet[(n >> 12) as usize & 63]);
            if pad {
                out.extend_from_slice(b"==");
            }
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.push(alphabet[(n >> 18) as usize & 63]);
            out.push(alphabet[(n >> 12) as usize & 63]);
            out.push(alphabet[(n >> 6) as usize & 63]);
            if pad {
                out.push(b'=');
            }
        }
        _ => {}
    }
    // Every byte pushed comes from an ASCII alphabet or is '='.
    String::from_utf8(out).unwrap_or_else(|_| unreachable!("base64 output is ASCII"))
}

/// Standard alphabet, no padding: the data model's `$bytes` text.
pub fn encode(data: &[u8]) -> String {
    encode_with(data, STANDARD, false)
}

/// Standard alphabet with `=` padding to a multiple of 4 characters.
pub fn encode_padded(data: &[u8]) -> String {
    encode_with(data, STANDARD, true)
}

/// URL-safe alphabet, no padding (JWT segments).
pub fn encode_url(data: &[u8]) -> String {
    encode_with(data, URL_SAFE, false)
}

/// How much a decoder tolerates beyond the canonical text.
#[derive(Clone, Copy)]
struct Rules {
    /// `=` padding may follow the data (it must then be exactly right).
    allow_padding: bool,
    /// Non-zero unused bits in the last character are ignored rather than
    /// refused.
    ignore_trailing_bits: bool,
}

fn decode_with(text: &[u8], rev: &[u8; 256], rules: Rules) -> Result<Vec<u8>, Base64Error> {
    let Rules {
        allow_padding,
        ignore_trailing_bits,
    } = rules;
    let data_len = text.iter().position(|&c| c == b'=').unwrap_or(text.len());
    if data_len < text.len() {
        let padding = &text[data_len..];
        let ok = allow_padding
            && matches!(text.len() % 4, 0)
            && padding.len() <= 2
            && padding.iter().all(|&c| c == b'=')
            && data_len % 4 != 0;
        if !ok {
            // A '=' followed by data is a misplaced character, not padding.
            if let Some(i) = padding.iter().position(|&c| c != b'=') {
                let position = data_len + i;
                return Err(Base64Error::InvalidCharacter {
                    position,
                    byte: text[position],
                });
            }
            return Err(Base64Error::InvalidPadding { position: data_len });
        }
    }
    let data = &text[..data_len];
    if data.len() % 4 == 1 {
        // Report a bad character first: it says more than the length.
        check_chars(data, rev)?;
        return Err(Base64Error::InvalidLength { length: data.len() });
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let mut chunks = data.chunks_exact(4);
    let mut base = 0;
    for c in &mut chunks {
        let (a, b, d, e) = (
            rev[c[0] as usize],
            rev[c[1] as usize],
            rev[c[2] as usize],
            rev[c[3] as usize],
        );
        if (a | b | d | e) & 0xc0 != 0 {
            check_chars(c, rev).map_err(|e| shift(e, base))?;
        }
        let n = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(d) << 6) | u32::from(e);
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        base += 4;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        check_chars(rest, rev).map_err(|e| shift(e, base))?;
        let mut n = 0u32;
        for (i, &c) in rest.iter().enumerate() {
            n |= u32::from(rev[c as usize]) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        // k characters carry k - 1 bytes; the bits after them must be zero.
        let used = rest.len() - 1;
        let unused_mask = match used {
            1 => 0x0000_ffff,
            _ => 0x0000_00ff,
        };
        if n & unused_mask != 0 && !ignore_trailing_bits {
            return Err(Base64Error::TrailingBits {
                position: base + rest.len() - 1,
            });
        }
        out.extend_from_slice(&bytes[1..=used]);
    }
    Ok(out)
}

fn shift(e: Base64Error, base: usize) -> Base64Error {
    match e {
        Base64Error::InvalidCharacter { position, byte } => Base64Error::InvalidCharacter {
            position: position + base,
            byte,
        },
        other => other,
    }
}

fn check_chars(chars: &[u8], rev: &[u8; 256]) -> Result<(), Base64Error> {
    match chars.iter().position(|&c| rev[c as usize] == INVALID) {
        Some(position) => Err(Base64Error::InvalidCharacter {
            position,
            byte: chars[position],
        }),
        None => Ok(()),
    }
}

/// Decodes the standard alphabet as the data model reads `$bytes`: padded or
/// not (padding, if any, must be correct), and ignoring non-zero unused bits
/// in the last character (see the module docs). [`encode`] of the result
/// gives the canonical text.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    decode_with(
        text.as_bytes(),
        &STANDARD_REV,
        Rules {
            allow_padding: true,
            ignore_trailing_bits: true,
        },
    )
}

/// Decodes the standard alphabet, padded or not, accepting only canonical
/// text: non-zero unused bits in the last character are refused with
/// [`Base64Error::TrailingBits`].
pub fn decode_strict(text: &str) -> Result<Vec<u8>, Base64Error> {
    decode_with(
        text.as_bytes(),
        &STANDARD_REV,
        Rules {
            allow_padding: true,
            ignore_trailing_bits: false,
        },
    )
}

/// Decodes the URL-safe alphabet without padding, accepting only canonical
/// text (JWT segments, which their issuers write canonically).
pub fn decode_url(text: &str) -> Result<Vec<u8>, Base64Error> {
    decode_with(
        text.as_bytes(),
        &URL_SAFE_REV,
        Rules {
            allow_padding: false,
            ignore_trailing_bits: false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: u8) -> Vec<u8> {
        (0..n).map(|i| i.wrapping_mul(97).wrapping_add(n)).collect()
    }

    #[test]
    fn rfc4648_vectors() {
        let cases = [
            ("", "", ""),
            ("f", "Zg", "Zg=="),
            ("fo", "Zm8", "Zm8="),
            ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg", "Zm9vYg=="),
            ("fooba", "Zm9vYmE", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ];
        for (plain, bare, padded) in cases {
            assert_eq!(encode(plain.as_bytes()), bare);
            assert_eq!(encode_padded(plain.as_bytes()), padded);
            assert_eq!(encode_url(plain.as_bytes()), bare);
            assert_eq!(decode(bare).unwrap(), plain.as_bytes());
            assert_eq!(decode(padded).unwrap(), plain.as_bytes());
            assert_eq!(decode_url(bare).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn alphabets_differ_in_two_characters() {
        let data = [0xfb, 0xff, 0xbf];
        assert_eq!(encode(&data), "+/+/");
        assert_eq!(encode_url(&data), "-_-_");
        assert_eq!(decode_url("-_-_").unwrap(), data);
        assert_eq!(
            decode("-_-_"),
            Err(Base64Error::InvalidCharacter {
                position: 0,
                byte: b'-'
            })
        );
        assert_eq!(
            decode_url("+/+/"),
            Err(Base64Error::InvalidCharacter {
                position: 0,
                byte: b'+'
            })
        );
    }

    #[test]
    fn round_trips_every_length() {
        for n in 0..70 {
            let data = sample(n);
            assert_eq!(decode(&encode(&data)).unwrap(), data);
            assert_eq!(decode(&encode_padded(&data)).unwrap(), data);
            assert_eq!(decode_url(&encode_url(&data)).unwrap(), data);
            assert!(!encode(&data).contains('='));
            assert_eq!(encode_padded(&data).len() % 4, 0);
        }
    }

    #[test]
    fn strict_refusals_say_where() {
        use Base64Error::*;
        let cases: &[(&str, Base64Error)] = &[
            ("a", InvalidLength { length: 1 }),
            ("aGVsb", InvalidLength { length: 5 }),
            (
                "aGV=bG8",
                InvalidCharacter {
                    position: 4,
                    byte: b'b',
                },
            ),
            (
                "aGVs bG8",
                InvalidCharacter {
                    position: 4,
                    byte: b' ',
                },
            ),
            (
                "aGVsbG8\n",
                InvalidCharacter {
                    position: 7,
                    byte: b'\n',
                },
            ),
            ("a===", InvalidPadding { position: 1 }),
            ("====", InvalidPadding { position: 0 }),
            ("Zg=", InvalidPadding { position: 2 }),
            ("Zm9v=", InvalidPadding { position: 4 }),
            ("Zm8==", InvalidPadding { position: 3 }),
            ("Zh", TrailingBits { position: 1 }),
            ("Zh==", TrailingBits { position: 1 }),
            ("Zm9=", TrailingBits { position: 2 }),
            (
                "Zm9vZ\u{e9}",
                InvalidCharacter {
                    position: 5,
                    byte: 0xc3,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(decode_strict(text).as_ref(), Err(want), "{text:?}");
            // The reading decoder refuses the same texts, except for stray
            // bits, which it ignores.
            match want {
                TrailingBits { .. } => assert!(decode(text).is_ok(), "{text:?}"),
                _ => assert_eq!(decode(text).as_ref(), Err(want), "{text:?}"),
            }
        }
        assert_eq!(decode_url("Zh"), Err(TrailingBits { position: 1 }));
        assert_eq!(decode_url("Zg=="), Err(InvalidPadding { position: 2 }));
        let msg = decode("aGVs bG8").unwrap_err().to_string();
        assert!(msg.contains("position 4"), "{msg}");
    }

    #[test]
    fn reading_ignores_stray_bits_and_writing_is_canonical() {
        // The interop vectors' lexicon record "full" carries {"$bytes": "123"}:
        // '3' (55 = 0b110111) leaves two stray low bits set after the 16 bits
        // of data. Canonical text for the same bytes ends in '0' (52).
        let lenient = decode("123").unwrap();
        assert_eq!(lenient, decode_strict("120").unwrap());
        assert_eq!(lenient, [0xd7, 0x6d]);
        assert_eq!(encode(&lenient), "120");
        assert_eq!(
            decode_strict("123"),
            Err(Base64Error::TrailingBits { position: 2 })
        );
        // One byte in two characters: four unused bits.
        assert_eq!(decode("Zh").unwrap(), b"f");
        assert_eq!(decode("Zh==").unwrap(), b"f");
        assert_eq!(encode(b"f"), "Zg");
        // Every variant of the unused bits reads as the canonical bytes.
        for n in 0..8u8 {
            let data = sample(n);
            let canonical = encode(&data);
            let Some(last) = canonical.bytes().last() else {
                continue;
            };
            let unused = match data.len() % 3 {
                1 => 0x0f,
                2 => 0x03,
                _ => 0,
            };
            let value = STANDARD_REV[last as usize];
            for extra in 0..=unused {
                let mut text = canonical.clone().into_bytes();
                if let Some(end) = text.last_mut() {
                    *end = STANDARD[usize::from(value | extra)];
                }
                let text = String::from_utf8(text).unwrap();
                assert_eq!(decode(&text).unwrap(), data, "{text}");
                assert_eq!(encode(&decode(&text).unwrap()), canonical);
                assert_eq!(decode_strict(&text).is_ok(), extra == 0, "{text}");
            }
        }
    }
}
