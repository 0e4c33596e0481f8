//! DID documents: the parts atproto reads (handle, PDS, signing key), with
//! the whole JSON kept.
//!
//! Parsing checks the shape of everything atproto looks at (`id`,
//! `alsoKnownAs`, `verificationMethod`, `service`) and names the JSON path of
//! whatever is wrong; the accessors [`DidDocument::pds`] and
//! [`DidDocument::signing_key`] then check the atproto entries themselves
//! (exactly one `#atproto_pds` service of type `AtprotoPersonalDataServer`,
//! exactly one `#atproto` verification method with a K-256 or P-256 key).

use std::fmt;

use atmo_crypto::{KeyError, PublicKey};
use atmo_types::{Did, Handle};
use atmo_xrpc::ServiceUrl;
use serde_json::Value;

/// The `type` of the PDS service entry.
pub const PDS_SERVICE_TYPE: &str = "AtprotoPersonalDataServer";

/// A parsed DID document.
#[derive(Clone, PartialEq)]
pub struct DidDocument {
    id: Did,
    also_known_as: Vec<String>,
    verification_methods: Vec<VerificationMethod>,
    services: Vec<Service>,
    json: Value,
}

/// One entry of `verificationMethod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationMethod {
    /// `id` as written: `#atproto` or `<did>#atproto`.
    pub id: String,
    /// `type`: `Multikey`, or a legacy `EcdsaSecp256k1VerificationKey2019`…
    pub method_type: String,
    /// `controller`, when present.
    pub controller: Option<String>,
    /// `publicKeyMultibase`, when present.
    pub public_key_multibase: Option<String>,
}

/// One entry of `service`.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// `id` as written: `#atproto_pds` or `<did>#atproto_pds`.
    pub id: String,
    /// `type` (when it is an array, its first string).
    pub service_type: String,
    /// `serviceEndpoint`: a URL string, or a map or array in other DID methods.
    pub endpoint: Value,
}

/// What is wrong with a DID document.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentError {
    /// Not JSON (the text has serde_json's line and column).
    Json(String),
    /// A value of the wrong JSON type at `path` (`service[2].id`).
    Shape {
        /// JSON path of the value.
        path: String,
        /// What was expected there (`a string`, `an array`...).
        expected: &'static str,
    },
    /// `id` is not a valid DID (the text says why).
    InvalidId(String),
    /// No `#atproto_pds` service.
    MissingPds,
    /// This many `#atproto_pds` services; one is allowed.
    DuplicatePds(usize),
    /// The `#atproto_pds` service has this `type` instead of
    /// `AtprotoPersonalDataServer`.
    PdsServiceType(String),
    /// The `#atproto_pds` endpoint is not an http(s) URL (the text says why).
    PdsEndpoint(String),
    /// No `#atproto` verification method.
    MissingKey,
    /// This many `#atproto` verification methods; one is allowed.
    DuplicateKey(usize),
    /// The `#atproto` method has no `publicKeyMultibase`.
    KeyNotMultibase,
    /// The `#atproto` key could not be read.
    Key(KeyError),
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentError::Json(e) => write!(f, "not a JSON document: {e}"),
            DocumentError::Shape { path, expected } => write!(f, "{path}: expected {expected}"),
            DocumentError::InvalidId(why) => write!(f, "id: {why}"),
            DocumentError::MissingPds => f.write_str("no #atproto_pds service"),
            DocumentError::DuplicatePds(n) => {
                write!(f, "{n} #atproto_pds services; exactly one is allowed")
            }
            DocumentError::PdsServiceType(t) => write!(
                f,
                "the #atproto_pds service has type {t:?}, not {PDS_SERVICE_TYPE}"
            ),
            DocumentError::PdsEndpoint(why) => write!(f, "the #atproto_pds endpoint: {why}"),
            DocumentError::MissingKey => f.write_str("no #atproto verification method"),
            DocumentError::DuplicateKey(n) => write!(
                f,
                "{n} #atproto verification methods; exactly one is allowed"
            ),
            DocumentError::KeyNotMultibase => {
                f.write_str("the #atproto verification method has no publicKeyMultibase")
            }
            DocumentError::Key(e) => write!(f, "the #atproto verification method: {e}"),
        }
    }
}

