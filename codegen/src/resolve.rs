//! Stage 2, resolve: load a set of documents, check it, and name things.
//!
//! Checks (all problems are collected, each naming file, JSON path, problem):
//! - `lexicon` is 1 and every document parses (stage 1);
//! - `id` is a valid NSID (`atmo_types::Nsid`, the one NSID syntax check), and matches the file's path when loaded from a folder;
//! - no NSID is defined twice;
//! - primary types (`record`, `query`, `procedure`, `subscription`,
//!   `permission-set`) only as `main`;
//! - every `ref` and `union` target exists (`#def` local, `nsid#def`, bare
//!   `nsid` = `#main`; the `lex:` URI prefix that some tools write is accepted),
//!   and has a kind that can be used there;
//! - names do not clash after case conversion (modules, types, constants).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::{self, Document, Schema};
use crate::names;
use crate::Error;

/// Where the generated code of a document lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Generated now, into this crate (`crate::...` paths).
    Local,
    /// Already generated into another crate, e.g. `atmo_api`: refs into
    /// it become `::atmo_api::...` paths and nothing is generated for it.
    External(String),
}

/// One resolved document.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The parsed document.
    pub doc: Document,
    /// Where its code lives.
    pub origin: Origin,
    /// Module path (snake_case NSID segments).
    pub module: Vec<String>,
    /// Rust type name of each def that has one (not tokens or permission sets).
    pub type_names: BTreeMap<String, String>,
    /// Constant name of each token.
    pub const_names: BTreeMap<String, String>,
}

impl Entry {
    /// The definition called `name`.
    pub fn def(&self, name: &str) -> Option<&Schema> {
        self.doc
            .defs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }
}

/// What a set is built for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Code generation: every reference must resolve.
    Generate,
    /// Run-time validation: references are resolved when reached.
    Validate,
}

/// A checked set of documents, by NSID.
#[derive(Clone, Debug, Default)]
pub struct Set {
    /// Every document, by NSID.
    pub docs: BTreeMap<String, Entry>,
}

/// A resolved reference: document NSID and def name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// The document.
    pub nsid: String,
    /// The definition.
    pub def: String,
}

impl Target {
    /// The `$type` value for this definition: `nsid` for `main`, else `nsid#def`.
    pub fn type_name(&self) -> String {
        if self.def == "main" {
            self.nsid.clone()
        } else {
            format!("{}#{}", self.nsid, self.def)
        }
    }
}

/// Splits a reference into its target, relative to document `from`.
pub fn parse_ref(from: &str, raw: &str) -> Target {
    let r = raw.strip_prefix("lex:").unwrap_or(raw);
    if let Some(local) = r.strip_prefix('#') {
        Target {
            nsid: from.to_owned(),
            def: local.to_owned(),
        }
    } else if let Some((nsid, def)) = r.split_once('#') {
        Target {
            nsid: nsid.to_owned(),
            def: def.to_owned(),
        }
    } else {
        Target {
            nsid: r.to_owned(),
            def: "main".to_owned(),
        }
    }
}

