//! Checking a record proof (the CAR `com.atproto.sync.getRecord` returns)
//! and the lexicon document it carries. Nothing here touches the network.

use std::collections::{HashMap, HashSet};

use atmo_crypto::PublicKey;
use atmo_sync::car::{read_car, CarLimits};
use atmo_sync::mst::MstError;
use atmo_sync::tree::{Tree, TreeError};
use atmo_sync::{Cid, Commit, Value};

use crate::error::{truncate, ErrorKind};

/// The collection lexicon documents are published in.
pub const SCHEMA_COLLECTION: &str = "com.atproto.lexicon.schema";

/// Largest proof CAR read unless configured: a record (at most 1 MiB) plus
/// a commit and a tree path.
pub const DEFAULT_MAX_PROOF_SIZE: usize = 2 << 20;

/// A record whose proof checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRecord {
    /// The record's CID (the tree's value for the key).
    pub cid: Cid,
    /// The record's DAG-CBOR bytes (they hash to `cid`).
    pub bytes: Vec<u8>,
    /// The revision of the commit that proves it.
    pub rev: String,
}

/// Checks a record proof: the CAR's root is a commit of `did` signed by
/// `key`; the tree under it holds `collection/rkey`, every node on the
/// path present and hashing to its CID; the record's block hashes to the
/// CID the tree names. Failures are [`ErrorKind::Signature`],
/// [`ErrorKind::Proof`] (a node on the path missing or altered, a
/// malformed CAR or commit) or [`ErrorKind::CidMismatch`]; a complete path
/// without the key proves the record absent: [`ErrorKind::RecordNotFound`]
/// (what a PDS answers for a record it does not have).
pub fn verify_record_proof(
    car: &[u8],
    did: &str,
    key: &PublicKey,
    collection: &str,
    rkey: &str,
) -> Result<VerifiedRecord, ErrorKind> {
    let proof = |why: String| ErrorKind::Proof(why);
    let limits = CarLimits {
        max_file: car.len().max(1),
        max_block: CarLimits::default().max_block,
    };
    let (roots, blocks) = read_car(car, limits).map_err(|e| proof(format!("CAR: {e}")))?;
    // Blocks whose bytes hash to their CID; the others are remembered so
    // that an altered record is told apart from a missing one.
    let mut good: HashMap<Cid, &[u8]> = HashMap::new();
    let mut altered: HashMap<Cid, &[u8]> = HashMap::new();
    for b in blocks.unchecked() {
        let b = b.map_err(|e| proof(format!("CAR: {e}")))?;
        if b.cid.matches(b.data) {
            good.insert(b.cid, b.data);
        } else {
            altered.insert(b.cid, b.data);
        }
    }
    let [root] = roots.as_slice() else {
        return Err(proof(format!(
            "the CAR has {} roots, not one commit",
            roots.len()
        )));
    };
    let commit_bytes = good.get(root).copied().ok_or_else(|| {
        if altered.contains_key(root) {
            proof(format!("the commit block does not hash to {root}"))
        } else {
            proof(format!("the commit block {root} is missing"))
        }
    })?;
    let commit =
        Commit::from_block(*root, commit_bytes).map_err(|e| proof(format!("commit: {e}")))?;
    if commit.did != did {
        return Err(proof(format!(
            "the commit is for {}, not {did}",
            truncate(commit.did.clone(), 200)
        )));
    }
    commit
        .verify(key)
        .map_err(|e| ErrorKind::Signature(e.to_string()))?;

    let path = format!("{collection}/{rkey}");
    let lookup = |c: &Cid| good.get(c).copied();
    // A node that is absent and one whose bytes were altered both break the
    // path; the message says which.
    let tree_err = |e: TreeError| match e {
        TreeError::Mst(MstError::MissingBlock(c)) if altered.contains_key(&c) => proof(format!(
            "tree path to {path}: MST node {c} does not hash to its CID"
        )),
        e => proof(format!("tree path to {path}: {e}")),
    };
    let mut tree = Tree::open(commit.data, &lookup).map_err(tree_err)?;
    let record_cid = tree
        .get(&path)
        .map_err(tree_err)?
        // Every node on the path is present and hashed, and the key is not
        // there: a signed proof that the record does not exist.
        .ok_or_else(|| ErrorKind::RecordNotFound {
            did: did.to_owned(),
        })?;
    let bytes = match (good.get(&record_cid), altered.get(&record_cid)) {
        (Some(b), _) => b.to_vec(),
        (None, Some(b)) => {
            return Err(ErrorKind::CidMismatch {
                expected: record_cid,
                found: Cid::for_dag_cbor(b),
            })
        }
        (None, None) => {
            return Err(proof(format!("the record block {record_cid} is missing")));
        }
    };
    Ok(VerifiedRecord {
        cid: record_cid,
        bytes,
        rev: commit.rev,
    })
}

/// A lexicon record's DAG-CBOR bytes as JSON (the data model's JSON form).
pub fn record_to_json(bytes: &[u8]) -> Result<serde_json::Value, ErrorKind> {
    Value::from_cbor(bytes)
        .map(|v| v.to_json())
        .map_err(|e| ErrorKind::Parse(format!("the record is not DAG-CBOR: {e}")))
}

