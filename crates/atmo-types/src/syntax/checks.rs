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
pub(crate) const CID_MIN: usize = 8;
pub(crate) const CID_MAX: usize = 256;
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

// ---------------------------------------------------------------- fast paths
//
// Each check first runs a single pass over the bytes that answers "certainly
// valid" for the common shapes (no iterator splitting, no allocation, no error
// text). When it says no, the detailed check below runs and decides, with its
// error message; so a fast path may only ever accept strings the detailed
// check accepts too (the tests at the end compare both on the interop vectors
// and on random input).

/// Byte classes for the fast paths.
const ALNUM: u8 = 1;
/// DID method-specific identifier: ASCII letters, digits, `. _ : % -`.
const DID_ID: u8 = 2;
/// DNS label: ASCII letters, digits, `-`.
const LABEL: u8 = 4;
/// Record key: ASCII letters, digits, `. - _ : ~`.
const RKEY: u8 = 8;
/// CID: ASCII letters, digits, `+ =`.
const CID: u8 = 16;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_alphanumeric() {
            c = ALNUM | DID_ID | LABEL | RKEY | CID;
        }
        if matches!(b, b'.' | b'_' | b':' | b'%' | b'-') {
            c |= DID_ID;
        }
        if b == b'-' {
            c |= LABEL;
        }
        if matches!(b, b'.' | b'-' | b'_' | b':' | b'~') {
            c |= RKEY;
        }
        if matches!(b, b'+' | b'=') {
            c |= CID;
        }
        t[i] = c;
        i += 1;
    }
    t
};

#[inline(always)]
fn all_in(b: &[u8], class: u8) -> bool {
    // No early exit: a branch-free fold per byte is faster on short strings.
    b.iter()
        .fold(true, |ok, &c| ok & (CLASS[c as usize] & class != 0))
}