impl std::error::Error for DocumentError {}

fn shape(path: impl Into<String>, expected: &'static str) -> DocumentError {
    DocumentError::Shape {
        path: path.into(),
        expected,
    }
}

/// The string at `obj[key]`, `None` when absent or null.
fn opt_str(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, DocumentError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(shape(format!("{path}.{key}"), "a string")),
    }
}

fn req_str(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<String, DocumentError> {
    opt_str(obj, key, path)?.ok_or_else(|| shape(format!("{path}.{key}"), "a string"))
}

/// The array at `doc[key]`, empty when absent or null.
fn opt_array<'a>(
    doc: &'a serde_json::Map<String, Value>,
    key: &str,
) -> Result<&'a [Value], DocumentError> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(shape(key, "an array")),
    }
}

impl DidDocument {
    /// Parses a document from its JSON bytes.
    pub fn parse(json: &[u8]) -> Result<DidDocument, DocumentError> {
        let value: Value =
            serde_json::from_slice(json).map_err(|e| DocumentError::Json(e.to_string()))?;
        DidDocument::from_json(value)
    }

    /// Reads a document from parsed JSON.
    pub fn from_json(json: Value) -> Result<DidDocument, DocumentError> {
        let Value::Object(doc) = &json else {
            return Err(shape("(document)", "a JSON object"));
        };
        let id = req_str(doc, "id", "(document)").map_err(|_| shape("id", "a string"))?;
        let id = Did::new(id).map_err(|e| DocumentError::InvalidId(e.to_string()))?;

        let mut also_known_as = Vec::new();
        for (i, v) in opt_array(doc, "alsoKnownAs")?.iter().enumerate() {
            match v {
                Value::String(s) => also_known_as.push(s.clone()),
                _ => return Err(shape(format!("alsoKnownAs[{i}]"), "a string")),
            }
        }

        let mut verification_methods = Vec::new();
        for (i, v) in opt_array(doc, "verificationMethod")?.iter().enumerate() {
            let path = format!("verificationMethod[{i}]");
            // A method may also be a bare reference (a string); atproto
            // never uses those, so they are skipped.
            let Value::Object(m) = v else {
                if v.is_string() {
                    continue;
                }
                return Err(shape(path, "an object"));
            };
            verification_methods.push(VerificationMethod {
                id: req_str(m, "id", &path)?,
                method_type: req_str(m, "type", &path)?,
                controller: opt_str(m, "controller", &path)?,
                public_key_multibase: opt_str(m, "publicKeyMultibase", &path)?,
            });
        }

        let mut services = Vec::new();
        for (i, v) in opt_array(doc, "service")?.iter().enumerate() {
            let path = format!("service[{i}]");
            let Value::Object(s) = v else {
                return Err(shape(path, "an object"));
            };
            let service_type = match s.get("type") {
                Some(Value::String(t)) => t.clone(),
                Some(Value::Array(types)) => match types.first() {
                    Some(Value::String(t)) => t.clone(),
                    _ => return Err(shape(format!("{path}.type"), "a string or strings")),
                },
                _ => return Err(shape(format!("{path}.type"), "a string")),
            };
            let endpoint = s
                .get("serviceEndpoint")
                .cloned()
                .ok_or_else(|| shape(format!("{path}.serviceEndpoint"), "a value"))?;
            services.push(Service {
                id: req_str(s, "id", &path)?,
                service_type,
                endpoint,
            });
        }

        Ok(DidDocument {
            id,
            also_known_as,
            verification_methods,
            services,
            json,
        })
    }

    /// The DID the document describes (`id`).
    pub fn id(&self) -> &Did {
        &self.id
    }

    /// `alsoKnownAs`, as written.
    pub fn also_known_as(&self) -> &[String] {
        &self.also_known_as
    }

    /// The handle the document claims: the first `at://` entry of
    /// `alsoKnownAs`, lower-cased; `None` when there is none or it is not a
    /// valid handle. A claim only: see `Resolver::resolve_identity` for the
    /// check that the handle points back to this DID.
    pub fn handle(&self) -> Option<Handle> {
        let first = self
            .also_known_as
            .iter()
            .find_map(|aka| aka.strip_prefix("at://"))?;
        Handle::new(first.to_ascii_lowercase()).ok()
    }

