//! DAG-CBOR strictness: every refusal names its offset and rule; values
//! round-trip through both forms; interop vectors from `../shared/`.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use atmo_sync::{from_slice, from_slice_with, to_vec, Cid, DecodeOptions, Rule, Value};

fn refuse(bytes: &[u8], offset: usize, rule: Rule) {
    let e = Value::from_cbor(bytes).unwrap_err();
    assert_eq!((e.offset, &e.rule), (offset, &rule), "{bytes:02x?}: {e}");
    // The serde path refuses it at the same place.
    let e = from_slice::<serde_json::Value>(bytes).unwrap_err();
    assert_eq!(
        (e.offset, &e.rule),
        (offset, &rule),
        "serde {bytes:02x?}: {e}"
    );
}

fn cid_bytes() -> Vec<u8> {
    Cid::for_dag_cbor(b"x").as_bytes().to_vec()
}

#[test]
fn strict_refusals_name_offset_and_rule() {
    refuse(&[0x18, 0x05], 0, Rule::NonMinimal);
    refuse(&[0x82, 0x01, 0x19, 0x00, 0x05], 2, Rule::NonMinimal);
    refuse(&[0x78, 0x01, b'a'], 0, Rule::NonMinimal);
    refuse(&[0x9f, 0x01, 0xff], 0, Rule::IndefiniteLength);
    refuse(&[0x7f, 0x61, b'a', 0xff], 0, Rule::IndefiniteLength);
    refuse(&[0x81, 0xfb, 0, 0, 0, 0, 0, 0, 0, 0], 1, Rule::Float);
    refuse(&[0xf9, 0x3c, 0x00], 0, Rule::Float);
    refuse(&[0xf7], 0, Rule::SimpleValue(23));
    refuse(&[0xf8, 0x20], 0, Rule::SimpleValue(32));
    refuse(&[0x1c], 0, Rule::Reserved);
    refuse(&[0xc1, 0x00], 0, Rule::Tag(1));
    refuse(&[0x01, 0x02], 1, Rule::TrailingBytes);
    refuse(&[0x62, b'a'], 0, Rule::LengthTooLong(2));
    refuse(&[0x82, 0x01], 0, Rule::LengthTooLong(2));
    refuse(&[0x82, 0x19, 0x01, 0x02], 4, Rule::UnexpectedEnd);
    refuse(&[0x19, 0x01], 1, Rule::UnexpectedEnd);
    refuse(&[0x62, 0xff, 0xfe], 0, Rule::Utf8);
    refuse(&[0x1b, 0xff, 0, 0, 0, 0, 0, 0, 0], 0, Rule::IntegerRange);
    refuse(&[0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0], 0, Rule::IntegerRange);
    refuse(&[0xa1, 0x01, 0x02], 1, Rule::NonStringKey);
    // {"bb": 1, "a": 2}: shorter key after a longer one.
    refuse(
        &[0xa2, 0x62, b'b', b'b', 0x01, 0x61, b'a', 0x02],
        5,
        Rule::KeyOrder {
            previous: "bb".into(),
            key: "a".into(),
        },
    );
    // {"b": 1, "a": 2}: same length, bytewise out of order.
    refuse(
        &[0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02],
        4,
        Rule::KeyOrder {
            previous: "b".into(),
            key: "a".into(),
        },
    );
    refuse(
        &[0xa2, 0x61, b'a', 0x01, 0x61, b'a', 0x02],
        4,
        Rule::DuplicateKey("a".into()),
    );
    // Tag 42 without the 0x00 prefix, with a bad CID, and around a non-byte-string.
    let mut no_prefix = vec![0xd8, 42, 0x58, 36];
    no_prefix.extend(cid_bytes());
    refuse(&no_prefix, 2, Rule::CidPrefix);
    let mut bad = vec![0xd8, 42, 0x58, 37, 0];
    let mut c = cid_bytes();
    c[1] = 0x70;
    bad.extend(c);
    refuse(&bad, 2, Rule::Cid(atmo_sync::CidError::Codec(0x70)));
    refuse(&[0xd8, 42, 0x61, b'a'], 2, Rule::CidNotBytes);
    let mut deep = vec![0x81; 200];
    deep.push(0x01);
    refuse(&deep, 128, Rule::TooDeep(128));
}

#[test]
fn lenient_mode_accepts_key_order_and_long_heads_only() {
    let unordered = [0xa2, 0x62, b'b', b'b', 0x01, 0x61, b'a', 0x02];
    let v = Value::from_cbor_with(&unordered, DecodeOptions::lenient()).unwrap();
    // Re-encoding is canonical.
    assert_eq!(
        v.to_cbor(),
        [0xa2, 0x61, b'a', 0x02, 0x62, b'b', b'b', 0x01]
    );
    let j: serde_json::Value = from_slice_with(&unordered, DecodeOptions::lenient()).unwrap();
    assert_eq!(j, serde_json::json!({"a": 2, "bb": 1}));
    let long = [0x19, 0x00, 0x05];
    assert_eq!(
        Value::from_cbor_with(&long, DecodeOptions::lenient()).unwrap(),
        Value::Integer(5)
    );
    // Duplicates, floats and indefinite lengths stay refused.
    let dup = [0xa2, 0x61, b'b', 0x01, 0x61, b'b', 0x02];
    assert!(Value::from_cbor_with(&dup, DecodeOptions::lenient()).is_err());
    let dup2 = [0xa3, 0x61, b'b', 0x01, 0x61, b'a', 0x02, 0x61, b'b', 0x03];
    assert_eq!(
        Value::from_cbor_with(&dup2, DecodeOptions::lenient())
            .unwrap_err()
            .rule,
        Rule::DuplicateKey("b".into())
    );
    assert!(Value::from_cbor_with(&[0xf9, 0, 0], DecodeOptions::lenient()).is_err());
    assert!(Value::from_cbor_with(&[0x9f, 0xff], DecodeOptions::lenient()).is_err());
}

