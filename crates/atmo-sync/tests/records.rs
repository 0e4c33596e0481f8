//! Generated record types decode from DAG-CBOR through their JSON visitors
//! and encode back to the same canonical bytes.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_api::app::bsky::feed::post::Post;
use atmo_sync::{from_slice, to_vec, Cid, Value};

fn post_json() -> serde_json::Value {
    let img = Cid::for_raw(b"image bytes").to_string();
    let parent = Cid::for_dag_cbor(b"parent").to_string();
    serde_json::json!({
        "$type": "app.bsky.feed.post",
        "text": "hello @alice.test see https://example.com",
        "createdAt": "2024-05-01T12:34:56.789Z",
        "langs": ["en", "pt-BR"],
        "facets": [{
            "index": {"byteStart": 6, "byteEnd": 17},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:abc123"}]
        }, {
            "index": {"byteStart": 22, "byteEnd": 41},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com"}]
        }],
        "reply": {
            "root": {"uri": "at://did:plc:abc123/app.bsky.feed.post/3k2a", "cid": parent},
            "parent": {"uri": "at://did:plc:abc123/app.bsky.feed.post/3k2a", "cid": parent}
        },
        "embed": {
            "$type": "app.bsky.embed.images",
            "images": [{
                "alt": "a picture",
                "image": {"$type": "blob", "ref": {"$link": img}, "mimeType": "image/jpeg", "size": 12345},
                "aspectRatio": {"width": 4, "height": 3}
            }]
        },
        "futureField": {"nested": [1, {"$bytes": "AAEC"}], "link": {"$link": parent}}
    })
}

#[test]
fn post_from_cbor_equals_post_from_json() {
    let json = post_json();
    let cbor = Value::from_json(&json).unwrap().to_cbor();
    let from_json: Post = serde_json::from_value(json.clone()).unwrap();
    let from_cbor: Post = from_slice(&cbor).unwrap();
    assert_eq!(from_cbor, from_json);
    // Unknown fields survive, links and bytes included.
    assert_eq!(
        from_cbor.extra.get("futureField").unwrap()["nested"][1],
        serde_json::json!({"$bytes": "AAEC"})
    );
    // Encoding the typed value gives the canonical bytes back (same CID).
    let again = to_vec(&from_cbor).unwrap();
    assert_eq!(again, cbor);
    assert_eq!(
        Cid::for_dag_cbor(&again),
        Value::from_cbor(&cbor).unwrap().cid()
    );
}

#[test]
fn malformed_known_member_is_an_error_not_unknown() {
    let mut json = post_json();
    // An images embed whose image is not a blob.
    json["embed"]["images"][0]["image"] =
        serde_json::json!({"$type": "blob", "mimeType": "image/jpeg", "size": 1});
    let cbor = Value::from_json(&json).unwrap().to_cbor();
    let e = from_slice::<Post>(&cbor).unwrap_err();
    assert!(e.to_string().contains("ref"), "{e}");
    // A $link where a blob's ref must be a real CID link: a string is refused.
    let mut json = post_json();
    json["embed"]["images"][0]["image"]["ref"] = serde_json::json!("bafy");
    let cbor = Value::from_json(&json).unwrap().to_cbor();
    assert!(from_slice::<Post>(&cbor).is_err());
}

#[test]
fn unknown_union_member_is_kept() {
    let mut json = post_json();
    json["embed"] = serde_json::json!({"$type": "com.example.embed", "a": 1, "cid": {"$link": Cid::for_raw(b"x").to_string()}});
    let cbor = Value::from_json(&json).unwrap().to_cbor();
    let post: Post = from_slice(&cbor).unwrap();
    assert_eq!(to_vec(&post).unwrap(), cbor);
}

#[test]
fn unknown_values_carry_cbor_links_and_bytes_losslessly() {
    use atmo_types::Unknown;
    #[derive(serde::Deserialize, serde::Serialize)]
    struct Holder {
        record: Unknown,
    }
    let cid = Cid::for_dag_cbor(b"linked");
    let json = serde_json::json!({"record": {
        "$type": "com.example.any",
        "link": {"$link": cid.to_string()},
        "data": {"$bytes": "3q2+7w"},
        "list": [1, -2, "x", null, true],
    }});
    let cbor = Value::from_json(&json).unwrap().to_cbor();
    let h: Holder = from_slice(&cbor).unwrap();
    // Held as the data model's JSON form.
    assert_eq!(h.record.type_name(), Some("com.example.any"));
    assert_eq!(h.record.to_value().unwrap(), json["record"]);
    // Written back to DAG-CBOR as a real link and real bytes.
    assert_eq!(to_vec(&h).unwrap(), cbor);
    let back = Value::from_cbor(&cbor).unwrap();
    let rec = back
        .as_map()
        .unwrap()
        .get("record")
        .unwrap()
        .as_map()
        .unwrap();
    assert_eq!(rec.get("link").unwrap().as_link(), Some(cid));
    assert_eq!(
        rec.get("data").unwrap().as_bytes(),
        Some(&[0xde, 0xad, 0xbe, 0xef][..])
    );
}

#[test]
fn union_member_after_a_shorter_key_is_read_in_place() {
    // A mention facet stores `did` before `$type` (shorter keys sort
    // first). The union gets `$type` handed first and reads the member in
    // place, so an error in it names the bad string's own offset; a
    // buffered read could only name the end of the map.
    let mut json = post_json();
    json["facets"][0]["features"][0]["did"] = serde_json::json!("not-a-did");
    let cbor = Value::from_json(&json).unwrap().to_cbor();
    let e = from_slice::<Post>(&cbor).unwrap_err();
    let bad = cbor
        .windows(b"not-a-did".len())
        .position(|w| w == b"not-a-did")
        .unwrap();
    // The text's head is the byte before its contents.
    assert_eq!(e.offset, bad - 1, "{e}");
    // Plain objects are read in stored order: the same post decodes
    // whole when the facet is fine.
    let ok = Value::from_json(&post_json()).unwrap().to_cbor();
    assert!(from_slice::<Post>(&ok).is_ok());
}

#[test]
fn a_cid_link_from_cbor_keeps_its_bytes_and_text_on_demand() {
    let cid = Cid::for_dag_cbor(b"record");
    let cbor = Value::Link(cid).to_cbor();
    let link: atmo_types::CidLink = from_slice(&cbor).unwrap();
    // Held as bytes: back to the binary CID, and to the same DAG-CBOR,
    // without its text; the text, when asked for, is the CID's own.
    assert_eq!(link.link.binary_form(), Some(&cid.as_bytes()[..]));
    assert_eq!(Cid::try_from(&link.link).unwrap(), cid);
    assert_eq!(to_vec(&link).unwrap(), cbor);
    assert_eq!(link.link.as_str(), cid.to_string());
    assert_eq!(link, atmo_types::CidLink::new(cid.to_types_cid()));
}
