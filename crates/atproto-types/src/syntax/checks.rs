//! Syntax checks for each string format.
//!
//! Every check works on bytes, never panics, and allocates only to build the
//! error when the string is refused: these run on every decoded field.
use super::{err, SyntaxError};

pub(crate) const DID_MAX: usize = 2048;
pub(crate) const HANDLE_MAX: usize = 253;
const LABEL_MAX: usize = 63;
pub(crate) const NSID_MAX: usize = 317;
const NSID_NAME_MAX: usize = 63;
pub(crate) const AT_URI_MAX: usize = 8 * 1024;
pub(crate) const URI_MAX: usize = 8 * 1024;
pub(crate) const RECORD_KEY_MAX: usize = 512;
const CID_MIN: usize = 8;
const CID_MAX: usize = 256;
/// The base32-sortable alphabet of TIDs.
pub(crate) const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// Quotes input for an error message, cut to a readable length.
fn show(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        None => format!("'{s}'"),
        Some((cut, _)) => format!("'{}…' ({} bytes)", &s[..cut], s.len()),
    }
}

/// The character starting at byte `i` of `s` (`i` must be where an ASCII
/// scan stopped, so a boundary; falls back to the byte value otherwise).
fn char_at(s: &str, i: usize) -> String {
    match s.get(i..).and_then(|t| t.chars().next()) {
        Some(c) if c.is_ascii_graphic() => format!("'{c}'"),
        Some(' ') => "a space".to_owned(),
        Some(c) => format!("{:?}", c),
        None => format!("byte 0x{:02x}", s.as_bytes().get(i).copied().unwrap_or(0)),
    }
}

// ---------------------------------------------------------------- did

pub fn did(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "did";
    if s.len() > DID_MAX {
        return Err(err(
            F,
            format!("DID longer than {DID_MAX} characters ({} bytes)", s.len()),
        ));
    }
    let Some(rest) = s.strip_prefix("did:") else {
        return Err(err(F, format!("{} does not start with 'did:'", show(s))));
    };
    let Some(colon) = rest.bytes().position(|b| b == b':') else {
        return Err(err(
            F,
            format!("{} has no ':' after the method name", show(s)),
        ));
    };
    let method = &rest[..colon];
    if method.is_empty() {
        return Err(err(F, format!("{} has an empty method name", show(s))));
    }
    if let Some(i) = method.bytes().position(|b| !b.is_ascii_lowercase()) {
        return Err(err(
            F,
            format!(
                "method {} contains {}; only lowercase letters a-z are allowed",
                show(method),
                char_at(method, i)
            ),
        ));
    }
    let id = &rest[colon + 1..];
    if id.is_empty() {
        return Err(err(
            F,
            format!("{} has an empty method-specific identifier", show(s)),
        ));
    }
    if let Some(i) = id
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-')))
    {
        return Err(err(
            F,
            format!(
                "identifier {} contains {}; allowed are ASCII letters, digits and . _ : % -",
                show(id),
                char_at(id, i)
            ),
        ));
    }
    if let Some(last @ (b':' | b'%')) = id.bytes().last() {
        return Err(err(F, format!("{} ends with '{}'", show(s), last as char)));
    }
    Ok(())
}

// ---------------------------------------------------------------- handle

/// One DNS label of a handle or of an NSID's domain authority.
fn dns_label(format: &'static str, what: &str, label: &str) -> Result<(), SyntaxError> {
    if label.is_empty() {
        return Err(err(
            format,
            format!("{what} has an empty segment (leading, trailing or doubled '.')"),
        ));
    }
    if label.len() > LABEL_MAX {
        return Err(err(
            format,
            format!(
                "{what} segment {} is longer than {LABEL_MAX} characters",
                show(label)
            ),
        ));
    }
    if let Some(i) = label
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(err(
            format,
            format!(
                "{what} segment {} contains {}; only ASCII letters, digits and hyphens are allowed",
                show(label),
                char_at(label, i)
            ),
        ));
    }
    let b = label.as_bytes();
    if b.first() == Some(&b'-') {
        return Err(err(
            format,
            format!("{what} segment {} starts with a hyphen", show(label)),
        ));
    }
    if b.last() == Some(&b'-') {
        return Err(err(
            format,
            format!("{what} segment {} ends with a hyphen", show(label)),
        ));
    }
    Ok(())
}

