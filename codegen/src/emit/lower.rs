//! Lowering: resolved documents → [`ir::Module`](super::ir::Module)s, with inline types named
//! `{Parent}{Field}` (array items `{Parent}{Field}Item`), and recursive
//! containment broken by boxing.

use std::collections::{BTreeMap, BTreeSet};

use super::ir::*;
use super::{checks, cycles, describe};
use crate::model::{
    ArrayDef, Body, EndpointDef, ErrorDef, ObjectDef, PermissionSetDef, RecordDef, Schema,
    StringDef, SubscriptionDef, UnionDef,
};
use crate::names;
use crate::resolve::{parse_ref, Entry, Origin, Set, Target};
use crate::Error;

/// Lowers every local document of `set`. Properties named in `secrets`
/// (JSON names) whose values are plain strings are marked secret.
pub fn lower(set: &Set, secrets: &[String]) -> Result<Vec<Module>, Vec<Error>> {
    let mut errors = Vec::new();
    let mut modules: Vec<Module> = set
        .docs
        .values()
        .filter(|e| e.origin == Origin::Local)
        .map(|entry| lower_document(set, entry, secrets, &mut errors))
        .collect();
    if !errors.is_empty() {
        errors.sort();
        return Err(errors);
    }
    cycles::break_cycles(&mut modules);
    // External documents are lowered too (and thrown away), only to know
    // which of their types have rules to check.
    let mut ignored = Vec::new();
    let others: Vec<Module> = set
        .docs
        .values()
        .filter(|e| e.origin != Origin::Local)
        .map(|entry| lower_document(set, entry, secrets, &mut ignored))
        .collect();
    checks::analyze(&mut modules, &others);
    Ok(modules)
}

fn lower_document(set: &Set, entry: &Entry, secrets: &[String], errors: &mut Vec<Error>) -> Module {
    let mut l = Lower {
        set,
        entry,
        secrets,
        items: Vec::new(),
        taken: BTreeMap::new(),
        errors,
    };
    l.document();
    Module {
        nsid: entry.doc.id.clone(),
        path: entry.module.clone(),
        doc: entry.doc.description.clone(),
        items: l.items,
    }
}

/// The path of a def's type.
pub fn def_path(e: &Entry, def: &str) -> Option<TyPath> {
    Some(TyPath {
        krate: match &e.origin {
            Origin::Local => None,
            Origin::External(k) => Some(k.clone()),
        },
        module: e.module.clone(),
        name: e.type_names.get(def)?.clone(),
    })
}

fn format_type(f: &str) -> Ty {
    Ty::Format(match f {
        "did" => "Did",
        "handle" => "Handle",
        "nsid" => "Nsid",
        "at-uri" => "AtUri",
        "at-identifier" => "AtIdentifier",
        "datetime" => "Datetime",
        "cid" => "Cid",
        "tid" => "Tid",
        "record-key" => "RecordKey",
        "uri" => "Uri",
        "language" => "Language",
        _ => return Ty::String,
    })
}

/// Variant names for string values: the part after `#` for token refs,
/// PascalCase, duplicates numbered in order.
fn value_variants(values: &[String]) -> Vec<(String, String)> {
    let mut used = BTreeSet::new();
    values
        .iter()
        .map(|v| {
            let base = names::pascal(v.rsplit_once('#').map_or(v.as_str(), |(_, d)| d));
            let mut name = base.clone();
            let mut n = 2;
            while !used.insert(name.clone()) {
                name = format!("{base}{n}");
                n += 1;
            }
            (name, v.clone())
        })
        .collect()
}

/// The fallback doc of a string enum: `enum` values, or `knownValues`
/// (which an `Open` field also accepts others than).
fn values_doc(closed: bool, place: &str) -> String {
    if closed {
        format!("The `enum` values of {place}.")
    } else {
        format!("The `knownValues` of {place}.")
    }
}

struct Lower<'a> {
    set: &'a Set,
    entry: &'a Entry,
    /// JSON property names whose string values are secrets.
    secrets: &'a [String],
    items: Vec<Item>,
    /// Type names in this module → the JSON path that made it.
    taken: BTreeMap<String, String>,
    errors: &'a mut Vec<Error>,
}

