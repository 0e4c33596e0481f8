//! Fallback docs for generated items whose lexicon has no `description`:
//! short, factual text taken from the schema (the lexicon name, the kind
//! of definition, a property's type and constraints), so that every public
//! item of the output is documented (`missing_docs` holds for it) without
//! inventing what a field means.

use crate::model::{ArrayDef, Schema};

/// A schema's type and constraints in lexicon terms:
/// `string (format datetime, maxLength 300)`,
/// `array (maxLength 10) of string (maxGraphemes 64)`,
/// `ref com.atproto.repo.strongRef`.
pub fn summary(schema: &Schema) -> String {
    fn num(c: &mut Vec<String>, name: &str, v: Option<i64>) {
        if let Some(v) = v {
            c.push(format!("{name} {v}"));
        }
    }
    let mut c: Vec<String> = Vec::new();
    let kind = match schema {
        Schema::String(s) => {
            num(&mut c, "minLength", s.min_length);
            num(&mut c, "maxLength", s.max_length);
            num(&mut c, "minGraphemes", s.min_graphemes);
            num(&mut c, "maxGraphemes", s.max_graphemes);
            if let Some(f) = &s.format {
                c.insert(0, format!("format `{f}`"));
            }
            if s.enum_values.is_some() {
                c.push("`enum`".into());
            } else if s.known_values.is_some() {
                c.push("`knownValues`".into());
            }
            if let Some(d) = &s.default {
                c.push(format!("default {d:?}"));
            }
            if let Some(v) = &s.const_value {
                c.push(format!("const {v:?}"));
            }
            "string".to_owned()
        }
        Schema::Integer(i) => {
            num(&mut c, "minimum", i.minimum);
            num(&mut c, "maximum", i.maximum);
            num(&mut c, "default", i.default);
            num(&mut c, "const", i.const_value);
            if let Some(v) = &i.enum_values {
                let v: Vec<String> = v.iter().map(i64::to_string).collect();
                c.push(format!("enum [{}]", v.join(", ")));
            }
            "integer".to_owned()
        }
        Schema::Boolean(b) => {
            if let Some(d) = b.default {
                c.push(format!("default {d}"));
            }
            if let Some(v) = b.const_value {
                c.push(format!("const {v}"));
            }
            "boolean".to_owned()
        }
        Schema::Bytes(b) => {
            num(&mut c, "minLength", b.min_length);
            num(&mut c, "maxLength", b.max_length);
            "bytes".to_owned()
        }
        Schema::Blob(b) => {
            if let Some(a) = &b.accept {
                let a: Vec<String> = a.iter().map(|m| format!("`{m}`")).collect();
                c.push(format!("accept {}", a.join(" ")));
            }
            num(&mut c, "maxSize", b.max_size);
            "blob".to_owned()
        }
        Schema::Ref(r) => format!("ref `{}`", r.target),
        Schema::Union(u) => {
            let refs: Vec<String> = u.refs.iter().map(|r| format!("`{r}`")).collect();
            if u.closed {
                c.push("closed".into());
            }
            format!("union of {}", refs.join(", "))
        }
        Schema::Array(a) => return array(a),
        other => other.kind().to_owned(),
    };
    if c.is_empty() {
        kind
    } else {
        format!("{kind} ({})", c.join(", "))
    }
}

/// An array's type and constraints: `array (maxLength 10) of string`.
pub fn array(a: &ArrayDef) -> String {
    let mut c = Vec::new();
    if let Some(v) = a.min_length {
        c.push(format!("minLength {v}"));
    }
    if let Some(v) = a.max_length {
        c.push(format!("maxLength {v}"));
    }
    let bounds = if c.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.join(", "))
    };
    format!("array{bounds} of {}", summary(&a.items))
}

/// A property's doc: `` `createdAt`: string (format `datetime`). ``
pub fn property(name: &str, schema: &Schema) -> String {
    format!("`{name}`: {}.", summary(schema))
}

/// Where an inline type sits: `` `defs.main.properties.embed` of `app.bsky.feed.post` ``.
pub fn inline(nsid: &str, path: &str) -> String {
    format!("`{path}` of `{nsid}`")
}
