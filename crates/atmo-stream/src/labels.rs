//! Label signatures: a label is signed over its DAG-CBOR form without
//! `sig` (with `ver`), by the labeler's `#atproto_label` key.

use std::fmt;

use atmo_api::com::atproto::label::defs::Label;
use atmo_crypto::PublicKey;
use atmo_identity::document::DidDocument;

/// Why a label's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LabelError {
    /// The label has no `sig`.
    Unsigned,
    /// The label could not be encoded (a field outside the data model).
    Encode(String),
    /// The signature does not verify against the key.
    Signature(String),
    /// The labeler's DID document has no usable `#atproto_label` key.
    Key(String),
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelError::Unsigned => f.write_str("label has no signature"),
            LabelError::Encode(why) => write!(f, "label cannot be encoded: {why}"),
            LabelError::Signature(why) => write!(f, "label signature: {why}"),
            LabelError::Key(why) => write!(f, "labeler key: {why}"),
        }
    }
}

impl std::error::Error for LabelError {}

/// The bytes a label's signature covers: the label without `sig`, as
/// canonical DAG-CBOR (unknown fields included).
pub fn label_signing_bytes(label: &Label) -> Result<Vec<u8>, LabelError> {
    let mut unsigned = label.clone();
    unsigned.sig = None;
    atmo_sync::to_vec(&unsigned).map_err(|e| LabelError::Encode(e.to_string()))
}

/// Checks `label`'s signature against `key` (the labeler's
/// `#atproto_label` key, see [`label_key`]).
pub fn verify_label(label: &Label, key: &PublicKey) -> Result<(), LabelError> {
    let sig = label.sig.as_ref().ok_or(LabelError::Unsigned)?;
    let bytes = label_signing_bytes(label)?;
    key.verify(&bytes, &sig.0)
        .map_err(|e| LabelError::Signature(e.to_string()))
}

/// The labeler's `#atproto_label` key from its DID document.
pub fn label_key(doc: &DidDocument) -> Result<PublicKey, LabelError> {
    let did = doc.id().as_str();
    let mut found = doc
        .verification_methods()
        .iter()
        .filter(|m| m.id == "#atproto_label" || m.id.strip_prefix(did) == Some("#atproto_label"));
    let method = found
        .next()
        .ok_or_else(|| LabelError::Key(format!("{did} has no #atproto_label key")))?;
    if found.next().is_some() {
        return Err(LabelError::Key(format!(
            "{did} has several #atproto_label keys"
        )));
    }
    let multibase = method
        .public_key_multibase
        .as_deref()
        .ok_or_else(|| LabelError::Key(format!("{did}#atproto_label has no publicKeyMultibase")))?;
    PublicKey::from_verification_method(&method.method_type, multibase)
        .map_err(|e| LabelError::Key(e.to_string()))
}
