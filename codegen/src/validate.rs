//! Run-time validation of JSON records against lexicon documents, without
//! generating code: `lexgen validate`.
//!
//! The walk follows the resolved model ([`Set`]) and calls the same shared
//! checks as the generated `Validate` impls: `atmo_types::validate` for
//! constraints, the format newtypes' constructors for the 11 string formats,
//! and `atmo_types::data` for the data model (`$bytes`, `$link`, blobs).
//! Unlike generated types, JSON can break `required`, `nullable`, closed
//! unions and a record's `$type`, so those are checked here too.

use atmo_types::validate::{self as v, Path, Violation, Violations};
use serde_json::Value;

use crate::model::{ObjectDef, Schema, StringDef, UnionDef};
use crate::resolve::{parse_ref, Set};

/// Deepest nesting of refs followed; deeper values are refused.
const MAX_DEPTH: usize = 128;

/// Why a record could not be checked at all (exit code 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unusable(pub String);

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks `value` as a record of collection `nsid` (when `None`, the
/// record's own `$type` names it). `Ok` holds every violation found (empty:
/// valid); `Err` means it cannot be checked (unknown NSID, not a record).
pub fn validate_record(
    set: &Set,
    nsid: Option<&str>,
    value: &Value,
) -> Result<Vec<Violation>, Unusable> {
    let declared = value.get("$type").and_then(Value::as_str);
    let nsid = match (nsid, declared) {
        (Some(n), _) => n,
        (None, Some(t)) => t,
        (None, None) => {
            return Err(Unusable(
                "no \"$type\" to name the record's NSID (pass --nsid)".into(),
            ))
        }
    };
    let Some(entry) = set.docs.get(nsid) else {
        return Err(Unusable(format!("no lexicon for NSID {nsid:?} is loaded")));
    };
    let record = match entry.def("main") {
        Some(Schema::Record(r)) => r,
        Some(other) => {
            return Err(Unusable(format!(
                "{nsid} is a {}, not a record",
                other.kind()
            )))
        }
        None => return Err(Unusable(format!("{nsid} has no main definition"))),
    };
    let mut out = Violations::default();
    let root = Path::Root;
    // The data model first (floats, malformed $bytes/$link/blobs...).
    if let Err(e) = atmo_types::check_data_model(value) {
        out.push(&root, format_args!("data model: {e}"));
    }
    match value.get("$type") {
        None => out.push(&root.field("$type"), "missing (a record names its NSID)"),
        Some(Value::String(t)) if t == nsid => {}
        Some(Value::String(t)) => out.push(
            &root.field("$type"),
            format_args!("{t:?} is not the record's NSID {nsid:?}"),
        ),
        Some(other) => out.push(
            &root.field("$type"),
            format_args!("expected a string, found {}", kind(other)),
        ),
    }
    let w = Walker { set };
    w.object(nsid, &record.record, value, &root, &mut out, 0);
    Ok(out.0)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Walker<'a> {
    set: &'a Set,
}

impl Walker<'_> {
    /// An object against its schema: `required`, `nullable`, then each
    /// declared property present. Undeclared properties are allowed.
    fn object(
        &self,
        from: &str,
        o: &ObjectDef,
        value: &Value,
        path: &Path<'_>,
        out: &mut Violations,
        depth: usize,
    ) {
        let Some(map) = value.as_object() else {
            out.push(
                path,
                format_args!("expected an object, found {}", kind(value)),
            );
            return;
        };
        for name in &o.required {
            if !map.contains_key(name) {
                out.push(&path.field(name), "required, but missing");
            }
        }
        for (name, schema) in &o.properties {
            let Some(v) = map.get(name) else { continue };
            let p = path.field(name);
            if v.is_null() {
                if !o.nullable.contains(name) {
                    out.push(&p, "null, but not nullable");
                }
                continue;
            }
            self.value(from, schema, v, &p, out, depth);
        }
    }

    /// Any value against a field/items schema. `from` is the NSID relative
    /// references start from.
    fn value(
        &self,
        from: &str,
        schema: &Schema,
        value: &Value,
        path: &Path<'_>,
        out: &mut Violations,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            out.push(
                path,
                format_args!("references nested deeper than {MAX_DEPTH}"),
            );
            return;
        }
        let wrong = |out: &mut Violations, what: &str| {
            out.push(path, format_args!("expected {what}, found {}", kind(value)));
        };
        match schema {
            Schema::Object(o) => self.object(from, o, value, path, out, depth),
            Schema::String(s) => match value.as_str() {
                Some(text) => string(s, text, path, out),
                None => wrong(out, "a string"),
            },
            Schema::Integer(i) => match integer(value) {
                Some(n) => v::integer(
                    n,
                    &v::IntegerRules {
                        minimum: i.minimum,
                        maximum: i.maximum,
                        allowed: i.enum_values.as_deref(),
                        constant: i.const_value,
                    },
                    path,
                    out,
                ),
                None if kind(value) == "an integer" => out.push(
                    path,
                    format_args!("{value} is out of range (integers are signed 64-bit)"),
                ),
                None => wrong(out, "an integer"),
            },
            Schema::Boolean(b) => match value.as_bool() {
                Some(x) => {
                    if let Some(c) = b.const_value {
                        v::boolean_const(x, c, path, out)
                    }
                }
                None => wrong(out, "a boolean"),
            },
            Schema::Bytes(_) | Schema::CidLink(_) | Schema::Blob(_) => {
                data_type(schema, value, path, out)
            }
            Schema::Unknown(_) => {
                // Any data-model value; the whole record was checked already.
            }
            Schema::Array(a) => match value.as_array() {
                Some(items) => {
                    v::array_len(
                        items.len(),
                        non_negative(a.min_length),
                        non_negative(a.max_length),
                        path,
                        out,
                    );
                    for (i, item) in items.iter().enumerate() {
                        self.value(from, &a.items, item, &path.index(i), out, depth);
                    }
                }
                None => wrong(out, "an array"),
            },
            Schema::Ref(r) => self.reference(from, &r.target, value, path, out, depth),
            Schema::Union(u) => self.union(from, u, value, path, out, depth),
            other => out.push(path, format_args!("a {} cannot hold a value", other.kind())),
        }
    }

    /// A value of a referenced definition.
    fn reference(
        &self,
        from: &str,
        target: &str,
        value: &Value,
        path: &Path<'_>,
        out: &mut Violations,
        depth: usize,
    ) {
        let wrong = |out: &mut Violations, what: &str| {
            out.push(path, format_args!("expected {what}, found {}", kind(value)));
        };
        let t = parse_ref(from, target);
        match self.set.lookup(&t) {
            Some((_, Schema::Record(rec))) => {
                self.object(&t.nsid, &rec.record, value, path, out, depth + 1)
            }
            Some((_, Schema::Token(_))) => {
                if !value.is_string() {
                    wrong(out, "a string")
                }
            }
            Some((_, def)) => self.value(&t.nsid, def, value, path, out, depth + 1),
            None => out.push(
                path,
                format_args!(
                    "unresolved reference {:?}: {}",
                    target,
                    missing(self.set, &t)
                ),
            ),
        }
    }

    /// A union value: an object whose `$type` names a member; a closed union
    /// accepts nothing else, an open one accepts any other `$type` (as
    /// unknown data).
    fn union(
        &self,
        from: &str,
        u: &UnionDef,
        value: &Value,
        path: &Path<'_>,
        out: &mut Violations,
        depth: usize,
    ) {
        let Some(map) = value.as_object() else {
            out.push(
                path,
                format_args!("expected an object, found {}", kind(value)),
            );
            return;
        };
        let Some(t) = map.get("$type").and_then(Value::as_str) else {
            out.push(
                &path.field("$type"),
                "missing (a union member names its type)",
            );
            return;
        };
        let named = parse_ref(t, t);
        let member = u
            .refs
            .iter()
            .map(|r| parse_ref(from, r))
            .find(|m| *m == named);
        match member {
            Some(m) => match self.set.lookup(&m) {
                Some((_, Schema::Object(o))) => {
                    self.object(&m.nsid, o, value, path, out, depth + 1)
                }
                Some((_, Schema::Record(r))) => {
                    self.object(&m.nsid, &r.record, value, path, out, depth + 1)
                }
                Some(_) => out.push(path, format_args!("union member {t:?} is not an object")),
                None => out.push(
                    path,
                    format_args!("unresolved union member {t:?}: {}", missing(self.set, &m)),
                ),
            },
            None if u.closed => out.push(
                &path.field("$type"),
                format_args!("{t:?} is not a member of this closed union"),
            ),
            None => {}
        }
    }
}