pub fn handle(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "handle";
    if s.is_empty() {
        return Err(err(F, "empty handle"));
    }
    if s.len() > HANDLE_MAX {
        return Err(err(
            F,
            format!(
                "handle longer than {HANDLE_MAX} characters ({} bytes)",
                s.len()
            ),
        ));
    }
    let mut segments = 0usize;
    let mut last = "";
    for label in s.split('.') {
        dns_label(F, "handle", label)?;
        segments += 1;
        last = label;
    }
    if segments < 2 {
        return Err(err(
            F,
            format!(
                "handle {} has a single segment; at least two are needed (like 'name.example')",
                show(s)
            ),
        ));
    }
    if last.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return Err(err(
            F,
            format!("handle top-level domain {} starts with a digit", show(last)),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- nsid

pub fn nsid(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "nsid";
    if s.is_empty() {
        return Err(err(F, "empty NSID"));
    }
    if s.len() > NSID_MAX {
        return Err(err(
            F,
            format!("NSID longer than {NSID_MAX} characters ({} bytes)", s.len()),
        ));
    }
    let (authority, name) = split_nsid(s);
    let segments = authority.map_or(0, |a| a.split('.').count()) + 1;
    let Some(authority) = authority.filter(|_| segments >= 3) else {
        return Err(err(
            F,
            format!(
                "NSID {} has {segments} segment(s); at least three are needed (like 'com.example.thing')",
                show(s)
            ),
        ));
    };
    // No separate cap on the domain authority: the interop vectors accept a
    // 283-character one, within the 317 total.
    for label in authority.split('.') {
        dns_label(F, "NSID domain authority", label)?;
    }
    if authority.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return Err(err(
            F,
            format!(
                "NSID {} starts with a digit (its first segment is a top-level domain)",
                show(s)
            ),
        ));
    }
    if name.is_empty() {
        return Err(err(F, format!("NSID {} ends with '.'", show(s))));
    }
    if name.len() > NSID_NAME_MAX {
        return Err(err(
            F,
            format!(
                "NSID name {} is longer than {NSID_NAME_MAX} characters",
                show(name)
            ),
        ));
    }
    if let Some(i) = name.bytes().position(|b| !b.is_ascii_alphanumeric()) {
        return Err(err(
            F,
            format!(
                "NSID name {} contains {}; only ASCII letters and digits are allowed",
                show(name),
                char_at(name, i)
            ),
        ));
    }
    if name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return Err(err(
            F,
            format!("NSID name {} starts with a digit", show(name)),
        ));
    }
    Ok(())
}

/// Splits an NSID into its domain authority (None when there is no '.') and
/// its name segment.
pub(crate) fn split_nsid(s: &str) -> (Option<&str>, &str) {
    match s.bytes().rposition(|b| b == b'.') {
        Some(dot) => (Some(&s[..dot]), &s[dot + 1..]),
        None => (None, s),
    }
}

// ---------------------------------------------------------------- at-identifier

pub fn at_identifier(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "at-identifier";
    let res = if s.starts_with("did:") {
        did(s)
    } else {
        handle(s)
    };
    res.map_err(|e| err(F, format!("not a valid {}: {}", e.format, e.reason)))
}

// ---------------------------------------------------------------- at-uri

/// The parts of a checked-or-not AT URI: authority, collection, record key.
pub(crate) fn split_at_uri(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let rest = s.strip_prefix("at://").unwrap_or(s);
    let mut parts = rest.splitn(3, '/');
    let authority = parts.next().unwrap_or("");
    (authority, parts.next(), parts.next())
}

pub fn at_uri(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "at-uri";
    if s.len() > AT_URI_MAX {
        return Err(err(
            F,
            format!(
                "AT URI longer than {AT_URI_MAX} characters ({} bytes)",
                s.len()
            ),
        ));
    }
    if !s.starts_with("at://") {
        return Err(err(F, format!("{} does not start with 'at://'", show(s))));
    }
    if let Some(i) = s.bytes().position(|b| b == b'#' || b == b'?') {
        let what = if s.as_bytes()[i] == b'#' {
            "a fragment ('#')"
        } else {
            "a query ('?')"
        };
        return Err(err(
            F,
            format!(
                "{} has {what}; the at-uri format allows no query or fragment",
                show(s)
            ),
        ));
    }
    let (authority, collection, rkey) = split_at_uri(s);
    if authority.is_empty() {
        return Err(err(F, format!("{} has an empty authority", show(s))));
    }
    at_identifier(authority)
        .map_err(|e| err(F, format!("authority {} is {}", show(authority), e.reason)))?;
    let Some(collection) = collection else {
        return Ok(());
    };
    if collection.is_empty() {
        return Err(err(
            F,
            format!(
                "{} has an empty collection (trailing or doubled '/')",
                show(s)
            ),
        ));
    }
    nsid(collection)
        .map_err(|e| err(F, format!("collection is not a valid NSID: {}", e.reason)))?;
    let Some(rkey) = rkey else {
        return Ok(());
    };
    if rkey.is_empty() {
        return Err(err(
            F,
            format!("{} has an empty record key (trailing '/')", show(s)),
        ));
    }
    if rkey.contains('/') {
        return Err(err(
            F,
            format!(
                "{} has more than two path segments (only collection and record key are allowed)",
                show(s)
            ),
        ));
    }
    record_key(rkey).map_err(|e| err(F, format!("record key is not valid: {}", e.reason)))
}

// ---------------------------------------------------------------- record-key

pub fn record_key(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "record-key";
    if s.is_empty() {
        return Err(err(F, "empty record key"));
    }
    if s.len() > RECORD_KEY_MAX {
        return Err(err(
            F,
            format!(
                "record key longer than {RECORD_KEY_MAX} characters ({} bytes)",
                s.len()
            ),
        ));
    }
    if s == "." || s == ".." {
        return Err(err(F, format!("record key '{s}' is not allowed")));
    }
    if let Some(i) = s
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'~')))
    {
        return Err(err(
            F,
            format!(
                "record key {} contains {}; allowed are ASCII letters, digits and . - _ : ~",
                show(s),
                char_at(s, i)
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- tid

/// The value of one TID character, or None outside the alphabet.
pub(crate) fn tid_value(b: u8) -> Option<u8> {
    match b {
        b'2'..=b'7' => Some(b - b'2'),
        b'a'..=b'z' => Some(b - b'a' + 6),
        _ => None,
    }
}

pub fn tid(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "tid";
    if s.len() != 13 {
        return Err(err(
            F,
            format!("TID {} is {} bytes long; it must be 13", show(s), s.len()),
        ));
    }
    if let Some(i) = s.bytes().position(|b| tid_value(b).is_none()) {
        return Err(err(
            F,
            format!(
                "TID {} contains {}; only base32-sortable characters 2-7 and a-z are allowed",
                show(s),
                char_at(s, i)
            ),
        ));
    }
    if tid_value(s.as_bytes()[0]).is_some_and(|v| v >= 16) {
        return Err(err(
            F,
            format!(
                "TID {} starts with '{}': the top bit must be zero (first character 2-7 or a-j)",
                show(s),
                s.as_bytes()[0] as char
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- cid

pub fn cid(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "cid";
    if s.len() < CID_MIN || s.len() > CID_MAX {
        return Err(err(
            F,
            format!(
                "CID {} is {} bytes long; it must be {CID_MIN} to {CID_MAX}",
                show(s),
                s.len()
            ),
        ));
    }
    if let Some(i) = s
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'='))
    {
        return Err(err(
            F,
            format!(
                "CID {} contains {}; only ASCII letters, digits, '+' and '=' are allowed",
                show(s),
                char_at(s, i)
            ),
        ));
    }
    if s.starts_with("Qm") {
        return Err(err(
            F,
            format!("{} is a CIDv0; only CIDv1 is supported", show(s)),
        ));
    }
    // The multibase prefix of a CIDv1 string.
    let prefix = s.as_bytes()[0];
    if !b"0179fFvVtTbBcChkKzZmMuUp".contains(&prefix) {
        return Err(err(
            F,
            format!(
                "CID {} starts with '{}', which is not a known multibase prefix",
                show(s),
                prefix as char
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- uri

pub fn uri(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "uri";
    if s.len() > URI_MAX {
        return Err(err(
            F,
            format!("URI longer than {URI_MAX} characters ({} bytes)", s.len()),
        ));
    }
    let scheme_end = s
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')));
    let scheme = &s[..scheme_end.unwrap_or(s.len())];
    if scheme.is_empty() || scheme_end.map(|i| s.as_bytes()[i]) != Some(b':') {
        return Err(err(
            F,
            format!("{} does not start with a scheme (like 'https:')", show(s)),
        ));
    }
    if !scheme.as_bytes()[0].is_ascii_alphabetic() {
        return Err(err(
            F,
            format!("scheme {} does not start with a letter", show(scheme)),
        ));
    }
    let rest = &s[scheme.len() + 1..];
    if rest.is_empty() {
        return Err(err(F, format!("{} has nothing after the scheme", show(s))));
    }
    if let Some((i, _)) = rest
        .char_indices()
        .find(|&(_, c)| c.is_whitespace() || c.is_control())
    {
        return Err(err(
            F,
            format!(
                "{} contains {} at byte {}; whitespace and control characters are not allowed",
                show(s),
                char_at(rest, i),
                scheme.len() + 1 + i
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- datetime

/// The fields of a syntactically checked datetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DatetimeParts {
    pub year: u32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// Fraction of a second in nanoseconds (digits past nine are truncated).
    pub nanos: u32,
    /// Offset from UTC in minutes (local = UTC + offset).
    pub offset_minutes: i32,
}

pub(crate) fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 0,
    }
}

pub(crate) fn parse_datetime(s: &str) -> Result<DatetimeParts, SyntaxError> {
    const F: &str = "datetime";
    let b = s.as_bytes();
    let digits = |start: usize, n: usize, what: &str| -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for i in start..start + n {
            match b.get(i) {
                Some(d) if d.is_ascii_digit() => v = v * 10 + u32::from(d - b'0'),
                _ => {
                    return Err(err(
                        F,
                        format!(
                            "{}: {what} must be exactly {n} digits (at byte {i})",
                            show(s)
                        ),
                    ))
                }
            }
        }
        Ok(v)
    };
    let sep = |i: usize, want: u8, what: &str| -> Result<(), SyntaxError> {
        if b.get(i) == Some(&want) {
            Ok(())
        } else {
            let found = if i < b.len() {
                format!("found {}", char_at(s, i))
            } else {
                "found the end".to_owned()
            };
            Err(err(
                F,
                format!(
                    "{}: expected '{}' {what} at byte {i}, {found}",
                    show(s),
                    want as char
                ),
            ))
        }
    };
    let year = digits(0, 4, "the year")?;
    sep(4, b'-', "after the year")?;
    let month = digits(5, 2, "the month")?;
    sep(7, b'-', "after the month")?;
    let day = digits(8, 2, "the day")?;
    sep(10, b'T', "(uppercase) between date and time")?;
    let hour = digits(11, 2, "the hour")?;
    sep(13, b':', "after the hour")?;
    let minute = digits(14, 2, "the minutes")?;
    sep(16, b':', "after the minutes")?;
    let second = digits(17, 2, "the seconds")?;
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(err(
                F,
                format!("{}: no digits after the decimal point", show(s)),
            ));
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset_minutes = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(i + 1, 2, "the offset hours")?;
            sep(i + 3, b':', "in the offset")?;
            let om = digits(i + 4, 2, "the offset minutes")?;
            i += 6;
            if oh > 23 || om > 59 {
                return Err(err(
                    F,
                    format!("{}: offset {:02}:{:02} is out of range", show(s), oh, om),
                ));
            }
            if sign == b'-' && oh == 0 && om == 0 {
                return Err(err(
                    F,
                    format!("{}: offset '-00:00' (unknown local offset) is not allowed; use 'Z' or '+00:00'", show(s)),
                ));
            }
            let m = (oh * 60 + om) as i32;
            if sign == b'-' {
                -m
            } else {
                m
            }
        }
        None => {
            return Err(err(
                F,
                format!("{}: a timezone ('Z' or '+HH:MM') is required", show(s)),
            ))
        }
        Some(_) => {
            return Err(err(
                F,
                format!(
                    "{}: expected a fraction, 'Z' or '+HH:MM' at byte {i}, found {}",
                    show(s),
                    char_at(s, i)
                ),
            ))
        }
    };
    if i != b.len() {
        return Err(err(
            F,
            format!(
                "{}: unexpected {} at byte {i}, after the timezone",
                show(s),
                char_at(s, i)
            ),
        ));
    }
    // Semantic checks: a real date and time of day.
    if !(1..=12).contains(&month) {
        return Err(err(
            F,
            format!("{}: month {month:02} does not exist", show(s)),
        ));
    }
    let dim = days_in_month(year, month);
    if day < 1 || day > dim {
        return Err(err(
            F,
            format!(
                "{}: day {day:02} does not exist in {year:04}-{month:02}",
                show(s)
            ),
        ));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(err(
            F,
            format!(
                "{}: time {hour:02}:{minute:02}:{second:02} is out of range",
                show(s)
            ),
        ));
    }
    // Year 0000 with a positive offset can fall before 0000-01-01T00:00Z.
    if year == 0 && month == 1 && day == 1 {
        let local_minutes = (hour * 60 + minute) as i32;
        if local_minutes < offset_minutes {
            return Err(err(
                F,
                format!("{}: normalizes to a time before year 0000", show(s)),
            ));
        }
    }
    Ok(DatetimeParts {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        offset_minutes,
    })
}

pub fn datetime(s: &str) -> Result<(), SyntaxError> {
    parse_datetime(s).map(|_| ())
}

// ---------------------------------------------------------------- language

/// Tags from RFC 5646 that predate its grammar and are valid as a whole.
const GRANDFATHERED: &[&str] = &[
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

fn is_variant(t: &str) -> bool {
    let b = t.as_bytes();
    (5..=8).contains(&b.len()) || (b.len() == 4 && b[0].is_ascii_digit())
}

/// Bit for a singleton subtag (case-insensitive), 0..36.
fn singleton_bit(c: u8) -> u64 {
    let i = match c.to_ascii_lowercase() {
        d @ b'0'..=b'9' => d - b'0',
        l => l.wrapping_sub(b'a').wrapping_add(10) % 64,
    };
    1u64 << i
}

/// A BCP 47 language tag (RFC 5646 grammar; the primary language subtag must
/// be 2 or 3 lowercase letters, as the atproto test vectors require), refusing
/// repeated variants and repeated extension singletons (RFC 5646 §2.2.9).
pub fn language(s: &str) -> Result<(), SyntaxError> {
    const F: &str = "language";
    if s.is_empty() {
        return Err(err(F, "empty language tag"));
    }
    if GRANDFATHERED.iter().any(|g| g.eq_ignore_ascii_case(s)) {
        return Ok(());
    }
    for t in s.split('-') {
        if t.is_empty() {
            return Err(err(
                F,
                format!(
                    "tag {} has an empty subtag (leading, trailing or doubled '-')",
                    show(s)
                ),
            ));
        }
        if t.len() > 8 {
            return Err(err(
                F,
                format!("subtag {} is longer than 8 characters", show(t)),
            ));
        }
        if let Some(i) = t.bytes().position(|b| !b.is_ascii_alphanumeric()) {
            return Err(err(
                F,
                format!(
                    "subtag {} contains {}; only ASCII letters and digits are allowed",
                    show(t),
                    char_at(t, i)
                ),
            ));
        }
    }
    let mut subtags = s.split('-');
    let primary = subtags.next().unwrap_or("");
    if primary.eq_ignore_ascii_case("x") {
        return if subtags.next().is_some() {
            Ok(())
        } else {
            Err(err(F, "private-use tag 'x' has no subtags"))
        };
    }
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(err(
            F,
            format!(
                "primary language subtag {} must be 2 or 3 letters",
                show(primary)
            ),
        ));
    }
    if !primary.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(err(
            F,
            format!(
                "primary language subtag {} must be lowercase",
                show(primary)
            ),
        ));
    }

    #[derive(PartialEq, PartialOrd)]
    enum Stage {
        Language,
        Script,
        Region,
        Variant,
    }
    let mut stage = Stage::Language;
    let mut extlangs = 0;
    // Byte range of the variant subtags seen so far, for duplicate checks.
    let mut variants_start: Option<usize> = None;
    let mut offset = primary.len() + 1;
    let mut singletons = 0u64;
    // Some(n): inside an extension that has n subtags so far.
    let mut extension: Option<(u8, usize)> = None;
    let mut private: Option<usize> = None;

    for t in subtags {
        let here = offset;
        offset += t.len() + 1;
        if let Some(n) = private.as_mut() {
            *n += 1;
            continue;
        }
        let b = t.as_bytes();
        if b.len() == 1 {
            if let Some((c, 0)) = extension {
                return Err(err(F, format!("extension '{}' has no subtags", c as char)));
            }
            if b[0].eq_ignore_ascii_case(&b'x') {
                private = Some(0);
                continue;
            }
            let bit = singleton_bit(b[0]);
            if singletons & bit != 0 {
                return Err(err(
                    F,
                    format!("tag {} repeats extension singleton '{t}'", show(s)),
                ));
            }
            singletons |= bit;
            extension = Some((b[0], 0));
            continue;
        }
        if let Some((_, n)) = extension.as_mut() {
            // Subtags after an extension singleton: 2 to 8 alphanumerics.
            *n += 1;
            continue;
        }
        let alpha = b.iter().all(u8::is_ascii_alphabetic);
        let digit = b.iter().all(u8::is_ascii_digit);
        if stage == Stage::Language && b.len() == 3 && alpha && extlangs < 3 {
            extlangs += 1;
        } else if stage == Stage::Language && b.len() == 4 && alpha {
            stage = Stage::Script;
        } else if stage <= Stage::Script && ((b.len() == 2 && alpha) || (b.len() == 3 && digit)) {
            stage = Stage::Region;
        } else if is_variant(t) {
            let start = *variants_start.get_or_insert(here);
            let seen = s.get(start..here.saturating_sub(1)).unwrap_or("");
            if here > start && seen.split('-').any(|v| v.eq_ignore_ascii_case(t)) {
                return Err(err(
                    F,
                    format!("tag {} repeats variant subtag '{t}'", show(s)),
                ));
            }
            stage = Stage::Variant;
        } else {
            return Err(err(
                F,
                format!("subtag '{t}' is not valid at its place in {}", show(s)),
            ));
        }
    }
    if let Some((c, 0)) = extension {
        return Err(err(F, format!("extension '{}' has no subtags", c as char)));
    }
    if private == Some(0) {
        return Err(err(F, "private-use 'x' has no subtags"));
    }
    Ok(())
}