/// The DAG-CBOR bytes of a document in the data model's JSON form, as a
/// PDS stores it (keys sorted canonically; `$link`/`$bytes` objects become
/// links and bytes; floats are refused).
pub fn document_cbor(doc: &serde_json::Value) -> Result<Vec<u8>, ErrorKind> {
    Value::from_json(doc)
        .map(|v| v.to_cbor())
        .map_err(|e| ErrorKind::Parse(format!("not in the atproto data model: {e}")))
}

/// The CID of a lexicon document as written (the JSON of a file in
/// `lexicons/`): the CID `lexicons.json` records. A file installed from a
/// record keeps the record's `$type`, so this equals the record's CID.
pub fn document_cid(doc: &serde_json::Value) -> Result<Cid, ErrorKind> {
    Ok(Cid::for_dag_cbor(&document_cbor(doc)?))
}

/// The CID a document gets once published as a `com.atproto.lexicon.schema`
/// record: a missing `$type` is added, as the PDS does.
pub fn record_cid(doc: &serde_json::Value) -> Result<Cid, ErrorKind> {
    let mut doc = doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.entry("$type")
            .or_insert_with(|| serde_json::Value::String(SCHEMA_COLLECTION.to_owned()));
    }
    document_cid(&doc)
}

/// Checks the shape a lexicon document must have to be used at all:
/// an object with `lexicon: 1`, an `id` that is `nsid`, and a `defs`
/// object. [`ErrorKind::Parse`] or [`ErrorKind::IdMismatch`]. (The
/// definitions themselves are checked by whoever uses them, e.g. lexgen.)
pub fn check_document(nsid: &str, doc: &serde_json::Value) -> Result<(), ErrorKind> {
    let parse = |why: &str| ErrorKind::Parse(why.to_owned());
    let map = doc.as_object().ok_or_else(|| parse("not a JSON object"))?;
    if map.get("lexicon").and_then(serde_json::Value::as_i64) != Some(1) {
        return Err(parse("\"lexicon\" must be 1"));
    }
    let id = map
        .get("id")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| parse("\"id\" must be a string"))?;
    if !map.get("defs").is_some_and(serde_json::Value::is_object) {
        return Err(parse("\"defs\" must be an object"));
    }
    if id != nsid {
        return Err(ErrorKind::IdMismatch {
            found: truncate(id.to_owned(), 300),
        });
    }
    Ok(())
}

/// The NSIDs a document refers to outside itself: `ref` targets, `union`
/// members, and `knownValues` tokens (`nsid#name`), as `@atproto/lex
/// install` follows them. Sorted, without the document's own id.
pub fn referenced_nsids(doc: &serde_json::Value) -> Vec<String> {
    let own = doc.get("id").and_then(serde_json::Value::as_str);
    let mut out = HashSet::new();
    collect_refs(
        doc.get("defs").unwrap_or(&serde_json::Value::Null),
        &mut out,
    );
    let mut v: Vec<String> = out
        .into_iter()
        .filter(|n| Some(n.as_str()) != own && atmo_types::Nsid::new(n.as_str()).is_ok())
        .collect();
    v.sort();
    v
}

fn nsid_of_ref(r: &str) -> Option<&str> {
    let nsid = r.split('#').next().unwrap_or("");
    (!nsid.is_empty()).then_some(nsid)
}

fn collect_refs(v: &serde_json::Value, out: &mut HashSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            let ty = map.get("type").and_then(serde_json::Value::as_str);
            match (ty, map.get("ref"), map.get("refs")) {
                (Some("ref"), Some(serde_json::Value::String(r)), _) => {
                    out.extend(nsid_of_ref(r).map(str::to_owned));
                }
                (Some("union"), _, Some(serde_json::Value::Array(refs))) => {
                    for r in refs.iter().filter_map(serde_json::Value::as_str) {
                        out.extend(nsid_of_ref(r).map(str::to_owned));
                    }
                }
                _ => {}
            }
            if ty == Some("string") {
                if let Some(serde_json::Value::Array(known)) = map.get("knownValues") {
                    for k in known.iter().filter_map(serde_json::Value::as_str) {
                        if let Some((nsid, name)) = k.split_once('#') {
                            if !name.is_empty() && !nsid.is_empty() {
                                out.insert(nsid.to_owned());
                            }
                        }
                    }
                }
            }
            for (k, child) in map {
                // Descriptions and defaults are text, not schema.
                if k != "description" && k != "default" && k != "const" {
                    collect_refs(child, out);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for i in items {
                collect_refs(i, out);
            }
        }
        _ => {}
    }
}

/// The file a document lives in under a `lexicons/` folder, from its NSID:
/// `com.example.bookmark` → `com/example/bookmark.json`.
pub fn document_path(nsid: &str) -> std::path::PathBuf {
    let mut p = std::path::PathBuf::new();
    let segments: Vec<&str> = nsid.split('.').collect();
    if let Some((last, dirs)) = segments.split_last() {
        for d in dirs {
            p.push(d);
        }
        p.push(format!("{last}.json"));
    }
    p
}