/// `bytes`, `cid-link` and `blob` values, read as the data model types.
fn data_type(schema: &Schema, value: &Value, path: &Path<'_>, out: &mut Violations) {
    match schema {
        Schema::Bytes(b) => match serde_json::from_value::<atmo_types::Bytes>(value.clone()) {
            Ok(bytes) => v::bytes_len(
                bytes.0.len(),
                non_negative(b.min_length),
                non_negative(b.max_length),
                path,
                out,
            ),
            Err(e) => out.push(path, format_args!("expected bytes ($bytes): {e}")),
        },
        Schema::CidLink(_) => match serde_json::from_value::<atmo_types::CidLink>(value.clone()) {
            Ok(link) => {
                if let Err(e) = link.cid().decode() {
                    out.push(&path.field("$link"), format_args!("{e}"));
                }
            }
            Err(e) => out.push(path, format_args!("expected a cid-link ($link): {e}")),
        },
        Schema::Blob(b) => match serde_json::from_value::<atmo_types::Blob>(value.clone()) {
            Ok(blob) => {
                if let Err(e) = blob.cid().decode() {
                    out.push(&path.field("ref"), format_args!("{e}"));
                }
                let accept: Option<Vec<&str>> = b
                    .accept
                    .as_ref()
                    .map(|a| a.iter().map(String::as_str).collect());
                v::blob(
                    blob.mime_type(),
                    blob.size(),
                    accept.as_deref(),
                    non_negative(b.max_size),
                    path,
                    out,
                )
            }
            Err(e) => out.push(path, format_args!("expected a blob: {e}")),
        },
        _ => {}
    }
}

