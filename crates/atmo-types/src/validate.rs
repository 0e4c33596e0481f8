//! Lexicon constraint checks, in one place.
//!
//! Generated types implement [`Validate`] by calling these functions with the
//! constraints of their lexicon, and `lexgen validate` calls the same functions
//! while walking plain JSON against lexicon documents at run time, so a rule
//! is written once and means the same thing everywhere.
//!
//! Paths are built on the stack ([`Path`]) and only turned into text when a
//! violation is recorded, so validating valid data allocates nothing.

use std::fmt;

use unicode_segmentation::UnicodeSegmentation;

/// A location in a JSON document, as a chain of borrowed segments.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    /// The document itself.
    Root,
    /// A property of an object.
    Field(&'a Path<'a>, &'a str),
    /// An item of an array.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// The path of a property below this one.
    pub fn field(&'a self, name: &'a str) -> Path<'a> {
        Path::Field(self, name)
    }

    /// The path of an array item below this one.
    pub fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(parent, name) => {
                if matches!(parent, Path::Root) {
                    f.write_str(name)
                } else {
                    write!(f, "{parent}.{name}")
                }
            }
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Where, e.g. `embed.images[2].alt` (empty for the root).
    pub path: String,
    /// What, e.g. `1201 graphemes > 1000`.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every violation found in one value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    /// Records a violation at `path`.
    pub fn push(&mut self, path: &Path<'_>, message: impl fmt::Display) {
        self.0.push(Violation {
            path: path.to_string(),
            message: message.to_string(),
        });
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when empty, the violations otherwise.
    pub fn into_result(self) -> Result<(), ValidationError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationError(self.0))
        }
    }
}

