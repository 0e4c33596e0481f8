//! Validated newtypes for the lexicon string formats.
//!
//! Each type can only hold a string that follows the atproto syntax rules for
//! its format, checked by `new` / `FromStr` / `Deserialize`.

use std::fmt;

/// A string that does not follow the syntax of its lexicon format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// The format, e.g. `did` or `at-uri`.
    pub format: &'static str,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.format, self.reason)
    }
}

impl std::error::Error for SyntaxError {}

pub(crate) fn err(format: &'static str, reason: impl Into<String>) -> SyntaxError {
    SyntaxError {
        format,
        reason: reason.into(),
    }
}

/// A lexicon string format held as its checked `String`.
macro_rules! string_format {
    ($(#[$doc:meta])* $name:ident, $format:literal, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The owned string.
            pub fn into_string(self) -> String {
                self.0
            }

            /// Wraps a string that passed the check.
            fn checked(s: String) -> Self {
                $name(s)
            }
        }

        format_impls!($name, $format, $check);
    };
}

/// What every string format has, written over `as_str`, `into_string`
/// and a private `checked` constructor, so a format with its own
/// representation ([`Cid`]) shares it.
macro_rules! format_impls {
    ($name:ident, $format:literal, $check:path) => {
        impl $name {
            /// The lexicon format name.
            pub const FORMAT: &'static str = $format;

            /// Checks the syntax of `s` without taking or copying it; allocates
            /// only for the error when `s` is refused.
            pub fn check(s: &str) -> Result<(), SyntaxError> {
                $check(s)
            }

            /// Checks the syntax and wraps the string.
            pub fn new(s: impl Into<String>) -> Result<Self, SyntaxError> {
                let s = s.into();
                $check(&s)?;
                Ok($name::checked(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = SyntaxError;
            fn from_str(s: &str) -> Result<Self, SyntaxError> {
                $check(s)?;
                Ok($name::checked(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = SyntaxError;
            fn try_from(s: String) -> Result<Self, SyntaxError> {
                $name::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = SyntaxError;
            fn try_from(s: &str) -> Result<Self, SyntaxError> {
                s.parse()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.into_string()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let key = crate::object::Key::deserialize(d)?;
                $check(key.as_str()).map_err(serde::de::Error::custom)?;
                Ok($name::checked(key.0.into_owned()))
            }
        }
    };
}

mod checks;
pub(crate) mod cid;

pub use cid::CidParts;

string_format!(
    /// A DID (`did` format), e.g. `did:plc:z72i7hdynmk6r22z27h6tvur`.
    Did, "did", checks::did
);
string_format!(
    /// A handle (`handle` format), e.g. `alice.bsky.social`.
    Handle, "handle", checks::handle
);
string_format!(
    /// A namespaced identifier (`nsid` format), e.g. `app.bsky.feed.post`.
    Nsid, "nsid", checks::nsid
);
string_format!(
    /// An `at://` URI (`at-uri` format).
    AtUri, "at-uri", checks::at_uri
);
string_format!(
    /// A DID or a handle (`at-identifier` format).
    AtIdentifier, "at-identifier", checks::at_identifier
);
string_format!(
    /// A timestamp (`datetime` format): RFC 3339 with the atproto restrictions.
    Datetime, "datetime", checks::datetime
);
/// A CID in its string form (`cid` format).
///
/// A CID read from a binary encoding (a DAG-CBOR link, through
/// [`crate::CidLink`]) keeps its bytes and makes its text the first time
/// it is asked for ([`Cid::as_str`], `Display`, serializing to JSON), so a
/// firehose consumer that never prints a link never pays for its text.
/// Either way it is the same value: equality, ordering and hashing follow
/// the text.
#[derive(Clone)]
pub struct Cid(CidRepr);

#[derive(Clone)]
enum CidRepr {
    /// Read or built from text.
    Text(String),
    /// Read from a binary encoding. Boxed, so a `Cid` stays the size of a
    /// `String` (it is in every strong ref a JSON view carries).
    Binary(Box<BinaryCid>),
}

/// A CIDv1 of the usual 36 bytes, its text (`b` and base32) made when
/// first asked for.
#[derive(Clone)]
struct BinaryCid {
    bytes: [u8; 36],
    text: std::sync::OnceLock<String>,
}

/// `b` and the base32 of `bytes`: the text of a binary CID.
fn base32_cid_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(1 + bytes.len().div_ceil(5) * 8);
    text.push('b');
    crate::base32::encode(bytes, &mut text);
    text
}

impl Cid {
    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            CidRepr::Text(s) => s,
            CidRepr::Binary(b) => b.text.get_or_init(|| base32_cid_text(&b.bytes)),
        }
    }

    /// The owned string.
    pub fn into_string(self) -> String {
        match self.0 {
            CidRepr::Text(s) => s,
            CidRepr::Binary(b) => {
                let BinaryCid { bytes, text } = *b;
                text.into_inner().unwrap_or_else(|| base32_cid_text(&bytes))
            }
        }
    }

    /// The CID's binary form without decoding its text, when it holds it:
    /// a CID read from a binary encoding does; one read from text gives
    /// `None` (its bytes are in [`Cid::decode`]).
    pub fn binary_form(&self) -> Option<&[u8]> {
        match &self.0 {
            CidRepr::Binary(b) => Some(&b.bytes),
            CidRepr::Text(_) => None,
        }
    }

    /// Wraps a string that passed the check.
    fn checked(s: String) -> Self {
        Cid(CidRepr::Text(s))
    }

    /// A CID from its binary form, as a DAG-CBOR link carries it. Its text
    /// (`b` and base32) is made only of characters the `cid` format
    /// allows and starts with one it accepts, so only the length is
    /// checked here; [`Cid::decode`] checks the structure. A 36-byte CID
    /// (CIDv1, SHA-256) keeps its bytes and makes its text when asked.
    pub fn from_binary(bytes: &[u8]) -> Result<Cid, SyntaxError> {
        if let Ok(bytes) = <[u8; 36]>::try_from(bytes) {
            // 59 characters of text: within the format's length.
            return Ok(Cid(CidRepr::Binary(Box::new(BinaryCid {
                bytes,
                text: std::sync::OnceLock::new(),
            }))));
        }
        let text = base32_cid_text(bytes);
        if !(checks::CID_MIN..=checks::CID_MAX).contains(&text.len()) {
            return checks::cid(&text).map(|()| Cid::checked(text));
        }
        debug_assert!(checks::cid(&text).is_ok(), "{text}");
        Ok(Cid::checked(text))
    }
}

impl PartialEq for Cid {
    fn eq(&self, other: &Cid) -> bool {
        match (&self.0, &other.0) {
            // The same bytes have the same base32 text, and only they do.
            (CidRepr::Binary(a), CidRepr::Binary(b)) => a.bytes == b.bytes,
            _ => self.as_str() == other.as_str(),
        }
    }
}

impl Eq for Cid {}

impl PartialOrd for Cid {
    fn partial_cmp(&self, other: &Cid) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cid {
    fn cmp(&self, other: &Cid) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for Cid {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

format_impls!(Cid, "cid", checks::cid);
string_format!(
    /// A timestamp identifier (`tid` format): 13 base32-sortable characters.
    Tid, "tid", checks::tid
);
string_format!(
    /// A record key (`record-key` format).
    RecordKey, "record-key", checks::record_key
);
string_format!(
    /// A URI (`uri` format).
    Uri, "uri", checks::uri
);
string_format!(
    /// A BCP 47 language tag (`language` format).
    Language, "language", checks::language
);

impl AtIdentifier {
    /// True when it is a DID (starts with `did:`), false for a handle.
    pub fn is_did(&self) -> bool {
        self.0.starts_with("did:")
    }
}

impl From<Did> for AtIdentifier {
    fn from(d: Did) -> Self {
        AtIdentifier(d.0)
    }
}

impl From<Handle> for AtIdentifier {
    fn from(h: Handle) -> Self {
        AtIdentifier(h.0)
    }
}

impl Did {
    /// The method, e.g. `plc` in `did:plc:z72i7hdynmk6r22z27h6tvur`.
    pub fn method(&self) -> &str {
        let rest = self.0.get(4..).unwrap_or("");
        rest.split(':').next().unwrap_or("")
    }

    /// The method-specific identifier, after the second `:`.
    pub fn identifier(&self) -> &str {
        let rest = self.0.get(4..).unwrap_or("");
        rest.split_once(':').map_or("", |(_, id)| id)
    }
}

impl Handle {
    /// The handle in lowercase, the form to compare and store (handles are
    /// case-insensitive).
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl Nsid {
    /// The domain authority as written, e.g. `app.bsky.feed` in
    /// `app.bsky.feed.post`.
    pub fn authority(&self) -> &str {
        checks::split_nsid(&self.0).0.unwrap_or("")
    }

    /// The name segment, e.g. `post` in `app.bsky.feed.post`.
    pub fn name(&self) -> &str {
        checks::split_nsid(&self.0).1
    }
}

impl AtUri {
    /// The authority: a DID or a handle.
    pub fn authority(&self) -> &str {
        checks::split_at_uri(&self.0).0
    }

    /// The collection NSID, when the URI has one.
    pub fn collection(&self) -> Option<&str> {
        checks::split_at_uri(&self.0).1
    }

    /// The record key, when the URI has one.
    pub fn rkey(&self) -> Option<&str> {
        checks::split_at_uri(&self.0).2
    }
}

impl Tid {
    /// Builds the TID of a timestamp (microseconds since the Unix epoch; only
    /// the low 53 bits are used) and a clock identifier (low 10 bits used).
    pub fn from_parts(timestamp_micros: u64, clock_id: u16) -> Tid {
        let v = ((timestamp_micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
        let mut s = String::with_capacity(13);
        for i in (0..13).rev() {
            let digit = (v >> (i * 5)) & 0x1f;
            s.push(char::from(checks::TID_ALPHABET[digit as usize]));
        }
        Tid(s)
    }

    /// A TID for the current time with the given clock identifier.
    pub fn now(clock_id: u16) -> Tid {
        Tid::from_parts(datetime::now_micros(), clock_id)
    }

    fn value(&self) -> u64 {
        self.0.bytes().fold(0u64, |acc, b| {
            (acc << 5) | u64::from(checks::tid_value(b).unwrap_or(0))
        })
    }

    /// The timestamp: microseconds since the Unix epoch.
    pub fn timestamp_micros(&self) -> u64 {
        self.value() >> 10
    }

    /// The clock identifier (0..1024).
    pub fn clock_id(&self) -> u16 {
        (self.value() & 0x3ff) as u16
    }
}

mod datetime {
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Microseconds since the Unix epoch (0 if the clock is before it).
    pub(super) fn now_micros() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// Days since 1970-01-01 of a civil date (proleptic Gregorian).
    pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The civil date (year, month, day) of a day count since 1970-01-01.
    pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }
}

impl Datetime {
    /// The current time in the preferred form, e.g. `2024-05-01T12:34:56.789Z`
    /// (UTC, millisecond precision).
    pub fn now() -> Datetime {
        Datetime::from_unix_micros(datetime::now_micros() as i64)
    }

    /// The time `micros` microseconds after the Unix epoch, in the preferred
    /// form with millisecond precision (clamped to years 0000..=9999).
    pub fn from_unix_micros(micros: i64) -> Datetime {
        const MIN: i64 = -62_167_219_200_000_000; // 0000-01-01T00:00:00Z
        const MAX: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z
        let micros = micros.clamp(MIN, MAX);
        let secs = micros.div_euclid(1_000_000);
        let millis = micros.rem_euclid(1_000_000) / 1000;
        let (y, m, d) = datetime::civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        Datetime(format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        ))
    }

    /// Microseconds since the Unix epoch (negative before 1970), after
    /// applying the timezone offset. Digits past microseconds are truncated.
    pub fn unix_micros(&self) -> i64 {
        let Ok(p) = checks::parse_datetime(&self.0) else {
            return 0; // unreachable: the string was checked on construction
        };
        let days =
            datetime::days_from_civil(i64::from(p.year), i64::from(p.month), i64::from(p.day));
        let secs = days * 86_400
            + i64::from(p.hour) * 3600
            + i64::from(p.minute) * 60
            + i64::from(p.second)
            - i64::from(p.offset_minutes) * 60;
        secs * 1_000_000 + i64::from(p.nanos / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of<T: std::hash::Hash>(v: &T) -> u64 {
        use std::hash::{BuildHasher, RandomState};
        thread_local!(static STATE: RandomState = RandomState::new());
        STATE.with(|s| s.hash_one(v))
    }

    #[test]
    fn a_cid_from_binary_is_the_same_value_as_from_text() {
        let text = "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua";
        let bytes = crate::base32::decode(&text[1..]).unwrap();
        let from_text = Cid::new(text).unwrap();
        let from_binary = Cid::from_binary(&bytes).unwrap();
        // Only the binary one holds its bytes; decoding gives them to both.
        assert_eq!(from_binary.binary_form(), Some(&bytes[..]));
        assert_eq!(from_text.binary_form(), None);
        assert_eq!(from_text.decode().unwrap(), from_binary.decode().unwrap());
        // Equal both ways, whichever made its text first.
        assert_eq!(from_binary.clone(), from_text);
        assert_eq!(from_text, from_binary.clone());
        assert_eq!(from_binary, Cid::from_binary(&bytes).unwrap());
        assert_eq!(hash_of(&from_binary), hash_of(&from_text));
        assert_eq!(from_binary.cmp(&from_text), std::cmp::Ordering::Equal);
        assert_eq!(from_binary.as_str(), text);
        assert_eq!(from_binary.to_string(), text);
        assert_eq!(format!("{from_binary:?}"), format!("{from_text:?}"));
        assert_eq!(from_binary.clone().into_string(), text);
        assert_eq!(String::from(Cid::from_binary(&bytes).unwrap()), text);
        assert_eq!(from_binary, text);
        // A different CID differs and orders by its text.
        let mut other = bytes.clone();
        other[35] ^= 1;
        let other = Cid::from_binary(&other).unwrap();
        assert_ne!(other, from_binary);
        assert_ne!(other, from_text);
        assert_eq!(
            other.cmp(&from_text),
            other.as_str().cmp(from_text.as_str())
        );
        // Other lengths are kept as text, checked like any text.
        let short = Cid::from_binary(&bytes[..20]).unwrap();
        assert_eq!(short.binary_form(), None);
        assert_eq!(short.as_str().len(), 1 + 32);
        assert!(Cid::from_binary(&[1, 2]).is_err());
        assert!(Cid::from_binary(&[0; 200]).is_err());
        // Either way a `Cid` is no bigger than its text's `String`.
        assert_eq!(std::mem::size_of::<Cid>(), std::mem::size_of::<String>());
    }

    #[test]
    fn check_agrees_with_new() {
        for s in [
            "app.bsky.feed.post",
            "com.atproto.sync.getRepo",
            "../../admin",
            "app.bsky.feed.post?x=1",
            "nodots",
            "",
        ] {
            assert_eq!(Nsid::check(s), Nsid::new(s).map(drop), "{s:?}");
        }
        assert!(Did::check("did:plc:abc").is_ok());
        assert_eq!(Did::check("plc:abc").unwrap_err().format, "did");
    }

    #[test]
    fn accessors() {
        let d = Did::new("did:plc:abc:def").unwrap();
        assert_eq!((d.method(), d.identifier()), ("plc", "abc:def"));
        let n = Nsid::new("app.bsky.feed.post").unwrap();
        assert_eq!((n.authority(), n.name()), ("app.bsky.feed", "post"));
        let u = AtUri::new("at://alice.test/app.bsky.feed.post/3jzfcijpj2z2a").unwrap();
        assert_eq!(u.authority(), "alice.test");
        assert_eq!(u.collection(), Some("app.bsky.feed.post"));
        assert_eq!(u.rkey(), Some("3jzfcijpj2z2a"));
        let u = AtUri::new("at://did:plc:x").unwrap();
        assert_eq!(
            (u.authority(), u.collection(), u.rkey()),
            ("did:plc:x", None, None)
        );
    }

    #[test]
    fn tid_round_trip() {
        let t = Tid::from_parts(1_700_000_000_123_456, 777);
        assert!(Tid::new(t.as_str()).is_ok(), "{t:?}");
        assert_eq!(t.timestamp_micros(), 1_700_000_000_123_456);
        assert_eq!(t.clock_id(), 777);
        assert_eq!(Tid::from_parts(0, 0).as_str(), "2222222222222");
        let a = Tid::from_parts(5, 0);
        let b = Tid::from_parts(6, 0);
        assert!(a < b, "TIDs sort by time");
        assert!(Tid::new(Tid::now(0).as_str()).is_ok());
    }

    #[test]
    fn datetime_conversions() {
        let d = Datetime::from_unix_micros(482_196_050_123_000);
        assert_eq!(d.as_str(), "1985-04-12T23:20:50.123Z");
        assert_eq!(d.unix_micros(), 482_196_050_123_000);
        let d = Datetime::new("1985-04-12T16:20:50.123-07:00").unwrap();
        assert_eq!(d.unix_micros(), 482_196_050_123_000);
        assert!(Datetime::new(Datetime::now().as_str()).is_ok());
        assert!(Datetime::new(Datetime::from_unix_micros(i64::MIN).as_str()).is_ok());
        assert!(Datetime::new(Datetime::from_unix_micros(i64::MAX).as_str()).is_ok());
        assert!(Datetime::new("2023-02-29T00:00:00Z").is_err());
        assert!(Datetime::new("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn error_reasons_are_specific() {
        let e = Handle::new("x-.test").unwrap_err();
        assert_eq!(e.reason, "handle segment 'x-' ends with a hyphen");
        let e = Did::new(format!("did:plc:{}", "a".repeat(3000))).unwrap_err();
        assert!(
            e.reason.starts_with("DID longer than 2048 characters"),
            "{e}"
        );
    }

    #[test]
    fn no_panic_on_random_input() {
        // Deterministic xorshift over an alphabet of syntax-relevant characters.
        let alphabet: Vec<char> = "aZ09.-_:%~/#?@+= Tzé💩x".chars().collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let prefixes = [
            "",
            "did:",
            "at://",
            "at://did:a:b/",
            "1985-04-12T",
            "en-",
            "x-",
        ];
        for _ in 0..20_000 {
            let mut s = String::from(prefixes[(next() % prefixes.len() as u64) as usize]);
            for _ in 0..(next() % 24) {
                s.push(alphabet[(next() % alphabet.len() as u64) as usize]);
            }
            if let Ok(d) = Did::new(s.as_str()) {
                let _ = (d.method(), d.identifier());
            }
            if let Ok(u) = AtUri::new(s.as_str()) {
                let _ = (u.authority(), u.collection(), u.rkey());
            }
            if let Ok(d) = Datetime::new(s.as_str()) {
                let _ = d.unix_micros();
            }
            if let Ok(t) = Tid::new(s.as_str()) {
                let _ = (t.timestamp_micros(), t.clock_id());
            }
            let _ = (
                Handle::new(s.as_str()),
                Nsid::new(s.as_str()),
                Cid::new(s.as_str()),
            );
            let _ = (
                RecordKey::new(s.as_str()),
                Uri::new(s.as_str()),
                Language::new(s.as_str()),
            );
        }
    }

    #[test]
    fn no_panic_on_odd_input() {
        let inputs = [
            "",
            "\u{0}",
            "é",
            "at://",
            "at://é/é/é",
            "did:",
            "did::",
            "-",
            "x-",
            "i-",
            "1985-04-12T23:20:50.é",
        ];
        for s in inputs {
            let _ = (
                Did::new(s),
                Handle::new(s),
                Nsid::new(s),
                AtUri::new(s),
                AtIdentifier::new(s),
            );
            let _ = (
                Datetime::new(s),
                Cid::new(s),
                Tid::new(s),
                RecordKey::new(s),
                Uri::new(s),
                Language::new(s),
            );
        }
    }
}
