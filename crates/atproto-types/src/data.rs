//! The atproto data model's special JSON objects. PLACEHOLDER shapes: to be
//! completed with the full data-model rules.
use serde::{Deserialize, Serialize};

use crate::syntax::Cid;

/// A link to content by CID, `{"$link": "<cid>"}` in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CidLink {
    /// The CID.
    #[serde(rename = "$link")]
    pub link: Cid,
}

/// Raw bytes, `{"$bytes": "<base64>"}` in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

/// A reference to a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blob {
    /// `{"$type":"blob","ref":{"$link":cid},"mimeType":..,"size":..}`
    Typed {
        /// The content's CID.
        r#ref: CidLink,
        /// Its MIME type.
        mime_type: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The legacy form `{"cid": "<cid>", "mimeType": ..}`.
    Legacy {
        /// The content's CID.
        cid: Cid,
        /// Its MIME type.
        mime_type: String,
    },
}
