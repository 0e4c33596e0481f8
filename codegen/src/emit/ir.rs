//! The intermediate form between the resolved lexicons and Rust source: one
//! [`Module`] per document, holding named items with resolved type paths.

/// A path to a generated type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TyPath {
    /// `None` for this crate, else the external crate's name.
    pub krate: Option<String>,
    /// Module path.
    pub module: Vec<String>,
    /// Type name.
    pub name: String,
}

/// A Rust type, as used by a field.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// `::std::string::String`
    String,
    /// `::atmo_types::<name>`: a string-format newtype.
    Format(&'static str),
    /// `i64`
    Int,
    /// `bool`
    Bool,
    /// `::atmo_types::Bytes`
    Bytes,
    /// `::atmo_types::CidLink`
    CidLink,
    /// `::atmo_types::Blob`
    Blob,
    /// `::atmo_types::Unknown`
    Unknown,
    /// `::atmo_types::xrpc::RawBody`
    RawBody,
    /// `::std::vec::Vec<T>`
    Vec(Box<Ty>),
    /// A generated type.
    Named(TyPath),
    /// `::atmo_types::object::Open<T>` of a generated string enum.
    Open(TyPath),
}

/// How a property is present.
#[derive(Clone, Debug, PartialEq)]
pub enum Presence {
    /// Required: `T`.
    Required,
    /// Optional: `Option<T>`, not written when `None`.
    Optional,
    /// Required and nullable: `Option<T>`, written as `null`.
    RequiredNullable,
    /// Optional and nullable: `Option<Option<T>>`.
    OptionalNullable,
    /// Optional with a lexicon default: `T`, filled when absent.
    Default(DefaultValue),
}

/// A lexicon default, as a Rust expression.
#[derive(Clone, Debug, PartialEq)]
pub enum DefaultValue {
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A string (for `String` and `Open<_>` fields).
    Str(String),
    /// A variant of a generated closed enum.
    Variant(TyPath, String),
}

/// A struct field.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The JSON property name.
    pub json: String,
    /// The Rust field name.
    pub rust: String,
    /// The type (before presence wrapping).
    pub ty: Ty,
    /// Presence.
    pub presence: Presence,
    /// Doc comment.
    pub doc: Option<String>,
    /// Boxed to break recursive containment.
    pub boxed: bool,
    /// What `validate()` checks on this field; `None` when nothing can fail.
    pub check: Option<Check>,
    /// A password, JWT or one-time token: `Debug` prints `***`.
    pub secret: bool,
}

/// The lexicon rules checked on one value (a field, or an array item).
///
/// `required` and `nullable` have no check: the field's Rust type already
/// enforces them (`T`, `Option<T>`, `Option<Option<T>>`). Closed `enum`s are
/// Rust enums, closed unions have no `Unknown` variant, and a record always
/// writes its own `$type`, so none of these can be violated by a value.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// Call the value's own `Validate` impl. `None`: a type whose rules are
    /// not known here (kept, to be safe).
    Nested(Option<TyPath>),
    /// String lengths in bytes and graphemes, and `const`.
    Str {
        /// `minLength`
        min_length: Option<i64>,
        /// `maxLength`
        max_length: Option<i64>,
        /// `minGraphemes`
        min_graphemes: Option<i64>,
        /// `maxGraphemes`
        max_graphemes: Option<i64>,
        /// `const`
        constant: Option<String>,
    },
    /// Integer `minimum`, `maximum`, `enum`, `const`.
    Int {
        /// `minimum`
        minimum: Option<i64>,
        /// `maximum`
        maximum: Option<i64>,
        /// `enum`
        allowed: Option<Vec<i64>>,
        /// `const`
        constant: Option<i64>,
    },
    /// Boolean `const`.
    Bool(bool),
    /// Bytes `minLength`/`maxLength`.
    Bytes(Option<i64>, Option<i64>),
    /// Blob `accept` and `maxSize`.
    Blob(Option<Vec<String>>, Option<i64>),
    /// Array `minLength`/`maxLength` and the items' check.
    Array {
        /// `minLength`
        min: Option<i64>,
        /// `maxLength`
        max: Option<i64>,
        /// Per item.
        items: Option<Box<Check>>,
    },
}