fn valid_def_name(s: &str) -> bool {
    s.as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Loads every `*.json` file under `dir` (recursively, in sorted order) and
/// checks that each document's id matches its path
/// (`com/atproto/server/createSession.json` holds `com.atproto.server.createSession`).
pub fn load_dir(dir: &Path) -> Result<Vec<Document>, Vec<Error>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    collect_json(dir, &mut files, &mut errors);
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        match load_file(&file) {
            Ok(doc) => {
                let rel = file.strip_prefix(dir).unwrap_or(&file).with_extension("");
                let expected: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let expected = expected.join(".");
                if doc.id != expected {
                    errors.push(Error::new(
                        &shown,
                        "id",
                        format!(
                            "id {:?} does not match the file's path (expected {expected:?})",
                            doc.id
                        ),
                    ));
                } else {
                    docs.push(doc);
                }
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(docs)
    } else {
        Err(errors)
    }
}

/// Loads every `*.json` file under `dir` (recursively, sorted) without
/// requiring the id to match the path (for `lexgen validate`, whose folders
/// may be flat collections such as the interop catalog).
pub fn load_dir_any(dir: &Path) -> Result<Vec<Document>, Vec<Error>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    collect_json(dir, &mut files, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    files.sort();
    load_files(&files)
}

/// Loads the given files (no id/path check).
pub fn load_files(files: &[PathBuf]) -> Result<Vec<Document>, Vec<Error>> {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load_file(f) {
            Ok(d) => docs.push(d),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(docs)
    } else {
        Err(errors)
    }
}

fn load_file(file: &Path) -> Result<Document, Vec<Error>> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|e| vec![Error::new(&shown, "", format!("cannot read: {e}"))])?;
    model::parse_document(&shown, &text)
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<Error>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(Error::new(
                dir.display().to_string(),
                "",
                format!("cannot read folder: {e}"),
            ));
            return;
        }
    };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect_json(&p, out, errors);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// Visits every schema under `schema`, with its JSON path.
pub fn visit<'a>(schema: &'a Schema, path: &str, f: &mut dyn FnMut(&'a Schema, &str)) {
    f(schema, path);
    let obj = |o: &'a model::ObjectDef, p: &str, f: &mut dyn FnMut(&'a Schema, &str)| {
        for (name, s) in &o.properties {
            visit(s, &format!("{p}.properties.{name}"), f);
        }
    };
    let body = |b: &'a Option<model::Body>, p: String, f: &mut dyn FnMut(&'a Schema, &str)| {
        if let Some(s) = b.as_ref().and_then(|b| b.schema.as_deref()) {
            visit(s, &format!("{p}.schema"), f);
        }
    };
    match schema {
        Schema::Record(r) => obj(&r.record, &format!("{path}.record"), f),
        Schema::Query(e) | Schema::Procedure(e) => {
            if let Some(p) = &e.parameters {
                obj(p, &format!("{path}.parameters"), f);
            }
            body(&e.input, format!("{path}.input"), f);
            body(&e.output, format!("{path}.output"), f);
        }
        Schema::Subscription(s) => {
            if let Some(p) = &s.parameters {
                obj(p, &format!("{path}.parameters"), f);
            }
            body(&s.message, format!("{path}.message"), f);
        }
        Schema::Params(o) | Schema::Object(o) => obj(o, path, f),
        Schema::Array(a) => visit(&a.items, &format!("{path}.items"), f),
        _ => {}
    }
}

impl Set {
    /// Checks and indexes `local` documents (to be generated) together with
    /// `external` ones (generated elsewhere, by crate name).
    pub fn build(
        local: Vec<Document>,
        external: Vec<(String, Vec<Document>)>,
    ) -> Result<Set, Vec<Error>> {
        Set::build_with(local, external, Mode::Generate)
    }

    /// Indexes documents for run-time validation: NSIDs, duplicates and
    /// definitions are checked as by [`Set::build`], but references are not
    /// (nor the Rust module layout): a validator reports an unresolvable
    /// reference only when a record reaches it, so one broken document does
    /// not refuse every record.
    pub fn build_for_validation(docs: Vec<Document>) -> Result<Set, Vec<Error>> {
        Set::build_with(docs, Vec::new(), Mode::Validate)
    }

