//! Rust names for lexicon names.
//!
//! - modules, fields, methods: `snake_case` (`createSession` → `create_session`);
//! - types, variants: `PascalCase`;
//! - constants: `SHOUTY_SNAKE_CASE`.
//!
//! Rust keywords become raw identifiers (`r#type`), except the few that cannot
//! be raw (`self`, `super`, `crate`, `Self`, `_`), which get a `_` suffix. A
//! name that does not start with a letter gets a prefix (`V` for types,
//! `n` for fields) so that it is an identifier.

use heck::{ToPascalCase, ToShoutySnakeCase, ToSnakeCase};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

const NOT_RAW: &[&str] = &["self", "super", "crate", "Self", "_", ""];

fn fix(mut s: String, prefix: &str) -> String {
    if !s.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        s.insert_str(0, prefix);
    }
    if NOT_RAW.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect()
}

/// `snake_case`, as written in source (may be `r#type`).
pub fn snake(s: &str) -> String {
    let s = fix(ascii(s).to_snake_case(), "n");
    if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

/// `PascalCase`.
pub fn pascal(s: &str) -> String {
    fix(ascii(s).to_pascal_case(), "V")
}

/// `SHOUTY_SNAKE_CASE`.
pub fn shouty(s: &str) -> String {
    fix(ascii(s).to_shouty_snake_case(), "V")
}

/// Field names the generated structs use themselves: a property named like
/// one gets another Rust name (see [`free_field`]) and keeps its JSON name.
pub const RESERVED_FIELDS: &[&str] = &["extra"];

/// `name` (a [`snake`] name), or with `_` appended until it is none of
/// `taken`: `extra` → `extra_`, `r#type` → `type_`.
pub fn free_field(name: &str, taken: &std::collections::BTreeSet<String>) -> String {
    let mut n = name.to_owned();
    while taken.contains(&n) {
        n = format!("{}_", unraw(&n));
    }
    n
}

/// The name without a raw prefix, for file names.
pub fn unraw(s: &str) -> &str {
    s.strip_prefix("r#").unwrap_or(s)
}

/// Parses a name produced above into an identifier.
pub fn ident(s: &str) -> proc_macro2::Ident {
    match s.strip_prefix("r#") {
        Some(raw) => proc_macro2::Ident::new_raw(raw, proc_macro2::Span::call_site()),
        None => proc_macro2::Ident::new(s, proc_macro2::Span::call_site()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(snake("createSession"), "create_session");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("cid-link"), "cid_link");
        assert_eq!(pascal("strongRef"), "StrongRef");
        assert_eq!(pascal("!no-unauthenticated"), "NoUnauthenticated");
        assert_eq!(pascal("18+"), "V18");
        assert_eq!(pascal("self"), "Self_");
        assert_eq!(shouty("reasonSpam"), "REASON_SPAM");
    }

    #[test]
    fn free_fields() {
        let taken: std::collections::BTreeSet<String> = ["extra", "extra_", "r#type"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(free_field("extra", &taken), "extra__");
        assert_eq!(free_field("r#type", &taken), "type_");
        assert_eq!(free_field("text", &taken), "text");
    }
}