/// A generated object (or record, or params) struct.
#[derive(Clone, Debug, PartialEq)]
pub struct Struct {
    /// Type name.
    pub name: String,
    /// Doc comment.
    pub doc: Option<String>,
    /// Lexicon name for messages, e.g. `app.bsky.feed.post#main`.
    pub lexname: String,
    /// Fields, in the order of the lexicon's `properties`.
    pub fields: Vec<Field>,
    /// The arguments of `new()`: indices into `fields` of the required
    /// (and required nullable) ones, in the order of the lexicon's
    /// `required` array. Not property order: a document read back from a
    /// DAG-CBOR record has its `properties` keys sorted, while arrays keep
    /// their order, so only `required` is the same for every copy.
    pub ctor: Vec<usize>,
    /// Keeps unknown properties in an `extra` field (not for params).
    pub extra: bool,
    /// For records: NSID and key.
    pub record: Option<(String, String)>,
    /// For params: implements `QueryParams`.
    pub params: bool,
    /// Some field has a check (set after lowering every module).
    pub validate: bool,
}

/// A union member.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// Variant name.
    pub variant: String,
    /// The `$type` value.
    pub type_name: String,
    /// The member type.
    pub ty: TyPath,
    /// Its `Validate` impl can find something.
    pub validate: bool,
}

/// A generated union.
#[derive(Clone, Debug, PartialEq)]
pub struct Union {
    /// Type name.
    pub name: String,
    /// Doc comment.
    pub doc: Option<String>,
    /// Lexicon name for messages.
    pub lexname: String,
    /// Members.
    pub members: Vec<Member>,
    /// Closed unions have no `Unknown` variant.
    pub closed: bool,
}

/// A closed string enum (`enum`, or the known part of `knownValues`).
#[derive(Clone, Debug, PartialEq)]
pub struct StrEnum {
    /// Type name.
    pub name: String,
    /// Doc comment.
    pub doc: Option<String>,
    /// Lexicon name for messages.
    pub lexname: String,
    /// (variant, wire value).
    pub values: Vec<(String, String)>,
    /// Used directly as a field type (closed `enum`), so it needs serde impls.
    pub serde: bool,
}

/// A body of an endpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum BodyKind {
    /// No body.
    None,
    /// JSON, decoded into the type `Input`/`Output`.
    Json,
    /// Raw bytes with the given declared encoding.
    Raw(String),
}

/// A query or procedure marker.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    /// Marker type name.
    pub name: String,
    /// Doc comment.
    pub doc: Option<String>,
    /// NSID.
    pub nsid: String,
    /// Procedure (POST) or query (GET).
    pub procedure: bool,
    /// Has a `Parameters` struct.
    pub params: bool,
    /// Input body.
    pub input: BodyKind,
    /// Input encoding as declared.
    pub input_encoding: Option<String>,
    /// Output body.
    pub output: BodyKind,
    /// Output encoding as declared.
    pub output_encoding: Option<String>,
    /// `Parameters` has rules: override `validate_params`.
    pub validate_params: bool,
    /// `Input` has rules: override `validate_input`.
    pub validate_input: bool,
    /// `Output` has rules: override `ServerEndpoint::validate_output`.
    pub validate_output: bool,
}

/// The declared errors of an endpoint or subscription.
#[derive(Clone, Debug, PartialEq)]
pub struct Errors {
    /// (variant, name, doc).
    pub errors: Vec<(String, String, Option<String>)>,
}

/// One generated item.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A struct.
    Struct(Struct),
    /// A union enum.
    Union(Union),
    /// A closed string enum.
    Enum(StrEnum),
    /// `pub type Name = Ty;`
    Alias {
        /// Name.
        name: String,
        /// Doc.
        doc: Option<String>,
        /// Aliased type.
        ty: Ty,
    },
    /// `pub const NAME: &str = "value";`
    Const {
        /// Name.
        name: String,
        /// Doc.
        doc: Option<String>,
        /// Value.
        value: String,
    },
    /// An endpoint marker.
    Endpoint(Endpoint),
    /// The `Error` enum.
    Errors(Errors),
    /// A permission set constant.
    PermissionSet {
        /// Constant name.
        name: String,
        /// Doc.
        doc: Option<String>,
        /// NSID.
        nsid: String,
        /// The definition.
        def: crate::model::PermissionSetDef,
    },
}

/// One generated module (one lexicon document).
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    /// NSID.
    pub nsid: String,
    /// Module path.
    pub path: Vec<String>,
    /// Document description.
    pub doc: Option<String>,
    /// Items, in output order.
    pub items: Vec<Item>,
}