impl Lower<'_> {
    fn err(&mut self, path: &str, msg: String) {
        self.errors
            .push(Error::new(&self.entry.doc.file, path, msg));
    }

    fn here(&self, name: &str) -> TyPath {
        TyPath {
            krate: None,
            module: self.entry.module.clone(),
            name: name.to_owned(),
        }
    }

    /// Claims a type name in this module; a clash is an error.
    fn claim(&mut self, name: &str, path: &str) -> bool {
        if let Some(prev) = self.taken.get(name) {
            let prev = prev.clone();
            self.err(
                path,
                format!("generated type name {name} clashes with the one generated for {prev}"),
            );
            return false;
        }
        self.taken.insert(name.to_owned(), path.to_owned());
        true
    }

    fn lexname(&self, def: &str) -> String {
        format!("{}#{}", self.entry.doc.id, def)
    }

    fn document(&mut self) {
        let entry = self.entry;
        // Def names are claimed first, so that inline names yield to them.
        for (def, name) in &entry.type_names {
            self.taken.insert(name.clone(), format!("defs.{def}"));
        }
        let mut defs: Vec<&(String, Schema)> = entry.doc.defs.iter().collect();
        defs.sort_by_key(|(n, _)| (n != "main", n.clone()));
        for (def, schema) in defs {
            let path = format!("defs.{def}");
            // `def` pushes inline items first and its primary item last;
            // the primary item goes first in the output.
            let start = self.items.len();
            self.def(def, schema, &path);
            self.items[start..].rotate_right(1);
        }
    }

    /// Lowers one definition: inline items first, its own item last.
    fn def(&mut self, def: &str, schema: &Schema, path: &str) {
        let tname = self.entry.type_names.get(def).cloned().unwrap_or_default();
        let lexname = self.lexname(def);
        match schema {
            Schema::Record(r) => self.record_def(&tname, &lexname, r, path),
            Schema::Query(e) | Schema::Procedure(e) => {
                let procedure = matches!(schema, Schema::Procedure(_));
                self.endpoint_def(&tname, &lexname, e, procedure, path);
            }
            Schema::Subscription(s) => self.subscription_def(&lexname, s, path),
            Schema::PermissionSet(p) => self.permission_set_def(p),
            Schema::Token(t) => {
                let name = self.entry.const_names.get(def).cloned().unwrap_or_default();
                let doc = t
                    .description
                    .clone()
                    .or_else(|| Some(format!("The `{}#{def}` token.", self.entry.doc.id)));
                self.items.push(Item::Const {
                    name,
                    doc,
                    value: format!("{}#{}", self.entry.doc.id, def),
                });
            }
            Schema::Object(o) => {
                let mut s = self.object(&tname, &lexname, o, path);
                s.doc
                    .get_or_insert_with(|| format!("The `{lexname}` object."));
                self.items.push(Item::Struct(s));
            }
            Schema::String(s) if s.enum_values.is_some() || s.known_values.is_some() => {
                self.string_enum_def(tname, lexname, s);
            }
            Schema::Array(a) => self.array_def(tname, a, path),
            other => {
                let ty = self.ty(other, &tname, "", path);
                let doc = other.description().map(str::to_owned).or_else(|| {
                    Some(format!(
                        "The `{lexname}` definition: {}.",
                        describe::summary(other)
                    ))
                });
                self.items.push(Item::Alias {
                    name: tname,
                    doc,
                    ty,
                });
            }
        }
    }

    fn record_def(&mut self, tname: &str, lexname: &str, r: &RecordDef, path: &str) {
        let mut s = self.object(tname, lexname, &r.record, &format!("{path}.record"));
        s.doc = r.description.clone().or(s.doc).or_else(|| {
            Some(format!(
                "The `{}` record (key `{}`).",
                self.entry.doc.id, r.key
            ))
        });
        s.record = Some((self.entry.doc.id.clone(), r.key.clone()));
        self.items.push(Item::Struct(s));
    }

    fn endpoint_def(
        &mut self,
        tname: &str,
        lexname: &str,
        e: &EndpointDef,
        procedure: bool,
        path: &str,
    ) {
        for n in ["Parameters", "Input", "Output", "Error"] {
            self.claim(n, path);
        }
        let mut ep = Endpoint {
            name: tname.to_owned(),
            doc: e.description.clone(),
            nsid: self.entry.doc.id.clone(),
            procedure,
            params: e.parameters.is_some(),
            input: BodyKind::None,
            input_encoding: e.input.as_ref().and_then(|b| b.encoding.clone()),
            output: BodyKind::None,
            output_encoding: e.output.as_ref().and_then(|b| b.encoding.clone()),
            validate_params: false,
            validate_input: false,
            validate_output: false,
        };
        if let Some(p) = &e.parameters {
            self.params_struct(lexname, p, path);
        }
        if let Some(b) = &e.input {
            ep.input = self.body("Input", lexname, b, &format!("{path}.input"));
        }
        if let Some(b) = &e.output {
            ep.output = self.body("Output", lexname, b, &format!("{path}.output"));
        }
        self.errors_item(&e.errors);
        self.items.push(Item::Endpoint(ep));
    }

    /// The `Parameters` struct of an endpoint or subscription: no `extra`
    /// (unknown query parameters are ignored), so no reserved field name.
    fn params_struct(&mut self, lexname: &str, p: &ObjectDef, path: &str) {
        let mut s = self.object_fields(
            "Parameters",
            &format!("{lexname} parameters"),
            p,
            &format!("{path}.parameters"),
            &[],
        );
        s.extra = false;
        s.params = true;
        s.doc = Some(format!("Query parameters of `{}`.", self.entry.doc.id));
        self.items.push(Item::Struct(s));
    }

    fn subscription_def(&mut self, lexname: &str, s: &SubscriptionDef, path: &str) {
        for n in ["Parameters", "Message", "Error"] {
            self.claim(n, path);
        }
        let nsid = self.entry.doc.id.clone();
        let nsid_const = Item::Const {
            name: "NSID".into(),
            doc: Some(format!(
                "The NSID of this subscription (event stream `{nsid}`).{}",
                s.description
                    .as_deref()
                    .map(|d| format!("\n\n{d}"))
                    .unwrap_or_default()
            )),
            value: nsid,
        };
        if let Some(p) = &s.parameters {
            self.params_struct(lexname, p, path);
        }
        if let Some(Body {
            schema: Some(m),
            description,
            ..
        }) = &s.message
        {
            if let Schema::Union(u) = &**m {
                let mpath = format!("{path}.message.schema");
                let mut un = self.union("Message", &format!("{lexname} message"), u, &mpath);
                un.doc = description.clone().or(un.doc).or_else(|| {
                    Some(format!(
                        "The messages of the `{}` subscription.",
                        self.entry.doc.id
                    ))
                });
                self.items.push(Item::Union(un));
            }
        }
        self.errors_item(&s.errors);
        self.items.push(nsid_const);
    }

    fn permission_set_def(&mut self, p: &PermissionSetDef) {
        let id = &self.entry.doc.id;
        let last = id.rsplit('.').next().unwrap_or_default();
        self.items.push(Item::PermissionSet {
            name: names::shouty(last),
            doc: p.description.clone().or_else(|| p.title.clone()),
            nsid: id.clone(),
            def: p.clone(),
        });
    }

    fn string_enum_def(&mut self, name: String, lexname: String, s: &StringDef) {
        let closed = s.enum_values.is_some();
        let values = s
            .enum_values
            .as_ref()
            .or(s.known_values.as_ref())
            .cloned()
            .unwrap_or_default();
        let doc = s
            .description
            .clone()
            .or_else(|| Some(values_doc(closed, &format!("`{lexname}`"))));
        self.items.push(Item::Enum(StrEnum {
            name,
            doc,
            lexname,
            values: value_variants(&values),
            serde: closed,
        }));
    }

    fn array_def(&mut self, name: String, a: &ArrayDef, path: &str) {
        let ty = self.ty(&a.items, &name, "Item", &format!("{path}.items"));
        let doc = a.description.clone().or_else(|| {
            Some(format!(
                "The `{}#{}` definition: {}.",
                self.entry.doc.id,
                path.trim_start_matches("defs."),
                describe::array(a)
            ))
        });
        self.items.push(Item::Alias {
            name,
            doc,
            ty: Ty::Vec(Box::new(ty)),
        });
    }

    fn errors_item(&mut self, errors: &[ErrorDef]) {
        if errors.is_empty() {
            self.items.push(Item::Errors(Errors { errors: vec![] }));
            return;
        }
        // Names that differ only in case or separators (`fooBar`, `FooBar`)
        // are numbered in lexicon order.
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for e in errors {
            let base = names::pascal(&e.name);
            let v = std::iter::once(base.clone())
                .chain((2..).map(|i| format!("{base}{i}")))
                .find(|v| !seen.contains(v))
                .unwrap_or(base);
            seen.insert(v.clone());
            out.push((v, e.name.clone(), e.description.clone()));
        }
        self.items.push(Item::Errors(Errors { errors: out }));
    }

    fn body(&mut self, name: &str, lexname: &str, b: &Body, path: &str) -> BodyKind {
        let json = b.encoding.as_deref() == Some("application/json");
        if !json {
            self.items.push(Item::Alias {
                name: name.into(),
                doc: Some(format!(
                    "Raw `{}` body.{}",
                    b.encoding.as_deref().unwrap_or("*/*"),
                    b.description
                        .as_deref()
                        .map(|d| format!("\n\n{d}"))
                        .unwrap_or_default()
                )),
                ty: Ty::RawBody,
            });
            return BodyKind::Raw(b.encoding.clone().unwrap_or_default());
        }
        let spath = format!("{path}.schema");
        let what = format!(
            "The {} body of `{}` (`application/json`)",
            name.to_lowercase(),
            self.entry.doc.id
        );
        match b.schema.as_deref() {
            Some(Schema::Object(o)) => {
                let mut s = self.object(
                    name,
                    &format!("{lexname} {}", name.to_lowercase()),
                    o,
                    &spath,
                );
                if s.doc.is_none() {
                    s.doc = b.description.clone().or_else(|| Some(format!("{what}.")));
                }
                self.items.push(Item::Struct(s));
            }
            Some(Schema::Union(u)) => {
                let mut un = self.union(
                    name,
                    &format!("{lexname} {}", name.to_lowercase()),
                    u,
                    &spath,
                );
                un.doc = un
                    .doc
                    .or(b.description.clone())
                    .or_else(|| Some(format!("{what}.")));
                self.items.push(Item::Union(un));
            }
            Some(other) => {
                let ty = self.ty(other, name, "", &spath);
                self.items.push(Item::Alias {
                    name: name.into(),
                    doc: b
                        .description
                        .clone()
                        .or(other.description().map(str::to_owned))
                        .or_else(|| Some(format!("{what}: {}.", describe::summary(other)))),
                    ty,
                });
            }
            None => self.items.push(Item::Alias {
                name: name.into(),
                doc: b
                    .description
                    .clone()
                    .or_else(|| Some(format!("{what}, without a schema."))),
                ty: Ty::Unknown,
            }),
        }
        BodyKind::Json
    }

    /// An object struct named `name` (claimed by the caller or by def naming).
    fn object(&mut self, name: &str, lexname: &str, o: &ObjectDef, path: &str) -> Struct {
        self.object_fields(name, lexname, o, path, names::RESERVED_FIELDS)
    }

    /// An object struct whose generated fields are `reserved`.
    fn object_fields(
        &mut self,
        name: &str,
        lexname: &str,
        o: &ObjectDef,
        path: &str,
        reserved: &[&str],
    ) -> Struct {
        // Names are handed out (field names, inline type names, and their
        // numbering on a clash) in the sorted order of the property names,
        // not in document order: a document read back from a DAG-CBOR record
        // has its `properties` keys sorted, and its generated names must be
        // the author's. Fields and inline items still come out in document
        // order.
        let mut order: Vec<usize> = (0..o.properties.len()).collect();
        order.sort_by(|&a, &b| o.properties[a].0.cmp(&o.properties[b].0));
        let mut built: Vec<Option<(Field, Vec<Item>)>> =
            o.properties.iter().map(|_| None).collect();
        // Field names the generated code takes, then each property's.
        let mut field_names: BTreeSet<String> = reserved.iter().map(|f| f.to_string()).collect();
        for i in order {
            let Some((prop, schema)) = o.properties.get(i) else {
                continue;
            };
            let start = self.items.len();
            let ppath = format!("{path}.properties.{prop}");
            let rust = names::free_field(&names::snake(prop), &field_names);
            field_names.insert(rust.clone());
            let ty = self.ty(schema, name, &names::pascal(prop), &ppath);
            let required = o.required.contains(prop);
            let nullable = o.nullable.contains(prop);
            let default = if required || nullable {
                None
            } else {
                self.default_value(schema, &ty)
            };
            let presence = match (required, nullable, default) {
                (true, false, _) => Presence::Required,
                (true, true, _) => Presence::RequiredNullable,
                (false, true, _) => Presence::OptionalNullable,
                (false, false, Some(d)) => Presence::Default(d),
                (false, false, None) => Presence::Optional,
            };
            let check = checks::of_schema(self.set, &self.entry.doc.id, schema, Some(&ty), 0);
            let secret = self.secrets.iter().any(|x| x == prop) && ty == Ty::String;
            let field = Field {
                json: prop.clone(),
                rust,
                ty,
                presence,
                doc: Some(
                    schema
                        .description()
                        .map_or_else(|| describe::property(prop, schema), str::to_owned),
                ),
                boxed: false,
                check,
                secret,
            };
            // The inline items this property made, put back in document
            // order below.
            let items = self.items.split_off(start);
            if let Some(slot) = built.get_mut(i) {
                *slot = Some((field, items));
            }
        }
        let mut fields = Vec::new();
        for (field, items) in built.into_iter().flatten() {
            fields.push(field);
            self.items.extend(items);
        }
        // `new()` arguments: `required` order, each property once; names
        // that are not properties are ignored.
        let mut ctor: Vec<usize> = Vec::new();
        for r in &o.required {
            if let Some(i) = o.properties.iter().position(|(p, _)| p == r) {
                if !ctor.contains(&i) {
                    ctor.push(i);
                }
            }
        }
        Struct {
            name: name.to_owned(),
            doc: o.description.clone(),
            lexname: lexname.to_owned(),
            fields,
            ctor,
            extra: true,
            record: None,
            params: false,
            validate: false,
        }
    }

    fn default_value(&self, schema: &Schema, ty: &Ty) -> Option<DefaultValue> {
        match (schema, ty) {
            (Schema::Integer(i), Ty::Int) => i.default.map(DefaultValue::Int),
            (Schema::Boolean(b), Ty::Bool) => b.default.map(DefaultValue::Bool),
            (Schema::String(s), Ty::String | Ty::Open(_)) => {
                s.default.clone().map(DefaultValue::Str)
            }
            (
                Schema::String(StringDef {
                    default: Some(d),
                    enum_values: Some(vals),
                    ..
                }),
                Ty::Named(p),
            ) => {
                let variants = value_variants(vals);
                let v = variants.iter().find(|(_, w)| w == d)?;
                Some(DefaultValue::Variant(p.clone(), v.0.clone()))
            }
            _ => None,
        }
    }

    /// `{Parent}{Field}`; when a definition already has that name, the
    /// kind is appended (`ViewRecord` taken by `#viewRecord` → `ViewRecordUnion`).
    /// When that is taken too, it is numbered (`ViewRecordUnion2`).
    fn inline_name(&mut self, parent: &str, field: &str, kind: &str, path: &str) -> String {
        let plain = format!("{parent}{field}");
        let with_kind = format!("{plain}{kind}");
        let name = [plain, with_kind.clone()]
            .into_iter()
            .chain((2..).map(|i| format!("{with_kind}{i}")))
            .find(|n| !self.taken.contains_key(n))
            .unwrap_or(with_kind);
        self.claim(&name, path);
        name
    }

    /// The Rust type of a property/items schema; inline types are added as items.
    fn ty(&mut self, schema: &Schema, parent: &str, field: &str, path: &str) -> Ty {
        match schema {
            Schema::String(s) => {
                if let Some(vals) = s.enum_values.as_ref().or(s.known_values.as_ref()) {
                    if field.is_empty() {
                        // A top-level string def with values is an Enum item, not an alias.
                        return Ty::String;
                    }
                    let name = self.inline_name(parent, field, "Value", path);
                    let closed = s.enum_values.is_some();
                    let doc = s.description.clone().or_else(|| {
                        Some(values_doc(
                            closed,
                            &describe::inline(&self.entry.doc.id, path),
                        ))
                    });
                    self.items.push(Item::Enum(StrEnum {
                        name: name.clone(),
                        doc,
                        lexname: format!("{} {}", self.entry.doc.id, path),
                        values: value_variants(vals),
                        serde: closed,
                    }));
                    let p = self.here(&name);
                    return if closed { Ty::Named(p) } else { Ty::Open(p) };
                }
                match &s.format {
                    Some(f) => format_type(f),
                    None => Ty::String,
                }
            }
            Schema::Integer(_) => Ty::Int,
            Schema::Boolean(_) => Ty::Bool,
            Schema::Bytes(_) => Ty::Bytes,
            Schema::CidLink(_) => Ty::CidLink,
            Schema::Blob(_) => Ty::Blob,
            Schema::Unknown(_) => Ty::Unknown,
            Schema::Array(a) => {
                let item = self.ty(
                    &a.items,
                    parent,
                    &format!("{field}Item"),
                    &format!("{path}.items"),
                );
                Ty::Vec(Box::new(item))
            }
            Schema::Object(o) => {
                let name = self.inline_name(parent, field, "Object", path);
                let lexname = format!("{} {}", self.entry.doc.id, path);
                let mut s = self.object(&name, &lexname, o, path);
                s.doc.get_or_insert_with(|| {
                    format!(
                        "The object at {}.",
                        describe::inline(&self.entry.doc.id, path)
                    )
                });
                self.items.push(Item::Struct(s));
                Ty::Named(self.here(&name))
            }
            Schema::Union(u) => {
                let name = self.inline_name(parent, field, "Union", path);
                let lexname = format!("{} {}", self.entry.doc.id, path);
                let mut un = self.union(&name, &lexname, u, path);
                un.doc.get_or_insert_with(|| {
                    format!(
                        "The union at {}.",
                        describe::inline(&self.entry.doc.id, path)
                    )
                });
                self.items.push(Item::Union(un));
                Ty::Named(self.here(&name))
            }
            Schema::Ref(r) => self.ref_ty(&r.target, path),
            other => {
                self.err(path, format!("a {} cannot be used here", other.kind()));
                Ty::Unknown
            }
        }
    }

    fn ref_ty(&mut self, raw: &str, path: &str) -> Ty {
        let t = parse_ref(&self.entry.doc.id, raw);
        let Some((e, schema)) = self.set.lookup(&t) else {
            self.err(path, format!("unresolved reference {raw:?}"));
            return Ty::Unknown;
        };
        match schema {
            Schema::Token(_) => Ty::String,
            Schema::String(s) if s.known_values.is_some() && s.enum_values.is_none() => {
                match def_path(e, &t.def) {
                    Some(p) => Ty::Open(p),
                    None => {
                        self.err(path, format!("{raw:?} names no definition"));
                        Ty::Unknown
                    }
                }
            }
            _ => match def_path(e, &t.def) {
                Some(p) => Ty::Named(p),
                None => {
                    self.err(
                        path,
                        format!("{raw:?} is a {}, which has no type", schema.kind()),
                    );
                    Ty::Unknown
                }
            },
        }
    }

    fn union(&mut self, name: &str, lexname: &str, u: &UnionDef, path: &str) -> Union {
        let targets: Vec<Target> = u
            .refs
            .iter()
            .map(|r| parse_ref(&self.entry.doc.id, r))
            .collect();
        let simple = |t: &Target| {
            if t.def == "main" {
                names::pascal(t.nsid.rsplit('.').next().unwrap_or_default())
            } else {
                names::pascal(&t.def)
            }
        };
        let qualified = |t: &Target| {
            let last = names::pascal(t.nsid.rsplit('.').next().unwrap_or_default());
            if t.def == "main" {
                last
            } else {
                format!("{last}{}", names::pascal(&t.def))
            }
        };
        let full = |t: &Target| names::pascal(&t.type_name().replace(['.', '#'], " "));
        let count = |f: &dyn Fn(&Target) -> String, v: &str| {
            targets.iter().filter(|t| f(t) == v).count() + usize::from(!u.closed && v == "Unknown")
        };
        let mut members = Vec::new();
        let mut used = BTreeSet::new();
        for t in &targets {
            let mut v = simple(t);
            if count(&simple, &v) > 1 {
                v = qualified(t);
                if count(&qualified, &v) > 1 {
                    v = full(t);
                }
            }
            if !used.insert(v.clone()) {
                self.err(
                    path,
                    format!("union members clash: two become the variant {v}"),
                );
                continue;
            }
            let Some((e, _)) = self.set.lookup(t) else {
                continue;
            };
            let Some(ty) = def_path(e, &t.def) else {
                continue;
            };
            members.push(Member {
                variant: v,
                type_name: t.type_name(),
                ty,
                validate: false,
            });
        }
        Union {
            name: name.to_owned(),
            doc: u.description.clone(),
            lexname: lexname.to_owned(),
            members,
            closed: u.closed,
        }
    }
}