#[test]
fn values_round_trip_through_both_forms() {
    let cid = Cid::for_raw(b"blob");
    let json = serde_json::json!({
        "$type": "com.example.record",
        "text": "héllo",
        "n": -1234567890123_i64,
        "big": i64::MAX,
        "small": i64::MIN,
        "flags": [true, false, null],
        "data": {"$bytes": "aGVsbG8"},
        "link": {"$link": cid.to_string()},
        "nested": {"zz": 1, "a": {"b": []}, "": 0},
    });
    let v = Value::from_json(&json).unwrap();
    let bytes = v.to_cbor();
    let back = Value::from_cbor(&bytes).unwrap();
    assert_eq!(back, v);
    assert_eq!(back.to_json(), json);
    assert_eq!(
        back.as_map().unwrap().get("link").unwrap().as_link(),
        Some(cid)
    );
    // serde both ways agrees with the value codec.
    let j: serde_json::Value = from_slice(&bytes).unwrap();
    assert_eq!(j, json);
    assert_eq!(to_vec(&json).unwrap(), bytes);
    assert_eq!(v.cid(), Cid::for_dag_cbor(&bytes));
    // Integer edges encode minimally.
    for (n, enc) in [
        (0i64, vec![0x00]),
        (23, vec![0x17]),
        (24, vec![0x18, 24]),
        (255, vec![0x18, 0xff]),
        (256, vec![0x19, 1, 0]),
        (65536, vec![0x1a, 0, 1, 0, 0]),
        (1 << 32, vec![0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
        (-1, vec![0x20]),
        (-25, vec![0x38, 24]),
        (
            i64::MIN,
            vec![0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
    ] {
        assert_eq!(Value::Integer(n).to_cbor(), enc, "{n}");
        assert_eq!(Value::from_cbor(&enc).unwrap(), Value::Integer(n));
    }
}

#[test]
fn serializer_sorts_keys_and_refuses_what_the_model_cannot_hold() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct S {
        zzz: u32,
        a: String,
        #[serde(rename = "$type")]
        ty: String,
        bb: Vec<i32>,
    }
    let s = S {
        zzz: 1,
        a: "x".into(),
        ty: "t".into(),
        bb: vec![-1],
    };
    let bytes = to_vec(&s).unwrap();
    // Keys: "a", "bb", "zzz", "$type".
    let v = Value::from_cbor(&bytes).unwrap();
    let keys: Vec<&str> = v.as_map().unwrap().iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["a", "bb", "zzz", "$type"]);
    assert_eq!(from_slice::<S>(&bytes).unwrap(), s);
    assert!(to_vec(&1.5f64).is_err());
    assert!(to_vec(&u64::MAX).is_err());
    let mut dup = std::collections::BTreeMap::new();
    dup.insert(1, 2);
    assert!(to_vec(&dup).is_err(), "non-string keys");
    assert!(to_vec(&serde_json::json!({"$link": "nope"})).is_err());
}

fn shared(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/atproto-interop-tests")
        .join(path);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "notice: {} is absent; skipping this interop test",
            p.display()
        );
        None
    }
}

#[test]
fn interop_data_model_valid_and_invalid() {
    let Some(valid) = shared("data-model/data-model-valid.json") else {
        return;
    };
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(valid).unwrap()).unwrap();
    assert!(!cases.is_empty());
    for case in &cases {
        let v = Value::from_json(&case["json"]).unwrap_or_else(|e| panic!("{case}: {e}"));
        v.check_data_model().unwrap();
        let bytes = v.to_cbor();
        let back = Value::from_cbor(&bytes).unwrap();
        assert_eq!(back, v, "{case}");
        assert_eq!(to_vec(&back.to_json()).unwrap(), bytes);
    }
    let Some(invalid) = shared("data-model/data-model-invalid.json") else {
        return;
    };
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(invalid).unwrap()).unwrap();
    assert!(!cases.is_empty());
    for case in &cases {
        let json = &case["json"];
        let refused = !json.is_object()
            || match Value::from_json(json) {
                Err(_) => true,
                Ok(v) => v.check_data_model().is_err(),
            };
        assert!(refused, "accepted invalid {}", case["note"]);
    }
}

#[test]
fn interop_data_model_fixtures() {
    let Some(path) = shared("data-model/data-model-fixtures.json") else {
        return;
    };
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for case in &cases {
        let cbor = atmo_types::base64::decode(case["cbor_base64"].as_str().unwrap()).unwrap();
        let v = Value::from_cbor(&cbor).unwrap();
        assert_eq!(v.to_json(), case["json"]);
        assert_eq!(Value::from_json(&case["json"]).unwrap().to_cbor(), cbor);
        assert_eq!(
            Cid::for_dag_cbor(&cbor).to_string(),
            case["cid"].as_str().unwrap()
        );
    }
}