    fn build_with(
        local: Vec<Document>,
        external: Vec<(String, Vec<Document>)>,
        mode: Mode,
    ) -> Result<Set, Vec<Error>> {
        let mut errors = Vec::new();
        let mut docs: BTreeMap<String, Entry> = BTreeMap::new();
        let all =
            local
                .into_iter()
                .map(|d| (Origin::Local, d))
                .chain(external.into_iter().flat_map(|(k, ds)| {
                    ds.into_iter()
                        .map(move |d| (Origin::External(k.clone()), d))
                }));
        for (origin, doc) in all {
            if let Err(e) = atmo_types::Nsid::new(doc.id.as_str()) {
                errors.push(Error::new(
                    &doc.file,
                    "id",
                    format!("{:?} is not a valid NSID: {}", doc.id, e.reason),
                ));
                continue;
            }
            if let Some(prev) = docs.get(&doc.id) {
                errors.push(Error::new(
                    &doc.file,
                    "id",
                    format!("NSID {} is already defined by {}", doc.id, prev.doc.file),
                ));
                continue;
            }
            let module = doc.id.split('.').map(names::snake).collect();
            docs.insert(
                doc.id.clone(),
                Entry {
                    doc,
                    origin,
                    module,
                    type_names: BTreeMap::new(),
                    const_names: BTreeMap::new(),
                },
            );
        }
        let mut set = Set { docs };
        set.check_defs(&mut errors);
        if mode == Mode::Generate {
            set.check_refs(&mut errors);
            set.check_modules(&mut errors);
        }
        set.assign_names();
        if errors.is_empty() {
            Ok(set)
        } else {
            errors.sort();
            errors.dedup();
            Err(errors)
        }
    }

    fn check_defs(&self, errors: &mut Vec<Error>) {
        for e in self.docs.values() {
            for (name, def) in &e.doc.defs {
                let path = format!("defs.{name}");
                if !valid_def_name(name) {
                    errors.push(Error::new(
                        &e.doc.file,
                        &path,
                        format!("{name:?} is not a valid definition name"),
                    ));
                }
                if def.is_primary() && name != "main" {
                    errors.push(Error::new(
                        &e.doc.file,
                        &path,
                        format!("a {} may only be the `main` definition", def.kind()),
                    ));
                }
            }
        }
    }

    /// The entry and def a reference points to.
    pub fn lookup(&self, t: &Target) -> Option<(&Entry, &Schema)> {
        let e = self.docs.get(&t.nsid)?;
        Some((e, e.def(&t.def)?))
    }

    fn check_refs(&self, errors: &mut Vec<Error>) {
        for e in self.docs.values() {
            for (name, def) in &e.doc.defs {
                visit(def, &format!("defs.{name}"), &mut |s, path| {
                    let (refs, in_union): (Vec<&String>, bool) = match s {
                        Schema::Ref(r) => (vec![&r.target], false),
                        Schema::Union(u) => (u.refs.iter().collect(), true),
                        _ => return,
                    };
                    let mut seen = Vec::new();
                    for raw in refs {
                        let t = parse_ref(&e.doc.id, raw);
                        if in_union {
                            if seen.contains(&t) {
                                errors.push(Error::new(
                                    &e.doc.file,
                                    path,
                                    format!("union lists {raw:?} twice"),
                                ));
                            }
                            seen.push(t.clone());
                        }
                        let Some((_, target)) = self.lookup(&t) else {
                            let why = if self.docs.contains_key(&t.nsid) {
                                format!("document {} has no definition {:?}", t.nsid, t.def)
                            } else {
                                format!("no document {} is loaded", t.nsid)
                            };
                            errors.push(Error::new(
                                &e.doc.file,
                                path,
                                format!("unresolved reference {raw:?}: {why}"),
                            ));
                            continue;
                        };
                        let ok = if in_union {
                            matches!(target, Schema::Object(_) | Schema::Record(_))
                        } else {
                            !matches!(
                                target,
                                Schema::Query(_)
                                    | Schema::Procedure(_)
                                    | Schema::Subscription(_)
                                    | Schema::PermissionSet(_)
                            )
                        };
                        if !ok {
                            let what = if in_union {
                                "a union member"
                            } else {
                                "a reference target"
                            };
                            errors.push(Error::new(
                                &e.doc.file,
                                path,
                                format!("{raw:?} is a {}, which cannot be {what}", target.kind()),
                            ));
                        }
                    }
                });
            }
        }
    }

