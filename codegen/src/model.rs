//! Stage 1, parse: the typed model of a lexicon document.
//!
//! Documents are read with serde into an order-preserving JSON tree
//! ([`crate::json::Json`]) and then walked into the model below. The walk knows
//! the JSON path of every value, so every problem is reported as
//! `file: defs.main.input.schema.properties.embed: problem`, and it collects
//! every problem of a document instead of stopping at the first.
//!
//! All constraint fields (lengths, ranges, accepted MIME types...) are kept,
//! even where code generation does not use them, for validation.

use crate::json::Json;
use crate::Error;

/// One lexicon document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The file it was read from (as given).
    pub file: String,
    /// `lexicon` (always 1 once checked).
    pub lexicon: i64,
    /// The NSID.
    pub id: String,
    /// `revision`, if any.
    pub revision: Option<i64>,
    /// `description`, if any.
    pub description: Option<String>,
    /// The definitions, in document order.
    pub defs: Vec<(String, Schema)>,
}

/// Any schema: a definition or a nested type.
#[derive(Clone, Debug, PartialEq)]
pub enum Schema {
    /// `record`
    Record(RecordDef),
    /// `query`
    Query(EndpointDef),
    /// `procedure`
    Procedure(EndpointDef),
    /// `subscription`
    Subscription(SubscriptionDef),
    /// `permission-set`
    PermissionSet(PermissionSetDef),
    /// `permission` (only inside a permission set)
    Permission(PermissionDef),
    /// `params`
    Params(ObjectDef),
    /// `object`
    Object(ObjectDef),
    /// `array`
    Array(ArrayDef),
    /// `token`
    Token(TokenDef),
    /// `string`
    String(StringDef),
    /// `integer`
    Integer(IntegerDef),
    /// `boolean`
    Boolean(BooleanDef),
    /// `bytes`
    Bytes(BytesDef),
    /// `cid-link`
    CidLink(Described),
    /// `blob`
    Blob(BlobDef),
    /// `unknown`
    Unknown(Described),
    /// `ref`
    Ref(RefDef),
    /// `union`
    Union(UnionDef),
}

impl Schema {
    /// The lexicon `type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Schema::Record(_) => "record",
            Schema::Query(_) => "query",
            Schema::Procedure(_) => "procedure",
            Schema::Subscription(_) => "subscription",
            Schema::PermissionSet(_) => "permission-set",
            Schema::Permission(_) => "permission",
            Schema::Params(_) => "params",
            Schema::Object(_) => "object",
            Schema::Array(_) => "array",
            Schema::Token(_) => "token",
            Schema::String(_) => "string",
            Schema::Integer(_) => "integer",
            Schema::Boolean(_) => "boolean",
            Schema::Bytes(_) => "bytes",
            Schema::CidLink(_) => "cid-link",
            Schema::Blob(_) => "blob",
            Schema::Unknown(_) => "unknown",
            Schema::Ref(_) => "ref",
            Schema::Union(_) => "union",
        }
    }

    /// The description, if any.
    pub fn description(&self) -> Option<&str> {
        match self {
            Schema::Record(d) => d.description.as_deref(),
            Schema::Query(d) | Schema::Procedure(d) => d.description.as_deref(),
            Schema::Subscription(d) => d.description.as_deref(),
            Schema::PermissionSet(d) => d.description.as_deref(),
            Schema::Permission(_) => None,
            Schema::Params(d) | Schema::Object(d) => d.description.as_deref(),
            Schema::Array(d) => d.description.as_deref(),
            Schema::Token(d) => d.description.as_deref(),
            Schema::String(d) => d.description.as_deref(),
            Schema::Integer(d) => d.description.as_deref(),
            Schema::Boolean(d) => d.description.as_deref(),
            Schema::Bytes(d) => d.description.as_deref(),
            Schema::CidLink(d) | Schema::Unknown(d) => d.description.as_deref(),
            Schema::Blob(d) => d.description.as_deref(),
            Schema::Ref(d) => d.description.as_deref(),
            Schema::Union(d) => d.description.as_deref(),
        }
    }

    /// Primary types may only be the `main` definition.
    pub fn is_primary(&self) -> bool {
        matches!(
            self,
            Schema::Record(_)
                | Schema::Query(_)
                | Schema::Procedure(_)
                | Schema::Subscription(_)
                | Schema::PermissionSet(_)
        )
    }
}