/// True when every byte is printable ASCII (`0x21..=0x7e`: no space, no
/// control, nothing non-ASCII). Written as a branch-free fold over 16-byte
/// chunks so the compiler vectorizes it.
#[inline]
fn all_printable_ascii(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(16);
    for chunk in &mut chunks {
        let mut bad = false;
        for &c in chunk {
            bad |= c.wrapping_sub(0x21) > 0x7e - 0x21;
        }
        if bad {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .fold(true, |ok, &c| ok & (c.wrapping_sub(0x21) <= 0x7e - 0x21))
}

/// `did:<lowercase method>:<identifier>`, the whole rule.
fn did_ok(b: &[u8]) -> bool {
    if b.len() > DID_MAX || !b.starts_with(b"did:") {
        return false;
    }
    let mut i = 4;
    while i < b.len() && b[i].is_ascii_lowercase() {
        i += 1;
    }
    if i == 4 || i >= b.len() || b[i] != b':' {
        return false;
    }
    let id = &b[i + 1..];
    match id.last() {
        None | Some(b':' | b'%') => false,
        Some(_) => all_in(id, DID_ID),
    }
}

/// Dot-separated DNS labels (each 1..=63 letters, digits and inner hyphens):
/// their number, or None when one is malformed.
fn dns_labels(b: &[u8]) -> Option<usize> {
    let mut labels = 1;
    let mut len = 0usize;
    let mut prev = b'.';
    for &c in b {
        if c == b'.' {
            if len == 0 || prev == b'-' {
                return None;
            }
            labels += 1;
            len = 0;
        } else {
            if CLASS[c as usize] & LABEL == 0 || (len == 0 && c == b'-') {
                return None;
            }
            len += 1;
            if len > LABEL_MAX {
                return None;
            }
        }
        prev = c;
    }
    if len == 0 || prev == b'-' {
        return None;
    }
    Some(labels)
}

fn handle_ok(b: &[u8]) -> bool {
    if b.len() > HANDLE_MAX || !matches!(dns_labels(b), Some(2..)) {
        return false;
    }
    let tld = b.iter().rposition(|&c| c == b'.').map_or(0, |d| d + 1);
    !b[tld].is_ascii_digit()
}

fn nsid_ok(b: &[u8]) -> bool {
    if b.len() > NSID_MAX {
        return false;
    }
    let Some(dot) = b.iter().rposition(|&c| c == b'.') else {
        return false;
    };
    let (authority, name) = (&b[..dot], &b[dot + 1..]);
    matches!(dns_labels(authority), Some(2..))
        && !authority[0].is_ascii_digit()
        && !name.is_empty()
        && name.len() <= NSID_NAME_MAX
        && !name[0].is_ascii_digit()
        && all_in(name, ALNUM)
}

fn record_key_ok(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= RECORD_KEY_MAX && b != b"." && b != b".." && all_in(b, RKEY)
}

fn at_identifier_ok(b: &[u8]) -> bool {
    if b.starts_with(b"did:") {
        did_ok(b)
    } else {
        handle_ok(b)
    }
}

/// `at://authority[/collection[/rkey]]`. No separate scan for `#` and `?`:
/// no part's byte class admits them.
fn at_uri_ok(b: &[u8]) -> bool {
    if b.len() > AT_URI_MAX {
        return false;
    }
    let Some(rest) = b.strip_prefix(b"at://") else {
        return false;
    };
    let Some(slash) = rest.iter().position(|&c| c == b'/') else {
        return at_identifier_ok(rest);
    };
    if !at_identifier_ok(&rest[..slash]) {
        return false;
    }
    let path = &rest[slash + 1..];
    match path.iter().position(|&c| c == b'/') {
        None => nsid_ok(path),
        Some(s) => nsid_ok(&path[..s]) && record_key_ok(&path[s + 1..]),
    }
}

fn cid_ok(b: &[u8]) -> bool {
    (CID_MIN..=CID_MAX).contains(&b.len())
        && all_in(b, CID)
        && !b.starts_with(b"Qm")
        && b"0179fFvVtTbBcChkKzZmMuUp".contains(&b[0])
}

/// A scheme (a letter, then letters, digits, `+ - .`), `:` and a non-empty
/// rest of printable ASCII. Non-ASCII rests go to the detailed check.
fn uri_ok(b: &[u8]) -> bool {
    if b.len() > URI_MAX || !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut i = 1;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'+' | b'-' | b'.')) {
        i += 1;
    }
    if i >= b.len() || b[i] != b':' {
        return false;
    }
    let rest = &b[i + 1..];
    !rest.is_empty() && all_printable_ascii(rest)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with a real date and time.
/// Leaves year 0000-01-01 (which needs the offset check) to the detailed path.
fn datetime_fast(b: &[u8]) -> Option<DatetimeParts> {
    if b.len() < 20 {
        return None;
    }
    #[inline(always)]
    fn two_digits(b: &[u8], i: usize) -> Option<u32> {
        let (x, y) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
        (x < 10 && y < 10).then_some(u32::from(x) * 10 + u32::from(y))
    }
    let d2 = |i: usize| two_digits(b, i);
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = d2(0)? * 100 + d2(2)?;
    let (month, day) = (d2(5)?, d2(8)?);
    let (hour, minute, second) = (d2(11)?, d2(14)?, d2(17)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset_minutes = match b.get(i)? {
        b'Z' if i + 1 == b.len() => 0,
        &sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (d2(i + 1)?, d2(i + 4)?);
            if oh > 23 || om > 59 || (sign == b'-' && oh == 0 && om == 0) {
                return None;
            }
            let m = (oh * 60 + om) as i32;
            if sign == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
        || (year == 0 && month == 1 && day == 1)
    {
        return None;
    }
    Some(DatetimeParts {
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

// ---------------------------------------------------------------- did

pub fn did(s: &str) -> Result<(), SyntaxError> {
    if did_ok(s.as_bytes()) {
        Ok(())
    } else {
        did_detailed(s)
    }
}

fn did_detailed(s: &str) -> Result<(), SyntaxError> {
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
    if handle_ok(s.as_bytes()) {
        Ok(())
    } else {
        handle_detailed(s)
    }
}

fn handle_detailed(s: &str) -> Result<(), SyntaxError> {
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
    if nsid_ok(s.as_bytes()) {
        Ok(())
    } else {
        nsid_detailed(s)
    }
}

fn nsid_detailed(s: &str) -> Result<(), SyntaxError> {
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
    if at_identifier_ok(s.as_bytes()) {
        Ok(())
    } else {
        at_identifier_detailed(s)
    }
}

fn at_identifier_detailed(s: &str) -> Result<(), SyntaxError> {
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
    if at_uri_ok(s.as_bytes()) {
        Ok(())
    } else {
        at_uri_detailed(s)
    }
}

fn at_uri_detailed(s: &str) -> Result<(), SyntaxError> {
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
    if record_key_ok(s.as_bytes()) {
        Ok(())
    } else {
        record_key_detailed(s)
    }
}

fn record_key_detailed(s: &str) -> Result<(), SyntaxError> {
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
    if cid_ok(s.as_bytes()) {
        Ok(())
    } else {
        cid_detailed(s)
    }
}

fn cid_detailed(s: &str) -> Result<(), SyntaxError> {
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
    if uri_ok(s.as_bytes()) {
        Ok(())
    } else {
        uri_detailed(s)
    }
}

fn uri_detailed(s: &str) -> Result<(), SyntaxError> {
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
        // Gregorian leap years. `matches!` rather than `== 0`: clippy asks
        // for `is_multiple_of` once the MSRV has it, older toolchains lack it.
        2 if matches!(year % 4, 0) && (!matches!(year % 100, 0) || matches!(year % 400, 0)) => 29,
        2 => 28,
        _ => 0,
    }
}

pub(crate) fn parse_datetime(s: &str) -> Result<DatetimeParts, SyntaxError> {
    match datetime_fast(s.as_bytes()) {
        Some(parts) => Ok(parts),
        None => parse_datetime_detailed(s),
    }
}

fn parse_datetime_detailed(s: &str) -> Result<DatetimeParts, SyntaxError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    type Fast = fn(&[u8]) -> bool;
    type Detailed = fn(&str) -> Result<(), SyntaxError>;

    fn datetime_ok(b: &[u8]) -> bool {
        datetime_fast(b).is_some()
    }
    fn datetime_detailed(s: &str) -> Result<(), SyntaxError> {
        parse_datetime_detailed(s).map(|_| ())
    }

    /// (vector file stem, fast path, detailed check).
    const PAIRS: &[(&str, Fast, Detailed)] = &[
        ("did_syntax", did_ok, did_detailed),
        ("handle_syntax", handle_ok, handle_detailed),
        ("nsid_syntax", nsid_ok, nsid_detailed),
        ("aturi_syntax", at_uri_ok, at_uri_detailed),
        (
            "atidentifier_syntax",
            at_identifier_ok,
            at_identifier_detailed,
        ),
        ("recordkey_syntax", record_key_ok, record_key_detailed),
        ("cid_syntax", cid_ok, cid_detailed),
        ("uri_syntax", uri_ok, uri_detailed),
        ("datetime_syntax", datetime_ok, datetime_detailed),
        ("datetime_parse", datetime_ok, datetime_detailed),
    ];

    /// Where the fast path may say no to a valid string: non-ASCII URIs and
    /// datetimes on 0000-01-01. Everywhere else it must agree exactly.
    fn fast_may_decline(stem: &str, s: &str) -> bool {
        (stem == "uri_syntax" && !s.is_ascii()) || s.starts_with("0000-01-01")
    }

    fn compare(stem: &str, fast: Fast, detailed: Detailed, s: &str, problems: &mut Vec<String>) {
        match (fast(s.as_bytes()), detailed(s)) {
            (true, Err(e)) => problems.push(format!("{stem}: fast path accepts {s:?}: {e}")),
            (false, Ok(())) if !fast_may_decline(stem, s) => {
                problems.push(format!("{stem}: fast path declines valid {s:?}"))
            }
            _ => {}
        }
    }

    #[test]
    fn fast_paths_agree_with_detailed_checks_on_vectors() {
        let dir = std::env::var_os("ATPROTO_SHARED_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into())
            .join("atproto-interop-tests/syntax");
        if !dir.is_dir() {
            eprintln!("skipping: {} not found", dir.display());
            return;
        }
        let mut problems = Vec::new();
        let mut seen = 0;
        for (stem, fast, detailed) in PAIRS {
            for suffix in ["valid", "invalid"] {
                let Ok(text) = std::fs::read_to_string(dir.join(format!("{stem}_{suffix}.txt")))
                else {
                    continue;
                };
                for line in text
                    .lines()
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    seen += 1;
                    compare(stem, *fast, *detailed, line, &mut problems);
                }
            }
        }
        assert!(
            seen > 400,
            "only {seen} vectors read from {}",
            dir.display()
        );
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn fast_paths_never_accept_what_detailed_checks_refuse() {
        let alphabet: Vec<char> = "aZz09.-_:%~/#?@+=TQm é\u{a0}\u{7f}\t💩".chars().collect();
        let prefixes = [
            "",
            "did:",
            "did:plc:",
            "at://",
            "at://did:plc:a/",
            "at://a.b/c.d.e/",
            "a.b.",
            "https:",
            "bafy",
            "1985-04-12T23:20:50",
            "2024-02-29T00:00:00.",
            "0000-01-01T00:00:00",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut problems = Vec::new();
        for _ in 0..50_000 {
            let mut s = String::from(prefixes[(next() % prefixes.len() as u64) as usize]);
            for _ in 0..(next() % 16) {
                s.push(alphabet[(next() % alphabet.len() as u64) as usize]);
            }
            for (stem, fast, detailed) in PAIRS {
                if fast(s.as_bytes()) && detailed(&s).is_err() {
                    problems.push(format!("{stem}: fast path accepts {s:?}"));
                }
            }
        }
        assert!(
            problems.is_empty(),
            "{}",
            problems[..problems.len().min(20)].join("\n")
        );
    }

    #[test]
    fn fast_path_edges() {
        // uri: printable ASCII takes the fast path, anything else the detailed one.
        assert!(uri_ok(b"https://example.com/a?b=c#d"));
        assert!(uri_ok(
            b"https://example.com/0123456789abcdef0123456789abcdef~"
        ));
        assert!(!uri_ok(b"https://example.com/\x7f"));
        assert!(!uri_ok(b"https://ex ample.com"));
        assert!(!uri_ok("https://例え.jp".as_bytes()));
        assert!(uri("https://例え.jp").is_ok());
        assert!(uri("https://例え.jp/\u{a0}").is_err());
        assert!(uri("https://example.com/abcdefghijklmnop\u{2028}").is_err());
        assert!(!uri_ok(b"https:") && !uri_ok(b"1http:x") && !uri_ok(b":x"));
        // at-uri: every part, and the characters only the detailed check names.
        assert!(at_uri_ok(
            b"at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a"
        ));
        assert!(at_uri_ok(b"at://alice.test"));
        assert!(!at_uri_ok(b"at://alice.test/"));
        assert!(!at_uri_ok(b"at://alice.test/app.bsky.feed.post/"));
        assert!(!at_uri_ok(b"at://alice.test/app.bsky.feed.post/a/b"));
        assert!(!at_uri_ok(b"at://alice.test/app.bsky.feed.post/a#b"));
        assert!(at_uri("at://alice.test/app.bsky.feed.post/a?b").is_err());
        assert!(!at_uri_ok(b"at://did:plc:abc:/x.y.z"));
        // handles and NSIDs: hyphens, digits, label lengths.
        assert!(handle_ok(b"a-b.c1.test") && !handle_ok(b"a.1test") && !handle_ok(b"a-.test"));
        assert!(!handle_ok(b"-a.test") && !handle_ok(b"a..test") && !handle_ok(b"test"));
        let long = format!("{}.test", "a".repeat(64));
        assert!(!handle_ok(long.as_bytes()) && handle(&long).is_err());
        assert!(nsid_ok(b"com.example.fooBar") && !nsid_ok(b"com.example.foo-bar"));
        assert!(!nsid_ok(b"1com.example.foo") && !nsid_ok(b"com.example.9foo"));
        assert!(!nsid_ok(b"com.example") && !nsid_ok(b"com.example."));
        // DIDs and CIDs.
        assert!(did_ok(b"did:web:example.com%3A8080") && !did_ok(b"did:web:x%"));
        assert!(!did_ok(b"did:Web:x") && !did_ok(b"did::x") && !did_ok(b"did:web:"));
        assert!(cid_ok(
            b"bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
        ));
        assert!(!cid_ok(b"QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u"));
        assert!(!cid_ok(b"bafyrei/x"));
        // datetimes: fraction, offsets, impossible dates, year 0.
        assert!(datetime_fast(b"1985-04-12T23:20:50.123456789123Z").is_some());
        assert_eq!(
            datetime_fast(b"1985-04-12T23:20:50.12+05:30").map(|p| (p.nanos, p.offset_minutes)),
            Some((120_000_000, 330))
        );
        assert!(datetime_fast(b"1985-04-12T23:20:50-00:00").is_none());
        assert!(datetime_fast(b"1985-04-12T23:20:50.Z").is_none());
        assert!(datetime_fast(b"2023-02-29T00:00:00Z").is_none());
        assert!(datetime_fast(b"1985-04-12t23:20:50Z").is_none());
        assert!(datetime_fast(b"1985-04-12T23:20:50Zx").is_none());
        assert!(datetime_fast(b"0000-01-01T00:00:00Z").is_none());
        assert!(datetime("0000-01-01T00:00:00Z").is_ok());
        assert!(datetime("0000-01-01T00:00:00+01:00").is_err());
    }
}
