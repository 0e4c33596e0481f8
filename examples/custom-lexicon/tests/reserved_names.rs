//! Lexicons whose names the generated code uses itself (`lexicons/com/example/names/`):
//! they generate, compile (this crate builds them), and keep their JSON names.

use atmo_types::xrpc::{Endpoint, EndpointError};
use custom_lexicon_example::lexicons::com::example::names::{new, perms, record, stream};
use serde_json::{json, Value};

#[test]
fn properties_named_like_generated_fields_keep_their_json_names() {
    let value = json!({
        "$type": "com.example.names.record",
        "extra": "declared",
        "extra_": 2,
        "fooBar": "a",
        "foo_bar": "b",
        "new": 1,
        "self": true,
        "node": {"next": {"next": null, "extra": [{"next": null}]}},
        "map": "m", "key": "k", "typeWritten": false, "s": "s", "d": "d", "f": "f",
        "v": "v", "x": "x", "p": "p", "path": "path", "out": "out", "rest": "rest",
        "reply": {"text": "hi"},
        "embed": {"$type": "com.example.names.record#unknown", "extra": 5},
        "undeclared": [1, 2]
    });
    let r: record::Record = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(r.extra_, "declared");
    assert_eq!(r.extra__, Some(2));
    assert_eq!(
        (r.foo_bar.as_deref(), r.foo_bar_.as_deref()),
        (Some("a"), Some("b"))
    );
    assert_eq!((r.new, r.self_), (1, true));
    assert_eq!(r.rest.as_deref(), Some("rest"));
    // The unknown-fields map holds only what the lexicon does not declare.
    assert_eq!(r.extra.iter().count(), 1);
    assert_eq!(r.extra.get("undeclared"), Some(&json!([1, 2])));
    match &r.embed {
        Some(record::RecordEmbed::RecordUnknown(u)) => assert_eq!(u.extra_, Some(5)),
        other => panic!("{other:?}"),
    }
    assert_eq!(serde_json::to_value(&r).unwrap(), value);
}

#[test]
fn constructors_take_renamed_fields_and_box_recursive_ones() {
    let node = record::Node::new(Some(record::Node::new(None)));
    assert!(node.next.as_deref().is_some_and(|n| n.next.is_none()));
    let r = record::Record::new("x".into(), 3, false, node);
    assert_eq!(r.extra_, "x");
    assert!(r.extra.is_empty());
    let v: Value = serde_json::to_value(&r).unwrap();
    assert_eq!(v["extra"], "x");
    assert_eq!(v["node"], json!({"next": {"next": null}}));

    // Parameters have no unknown-fields map: `extra` keeps its name there.
    let params = new::Parameters::new("e".into());
    assert_eq!((params.extra.as_str(), params.q), ("e", 7));
}

#[test]
fn defs_named_like_generated_items_get_suffixes() {
    assert_eq!(<new::New as Endpoint>::NSID, "com.example.names.new");
    let out: new::Output = serde_json::from_value(json!({
        "error": {"message": "m"}, "errorDef": {}, "parameters": {}, "new": {}, "extra": {}
    }))
    .unwrap();
    let _: (&new::ErrorDef, &Option<new::ErrorDef2>) = (&out.error, &out.error_def);
    let _: (&Option<new::ParametersDef>, &Option<new::NewDef>) = (&out.parameters, &out.new);
    let _: &Option<new::OutputDef> = &out.extra_;

    assert_eq!(stream::NSID, "com.example.names.stream");
    assert_eq!(stream::NSID_DEF, "com.example.names.stream#nsid");
    let _: stream::MessageDef = stream::MessageDef::new(1);
    assert_eq!(perms::PERMS.nsid, "com.example.names.perms");
    assert_eq!(perms::PERMS_DEF, "com.example.names.perms#perms");
}

#[test]
fn errors_that_clash_after_case_conversion_are_numbered() {
    assert_eq!(
        new::Error::from_xrpc("FooBar", None),
        Some(new::Error::FooBar2(None))
    );
    assert_eq!(
        new::Error::from_xrpc("fooBar", None),
        Some(new::Error::FooBar(None))
    );
    assert_eq!(
        custom_lexicon_example::lexicons::declared_errors("com.example.names.new"),
        Some(&["fooBar", "FooBar", "Extra"][..])
    );
}