/// A type with only a description.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Described {
    /// `description`
    pub description: Option<String>,
}

/// `record`
#[derive(Clone, Debug, PartialEq)]
pub struct RecordDef {
    /// `description`
    pub description: Option<String>,
    /// `key`: `tid`, `nsid`, `any`, `literal:<value>`.
    pub key: String,
    /// `record`: the object schema.
    pub record: ObjectDef,
}

/// `query` and `procedure`
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointDef {
    /// `description`
    pub description: Option<String>,
    /// `parameters`
    pub parameters: Option<ObjectDef>,
    /// `input` (procedures only)
    pub input: Option<Body>,
    /// `output`
    pub output: Option<Body>,
    /// `errors`
    pub errors: Vec<ErrorDef>,
}

/// An endpoint `input`, `output` or subscription `message`.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// `description`
    pub description: Option<String>,
    /// `encoding` (MIME type); absent on subscription messages.
    pub encoding: Option<String>,
    /// `schema`: an object, ref or union.
    pub schema: Option<Box<Schema>>,
}

/// One declared endpoint error.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorDef {
    /// `name`
    pub name: String,
    /// `description`
    pub description: Option<String>,
}

/// `subscription`
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionDef {
    /// `description`
    pub description: Option<String>,
    /// `parameters`
    pub parameters: Option<ObjectDef>,
    /// `message`
    pub message: Option<Body>,
    /// `errors`
    pub errors: Vec<ErrorDef>,
}

/// `permission-set`
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionSetDef {
    /// `description`
    pub description: Option<String>,
    /// `title`
    pub title: Option<String>,
    /// `title:lang`: language tag → title.
    pub title_lang: Vec<(String, String)>,
    /// `detail`
    pub detail: Option<String>,
    /// `detail:lang`: language tag → detail.
    pub detail_lang: Vec<(String, String)>,
    /// `permissions`
    pub permissions: Vec<PermissionDef>,
}

/// `permission`: a resource and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionDef {
    /// `resource`, e.g. `repo` or `rpc`.
    pub resource: String,
    /// The other properties, in document order.
    pub fields: Vec<(String, PermissionValue)>,
}

/// A permission parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum PermissionValue {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A list of strings.
    List(Vec<String>),
}

/// `object` and `params`
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectDef {
    /// `description`
    pub description: Option<String>,
    /// `required`
    pub required: Vec<String>,
    /// `nullable`
    pub nullable: Vec<String>,
    /// `properties`, in document order.
    pub properties: Vec<(String, Schema)>,
}

/// `array`
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayDef {
    /// `description`
    pub description: Option<String>,
    /// `items`
    pub items: Box<Schema>,
    /// `minLength`
    pub min_length: Option<i64>,
    /// `maxLength`
    pub max_length: Option<i64>,
}

/// `token`
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenDef {
    /// `description`
    pub description: Option<String>,
}

/// `string`
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StringDef {
    /// `description`
    pub description: Option<String>,
    /// `format`
    pub format: Option<String>,
    /// `minLength` (UTF-8 bytes)
    pub min_length: Option<i64>,
    /// `maxLength` (UTF-8 bytes)
    pub max_length: Option<i64>,
    /// `minGraphemes`
    pub min_graphemes: Option<i64>,
    /// `maxGraphemes`
    pub max_graphemes: Option<i64>,
    /// `knownValues`
    pub known_values: Option<Vec<String>>,
    /// `enum`
    pub enum_values: Option<Vec<String>>,
    /// `default`
    pub default: Option<String>,
    /// `const`
    pub const_value: Option<String>,
}

/// `integer`
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntegerDef {
    /// `description`
    pub description: Option<String>,
    /// `minimum`
    pub minimum: Option<i64>,
    /// `maximum`
    pub maximum: Option<i64>,
    /// `enum`
    pub enum_values: Option<Vec<i64>>,
    /// `default`
    pub default: Option<i64>,
    /// `const`
    pub const_value: Option<i64>,
}

/// `boolean`
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BooleanDef {
    /// `description`
    pub description: Option<String>,
    /// `default`
    pub default: Option<bool>,
    /// `const`
    pub const_value: Option<bool>,
}