    fn check_modules(&self, errors: &mut Vec<Error>) {
        let mut by_module: BTreeMap<&[String], &Entry> = BTreeMap::new();
        for e in self.docs.values() {
            if let Some(prev) = by_module.insert(&e.module, e) {
                errors.push(Error::new(
                    &e.doc.file,
                    "id",
                    format!(
                        "{} and {} map to the same Rust module {}",
                        prev.doc.id,
                        e.doc.id,
                        e.module.join("::")
                    ),
                ));
            }
        }
        for e in self.docs.values() {
            for other in self.docs.values() {
                if other.module.len() > e.module.len() && other.module.starts_with(&e.module) {
                    errors.push(Error::new(
                        &e.doc.file,
                        "id",
                        format!(
                            "NSID {} is also a namespace prefix of {}: a module cannot be both",
                            e.doc.id, other.doc.id
                        ),
                    ));
                    break;
                }
            }
        }
    }

    /// Names each def: `main` → PascalCase of the last NSID segment, others →
    /// PascalCase of the def name; tokens → SHOUTY_SNAKE constants. Names the
    /// generator adds itself are reserved: `Parameters`, `Input`, `Output`,
    /// `Error`, `Message` and the main name in endpoint modules, the `NSID`
    /// constant of subscriptions and the constant of a permission set; a def
    /// named like one gets a `Def` (`_DEF`) suffix. Defs whose names still
    /// clash after case conversion (`fooBar`, `foo_bar`) are numbered in the
    /// sorted order of their def names (`FooBar`, `FooBar2`), so every valid
    /// document has names, and the same ones whatever order `defs` lists them
    /// in (a document read back from a DAG-CBOR record has its keys sorted).
    fn assign_names(&mut self) {
        for e in self.docs.values_mut() {
            let last = e.doc.id.rsplit('.').next().unwrap_or_default();
            let main_kind = e.def("main").map(|m| m.kind());
            let main_name = names::pascal(last);
            let mut reserved_types: Vec<String> = match main_kind {
                Some("query") | Some("procedure") => vec!["Parameters", "Input", "Output", "Error"],
                Some("subscription") => vec!["Parameters", "Message", "Error"],
                _ => vec![],
            }
            .into_iter()
            .map(String::from)
            .collect();
            if main_kind.is_some() {
                reserved_types.push(main_name.clone());
            }
            let reserved_consts: Vec<String> = match main_kind {
                Some("subscription") => vec!["NSID".to_owned()],
                Some("permission-set") => vec![names::shouty(last)],
                _ => vec![],
            };
            let mut types = BTreeMap::new();
            let mut consts = BTreeMap::new();
            let mut defs: Vec<&(String, Schema)> = e.doc.defs.iter().collect();
            defs.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, def) in defs {
                match def {
                    Schema::Token(_) => {
                        let c = names::shouty(name);
                        let c = unique(c, &reserved_consts, "_DEF", "_", consts.values());
                        consts.insert(name.clone(), c);
                    }
                    Schema::PermissionSet(_) | Schema::Subscription(_) => {}
                    _ if name == "main" => {
                        types.insert(name.clone(), main_name.clone());
                    }
                    _ => {
                        // The main name is reserved whenever there is a main def.
                        let t = names::pascal(name);
                        let t = unique(t, &reserved_types, "Def", "", types.values());
                        types.insert(name.clone(), t);
                    }
                }
            }
            e.type_names = types;
            e.const_names = consts;
        }
    }
}

/// `name`, with `reserved_suffix` when it is reserved, then numbered
/// (`{name}{sep}2`, `{name}{sep}3`...) until it is none of `taken`.
fn unique<'a>(
    name: String,
    reserved: &[String],
    reserved_suffix: &str,
    sep: &str,
    taken: impl Iterator<Item = &'a String> + Clone,
) -> String {
    let mut base = name;
    if reserved.contains(&base) {
        base.push_str(reserved_suffix);
    }
    let free = |n: &String| !reserved.contains(n) && !taken.clone().any(|t| t == n);
    if free(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}{sep}{i}"))
        .find(|n| free(n))
        .unwrap_or(base)
}
