//! The shape of an XRPC endpoint, as generated code describes it and as a
//! client consumes it.
//!
//! Every lexicon `query` and `procedure` becomes a zero-sized marker type (e.g.
//! `com::atproto::server::create_session::CreateSession`) implementing
//! [`Endpoint`]: its NSID, HTTP method, parameter, input, output and error
//! types, and how bodies are encoded. A client implements [`XrpcCaller`] once
//! and every generated endpoint method works through it.

use std::fmt;
use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// HTTP method of an endpoint: queries are `GET`, procedures are `POST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// A lexicon `query`: HTTP GET, parameters in the query string.
    Query,
    /// A lexicon `procedure`: HTTP POST, optional body.
    Procedure,
}

/// A generated query or procedure.
pub trait Endpoint: Send + Sync + 'static {
    /// The endpoint's NSID, the path after `/xrpc/`.
    const NSID: &'static str;
    /// Query (GET) or procedure (POST).
    const METHOD: Method;
    /// MIME type of the request body, when the endpoint takes one.
    const INPUT_ENCODING: Option<&'static str>;
    /// MIME type of the response body, when the endpoint returns one.
    const OUTPUT_ENCODING: Option<&'static str>;

    /// Query-string parameters; `()` when the lexicon declares none.
    type Params: QueryParams + Send + Sync;
    /// Request body; `()` when none, [`RawBody`] for non-JSON encodings.
    type Input: Send + Sync;
    /// Response body; `()` when none, [`RawBody`] for non-JSON encodings.
    type Output: Send;
    /// The errors the lexicon declares for this endpoint.
    type Error: EndpointError;

    /// Encodes the request body. `None` when the endpoint takes no body.
    fn encode_input(input: &Self::Input) -> Result<Option<RawBody>, EncodeError>;

    /// Decodes a successful response body.
    fn decode_output(body: RawBody) -> Result<Self::Output, DecodeError>;

    /// Checks the query parameters against the lexicon's constraints before
    /// sending. Generated endpoints whose parameters have rules override it.
    fn validate_params(params: &Self::Params) -> Result<(), crate::validate::ValidationError> {
        let _ = params;
        Ok(())
    }

    /// Checks the request body against the lexicon's constraints before
    /// sending. Generated endpoints whose input has rules override it.
    fn validate_input(input: &Self::Input) -> Result<(), crate::validate::ValidationError> {
        let _ = input;
        Ok(())
    }
}

/// The server side of a generated query or procedure: what a server needs
/// beyond [`Endpoint`] to answer it. lexgen writes it only when asked
/// (`atmo-api`'s `server` feature, `atmo_lexgen::Builder::server`), so a
/// client compiles none of it.
///
/// The server checks the request's content type against
/// [`Endpoint::INPUT_ENCODING`] and the parameters and input against the
/// lexicon ([`Endpoint::validate_params`], [`Endpoint::validate_input`]);
/// these methods only convert.
pub trait ServerEndpoint: Endpoint {
    /// Decodes the query parameters from a deserializer over the query
    /// string (a map of names to values). Endpoints without parameters
    /// ignore every name.
    fn decode_params<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self::Params, D::Error>;

    /// Decodes a request body: JSON into the input type, other encodings
    /// handed over as they are. Endpoints without input ignore it.
    fn decode_input(body: RawBody) -> Result<Self::Input, DecodeError>;

    /// Encodes a handler's answer; `None` when the endpoint declares no
    /// output.
    fn encode_output(output: Self::Output) -> Result<Option<RawBody>, EncodeError>;

    /// Checks a handler's answer against the lexicon's constraints before
    /// it is sent. Generated endpoints whose output has rules override it.
    fn validate_output(output: &Self::Output) -> Result<(), crate::validate::ValidationError> {
        let _ = output;
        Ok(())
    }
}

/// The declared errors of one endpoint, as a generated enum with one variant
/// per error name. Names the lexicon does not declare are not represented
/// here: a client reports them with the HTTP status, name and message.
pub trait EndpointError: std::error::Error + Send + Sync + Sized + 'static {
    /// The variant for a declared error name, carrying the server's message;
    /// `None` for a name this endpoint does not declare.
    fn from_xrpc(error: &str, message: Option<String>) -> Option<Self>;
    /// The XRPC error name.
    fn name(&self) -> &'static str;
    /// The server's message, if it sent one.
    fn message(&self) -> Option<&str>;
}

/// The error type of endpoints that declare no errors. It has no values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoError {}

impl fmt::Display for NoError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl std::error::Error for NoError {}

impl EndpointError for NoError {
    fn from_xrpc(_: &str, _: Option<String>) -> Option<Self> {
        None
    }
    fn name(&self) -> &'static str {
        match *self {}
    }
    fn message(&self) -> Option<&str> {
        match *self {}
    }
}

/// Formats a declared error as `Name: message` (or just `Name`).
pub fn fmt_endpoint_error(e: &impl EndpointError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e.message() {
        Some(m) => write!(f, "{}: {}", e.name(), m),
        None => f.write_str(e.name()),
    }
}

/// Query-string parameters of an endpoint.
pub trait QueryParams {
    /// Appends the parameters that are set, in lexicon order. Arrays become
    /// repeated keys.
    fn write_query(&self, query: &mut QueryWriter);
}

impl QueryParams for () {
    fn write_query(&self, _: &mut QueryWriter) {}
}

/// Collects `name=value` pairs; the client percent-encodes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryWriter {
    pairs: Vec<(&'static str, String)>,
}