/// Why a reference does not resolve.
fn missing(set: &Set, t: &crate::resolve::Target) -> String {
    if set.docs.contains_key(&t.nsid) {
        format!("lexicon {} has no definition {:?}", t.nsid, t.def)
    } else {
        format!("no lexicon {} is loaded", t.nsid)
    }
}

/// A JSON number that is an integer in the data model (integral floats
/// such as `3.0` count).
fn integer(value: &Value) -> Option<i64> {
    let n = value.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    atmo_types::data::integral_float(f)
}

fn non_negative(v: Option<i64>) -> Option<u64> {
    v.map(|n| n.max(0) as u64)
}

/// A string: its format (the format newtypes' own checks), lengths,
/// `enum` and `const`.
fn string(s: &StringDef, text: &str, path: &Path<'_>, out: &mut Violations) {
    use atmo_types as t;
    if let Some(f) = &s.format {
        let r = match f.as_str() {
            "did" => t::Did::new(text).map(drop),
            "handle" => t::Handle::new(text).map(drop),
            "nsid" => t::Nsid::new(text).map(drop),
            "at-uri" => t::AtUri::new(text).map(drop),
            "at-identifier" => t::AtIdentifier::new(text).map(drop),
            "datetime" => t::Datetime::new(text).map(drop),
            // The syntax, then the decoded CID (version, codec, multihash).
            "cid" => t::Cid::new(text).and_then(|c| c.decode()).map(drop),
            "tid" => t::Tid::new(text).map(drop),
            "record-key" => t::RecordKey::new(text).map(drop),
            "uri" => t::Uri::new(text).map(drop),
            "language" => t::Language::new(text).map(drop),
            _ => Ok(()),
        };
        if let Err(e) = r {
            out.push(path, e);
        }
    }
    v::string(
        text,
        &v::StringRules {
            min_length: non_negative(s.min_length),
            max_length: non_negative(s.max_length),
            min_graphemes: non_negative(s.min_graphemes),
            max_graphemes: non_negative(s.max_graphemes),
        },
        path,
        out,
    );
    if let Some(allowed) = &s.enum_values {
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        v::string_enum(text, &allowed, path, out);
    }
    if let Some(c) = &s.const_value {
        v::string_const(text, c, path, out);
    }
}
