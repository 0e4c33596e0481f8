#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The feed generator with the real reference PDS (tests/pds): it indexes
//! the PDS's firehose, and a client calls it THROUGH the PDS with
//! `atproto-proxy: <did:web of the generator>#bsky_fg`. The PDS resolves the
//! generator's did:web on loopback, mints a service JWT for the user
//! (`aud` the generator, `lxm` getFeedSkeleton), and the generator verifies
//! it against the user's DID document from the harness's PLC directory.
//!
//! Skipped with a notice when the PDS is not installed; fails instead under
//! `ATPROTO_E2E=required`.

use std::time::{Duration, Instant};

use atmo_api::app::bsky::feed::get_feed_skeleton::{self, GetFeedSkeleton};
use atmo_client::bsky::PostBuilder;
use atmo_client::AtpAgent;
use atmo_types::RecordKey;
use atproto_tests::{new_account_input, unique_handle, Pds};
use feed_generator_example::generator_record;

mod common;
use common::{start_feedgen, ws_of};

#[tokio::test(flavor = "multi_thread")]
async fn get_feed_skeleton_through_the_pds_with_atproto_proxy() {
    let Some(pds) = Pds::shared() else { return };
    let agent = AtpAgent::builder(&pds.url).build().unwrap();
    let handle = unique_handle("fgen");
    let session = agent
        .create_account(new_account_input(&handle, "correct-horse-battery"))
        .await
        .unwrap();
    let owner = session.did.to_string();
    let term = format!("crab{}", std::process::id());
    let (fg_did, index) =
        start_feedgen(pds.resolver(), ws_of(&pds.url), &owner, "crabs", &term).await;

    // The publish command's record, written the way it writes it.
    let written = agent
        .put_record(
            "crabs".parse::<RecordKey>().unwrap(),
            &generator_record(&fg_did, "Crabs", Some("posts about crabs")).unwrap(),
        )
        .await
        .unwrap();
    let feed = written.uri.clone();

    let matching = agent
        .post_with(PostBuilder::new(format!("a post about {term}s")))
        .await
        .unwrap();
    agent
        .post_with(PostBuilder::new("nothing to see"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while index.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the post never reached the index"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(index.len(), 1);

    let proxied = agent.with_proxy(&fg_did, "bsky_fg");
    let out = proxied
        .call::<GetFeedSkeleton>(get_feed_skeleton::Parameters::new(feed.clone()), ())
        .await
        .unwrap_or_else(|e| panic!("getFeedSkeleton through the PDS: {e}"));
    let posts: Vec<String> = out.feed.iter().map(|p| p.post.to_string()).collect();
    assert_eq!(posts, [matching.uri.to_string()]);
    assert_eq!(out.cursor, None);

    // Another feed of the same generator: its declared error, through the
    // PDS, typed on the client.
    let other = format!("at://{owner}/app.bsky.feed.generator/other")
        .parse()
        .unwrap();
    let e = proxied
        .call::<GetFeedSkeleton>(get_feed_skeleton::Parameters::new(other), ())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            atmo_client::Error::Api {
                error: get_feed_skeleton::Error::UnknownFeed(_),
                ..
            }
        ),
        "{e:?}"
    );

    // Without a session the PDS does not proxy: nobody's token to mint.
    let anonymous = AtpAgent::builder(&pds.url)
        .build()
        .unwrap()
        .with_proxy(&fg_did, "bsky_fg");
    let e = anonymous
        .call::<GetFeedSkeleton>(get_feed_skeleton::Parameters::new(feed), ())
        .await
        .unwrap_err();
    match e {
        atmo_client::Error::Xrpc(atmo_xrpc::Error::Xrpc(x)) => {
            assert_eq!((x.status, x.error.as_str()), (401, "AuthMissing"), "{x:?}")
        }
        other => panic!("expected the PDS's 401, got {other:?}"),
    }
}