/// A value broke one or more lexicon constraints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError(pub Vec<Violation>);

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// Checks a value against the constraints of its lexicon.
pub trait Validate {
    /// Appends every violation found below `path` to `out`.
    fn validate_at(&self, path: &Path<'_>, out: &mut Violations);

    /// Every violation, or `Ok`.
    fn validate(&self) -> Result<(), ValidationError> {
        let mut out = Violations::default();
        self.validate_at(&Path::Root, &mut out);
        out.into_result()
    }
}

impl<T: Validate + ?Sized> Validate for Box<T> {
    fn validate_at(&self, path: &Path<'_>, out: &mut Violations) {
        (**self).validate_at(path, out)
    }
}

impl<T: Validate> Validate for Option<T> {
    fn validate_at(&self, path: &Path<'_>, out: &mut Violations) {
        if let Some(v) = self {
            v.validate_at(path, out)
        }
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn validate_at(&self, path: &Path<'_>, out: &mut Violations) {
        for (i, v) in self.iter().enumerate() {
            v.validate_at(&path.index(i), out)
        }
    }
}

/// Types whose every value is valid once constructed (format newtypes check
/// their syntax when built; plain scalars have no rules of their own).
macro_rules! always_valid {
    ($($t:ty),* $(,)?) => {$(
        impl Validate for $t {
            #[inline]
            fn validate_at(&self, _: &Path<'_>, _: &mut Violations) {}
        }
    )*};
}

always_valid!(
    String,
    i64,
    bool,
    serde_json::Value,
    crate::Unknown,
    crate::syntax::Did,
    crate::syntax::Handle,
    crate::syntax::Nsid,
    crate::syntax::AtUri,
    crate::syntax::AtIdentifier,
    crate::syntax::Datetime,
    crate::syntax::Cid,
    crate::syntax::Tid,
    crate::syntax::RecordKey,
    crate::syntax::Uri,
    crate::syntax::Language,
    crate::data::CidLink,
    crate::data::Bytes,
    crate::data::Blob,
    crate::object::UnknownObject,
);

impl<T> Validate for crate::object::Open<T> {
    #[inline]
    fn validate_at(&self, _: &Path<'_>, _: &mut Violations) {}
}

/// The text of any string-valued field (plain, format newtype or
/// `knownValues`), so generated code checks them all with [`string`].
pub trait LexStr {
    /// The string as written on the wire.
    fn lex_str(&self) -> &str;
}

impl LexStr for String {
    #[inline]
    fn lex_str(&self) -> &str {
        self
    }
}

impl<T: crate::object::StringEnum> LexStr for crate::object::Open<T> {
    #[inline]
    fn lex_str(&self) -> &str {
        self.as_str()
    }
}

macro_rules! lex_str_formats {
    ($($t:ty),* $(,)?) => {$(
        impl LexStr for $t {
            #[inline]
            fn lex_str(&self) -> &str {
                self.as_str()
            }
        }
    )*};
}

lex_str_formats!(
    crate::syntax::Did,
    crate::syntax::Handle,
    crate::syntax::Nsid,
    crate::syntax::AtUri,
    crate::syntax::AtIdentifier,
    crate::syntax::Datetime,
    crate::syntax::Cid,
    crate::syntax::Tid,
    crate::syntax::RecordKey,
    crate::syntax::Uri,
    crate::syntax::Language,
);

/// The length rules of a lexicon `string`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StringRules {
    /// `minLength`, in UTF-8 bytes.
    pub min_length: Option<u64>,
    /// `maxLength`, in UTF-8 bytes.
    pub max_length: Option<u64>,
    /// `minGraphemes`, in extended grapheme clusters.
    pub min_graphemes: Option<u64>,
    /// `maxGraphemes`, in extended grapheme clusters.
    pub max_graphemes: Option<u64>,
}

impl StringRules {
    /// No rule, for `..StringRules::NONE` in generated constants.
    pub const NONE: StringRules = StringRules {
        min_length: None,
        max_length: None,
        min_graphemes: None,
        max_graphemes: None,
    };
}

/// Checks a string's lengths.
pub fn string(s: &str, rules: &StringRules, path: &Path<'_>, out: &mut Violations) {
    let bytes = s.len() as u64;
    if let Some(max) = rules.max_length {
        if bytes > max {
            out.push(path, format_args!("{bytes} bytes > maxLength {max}"));
        }
    }
    if let Some(min) = rules.min_length {
        if bytes < min {
            out.push(path, format_args!("{bytes} bytes < minLength {min}"));
        }
    }
    if rules.max_graphemes.is_none() && rules.min_graphemes.is_none() {
        return;
    }
    // Every grapheme takes at least one byte, so a string no longer in bytes
    // than the maximum cannot break it: segmentation is skipped then.
    if let Some(max) = rules.max_graphemes {
        if bytes > max {
            let n = s.graphemes(true).count() as u64;
            if n > max {
                out.push(path, format_args!("{n} graphemes > maxGraphemes {max}"));
            }
        }
    }
    if let Some(min) = rules.min_graphemes {
        let n = s.graphemes(true).count() as u64;
        if n < min {
            out.push(path, format_args!("{n} graphemes < minGraphemes {min}"));
        }
    }
}

/// Checks an optional string's lengths.
pub fn opt_string(s: &Option<String>, rules: &StringRules, path: &Path<'_>, out: &mut Violations) {
    if let Some(s) = s {
        string(s, rules, path, out)
    }
}

/// Checks a string `const`.
pub fn string_const(s: &str, expected: &str, path: &Path<'_>, out: &mut Violations) {
    if s != expected {
        out.push(path, format_args!("{s:?} is not the constant {expected:?}"));
    }
}

/// Checks a closed string `enum` given as a list (used by the run-time
/// validator; generated code encodes closed enums as Rust enums instead).
pub fn string_enum(s: &str, allowed: &[&str], path: &Path<'_>, out: &mut Violations) {
    if !allowed.contains(&s) {
        out.push(path, format_args!("{s:?} is not one of {allowed:?}"));
    }
}

/// The rules of a lexicon `integer`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntegerRules<'a> {
    /// `minimum`.
    pub minimum: Option<i64>,
    /// `maximum`.
    pub maximum: Option<i64>,
    /// `enum`: the allowed values, when listed.
    pub allowed: Option<&'a [i64]>,
    /// `const`.
    pub constant: Option<i64>,
}

impl IntegerRules<'_> {
    /// No rule, for `..IntegerRules::NONE` in generated constants.
    pub const NONE: IntegerRules<'static> = IntegerRules {
        minimum: None,
        maximum: None,
        allowed: None,
        constant: None,
    };
}

/// Checks a boolean `const`.
pub fn boolean_const(v: bool, expected: bool, path: &Path<'_>, out: &mut Violations) {
    if v != expected {
        out.push(path, format_args!("{v} is not the constant {expected}"));
    }
}

/// Checks an integer.
pub fn integer(v: i64, rules: &IntegerRules<'_>, path: &Path<'_>, out: &mut Violations) {
    if let Some(min) = rules.minimum {
        if v < min {
            out.push(path, format_args!("{v} < minimum {min}"));
        }
    }
    if let Some(max) = rules.maximum {
        if v > max {
            out.push(path, format_args!("{v} > maximum {max}"));
        }
    }
    if let Some(allowed) = rules.allowed {
        if !allowed.contains(&v) {
            out.push(path, format_args!("{v} is not one of {allowed:?}"));
        }
    }
    if let Some(c) = rules.constant {
        if v != c {
            out.push(path, format_args!("{v} is not the constant {c}"));
        }
    }
}

/// Checks an optional integer.
pub fn opt_integer(
    v: &Option<i64>,
    rules: &IntegerRules<'_>,
    path: &Path<'_>,
    out: &mut Violations,
) {
    if let Some(v) = v {
        integer(*v, rules, path, out)
    }
}