/// `bytes`
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BytesDef {
    /// `description`
    pub description: Option<String>,
    /// `minLength`
    pub min_length: Option<i64>,
    /// `maxLength`
    pub max_length: Option<i64>,
}

/// `blob`
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlobDef {
    /// `description`
    pub description: Option<String>,
    /// `accept`: MIME type patterns.
    pub accept: Option<Vec<String>>,
    /// `maxSize` in bytes
    pub max_size: Option<i64>,
}

/// `ref`
#[derive(Clone, Debug, PartialEq)]
pub struct RefDef {
    /// `description`
    pub description: Option<String>,
    /// `ref`, as written.
    pub target: String,
}

/// `union`
#[derive(Clone, Debug, PartialEq)]
pub struct UnionDef {
    /// `description`
    pub description: Option<String>,
    /// `refs`, as written.
    pub refs: Vec<String>,
    /// `closed`
    pub closed: bool,
}

/// Where a schema appears; decides which `type`s are allowed there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// A top-level definition.
    Def,
    /// An object property or array items.
    Field,
    /// A `params` property.
    Param,
    /// Items of an array inside `params`.
    ParamItem,
    /// `schema` of an input/output.
    Body,
    /// `schema` of a subscription message.
    Message,
}

impl Place {
    /// The `type`s allowed here.
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Place::Def => &[
                "record",
                "query",
                "procedure",
                "subscription",
                "permission-set",
                "object",
                "array",
                "token",
                "string",
                "integer",
                "boolean",
                "bytes",
                "cid-link",
                "blob",
            ],
            Place::Field => &[
                "object", "array", "string", "integer", "boolean", "bytes", "cid-link", "blob",
                "unknown", "ref", "union",
            ],
            Place::Param => &["boolean", "integer", "string", "unknown", "array"],
            Place::ParamItem => &["boolean", "integer", "string", "unknown"],
            Place::Body => &["object", "ref", "union"],
            Place::Message => &["union"],
        }
    }

    /// Where this is, for messages.
    fn describe(self) -> &'static str {
        match self {
            Place::Def => "as a top-level definition",
            Place::Field => "as an object property or array items",
            Place::Param => "as a query parameter",
            Place::ParamItem => "as the items of a query parameter array",
            Place::Body => "as an input/output schema",
            Place::Message => "as a subscription message schema",
        }
    }
}

/// Every lexicon `type`.
const KNOWN_TYPES: &[&str] = &[
    "record",
    "query",
    "procedure",
    "subscription",
    "permission-set",
    "permission",
    "params",
    "object",
    "array",
    "token",
    "string",
    "integer",
    "boolean",
    "bytes",
    "cid-link",
    "blob",
    "unknown",
    "ref",
    "union",
];

/// The string `format`s of the lexicon language.
const STRING_FORMATS: &[&str] = &[
    "at-identifier",
    "at-uri",
    "cid",
    "datetime",
    "did",
    "handle",
    "nsid",
    "tid",
    "record-key",
    "uri",
    "language",
];

/// Parses one document from its text. `file` is used in error messages.
pub fn parse_document(file: &str, text: &str) -> Result<Document, Vec<Error>> {
    let json = match crate::json::parse(text) {
        Ok(j) => j,
        Err(e) => return Err(vec![Error::new(file, "", format!("invalid JSON: {e}"))]),
    };
    parse_document_json(file, &json)
}

/// Parses one document from a JSON tree.
pub fn parse_document_json(file: &str, json: &Json) -> Result<Document, Vec<Error>> {
    let mut p = Parser {
        file,
        errors: Vec::new(),
    };
    let doc = p.document(json);
    match doc {
        Some(d) if p.errors.is_empty() => Ok(d),
        _ => Err(p.errors),
    }
}

struct Parser<'a> {
    file: &'a str,
    errors: Vec<Error>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

type Entries = [(String, Json)];

