//! Runs the atproto interop data-model vectors (JSON side only: the CBOR and
//! CID columns, when present, need a DAG-CBOR encoder this crate does not have).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use atmo_types::data::{check_data_model, Blob, Bytes, CidLink};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

fn load(path: &std::path::Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    match v {
        Value::Array(items) => items,
        _ => panic!("{}: expected a JSON array of vectors", path.display()),
    }
}

/// Decodes `v` as `T`, re-encodes it and compares.
fn round_trip<T: Serialize + DeserializeOwned>(v: &Value) -> Result<(), String> {
    let text = serde_json::to_string(v).map_err(|e| e.to_string())?;
    let typed: T = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    if &back == v {
        Ok(())
    } else {
        Err(format!("re-encoded as {back}"))
    }
}

/// Re-encodes every special object inside `v` through its typed decoder.
fn round_trip_specials(v: &Value) -> Result<usize, String> {
    let mut n = 0;
    match v {
        Value::Array(items) => {
            for item in items {
                n += round_trip_specials(item)?;
            }
        }
        Value::Object(map) => {
            if map.contains_key("$link") {
                return round_trip::<CidLink>(v).map(|()| 1);
            }
            if let Some(text) = map.get("$bytes").and_then(Value::as_str) {
                // Reading ignores stray bits in the last character (the
                // vectors count such text valid); writing is canonical, so
                // compare with the canonical text of the same bytes.
                let bytes: Bytes = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
                let canonical = atmo_types::base64::encode(&bytes.0);
                if atmo_types::base64::decode(text).ok().as_deref() != Some(&bytes.0[..]) {
                    return Err(format!("{text:?} decoded to other bytes"));
                }
                return round_trip::<Bytes>(&serde_json::json!({ "$bytes": canonical }))
                    .map(|()| 1);
            }
            if map.get("$type").and_then(Value::as_str) == Some("blob") {
                return round_trip::<Blob>(v).map(|()| 1);
            }
            for item in map.values() {
                n += round_trip_specials(item)?;
            }
        }
        _ => {}
    }
    Ok(n)
}

#[test]
fn data_model_vectors() {
    let Some(dir) = common::shared_subdir("atproto-interop-tests/data-model") else {
        return;
    };
    let verbose = std::env::var_os("ATPROTO_VECTORS_VERBOSE").is_some();
    let mut failures = Vec::new();

    let valid = load(&dir.join("data-model-valid.json"));
    let mut specials = 0;
    for case in &valid {
        let note = case.get("note").and_then(Value::as_str).unwrap_or("?");
        let Some(json) = case.get("json") else {
            failures.push(format!("valid {note:?}: no \"json\" field"));
            continue;
        };
        if let Err(e) = check_data_model(json) {
            failures.push(format!("valid {note:?} refused: {e}"));
            continue;
        }
        // Text round trip: what we parse and re-encode reads back the same.
        let text = serde_json::to_string(json).unwrap_or_default();
        match serde_json::from_str::<Value>(&text) {
            Ok(back) if &back == json => {}
            other => failures.push(format!("valid {note:?}: round trip gave {other:?}")),
        }
        match round_trip_specials(json) {
            Ok(n) => specials += n,
            Err(e) => failures.push(format!("valid {note:?}: special object: {e}")),
        }
    }

    let invalid = load(&dir.join("data-model-invalid.json"));
    for case in &invalid {
        let note = case.get("note").and_then(Value::as_str).unwrap_or("?");
        let Some(json) = case.get("json") else {
            failures.push(format!("invalid {note:?}: no \"json\" field"));
            continue;
        };
        match check_data_model(json) {
            Ok(()) => failures.push(format!("invalid {note:?} accepted: {json}")),
            Err(e) if verbose => println!("  refused {note:?}: {e}"),
            Err(_) => {}
        }
    }

    println!(
        "data-model: {} valid accepted and round-tripped ({specials} special objects), {} invalid refused, {} failures",
        valid.len(),
        invalid.len(),
        failures.len()
    );
    assert!(
        !valid.is_empty() && !invalid.is_empty(),
        "empty vector files in {}",
        dir.display()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
