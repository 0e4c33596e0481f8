#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The feed generator with the real AppView (tests/appview: PLC, PDS,
//! AppView from `@atproto/dev-env`): `app.bsky.feed.getFeed`, called on
//! the PDS as an app calls it, reaches the AppView, which finds the
//! published `app.bsky.feed.generator` record, resolves the generator's
//! did:web on loopback, asks it for the skeleton with the user's service
//! JWT (minted by the PDS for `aud` the generator, `lxm` getFeedSkeleton)
//! and returns the posts hydrated.
//!
//! Skipped with a notice when the harness is not installed; fails instead
//! under `ATPROTO_E2E=required`.

use std::sync::Arc;
use std::time::Duration;

use atmo_api::app::bsky::feed::get_feed::{self, GetFeed};
use atmo_api::app::bsky::feed::get_feed_generator::{self, GetFeedGenerator};
use atmo_client::bsky::PostBuilder;
use atmo_client::{AtpAgent, LocalDev};
use atmo_types::RecordKey;
use atproto_tests::appview::{eventually, AppView};
use atproto_tests::{new_account_input, unique_handle};
use feed_generator_example::generator_record;

mod common;
use common::{start_feedgen, ws_of};

#[tokio::test(flavor = "multi_thread")]
async fn get_feed_on_the_appview_returns_the_generators_posts_hydrated() {
    let Some(net) = AppView::shared() else { return };
    let agent = AtpAgent::builder(&net.pds).build().unwrap();
    let handle = unique_handle("fgav");
    let session = agent
        .create_account(new_account_input(&handle, "correct-horse-battery"))
        .await
        .unwrap();
    let owner = session.did.to_string();
    let term = format!("lobster{}", std::process::id());
    let http = Arc::new(atmo_xrpc::HyperClient::new().unwrap());
    let resolver = LocalDev::new(&net.pds, &net.plc)
        .resolver_builder(http)
        .build()
        .unwrap();
    let (fg_did, _index) =
        start_feedgen(resolver, ws_of(&net.pds), &owner, "lobsters", &term).await;
    let feed = agent
        .put_record(
            "lobsters".parse::<RecordKey>().unwrap(),
            &generator_record(&fg_did, "Lobsters", None).unwrap(),
        )
        .await
        .unwrap()
        .uri;
    let first = agent
        .post_with(PostBuilder::new(format!("one {term}")))
        .await
        .unwrap();
    agent
        .post_with(PostBuilder::new("unrelated"))
        .await
        .unwrap();
    let second = agent
        .post_with(PostBuilder::new(format!("two {term}")))
        .await
        .unwrap();

    // The AppView knows the generator once it has indexed the record and
    // resolved the did:web: online and valid (it calls
    // describeFeedGenerator to tell).
    let view = eventually(
        "the generator on the AppView",
        Duration::from_secs(30),
        || {
            let agent = agent.clone();
            let feed = feed.clone();
            async move {
                let out = agent
                    .call::<GetFeedGenerator>(get_feed_generator::Parameters::new(feed), ())
                    .await
                    .ok()?;
                (out.is_online && out.is_valid).then_some(out)
            }
        },
    )
    .await;
    assert_eq!(view.view.did.as_str(), fg_did);
    assert_eq!(view.view.display_name, "Lobsters");

    let out = eventually(
        "the feed through the AppView",
        Duration::from_secs(30),
        || {
            let agent = agent.clone();
            let feed = feed.clone();
            async move {
                let out = agent
                    .call::<GetFeed>(get_feed::Parameters::new(feed), ())
                    .await
                    .unwrap_or_else(|e| panic!("getFeed: {e:?}"));
                // Until the AppView has indexed both posts, it leaves them out.
                (out.feed.len() == 2).then_some(out)
            }
        },
    )
    .await;
    let uris: Vec<String> = out.feed.iter().map(|f| f.post.uri.to_string()).collect();
    assert_eq!(uris, [second.uri.to_string(), first.uri.to_string()]);
    // Hydrated by the AppView: the record and its author.
    let texts: Vec<String> = out
        .feed
        .iter()
        .map(|f| {
            serde_json::to_value(&f.post.record).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(texts, [format!("two {term}"), format!("one {term}")]);
    assert_eq!(out.feed[0].post.author.did, session.did);
    assert_eq!(out.feed[0].post.author.handle.as_str(), handle);
}