/// Checks an array's length (`minLength`/`maxLength`, in items).
pub fn array_len(
    len: usize,
    min: Option<u64>,
    max: Option<u64>,
    path: &Path<'_>,
    out: &mut Violations,
) {
    let len = len as u64;
    if let Some(max) = max {
        if len > max {
            out.push(path, format_args!("{len} items > maxLength {max}"));
        }
    }
    if let Some(min) = min {
        if len < min {
            out.push(path, format_args!("{len} items < minLength {min}"));
        }
    }
}

/// Checks a `bytes` value's length.
pub fn bytes_len(
    len: usize,
    min: Option<u64>,
    max: Option<u64>,
    path: &Path<'_>,
    out: &mut Violations,
) {
    let len = len as u64;
    if let Some(max) = max {
        if len > max {
            out.push(path, format_args!("{len} bytes > maxLength {max}"));
        }
    }
    if let Some(min) = min {
        if len < min {
            out.push(path, format_args!("{len} bytes < minLength {min}"));
        }
    }
}

/// True when a MIME type matches one `accept` pattern: exact, `type/*` or `*/*`.
pub fn mime_matches(mime: &str, pattern: &str) -> bool {
    if pattern == "*/*" || pattern == "*" {
        return true;
    }
    match pattern.strip_suffix("/*") {
        Some(prefix) => mime
            .split_once('/')
            .is_some_and(|(t, _)| t.eq_ignore_ascii_case(prefix)),
        None => mime.eq_ignore_ascii_case(pattern),
    }
}

/// Checks a blob's MIME type against `accept` and its size against `maxSize`.
/// A legacy blob has no size; only its MIME type is checked.
pub fn blob(
    mime: &str,
    size: Option<u64>,
    accept: Option<&[&str]>,
    max_size: Option<u64>,
    path: &Path<'_>,
    out: &mut Violations,
) {
    if let Some(accept) = accept {
        if !accept.iter().any(|p| mime_matches(mime, p)) {
            out.push(
                path,
                format_args!("MIME type {mime:?} is not accepted ({accept:?})"),
            );
        }
    }
    if let (Some(size), Some(max)) = (size, max_size) {
        if size > max {
            out.push(path, format_args!("{size} bytes > maxSize {max}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: impl FnOnce(&Path<'_>, &mut Violations)) -> Vec<String> {
        let mut out = Violations::default();
        let root = Path::Root;
        let embed = root.field("embed");
        let images = embed.field("images");
        let item = images.index(2);
        let alt = item.field("alt");
        f(&alt, &mut out);
        out.0.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn grapheme_violation_names_the_path() {
        let text = "e\u{301}".repeat(1001); // 1001 graphemes, 3003 bytes
        let rules = StringRules {
            max_graphemes: Some(1000),
            ..Default::default()
        };
        assert_eq!(
            run(|p, o| string(&text, &rules, p, o)),
            ["embed.images[2].alt: 1001 graphemes > maxGraphemes 1000"]
        );
    }

    #[test]
    fn many_bytes_few_graphemes_is_fine() {
        let text = "👩‍👩‍👧‍👦".repeat(10); // 10 graphemes, many bytes
        let rules = StringRules {
            max_graphemes: Some(10),
            min_graphemes: Some(10),
            ..Default::default()
        };
        assert!(run(|p, o| string(&text, &rules, p, o)).is_empty());
    }

    #[test]
    fn byte_lengths_and_integers() {
        let rules = StringRules {
            min_length: Some(2),
            max_length: Some(3),
            ..Default::default()
        };
        assert_eq!(run(|p, o| string("é", &rules, p, o)), Vec::<String>::new());
        assert_eq!(run(|p, o| string("abcd", &rules, p, o)).len(), 1);
        assert_eq!(run(|p, o| string("a", &rules, p, o)).len(), 1);
        let ints = IntegerRules {
            minimum: Some(1),
            maximum: Some(100),
            allowed: None,
            constant: None,
        };
        assert_eq!(
            run(|p, o| integer(0, &ints, p, o)),
            ["embed.images[2].alt: 0 < minimum 1"]
        );
        assert!(run(|p, o| integer(100, &ints, p, o)).is_empty());
    }

    #[test]
    fn mime_patterns() {
        assert!(mime_matches("image/png", "image/*"));
        assert!(mime_matches("image/png", "*/*"));
        assert!(mime_matches("video/mp4", "video/mp4"));
        assert!(!mime_matches("video/mp4", "image/*"));
        assert!(!mime_matches("imagex/png", "image/*"));
        let v = run(|p, o| {
            blob(
                "text/html",
                Some(5_000_000),
                Some(&["image/*"]),
                Some(1_000_000),
                p,
                o,
            )
        });
        assert_eq!(v.len(), 2, "{v:?}");
    }

    #[test]
    fn root_path_is_empty() {
        let mut out = Violations::default();
        integer(
            5,
            &IntegerRules {
                maximum: Some(1),
                ..Default::default()
            },
            &Path::Root,
            &mut out,
        );
        assert_eq!(out.0[0].to_string(), "5 > maximum 1");
    }
}