impl Parser<'_> {
    fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.errors.push(Error::new(self.file, path, msg.into()));
    }

    fn object<'j>(&mut self, v: &'j Json, path: &str) -> Option<&'j Entries> {
        match v {
            Json::Object(e) => {
                for (i, (k, _)) in e.iter().enumerate() {
                    if e[..i].iter().any(|(p, _)| p == k) {
                        self.err(
                            &join(path, k),
                            "duplicate key (defined twice in this object)",
                        );
                    }
                }
                Some(e)
            }
            other => {
                self.err(path, format!("expected an object, found {}", other.kind()));
                None
            }
        }
    }

    fn get<'j>(entries: &'j Entries, key: &str) -> Option<&'j Json> {
        entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn opt_str(&mut self, e: &Entries, key: &str, path: &str) -> Option<String> {
        match Self::get(e, key)? {
            Json::String(s) => Some(s.clone()),
            other => {
                self.err(
                    &join(path, key),
                    format!("expected a string, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn req_str(&mut self, e: &Entries, key: &str, path: &str) -> Option<String> {
        if Self::get(e, key).is_none() {
            self.err(path, format!("missing required property `{key}`"));
            return None;
        }
        self.opt_str(e, key, path)
    }

    fn opt_int(&mut self, e: &Entries, key: &str, path: &str) -> Option<i64> {
        match Self::get(e, key)? {
            Json::Number(n) if n.as_i64().is_some() => n.as_i64(),
            other => {
                self.err(
                    &join(path, key),
                    format!("expected an integer, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn opt_bool(&mut self, e: &Entries, key: &str, path: &str) -> Option<bool> {
        match Self::get(e, key)? {
            Json::Bool(b) => Some(*b),
            other => {
                self.err(
                    &join(path, key),
                    format!("expected a boolean, found {}", other.kind()),
                );
                None
            }
        }
    }

    /// `description`; a blank one (`""`, as `app.bsky.ageassurance.defs#config`
    /// has) is no description, so the generated doc falls back to the schema.
    fn description(&mut self, e: &Entries, path: &str) -> Option<String> {
        self.opt_str(e, "description", path)
            .filter(|d| !d.trim().is_empty())
    }

    fn opt_str_list(&mut self, e: &Entries, key: &str, path: &str) -> Option<Vec<String>> {
        let path = join(path, key);
        match Self::get(e, key)? {
            Json::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Json::String(s) => out.push(s.clone()),
                        other => self.err(
                            &format!("{path}[{i}]"),
                            format!("expected a string, found {}", other.kind()),
                        ),
                    }
                }
                Some(out)
            }
            other => {
                self.err(&path, format!("expected an array, found {}", other.kind()));
                None
            }
        }
    }

    fn opt_int_list(&mut self, e: &Entries, key: &str, path: &str) -> Option<Vec<i64>> {
        let path = join(path, key);
        match Self::get(e, key)? {
            Json::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Json::Number(n) if n.as_i64().is_some() => out.push(n.as_i64()?),
                        other => self.err(
                            &format!("{path}[{i}]"),
                            format!("expected an integer, found {}", other.kind()),
                        ),
                    }
                }
                Some(out)
            }
            other => {
                self.err(&path, format!("expected an array, found {}", other.kind()));
                None
            }
        }
    }

    fn lang_map(&mut self, e: &Entries, key: &str, path: &str) -> Vec<(String, String)> {
        let path = join(path, key);
        let Some(v) = Self::get(e, key) else {
            return Vec::new();
        };
        let Some(entries) = self.object(v, &path) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            match v {
                Json::String(s) => out.push((k.clone(), s.clone())),
                other => self.err(
                    &join(&path, k),
                    format!("expected a string, found {}", other.kind()),
                ),
            }
        }
        out
    }

    fn document(&mut self, json: &Json) -> Option<Document> {
        let e = self.object(json, "")?;
        let lexicon = match Self::get(e, "lexicon") {
            Some(Json::Number(n)) if n.as_i64() == Some(1) => 1,
            Some(Json::Number(n)) => {
                self.err(
                    "lexicon",
                    format!("unsupported lexicon version {n}, expected 1"),
                );
                return None;
            }
            Some(other) => {
                self.err(
                    "lexicon",
                    format!("expected the number 1, found {}", other.kind()),
                );
                return None;
            }
            None => {
                self.err("", "missing required property `lexicon`");
                return None;
            }
        };
        let id = self.req_str(e, "id", "");
        let revision = self.opt_int(e, "revision", "");
        let description = self.description(e, "");
        let mut defs = Vec::new();
        match Self::get(e, "defs") {
            None => self.err("", "missing required property `defs`"),
            Some(d) => {
                if let Some(entries) = self.object(d, "defs") {
                    for (name, def) in entries {
                        let path = format!("defs.{name}");
                        if let Some(s) = self.schema(def, &path, Place::Def) {
                            defs.push((name.clone(), s));
                        }
                    }
                }
            }
        }
        Some(Document {
            file: self.file.to_owned(),
            lexicon,
            id: id?,
            revision,
            description,
            defs,
        })
    }

    fn schema(&mut self, v: &Json, path: &str, place: Place) -> Option<Schema> {
        let e = self.object(v, path)?;
        let kind = match Self::get(e, "type") {
            Some(Json::String(s)) => s.as_str(),
            Some(other) => {
                self.err(
                    &join(path, "type"),
                    format!("expected a string, found {}", other.kind()),
                );
                return None;
            }
            None => {
                self.err(path, "missing required property `type`");
                return None;
            }
        };
        if !self.kind_allowed(kind, path, place) {
            return None;
        }
        let description = self.description(e, path);
        Some(match kind {
            "record" => self.record(e, path, description)?,
            "query" | "procedure" => self.endpoint(e, path, description, kind == "query"),
            "subscription" => Schema::Subscription(SubscriptionDef {
                description,
                parameters: self.opt_params(e, path),
                message: self.body(e, "message", path),
                errors: self.errors_list(e, path),
            }),
            "permission-set" => self.permission_set(e, path, description),
            "object" => Schema::Object(self.object_body(e, path, description, Place::Field)),
            "array" => self.array(e, path, description, place)?,
            "token" => Schema::Token(TokenDef { description }),
            "string" => self.string(e, path, description),
            "integer" => Schema::Integer(IntegerDef {
                description,
                minimum: self.opt_int(e, "minimum", path),
                maximum: self.opt_int(e, "maximum", path),
                enum_values: self.opt_int_list(e, "enum", path),
                default: self.opt_int(e, "default", path),
                const_value: self.opt_int(e, "const", path),
            }),
            "boolean" => Schema::Boolean(BooleanDef {
                description,
                default: self.opt_bool(e, "default", path),
                const_value: self.opt_bool(e, "const", path),
            }),
            "bytes" => Schema::Bytes(BytesDef {
                description,
                min_length: self.opt_int(e, "minLength", path),
                max_length: self.opt_int(e, "maxLength", path),
            }),
            "cid-link" => Schema::CidLink(Described { description }),
            "blob" => Schema::Blob(BlobDef {
                description,
                accept: self.opt_str_list(e, "accept", path),
                max_size: self.opt_int(e, "maxSize", path),
            }),
            "unknown" => Schema::Unknown(Described { description }),
            "ref" => Schema::Ref(RefDef {
                description,
                target: self.req_str(e, "ref", path)?,
            }),
            "union" => self.union(e, path, description)?,
            // `params` and `permission` are never allowed by `kind_allowed`
            // (they only appear where `typed_object` and `permission` read
            // them), and unknown kinds were refused there.
            _ => return None,
        })
    }

    /// Refuses an unknown `type`, or one not allowed at `place`.
    fn kind_allowed(&mut self, kind: &str, path: &str, place: Place) -> bool {
        if !KNOWN_TYPES.contains(&kind) {
            self.err(&join(path, "type"), format!("unknown type {kind:?}"));
            return false;
        }
        let allowed = place.allowed();
        if !allowed.contains(&kind) {
            self.err(
                &join(path, "type"),
                format!(
                    "type {kind:?} is not allowed {} (allowed: {})",
                    place.describe(),
                    allowed.join(", ")
                ),
            );
            return false;
        }
        true
    }

    fn record(&mut self, e: &Entries, path: &str, description: Option<String>) -> Option<Schema> {
        let key = self.req_str(e, "key", path);
        let rpath = join(path, "record");
        let record = match Self::get(e, "record") {
            None => {
                self.err(path, "missing required property `record`");
                None
            }
            Some(r) => self.typed_object(r, &rpath, "object"),
        };
        Some(Schema::Record(RecordDef {
            description,
            key: key?,
            record: record?,
        }))
    }

    fn endpoint(
        &mut self,
        e: &Entries,
        path: &str,
        description: Option<String>,
        is_query: bool,
    ) -> Schema {
        let parameters = self.opt_params(e, path);
        let input = if is_query {
            if Self::get(e, "input").is_some() {
                self.err(&join(path, "input"), "a query has no input");
            }
            None
        } else {
            self.body(e, "input", path)
        };
        let output = self.body(e, "output", path);
        let errors = self.errors_list(e, path);
        let d = EndpointDef {
            description,
            parameters,
            input,
            output,
            errors,
        };
        if is_query {
            Schema::Query(d)
        } else {
            Schema::Procedure(d)
        }
    }

    fn permission_set(&mut self, e: &Entries, path: &str, description: Option<String>) -> Schema {
        let title = self.opt_str(e, "title", path);
        let title_lang = self.lang_map(e, "title:lang", path);
        let detail = self.opt_str(e, "detail", path);
        let detail_lang = self.lang_map(e, "detail:lang", path);
        let mut permissions = Vec::new();
        let ppath = join(path, "permissions");
        match Self::get(e, "permissions") {
            None => self.err(path, "missing required property `permissions`"),
            Some(Json::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(p) = self.permission(item, &format!("{ppath}[{i}]")) {
                        permissions.push(p);
                    }
                }
            }
            Some(other) => self.err(&ppath, format!("expected an array, found {}", other.kind())),
        }
        Schema::PermissionSet(PermissionSetDef {
            description,
            title,
            title_lang,
            detail,
            detail_lang,
            permissions,
        })
    }

    fn array(
        &mut self,
        e: &Entries,
        path: &str,
        description: Option<String>,
        place: Place,
    ) -> Option<Schema> {
        let ipath = join(path, "items");
        let item_place = if place == Place::Param {
            Place::ParamItem
        } else {
            Place::Field
        };
        let items = match Self::get(e, "items") {
            None => {
                self.err(path, "missing required property `items`");
                None
            }
            Some(i) => self.schema(i, &ipath, item_place),
        };
        let min_length = self.opt_int(e, "minLength", path);
        let max_length = self.opt_int(e, "maxLength", path);
        Some(Schema::Array(ArrayDef {
            description,
            items: Box::new(items?),
            min_length,
            max_length,
        }))
    }

    fn string(&mut self, e: &Entries, path: &str, description: Option<String>) -> Schema {
        let format = self.opt_str(e, "format", path);
        if let Some(f) = &format {
            if !STRING_FORMATS.contains(&f.as_str()) {
                self.err(
                    &join(path, "format"),
                    format!("unknown string format {f:?}"),
                );
            }
        }
        Schema::String(StringDef {
            description,
            format,
            min_length: self.opt_int(e, "minLength", path),
            max_length: self.opt_int(e, "maxLength", path),
            min_graphemes: self.opt_int(e, "minGraphemes", path),
            max_graphemes: self.opt_int(e, "maxGraphemes", path),
            known_values: self.opt_str_list(e, "knownValues", path),
            enum_values: self.opt_str_list(e, "enum", path),
            default: self.opt_str(e, "default", path),
            const_value: self.opt_str(e, "const", path),
        })
    }

    fn union(&mut self, e: &Entries, path: &str, description: Option<String>) -> Option<Schema> {
        let refs = match self.opt_str_list(e, "refs", path) {
            Some(r) => r,
            None => {
                if Self::get(e, "refs").is_none() {
                    self.err(path, "missing required property `refs`");
                }
                return None;
            }
        };
        let closed = self.opt_bool(e, "closed", path).unwrap_or(false);
        Some(Schema::Union(UnionDef {
            description,
            refs,
            closed,
        }))
    }

    /// An object (or params) schema whose `type` must be `expected`.
    fn typed_object(&mut self, v: &Json, path: &str, expected: &str) -> Option<ObjectDef> {
        let e = self.object(v, path)?;
        match Self::get(e, "type") {
            Some(Json::String(s)) if s == expected => {}
            Some(Json::String(s)) => {
                self.err(
                    &join(path, "type"),
                    format!("expected type {expected:?}, found {s:?}"),
                );
                return None;
            }
            Some(other) => {
                self.err(
                    &join(path, "type"),
                    format!("expected a string, found {}", other.kind()),
                );
                return None;
            }
            None => {
                self.err(
                    path,
                    format!("missing required property `type` (must be {expected:?})"),
                );
                return None;
            }
        }
        let description = self.description(e, path);
        let place = if expected == "params" {
            Place::Param
        } else {
            Place::Field
        };
        Some(self.object_body(e, path, description, place))
    }

    fn object_body(
        &mut self,
        e: &Entries,
        path: &str,
        description: Option<String>,
        place: Place,
    ) -> ObjectDef {
        let required = self.opt_str_list(e, "required", path).unwrap_or_default();
        let nullable = self.opt_str_list(e, "nullable", path).unwrap_or_default();
        let mut properties = Vec::new();
        let ppath = join(path, "properties");
        if let Some(props) = Self::get(e, "properties") {
            if let Some(entries) = self.object(props, &ppath) {
                for (name, schema) in entries {
                    if let Some(s) = self.schema(schema, &join(&ppath, name), place) {
                        properties.push((name.clone(), s));
                    }
                }
            }
        }
        for (list, key) in [(&required, "required"), (&nullable, "nullable")] {
            for (i, name) in list.iter().enumerate() {
                let declared = match Self::get(e, "properties") {
                    Some(Json::Object(entries)) => entries.iter().any(|(k, _)| k == name),
                    _ => false,
                };
                if !declared {
                    self.err(
                        &format!("{path}.{key}[{i}]"),
                        format!("{name:?} is not a declared property"),
                    );
                }
            }
        }
        ObjectDef {
            description,
            required,
            nullable,
            properties,
        }
    }

    fn opt_params(&mut self, e: &Entries, path: &str) -> Option<ObjectDef> {
        let v = Self::get(e, "parameters")?;
        self.typed_object(v, &join(path, "parameters"), "params")
    }

    fn body(&mut self, e: &Entries, key: &str, path: &str) -> Option<Body> {
        let v = Self::get(e, key)?;
        let path = join(path, key);
        let b = self.object(v, &path)?;
        let description = self.description(b, &path);
        let encoding = self.opt_str(b, "encoding", &path);
        let place = if key == "message" {
            Place::Message
        } else {
            if encoding.is_none() {
                self.err(&path, "missing required property `encoding`");
            }
            Place::Body
        };
        let schema = match Self::get(b, "schema") {
            None => None,
            Some(s) => Some(Box::new(self.schema(s, &join(&path, "schema"), place)?)),
        };
        Some(Body {
            description,
            encoding,
            schema,
        })
    }

    fn errors_list(&mut self, e: &Entries, path: &str) -> Vec<ErrorDef> {
        let mut out = Vec::new();
        let path = join(path, "errors");
        match Self::get(e, "errors") {
            None => {}
            Some(Json::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let ipath = format!("{path}[{i}]");
                    let Some(ie) = self.object(item, &ipath) else {
                        continue;
                    };
                    let name = self.req_str(ie, "name", &ipath);
                    let description = self.description(ie, &ipath);
                    if let Some(name) = name {
                        if out.iter().any(|x: &ErrorDef| x.name == name) {
                            self.err(&ipath, format!("duplicate error name {name:?}"));
                            continue;
                        }
                        out.push(ErrorDef { name, description });
                    }
                }
            }
            Some(other) => self.err(&path, format!("expected an array, found {}", other.kind())),
        }
        out
    }

    fn permission(&mut self, v: &Json, path: &str) -> Option<PermissionDef> {
        let e = self.object(v, path)?;
        match Self::get(e, "type") {
            Some(Json::String(s)) if s == "permission" => {}
            _ => {
                self.err(&join(path, "type"), "expected type \"permission\"");
                return None;
            }
        }
        let resource = self.req_str(e, "resource", path)?;
        let mut fields = Vec::new();
        for (k, v) in e {
            if k == "type" || k == "resource" {
                continue;
            }
            let value = match v {
                Json::String(s) => PermissionValue::String(s.clone()),
                Json::Bool(b) => PermissionValue::Bool(*b),
                Json::Number(n) if n.as_i64().is_some() => PermissionValue::Integer(n.as_i64()?),
                Json::Array(items) if items.iter().all(|i| matches!(i, Json::String(_))) => {
                    PermissionValue::List(
                        items
                            .iter()
                            .filter_map(|i| match i {
                                Json::String(s) => Some(s.clone()),
                                _ => None,
                            })
                            .collect(),
                    )
                }
                other => {
                    self.err(
                        &join(path, k),
                        format!(
                            "expected a string, boolean, integer or list of strings, found {}",
                            other.kind()
                        ),
                    );
                    continue;
                }
            };
            fields.push((k.clone(), value));
        }
        Some(PermissionDef { resource, fields })
    }
}
