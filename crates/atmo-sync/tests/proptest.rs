//! Round trips of arbitrary data-model values through every path: value
//! codec, JSON form, and serde both ways.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;

use atmo_sync::{from_slice, to_vec, Cid, Map, Value};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Value<'static>> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        ".{0,40}".prop_map(|s| Value::String(Cow::Owned(s))),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Value::Bytes(Cow::Owned(b))),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| Value::Link(Cid::for_raw(&b))),
    ]
}

fn value() -> impl Strategy<Value = Value<'static>> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            // Keys that are not the JSON form's reserved single keys.
            proptest::collection::vec(("[a-z$]{0,6}", inner), 0..8).prop_map(|entries| {
                let mut m = Map::new();
                for (k, v) in entries {
                    if k != "$link" && k != "$bytes" {
                        m.insert(k, v);
                    }
                }
                Value::Map(m)
            }),
        ]
    })
}

proptest! {
    #[test]
    fn every_path_round_trips(v in value()) {
        let cbor = v.to_cbor();
        prop_assert_eq!(Value::from_cbor(&cbor).unwrap(), v.clone());
        let json = v.to_json();
        prop_assert_eq!(Value::from_json(&json).unwrap(), v.clone());
        let via_serde: serde_json::Value = from_slice(&cbor).unwrap();
        prop_assert_eq!(&via_serde, &json);
        prop_assert_eq!(to_vec(&json).unwrap(), cbor);
    }
}
