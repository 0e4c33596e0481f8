//! Requests are checked against their lexicon before they are sent.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use atmo_client::atmo_api::app::bsky::feed::{get_timeline, post::Post};
use atmo_client::atmo_types::validate::Validate;
use atmo_client::atmo_types::{Datetime, Extra};
use atmo_client::{AtpAgent, Error, Login};
use common::{fake_server, Fake, PASSWORD};

fn post(text: String) -> Post {
    Post {
        text,
        entities: None,
        facets: None,
        reply: None,
        embed: None,
        langs: None,
        labels: None,
        tags: None,
        created_at: Datetime::new("2024-01-01T00:00:00.000Z").unwrap(),
        extra: Extra::new(),
    }
}

#[tokio::test]
async fn a_301_grapheme_post_is_refused_before_any_request() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    let sent = mock.requests().len();

    // 301 graphemes, each two code points ("e" + combining acute).
    let text = "e\u{301}".repeat(301);
    match agent.create_record(&post(text.clone()), None).await {
        Err(Error::Validation { nsid, error }) => {
            assert_eq!(nsid, "app.bsky.feed.post");
            assert_eq!(error.0.len(), 1, "{error}");
            assert_eq!(error.0[0].path, "text");
            assert_eq!(error.to_string(), "text: 301 graphemes > maxGraphemes 300");
        }
        other => panic!("{other:?}"),
    }
    let r = agent.post(text.clone()).await;
    assert!(matches!(r, Err(Error::Validation { .. })), "{r:?}");
    assert_eq!(mock.requests().len(), sent, "nothing was sent");
    assert_eq!(mock.count("com.atproto.repo.createRecord"), 0);

    // Exactly 300 graphemes is fine (and goes out).
    assert!(post("e\u{301}".repeat(300)).validate().is_ok());

    // Switched off: the server gets to decide.
    let lax = AtpAgent::builder(&mock.url)
        .validate_requests(false)
        .build()
        .unwrap();
    lax.login(Login::new("alice.test", PASSWORD)).await.unwrap();
    let _ = lax.post(text).await;
    assert_eq!(mock.count("com.atproto.repo.createRecord"), 1);
}

#[tokio::test]
async fn query_parameters_are_checked_too() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    let sent = mock.requests().len();
    let params = get_timeline::Parameters {
        limit: 500,
        ..Default::default()
    };
    match agent.call::<get_timeline::GetTimeline>(params, ()).await {
        Err(Error::Validation { nsid, error }) => {
            assert_eq!(nsid, "app.bsky.feed.getTimeline");
            assert_eq!(error.to_string(), "limit: 500 > maximum 100");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.requests().len(), sent);
}
