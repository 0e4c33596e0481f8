//! Generated constructors: `new(required...)` fills every optional field
//! with `None` (or its lexicon default) and leaves `extra` empty; structs
//! with no required field implement `Default`.

use atmo_api::app::bsky::feed::{get_timeline, post};
use atmo_api::com::atproto::repo::strong_ref::StrongRef;
use atmo_types::{AtIdentifier, Datetime};
use custom_lexicon_example::lexicons::com::example::todo::{item, list_items};
use serde_json::json;

fn datetime() -> Datetime {
    Datetime::new("2024-05-01T12:00:00.000Z").unwrap()
}

#[test]
fn a_post_from_its_required_fields_encodes_only_those() {
    let post = post::Post::new("Hello".into(), datetime());
    assert_eq!(post.facets, None);
    assert!(post.extra.is_empty());
    assert_eq!(
        serde_json::to_value(&post).unwrap(),
        json!({"$type": "app.bsky.feed.post", "text": "Hello", "createdAt": "2024-05-01T12:00:00.000Z"})
    );
}

#[test]
fn nested_objects_need_no_extra_either() {
    let strong = StrongRef::new(
        "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k43tv4rft22g"
            .parse()
            .unwrap(),
        "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q"
            .parse()
            .unwrap(),
    );
    let mut post = post::Post::new("A reply".into(), datetime());
    post.reply = Some(post::ReplyRef::new(strong.clone(), strong));
    let back: post::Post = serde_json::from_value(serde_json::to_value(&post).unwrap()).unwrap();
    assert_eq!(back, post);
}

#[test]
fn lexicon_defaults_apply_in_constructors() {
    let todo = item::Item::new("Buy milk".into(), datetime());
    assert_eq!(todo.priority, 3, "the lexicon's default");
    assert_eq!(todo.subject, None);
    assert!(todo.extra.is_empty());

    let params = list_items::Parameters::new(AtIdentifier::new("alice.test").unwrap());
    assert_eq!(params.limit, 50, "the lexicon's default");
    assert_eq!(params.r#match, None);
}

#[test]
fn structs_without_required_fields_are_default() {
    let params = get_timeline::Parameters::default();
    assert_eq!(params.limit, 50, "the lexicon's default");
    assert_eq!(params.cursor, None);
}