    /// Every verification method.
    pub fn verification_methods(&self) -> &[VerificationMethod] {
        &self.verification_methods
    }

    /// Every service.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Whether fragment id `id` (`#atproto`) names `fragment` of this
    /// document, in the relative or the absolute form.
    fn is_fragment(&self, id: &str, fragment: &str) -> bool {
        id == fragment
            || id
                .strip_suffix(fragment)
                .is_some_and(|did| did == self.id.as_str())
    }

    /// The account's PDS: the one `#atproto_pds` service, of type
    /// `AtprotoPersonalDataServer`, whose endpoint is an `http(s)` origin.
    pub fn pds(&self) -> Result<ServiceUrl, DocumentError> {
        let mut found = self
            .services
            .iter()
            .filter(|s| self.is_fragment(&s.id, "#atproto_pds"));
        let service = found.next().ok_or(DocumentError::MissingPds)?;
        let more = found.count();
        if more > 0 {
            return Err(DocumentError::DuplicatePds(more + 1));
        }
        if service.service_type != PDS_SERVICE_TYPE {
            return Err(DocumentError::PdsServiceType(crate::truncate(
                service.service_type.clone(),
                100,
            )));
        }
        let Value::String(url) = &service.endpoint else {
            return Err(DocumentError::PdsEndpoint("not a string".into()));
        };
        let pds = ServiceUrl::parse(url).map_err(|why| {
            // The reason quotes the endpoint, which anyone can make as long
            // as the document allows: quote the start of it only.
            let quoted = format!("{url:?}: ");
            DocumentError::PdsEndpoint(match why.strip_prefix(&quoted) {
                Some(reason) => format!(
                    "{:?}: {}",
                    crate::truncate(url.clone(), 80),
                    crate::truncate(reason.to_owned(), 200)
                ),
                None => crate::truncate(why, 300),
            })
        })?;
        check_host_name(pds.host()).map_err(DocumentError::PdsEndpoint)?;
        Ok(pds)
    }

    /// The account's signing key: the one `#atproto` verification method,
    /// a `Multikey` (or legacy `EcdsaSecp256…VerificationKey2019`) K-256 or
    /// P-256 key.
    pub fn signing_key(&self) -> Result<PublicKey, DocumentError> {
        let mut found = self
            .verification_methods
            .iter()
            .filter(|m| self.is_fragment(&m.id, "#atproto"));
        let method = found.next().ok_or(DocumentError::MissingKey)?;
        let more = found.count();
        if more > 0 {
            return Err(DocumentError::DuplicateKey(more + 1));
        }
        let multibase = method
            .public_key_multibase
            .as_deref()
            .ok_or(DocumentError::KeyNotMultibase)?;
        PublicKey::from_verification_method(&method.method_type, multibase)
            .map_err(DocumentError::Key)
    }

    /// The whole document as JSON, unknown fields included.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The document serialized as JSON (for a cache that stores bytes;
    /// [`DidDocument::parse`] reads it back).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.json).unwrap_or_default()
    }
}

/// Longest DNS name (RFC 1035: 255 octets on the wire, 253 as text).
const MAX_HOST_NAME: usize = 253;
/// Longest DNS label.
const MAX_LABEL: usize = 63;

/// A host name no DNS can hold is no PDS: refused here rather than handed to
/// an HTTP client (IP literals are left to the host policy).
fn check_host_name(host: &str) -> Result<(), String> {
    if host.starts_with('[') {
        return Ok(());
    }
    let shown = || crate::truncate(host.to_owned(), 80);
    if host.len() > MAX_HOST_NAME {
        return Err(format!(
            "the host {:?} is too long ({} characters, at most {MAX_HOST_NAME})",
            shown(),
            host.len()
        ));
    }
    if let Some(label) = host.split('.').find(|l| l.len() > MAX_LABEL) {
        return Err(format!(
            "the host {:?} has a label too long ({} characters, at most {MAX_LABEL})",
            shown(),
            label.len()
        ));
    }
    Ok(())
}

impl fmt::Debug for DidDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DidDocument")
            .field("id", &self.id)
            .field("also_known_as", &self.also_known_as)
            .field("verification_methods", &self.verification_methods)
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}