impl QueryWriter {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one value.
    pub fn push(&mut self, name: &'static str, value: &impl fmt::Display) {
        self.pairs.push((name, value.to_string()));
    }

    /// Appends a value when it is set.
    pub fn push_opt<T: fmt::Display>(&mut self, name: &'static str, value: &Option<T>) {
        if let Some(v) = value {
            self.push(name, v);
        }
    }

    /// Appends every item of an array as a repeated key.
    pub fn push_all<T: fmt::Display>(&mut self, name: &'static str, values: &[T]) {
        for v in values {
            self.push(name, v);
        }
    }

    /// Appends every item of an optional array.
    pub fn push_all_opt<T: fmt::Display>(&mut self, name: &'static str, values: &Option<Vec<T>>) {
        if let Some(v) = values {
            self.push_all(name, v);
        }
    }

    /// The collected pairs, in order.
    pub fn pairs(&self) -> &[(&'static str, String)] {
        &self.pairs
    }
}

/// A body that is not JSON, or the raw bytes of one before decoding.
#[derive(Clone, PartialEq, Eq)]
pub struct RawBody {
    /// The MIME type, e.g. `image/png` or `application/vnd.ipld.car`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl RawBody {
    /// A body of the given type.
    pub fn new(content_type: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        RawBody {
            content_type: content_type.into(),
            bytes: bytes.into(),
        }
    }
}

impl fmt::Debug for RawBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawBody")
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A request body could not be encoded.
#[derive(Clone, Debug)]
pub struct EncodeError {
    /// The endpoint.
    pub nsid: &'static str,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot encode the input of {}: {}",
            self.nsid, self.message
        )
    }
}

impl std::error::Error for EncodeError {}

/// A response body could not be decoded into the endpoint's output type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The endpoint.
    pub nsid: &'static str,
    /// Where in the JSON document it failed, e.g. `feed[3].post.author.did`
    /// (`.` for the root).
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot decode the output of {} at {}: {}",
            self.nsid, self.path, self.message
        )
    }
}

impl std::error::Error for DecodeError {}

/// Encodes a JSON request body (used by generated `encode_input`).
pub fn encode_json<T: Serialize>(
    nsid: &'static str,
    value: &T,
) -> Result<Option<RawBody>, EncodeError> {
    serde_json::to_vec(value)
        .map(|bytes| Some(RawBody::new("application/json", bytes)))
        .map_err(|e| EncodeError {
            nsid,
            message: e.to_string(),
        })
}

/// Passes a raw request body through (used by generated `encode_input`).
pub fn encode_raw(body: &RawBody) -> Result<Option<RawBody>, EncodeError> {
    Ok(Some(body.clone()))
}

/// Decodes a JSON response body (used by generated `decode_output`).
///
/// The fast path decodes directly. Only when that fails is the body decoded a
/// second time with path tracking, so that the error says where it failed.
pub fn decode_json<T: DeserializeOwned>(nsid: &'static str, body: &[u8]) -> Result<T, DecodeError> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(first) => {
            let mut de = serde_json::Deserializer::from_slice(body);
            let (path, message) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Err(e) => (e.path().to_string(), e.into_inner().to_string()),
                Ok(_) => (".".to_owned(), first.to_string()),
            };
            Err(DecodeError {
                nsid,
                path,
                message,
            })
        }
    }
}

/// Hands back a raw response body (used by generated `decode_output`).
pub fn decode_raw(body: RawBody) -> Result<RawBody, DecodeError> {
    Ok(body)
}

/// Accepts any body for endpoints that declare no output.
pub fn decode_none(_: RawBody) -> Result<(), DecodeError> {
    Ok(())
}

/// Something that can send XRPC requests: the client implements it, and the
/// generated namespace tree (`api.app.bsky.feed.get_timeline(..)`) calls it.
pub trait XrpcCaller: Sync {
    /// The error a call returns, given the endpoint's declared error type.
    type Error<E: EndpointError>;

    /// Sends one request and decodes the answer.
    fn call<E: Endpoint>(
        &self,
        params: E::Params,
        input: E::Input,
    ) -> impl Future<Output = Result<E::Output, Self::Error<E::Error>>> + Send;
}

/// A lexicon `permission-set`, as generated constants describe it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PermissionSet {
    /// The permission set's NSID.
    pub nsid: &'static str,
    /// `title`, if any.
    pub title: Option<&'static str>,
    /// `title:lang`: (language tag, title).
    pub title_lang: &'static [(&'static str, &'static str)],
    /// `detail`, if any.
    pub detail: Option<&'static str>,
    /// `detail:lang`: (language tag, detail).
    pub detail_lang: &'static [(&'static str, &'static str)],
    /// The permissions granted.
    pub permissions: &'static [Permission],
}

/// One `permission` of a permission set: a resource (`repo`, `rpc`, `blob`...)
/// and its parameters in lexicon order (`collection`, `action`, `lxm`, `aud`...).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Permission {
    /// `resource`
    pub resource: &'static str,
    /// The other properties, in lexicon order.
    pub fields: &'static [(&'static str, PermissionValue)],
}

impl Permission {
    /// The value of a property.
    pub fn get(&self, name: &str) -> Option<&PermissionValue> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// A permission property value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PermissionValue {
    /// A string, e.g. `aud`.
    String(&'static str),
    /// A boolean, e.g. `inheritAud`.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A list of strings, e.g. `collection`, `action`, `lxm`.
    List(&'static [&'static str]),
}
