//! Generated code for an app's own lexicons: it compiles, its refs into the
//! official set are `atmo_api` types, and its data round-trips.

use custom_lexicon_example::lexicons::com::example::todo::{item, list_items};
use serde_json::{json, Value};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &Value) -> T {
    let decoded: T = serde_json::from_value(value.clone()).expect("decodes");
    assert_eq!(
        &serde_json::to_value(&decoded).unwrap(),
        value,
        "re-encodes to the same JSON"
    );
    decoded
}

#[test]
fn record_with_official_refs_round_trips() {
    let record = json!({
        "$type": "com.example.todo.item",
        "title": "Buy milk",
        "type": "com.example.todo.item#errand",
        "option": true,
        "facets": [{
            "index": {"byteStart": 0, "byteEnd": 3},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "shopping"}]
        }],
        "subject": {
            "uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k43tv4rft22g",
            "cid": "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q"
        },
        "attachment": {"$type": "com.example.todo.item#link", "uri": "https://example.com/milk"},
        "priority": 2,
        "createdAt": "2026-11-27T08:00:00.000Z",
        "futureField": {"kept": [1, 2, 3]}
    });
    let item: item::Item = round_trip(&record);
    assert_eq!(item.title, "Buy milk");
    assert_eq!(item.r#type.as_ref().map(|t| t.as_str()), Some(item::ERRAND));
    let subject: &atmo_api::com::atproto::repo::strong_ref::StrongRef =
        item.subject.as_ref().unwrap();
    assert_eq!(subject.uri.collection(), Some("app.bsky.feed.post"));
    assert!(matches!(
        item.attachment,
        Some(item::ItemAttachment::Link(_))
    ));
    assert_eq!(
        <item::Item as atmo_types::object::Record>::NSID,
        "com.example.todo.item"
    );
}

#[test]
fn defaults_apply_and_unknown_union_members_are_kept() {
    let record = json!({
        "$type": "com.example.todo.item",
        "title": "Later",
        "attachment": {"$type": "com.example.other#thing", "x": 1},
        "createdAt": "2026-11-27T08:00:00Z"
    });
    let item: item::Item = serde_json::from_value(record).unwrap();
    assert_eq!(item.priority, 3, "the lexicon default");
    let back = serde_json::to_value(&item).unwrap();
    assert_eq!(
        back["attachment"],
        json!({"$type": "com.example.other#thing", "x": 1})
    );
}

#[test]
fn query_parameters_and_declared_errors() {
    use atmo_types::xrpc::{Endpoint, EndpointError, QueryParams, QueryWriter};
    let params = list_items::Parameters {
        actor: "alice.test".parse().unwrap(),
        limit: 10,
        r#match: Some(vec!["a".into(), "b".into()]),
    };
    let mut q = QueryWriter::new();
    params.write_query(&mut q);
    assert_eq!(
        q.pairs(),
        &[
            ("actor", "alice.test".to_owned()),
            ("limit", "10".to_owned()),
            ("match", "a".to_owned()),
            ("match", "b".to_owned())
        ]
    );
    assert_eq!(list_items::ListItems::NSID, "com.example.todo.listItems");
    let e = list_items::Error::from_xrpc("UnknownActor", Some("who?".into())).unwrap();
    assert_eq!(e.name(), "UnknownActor");
    assert!(list_items::Error::from_xrpc("Other", None).is_none());
}

#[test]
fn constraints_of_custom_lexicons_are_checked() {
    use atmo_types::validate::Validate;
    let record = serde_json::json!({
        "$type": "com.example.todo.item",
        "title": "x".repeat(301),
        "priority": 9,
        "createdAt": "2026-11-27T08:00:00Z"
    });
    let item: item::Item = serde_json::from_value(record).unwrap();
    let err = item.validate().unwrap_err().to_string();
    assert!(
        err.contains("title: 301 graphemes > maxGraphemes 300"),
        "{err}"
    );
    assert!(err.contains("priority: 9 > maximum 5"), "{err}");
}
