//! `lexicons.json`, the manifest of installed lexicons in `@atproto/lex`'s
//! format, so that a project can use either tool:
//!
//! ```json
//! {
//!   "version": 1,
//!   "lexicons": ["com.example.bookmark"],
//!   "resolutions": {
//!     "com.example.bookmark": {
//!       "uri": "at://did:plc:…/com.atproto.lexicon.schema/com.example.bookmark",
//!       "cid": "bafyrei…"
//!     }
//!   }
//! }
//! ```
//!
//! `lexicons` are the NSIDs asked for; `resolutions` every installed
//! document (those asked for and those they refer to) with the record it
//! came from and its CID (see [`crate::document_cid`]). Both are sorted, and
//! [`Manifest::to_json`] always writes the same text for the same content.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use atmo_types::{AtUri, Nsid};

/// The manifest's file name by convention.
pub const MANIFEST_FILE: &str = "lexicons.json";

/// Where an installed document came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// `at://<did>/com.atproto.lexicon.schema/<nsid>`.
    pub uri: String,
    /// The document's CID.
    pub cid: String,
}

impl Resolution {
    /// The DID of the repository in [`Self::uri`], if it names one.
    pub fn did(&self) -> Option<&str> {
        let rest = self.uri.strip_prefix("at://")?;
        let did = rest.split('/').next()?;
        did.starts_with("did:").then_some(did)
    }
}

/// The content of `lexicons.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The NSIDs asked for.
    pub lexicons: BTreeSet<String>,
    /// Every installed document by NSID.
    pub resolutions: BTreeMap<String, Resolution>,
}

/// Why a manifest was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError(pub String);

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lexicons.json: {}", self.0)
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Reads a manifest: `version` must be 1, NSIDs, AT-URIs and CIDs must
    /// be valid.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let err = |why: String| ManifestError(why);
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
        if v.get("version").and_then(serde_json::Value::as_i64) != Some(1) {
            return Err(err("\"version\" must be 1".into()));
        }
        let mut m = Manifest::default();
        let lexicons = v
            .get("lexicons")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| err("\"lexicons\" must be an array".into()))?;
        for (i, l) in lexicons.iter().enumerate() {
            let s = l
                .as_str()
                .filter(|s| Nsid::new(*s).is_ok())
                .ok_or_else(|| err(format!("lexicons[{i}] is not an NSID")))?;
            m.lexicons.insert(s.to_owned());
        }
        let resolutions = v
            .get("resolutions")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| err("\"resolutions\" must be an object".into()))?;
        for (nsid, r) in resolutions {
            if Nsid::new(nsid.as_str()).is_err() {
                return Err(err(format!("resolutions: {nsid:?} is not an NSID")));
            }
            let field = |name: &str| {
                r.get(name)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| err(format!("resolutions.{nsid}.{name} must be a string")))
            };
            let uri = field("uri")?;
            let cid = field("cid")?;
            if AtUri::new(uri.as_str()).is_err() {
                return Err(err(format!("resolutions.{nsid}.uri is not an AT-URI")));
            }
            if cid.parse::<atmo_sync::Cid>().is_err() {
                return Err(err(format!("resolutions.{nsid}.cid is not a CID")));
            }
            m.resolutions.insert(nsid.clone(), Resolution { uri, cid });
        }
        Ok(m)
    }

    /// The manifest as `lexicons.json` text: two-space indents, keys in
    /// the order `version`, `lexicons`, `resolutions` (and `uri`, `cid`),
    /// entries sorted, a final newline.
    pub fn to_json(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        let mut out = String::from("{\n  \"version\": 1,\n  \"lexicons\": [");
        for (i, l) in self.lexicons.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str(&q(l));
        }
        out.push_str(if self.lexicons.is_empty() {
            "],\n"
        } else {
            "\n  ],\n"
        });
        out.push_str("  \"resolutions\": {");
        for (i, (nsid, r)) in self.resolutions.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str(&format!(
                "{}: {{\n      \"uri\": {},\n      \"cid\": {}\n    }}",
                q(nsid),
                q(&r.uri),
                q(&r.cid)
            ));
        }
        out.push_str(if self.resolutions.is_empty() {
            "}\n}\n"
        } else {
            "\n  }\n}\n"
        });
        out
    }
}
